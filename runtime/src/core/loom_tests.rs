//! Model checks of the cross-thread protocol with loom: a waker woken, cloned or dropped on
//! another thread while the runtime thread polls, drains its remote queue, shuts down and
//! hands what is left to the orphan record. Loom runs every interleaving of the atomics,
//! fences and locks of `remote.rs`, `orphans.rs`, `shutdown.rs` and `task/state.rs` (up to
//! `LOOM_MAX_PREEMPTIONS` preemptions) and each must end with every future dropped exactly
//! once and every block freed (the orphan record gives back its core reference).
//!
//! Run: `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 cargo test -p tickslab-runtime --lib
//! --release core::loom_tests`.

use std::cell::Cell;
use std::future::poll_fn;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Poll, Waker};

use tickslab_alloc::slab::ErasedSlab;

use super::task::JoinHandle;
use super::{Core, CoreConfig};

struct DropToken(Rc<Cell<u32>>);

impl Drop for DropToken {
    fn drop(&mut self) {
        self.0.set(self.0.get() + 1);
    }
}

struct Fixture {
    core: Arc<Core>,
    // Keeps the eventfd the unparker writes to.
    _poll: mio::Poll,
}

fn fixture() -> Fixture {
    let poll = mio::Poll::new().expect("epoll");
    let unparker = mio::Waker::new(poll.registry(), mio::Token(0)).expect("eventfd");
    let core = Core::new(CoreConfig {
        slab: Some(ErasedSlab::new_bounded::<256>(2)),
        budget: 16,
        remote_capacity: 1,
        unparker,
        forbid_alloc_in_slab_polls: false,
        name: None,
    });
    Fixture { core, _poll: poll }
}

/// Spawns a slab task that stores a clone of its waker and stays pending, polls it once,
/// and returns its handle, the waker and the count of its future's drops.
fn pending_task_with_waker(core: &Core) -> (JoinHandle<()>, Waker, Rc<Cell<u32>>) {
    let stash: Rc<Cell<Option<Waker>>> = Rc::new(Cell::new(None));
    let dropped = Rc::new(Cell::new(0));
    let token = DropToken(dropped.clone());
    let s = stash.clone();
    let handle = core
        .try_spawn_slab(poll_fn(move |cx| {
            let _keep = &token;
            s.set(Some(cx.waker().clone()));
            Poll::<()>::Pending
        }))
        .map_err(|_| ())
        .expect("a free slot");
    core.run_pass();
    let waker = stash.take().expect("polled once");
    (handle, waker, dropped)
}

/// Shuts the core down as `Runtime::drop` does (without the driver around it).
fn shut_down(core: &Arc<Core>) {
    assert!(Core::shutdown(core).is_none(), "no user code panicked");
}

#[test]
fn remote_wake_races_the_runtime_and_its_shutdown() {
    loom::model(|| {
        let Fixture { core, _poll } = fixture();
        let (handle, waker, dropped) = pending_task_with_waker(&core);
        let remote = loom::thread::spawn(move || {
            waker.wake_by_ref();
            drop(waker);
        });
        core.run_pass();
        drop(handle);
        shut_down(&core);
        remote.join().unwrap();
        assert_eq!(dropped.get(), 1, "the future was dropped exactly once");
        assert_eq!(Arc::strong_count(&core), 1, "every block was freed");
    });
}

#[test]
fn last_waker_dropped_elsewhere_while_the_runtime_shuts_down() {
    loom::model(|| {
        let Fixture { core, _poll } = fixture();
        let (handle, waker, dropped) = pending_task_with_waker(&core);
        let clone = waker.clone();
        let remote = loom::thread::spawn(move || {
            clone.wake();
            drop(waker);
        });
        shut_down(&core);
        // The handle outlives the runtime: released through the orphan record.
        drop(handle);
        remote.join().unwrap();
        assert_eq!(dropped.get(), 1);
        assert_eq!(
            Arc::strong_count(&core),
            1,
            "the orphan record let go of the core"
        );
    });
}

#[test]
fn remote_final_release_is_sent_home_and_freed_there() {
    loom::model(|| {
        let Fixture { core, _poll } = fixture();
        let (handle, waker, dropped) = pending_task_with_waker(&core);
        // Complete the task so that only the waker keeps the block.
        handle.abort();
        core.run_pass();
        drop(handle);
        assert_eq!(dropped.get(), 1);
        let remote = loom::thread::spawn(move || drop(waker));
        core.run_pass(); // may or may not see the release entry yet
        remote.join().unwrap();
        core.run_pass();
        assert_eq!(core.slab().map(|s| s.used()), Some(0), "the slot came back");
        shut_down(&core);
        assert_eq!(Arc::strong_count(&core), 1);
    });
}
