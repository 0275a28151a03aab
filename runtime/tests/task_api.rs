//! tokio's task API on tickslab: `JoinSet`, `AbortHandle`, task ids, `LocalSet`,
//! `task_local!`, and the runtime's `Handle::{current, block_on, enter}`, park hooks and
//! shutdown calls. Bad paths included: handles that outlive their task or runtime, sets
//! dropped with tasks running, task-locals read outside their scope, panics inside scopes.
//! Runs under Miri (`.ci/run`): `AbortHandle` holds a task reference of its own.

mod support;

use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tickslab_runtime::task::{self, JoinSet, LocalSet};
use tickslab_runtime::*;

use support::{DropCounter, rt};

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    match payload.downcast::<String>() {
        Ok(s) => *s,
        Err(p) => p.downcast_ref::<&str>().copied().unwrap_or("?").to_string(),
    }
}

// ---- JoinSet ---------------------------------------------------------------------------------

#[test]
fn join_set_returns_results_as_tasks_finish() {
    let rt = rt();
    rt.block_on(async {
        let mut set = JoinSet::new();
        assert!(set.is_empty());
        // Task i yields i times: they finish in order 0, 1, 2.
        for i in 0..3u32 {
            set.spawn(async move {
                for _ in 0..i {
                    task::yield_now().await;
                }
                i
            });
        }
        assert_eq!(set.len(), 3);
        let mut order = Vec::new();
        while let Some(res) = set.join_next().await {
            order.push(res.unwrap());
        }
        assert_eq!(order, [0, 1, 2]);
        assert!(set.join_next().await.is_none(), "empty: None at once");
        assert!(set.is_empty());
    });
}

#[test]
fn join_set_try_join_next_takes_only_finished_tasks() {
    let rt = rt();
    rt.block_on(async {
        let mut set = JoinSet::new();
        set.spawn_slab(async { 1 });
        set.spawn(std::future::pending::<i32>());
        assert!(set.try_join_next().is_none(), "nothing has run yet");
        task::yield_now().await;
        assert_eq!(set.try_join_next().unwrap().unwrap(), 1);
        assert!(set.try_join_next().is_none());
        assert_eq!(set.len(), 1);
    });
}

#[test]
fn join_set_abort_all_reports_cancelled_and_drops_futures() {
    let rt = rt();
    let drops = Rc::new(Cell::new(0));
    let d = drops.clone();
    rt.block_on(async move {
        let mut set = JoinSet::new();
        for _ in 0..3 {
            let guard = DropCounter(d.clone());
            set.spawn(async move {
                let _guard = guard;
                std::future::pending::<()>().await
            });
        }
        set.abort_all();
        let mut cancelled = 0;
        while let Some(res) = set.join_next().await {
            assert!(res.unwrap_err().is_cancelled());
            cancelled += 1;
        }
        assert_eq!((cancelled, d.get()), (3, 3));
    });
    assert_eq!(drops.get(), 3);
}

#[test]
fn join_set_dropped_with_tasks_running_aborts_them() {
    let rt = rt();
    let drops = Rc::new(Cell::new(0));
    let finished = Rc::new(Cell::new(false));
    let (d, f) = (drops.clone(), finished.clone());
    rt.block_on(async move {
        let mut set = JoinSet::new();
        for _ in 0..4 {
            let guard = DropCounter(d.clone());
            let f = f.clone();
            set.spawn(async move {
                let _guard = guard;
                task::yield_now().await;
                task::yield_now().await;
                f.set(true);
            });
        }
        drop(set);
        // The next passes cancel them before they get to finish.
        for _ in 0..4 {
            task::yield_now().await;
        }
        assert_eq!(d.get(), 4);
    });
    assert!(!finished.get(), "aborted before their end");
    assert_eq!(rt.stats().tasks_live, 0);
}

#[test]
fn join_set_shutdown_waits_for_every_task() {
    let rt = rt();
    rt.block_on(async {
        let mut set = JoinSet::new();
        set.spawn(std::future::pending::<()>());
        set.spawn(async {});
        set.shutdown().await;
        assert!(set.is_empty());
        assert_eq!(RuntimeStats::current().unwrap().tasks_live, 0);
    });
}

#[test]
fn join_set_ids_match_abort_handles() {
    let rt = rt();
    rt.block_on(async {
        let mut set = JoinSet::new();
        let a = set.spawn(async { task::id() });
        let b = set.spawn(async { task::id() });
        assert_ne!(a.id(), b.id());
        let mut seen = Vec::new();
        while let Some(res) = set.join_next_with_id().await {
            let (id, inner_id) = res.unwrap();
            assert_eq!(id, inner_id, "task::id() inside is the id the set reports");
            seen.push(id);
        }
        seen.sort();
        let mut expected = vec![a.id(), b.id()];
        expected.sort();
        assert_eq!(seen, expected);
    });
}

#[test]
fn join_set_join_all_and_collect() {
    let rt = rt();
    rt.block_on(async {
        let set: JoinSet<u32> = (0..4u32).map(|i| async move { i * 2 }).collect();
        let mut all = set.join_all().await;
        all.sort();
        assert_eq!(all, [0, 2, 4, 6]);
    });
}

#[test]
fn join_set_join_all_resumes_a_task_panic() {
    let rt = rt();
    let err = catch_unwind(AssertUnwindSafe(|| {
        rt.block_on(async {
            let mut set = JoinSet::new();
            set.spawn(async { panic!("task boom") });
            set.spawn(std::future::pending::<()>());
            set.join_all().await
        })
    }))
    .unwrap_err();
    assert_eq!(panic_message(err), "task boom");
    // The set was dropped while unwinding: its pending task is aborted on the next pass.
    rt.block_on(task::yield_now());
    assert_eq!(rt.stats().tasks_live, 0);
}

// ---- AbortHandle and ids ---------------------------------------------------------------------

#[test]
fn abort_handle_cancels_and_outlives_the_join_handle() {
    let rt = rt();
    let drops = Rc::new(Cell::new(0));
    let d = drops.clone();
    let abort = rt.block_on(async move {
        let guard = DropCounter(d);
        let h = spawn(async move {
            let _guard = guard;
            std::future::pending::<()>().await
        });
        let abort = h.abort_handle();
        let abort2 = abort.clone();
        assert_eq!((abort.id(), abort2.id()), (h.id(), h.id()));
        drop(h); // detached: only the abort handles remain
        task::yield_now().await;
        assert!(!abort.is_finished());
        abort2.abort();
        task::yield_now().await;
        assert!(abort.is_finished());
        abort
    });
    assert_eq!(drops.get(), 1);
    abort.abort(); // finished: nothing happens
    drop(rt);
    abort.abort(); // the runtime is gone: nothing happens
    assert!(abort.is_finished());
    drop(abort); // frees the block (the last reference), through the orphan record
}

#[test]
fn abort_handle_of_a_task_cancelled_by_runtime_drop() {
    let rt = rt();
    let abort = rt.block_on(async { spawn_slab(std::future::pending::<()>()).abort_handle() });
    assert!(!abort.is_finished());
    drop(rt);
    assert!(abort.is_finished(), "the runtime's drop cancelled it");
    abort.abort();
}

#[test]
fn abort_after_completion_keeps_the_output() {
    let rt = rt();
    rt.block_on(async {
        let h = spawn(async { 5 });
        let abort = h.abort_handle();
        task::yield_now().await;
        abort.abort();
        assert_eq!(h.await.unwrap(), 5);
    });
}

#[test]
fn task_ids_inside_and_outside_tasks() {
    let rt = rt();
    assert_eq!(task::try_id(), None, "outside a runtime");
    rt.block_on(async {
        assert_eq!(task::try_id(), None, "block_on's future is not a task");
        let h = spawn(async { (task::id(), task::try_id()) });
        let id = h.id();
        let (inner, tried) = h.await.unwrap();
        assert_eq!((inner, tried), (id, Some(id)));
        assert_eq!(task::try_id(), None, "put back after the task's poll");
        assert!(!format!("{id}").is_empty());
    });
}

#[test]
#[should_panic(expected = "outside a task")]
fn task_id_outside_a_task_panics() {
    rt().block_on(async { task::id() });
}

// ---- LocalSet --------------------------------------------------------------------------------

#[test]
fn local_set_spawn_local_inside_run_until_joins_the_set() {
    let rt = rt();
    let local = LocalSet::new();
    let shared = Rc::new(Cell::new(0));
    let s = shared.clone();
    local.block_on(&rt, async move {
        let s2 = s.clone();
        // Through the free function: it joins the set being run.
        drop(task::spawn_local(async move {
            task::yield_now().await;
            s2.set(s2.get() + 1);
        }));
    });
    assert_eq!(
        local.len(),
        1,
        "the task outlived run_until and is the set's"
    );
    rt.block_on(&mut std::pin::pin!(local));
    assert_eq!(shared.get(), 1, "awaiting the set waited for its task");
}

#[test]
fn local_set_dropped_aborts_its_tasks() {
    let rt = rt();
    let drops = Rc::new(Cell::new(0));
    let ran_out = Rc::new(Cell::new(false));
    let (d, r) = (drops.clone(), ran_out.clone());
    rt.block_on(async move {
        let local = LocalSet::new();
        let guard = DropCounter(d.clone());
        let h = local.spawn_local(async move {
            let _guard = guard;
            task::yield_now().await;
            r.set(true);
        });
        drop(local);
        assert!(h.await.unwrap_err().is_cancelled());
        assert_eq!(d.get(), 1);
    });
    assert!(!ran_out.get());
}

#[test]
fn local_set_spawn_outside_a_runtime_panics_and_counts_nothing() {
    let local = LocalSet::new();
    let err = catch_unwind(AssertUnwindSafe(|| local.spawn_local(async {}))).unwrap_err();
    assert!(panic_message(err).contains("tickslab::spawn"));
    assert_eq!(local.len(), 0);
}

// ---- task_local! -----------------------------------------------------------------------------

tickslab_runtime::task_local! {
    static NUMBER: u32;
    static NAME: String;
}

#[test]
fn task_local_follows_its_future_across_yields() {
    let rt = rt();
    rt.block_on(async {
        let a = spawn(NUMBER.scope(1, async {
            for _ in 0..3 {
                assert_eq!(NUMBER.get(), 1);
                task::yield_now().await;
            }
            NUMBER.get()
        }));
        let b = spawn(NUMBER.scope(2, async {
            for _ in 0..3 {
                assert_eq!(NUMBER.get(), 2);
                task::yield_now().await;
            }
            NUMBER.get()
        }));
        assert_eq!((a.await.unwrap(), b.await.unwrap()), (1, 2));
        assert!(
            NUMBER.try_with(|_| ()).is_err(),
            "not set in the root future"
        );
    });
}

#[test]
fn task_local_scopes_nest_and_restore() {
    let v = NAME.sync_scope("outer".to_string(), || {
        let inner = NAME.sync_scope("inner".to_string(), || NAME.get());
        (inner, NAME.with(|s| s.clone()))
    });
    assert_eq!(v, ("inner".to_string(), "outer".to_string()));
    assert!(NAME.try_with(|_| ()).is_err());
}

#[test]
fn task_local_outside_scope_panics_with_tokio_message() {
    let err = catch_unwind(|| NUMBER.with(|n| *n)).unwrap_err();
    assert!(panic_message(err).contains("without setting it first"));
}

#[test]
fn task_local_is_restored_after_a_panic_in_scope() {
    let err = catch_unwind(|| NUMBER.sync_scope(3, || panic!("in scope"))).unwrap_err();
    assert_eq!(panic_message(err), "in scope");
    assert!(
        NUMBER.try_with(|_| ()).is_err(),
        "unset again after the unwinding"
    );
}

#[test]
fn task_local_is_set_while_a_cancelled_future_drops() {
    struct ReadsOnDrop(Rc<Cell<Option<u32>>>);
    impl Drop for ReadsOnDrop {
        fn drop(&mut self) {
            self.0.set(NUMBER.try_with(|n| *n).ok());
        }
    }
    let rt = rt();
    let seen = Rc::new(Cell::new(None));
    let s = seen.clone();
    rt.block_on(async move {
        let h = spawn(NUMBER.scope(9, async move {
            let _r = ReadsOnDrop(s);
            std::future::pending::<()>().await
        }));
        task::yield_now().await;
        h.abort();
        assert!(h.await.unwrap_err().is_cancelled());
    });
    assert_eq!(seen.get(), Some(9));
}

// ---- Handle and runtime calls ----------------------------------------------------------------

#[test]
fn handle_current_reaches_the_running_runtime() {
    assert!(Handle::try_current().unwrap_err().is_missing_context());
    let rt = rt();
    let handle = rt.block_on(async { Handle::current() });
    let from_thread = std::thread::spawn(move || {
        let job = handle.spawn(async { 7 });
        job.join().unwrap()
    });
    let answer = rt.block_on(async {
        loop {
            if from_thread.is_finished() {
                break from_thread.join().unwrap();
            }
            task::yield_now().await;
        }
    });
    assert_eq!(answer, 7);
}

#[test]
fn handle_current_after_the_runtime_is_gone() {
    let rt = rt();
    let id = rt.handle().id();
    let guard = rt.enter();
    std::mem::forget(guard);
    drop(rt);
    // tokio's: the guard still names the runtime, whose handle says it has shut down.
    let handle = Handle::try_current().expect("the entered runtime's handle");
    assert_eq!(handle.id(), id);
    assert!(handle.is_shutdown());
    assert!(handle.spawn(async { 1 }).join().unwrap_err().is_cancelled());
}

#[test]
fn handle_block_on_from_another_thread_waits_for_the_runtime() {
    let rt = rt();
    let handle = rt.handle().clone();
    let other = std::thread::spawn(move || {
        let h2 = handle.clone();
        handle.block_on(async move { h2.spawn(async { 11 }).await.unwrap() })
    });
    let out = rt.block_on(async {
        loop {
            if other.is_finished() {
                break other.join().unwrap();
            }
            task::yield_now().await;
        }
    });
    assert_eq!(out, 11);
}

#[test]
fn handle_enter_inside_the_runtime() {
    let rt = rt();
    let handle = rt.handle().clone();
    rt.block_on(async {
        let guard = handle.enter();
        let h = spawn(async { 1 });
        drop(guard);
        assert_eq!(h.await.unwrap(), 1);
    });
}

/// On the runtime's own thread, outside `block_on`, the handle enters the runtime as
/// `Runtime::enter` would (tokio's `Handle::enter`): spawns land on it.
#[test]
fn handle_enter_on_the_runtime_s_thread_outside_block_on_enters_it() {
    let rt = rt();
    let handle = rt.handle().clone();
    let guard = handle.enter();
    assert_eq!(Handle::current().id(), rt.handle().id());
    let h = spawn(async { 7 });
    drop(guard);
    assert!(Handle::try_current().is_err(), "the guard left the runtime");
    assert_eq!(rt.block_on(h).unwrap(), 7);
}

/// tokio's `task_join_set::runtime_gone`: a task spawned through an entered handle is
/// cancelled with its runtime, and its `JoinSet` says so from another runtime.
#[test]
fn a_join_set_task_spawned_through_a_handle_is_cancelled_with_its_runtime() {
    let mut set = task::JoinSet::new();
    {
        let rt = rt();
        set.spawn_on(async { 1 }, rt.handle());
        drop(rt);
    }
    let out = rt().block_on(set.join_next()).unwrap();
    assert!(out.unwrap_err().is_cancelled());
}

/// A handle's guard that outlives its runtime: what is asked of the runtime then fails as
/// after a shutdown (no use of freed state, no hang).
#[test]
#[cfg_attr(miri, ignore = "Miri has no sockets")]
fn a_handle_guard_that_outlives_its_runtime_sees_it_shut_down() {
    let rt = rt();
    let handle = rt.handle().clone();
    let guard = handle.enter();
    drop(rt);
    assert!(Handle::current().is_shutdown());
    let err = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(tickslab_runtime::net::TcpListener::from_std)
        .unwrap_err();
    assert!(tickslab_runtime::io::is_rt_shutdown_err(&err), "{err}");
    drop(guard);
}

#[test]
fn handle_enter_on_another_thread_panics_with_tokio_s_local_runtime_message() {
    let rt = rt();
    let handle = rt.handle().clone();
    let err = std::thread::spawn(move || {
        catch_unwind(AssertUnwindSafe(|| drop(handle.enter()))).unwrap_err()
    })
    .join()
    .unwrap();
    let msg = panic_message(err);
    assert!(
        msg.contains(
            "Local tasks can only be spawned on a LocalRuntime from the thread the runtime \
             was created on"
        ),
        "{msg}"
    );
    assert!(msg.contains("Handle::spawn"), "{msg}");
}

#[test]
fn park_hooks_run_around_each_sleep() {
    // The other thread sends only after the park hook said the runtime is going to sleep,
    // and the runtime has nothing else to do: so it parks at least once, whatever the timing.
    let parks = Arc::new(AtomicUsize::new(0));
    let unparks = Arc::new(AtomicUsize::new(0));
    let (parked_tx, parked_rx) = std::sync::mpsc::channel::<()>();
    let (p, u) = (parks.clone(), unparks.clone());
    let rt = Runtime::builder()
        .park_spin(std::time::Duration::ZERO)
        .on_thread_park(move || {
            p.fetch_add(1, Ordering::SeqCst);
            let _ = parked_tx.send(());
        })
        .on_thread_unpark(move || {
            u.fetch_add(1, Ordering::SeqCst);
        })
        .build();
    let (tx, mut rx) = sync::cross::channel::<u32>(1);
    let sender = std::thread::spawn(move || {
        parked_rx.recv().unwrap();
        tx.try_send(3).unwrap();
    });
    assert_eq!(rt.block_on(async { rx.recv().await }), Some(3));
    sender.join().unwrap();
    let n = parks.load(Ordering::SeqCst);
    assert!(n >= 1, "the runtime went to sleep at least once");
    assert_eq!(
        unparks.load(Ordering::SeqCst),
        n,
        "one unpark call per park call"
    );
    assert!(rt.stats().parks <= n as u64, "every sleep was announced");
}

#[test]
fn a_panicking_park_hook_propagates_and_the_runtime_goes_on() {
    let first = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let f = first.clone();
    let rt = Runtime::builder()
        .park_spin(std::time::Duration::ZERO)
        .on_thread_park(move || {
            if f.swap(false, Ordering::SeqCst) {
                panic!("park hook");
            }
        })
        .build();
    // Nothing will ever be ready: the runtime must go to sleep, and the hook panics first.
    let err = catch_unwind(AssertUnwindSafe(|| {
        rt.block_on(std::future::pending::<()>())
    }))
    .unwrap_err();
    assert_eq!(panic_message(err), "park hook");
    rt.block_on(time::sleep(std::time::Duration::from_millis(1)));
    assert!(!first.load(Ordering::SeqCst));
}

#[test]
fn task_local_scope_while_borrowed_panics_clearly() {
    let err =
        catch_unwind(|| NUMBER.sync_scope(1, || NUMBER.with(|_| NUMBER.sync_scope(2, || ()))))
            .unwrap_err();
    assert!(panic_message(err).contains("while the task-local value is borrowed"));
    assert!(
        NUMBER.try_with(|_| ()).is_err(),
        "restored after the unwinding"
    );
}

#[test]
fn shutdown_timeout_cancels_every_task() {
    let rt = rt();
    let drops = Rc::new(Cell::new(0));
    let d = drops.clone();
    rt.block_on(async move {
        for _ in 0..3 {
            let guard = DropCounter(d.clone());
            drop(spawn(async move {
                let _guard = guard;
                std::future::pending::<()>().await
            }));
        }
        task::yield_now().await;
    });
    rt.shutdown_timeout(std::time::Duration::from_secs(1));
    assert_eq!(drops.get(), 3);
    let rt = support::rt();
    let guard = DropCounter(drops.clone());
    drop(rt.spawn(async move {
        let _guard = guard;
        std::future::pending::<()>().await
    }));
    rt.shutdown_background();
    assert_eq!(drops.get(), 4);
}

#[test]
fn block_in_place_runs_outside_and_panics_inside_a_runtime() {
    assert_eq!(task::block_in_place(|| 3), 3);
    let rt = rt();
    let err = catch_unwind(AssertUnwindSafe(|| {
        rt.block_on(async { task::block_in_place(|| 4) })
    }))
    .unwrap_err();
    assert!(panic_message(err).contains("multi-threaded runtime"));
}
