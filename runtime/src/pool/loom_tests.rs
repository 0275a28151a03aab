//! Model checks of [`SyncPool`]'s cross-thread return path with loom: boxes dropped on
//! another thread while the pool is dropped, a slot handed from one thread to another,
//! concurrent pops and pushes on the tagged free stack, growth racing a return, and a
//! waiting allocation woken by a drop elsewhere. Loom runs every interleaving of the atomics,
//! fences and locks of `shared/raw.rs` and `shared/wait.rs` (up to `LOOM_MAX_PREEMPTIONS`
//! preemptions); each must end with every value dropped exactly once, no slot handed out
//! twice, and the storage freed exactly once (the `token` inside it).
//!
//! Run: `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 cargo test -p tickslab-runtime --lib
//! --release pool::loom_tests`.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Wake, Waker};

use loom::sync::Arc;
use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use super::{Growth, PoolConfig, SyncPool};

struct Counted(Arc<AtomicUsize>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn boxes_dropped_elsewhere_while_the_pool_is_dropped() {
    loom::model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let pool = SyncPool::bounded(2);
        let token = pool.inner().token.clone();
        let a = pool.try_alloc(Counted(drops.clone())).unwrap();
        let b = pool.try_alloc(Counted(drops.clone())).unwrap();
        let remote = loom::thread::spawn(move || drop(a));
        drop(pool);
        drop(b);
        remote.join().unwrap();
        assert_eq!(drops.load(Ordering::SeqCst), 2, "each value dropped once");
        assert_eq!(Arc::strong_count(&token), 1, "the storage was freed");
    });
}

struct Kept(Arc<AtomicUsize>);

impl super::Recycle for Kept {
    fn on_release(&mut self) {}
}

impl Drop for Kept {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn recycling_pool_freed_by_the_last_box_on_another_thread() {
    loom::model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let d = drops.clone();
        let pool = SyncPool::recycling_with(PoolConfig::bounded(1), move || Kept(d.clone()));
        let token = pool.inner().token.clone();
        let b = pool.try_take().unwrap();
        // Kept by the pool (its hook runs on that thread), then dropped with the storage.
        let remote = loom::thread::spawn(move || drop(b));
        drop(pool);
        remote.join().unwrap();
        assert_eq!(
            drops.load(Ordering::SeqCst),
            1,
            "the kept value was dropped once"
        );
        assert_eq!(Arc::strong_count(&token), 1, "the storage was freed");
    });
}

#[test]
fn a_slot_freed_on_one_thread_is_reused_on_another() {
    loom::model(|| {
        let pool = Arc::new(SyncPool::<usize>::bounded(1));
        let first = pool.try_alloc(1).unwrap();
        let remote = loom::thread::spawn(move || {
            assert_eq!(*first, 1);
            drop(first);
        });
        let second = loop {
            match pool.try_alloc(2) {
                Ok(b) => break b,
                Err(_) => loom::thread::yield_now(),
            }
        };
        assert_eq!(*second, 2);
        drop(second);
        remote.join().unwrap();
        assert_eq!(pool.len(), 0);
    });
}

#[test]
fn concurrent_allocs_and_returns_never_share_a_slot() {
    loom::model(|| {
        let pool = Arc::new(SyncPool::<usize>::bounded(2));
        let p = pool.clone();
        let remote = loom::thread::spawn(move || {
            if let Ok(b) = p.try_alloc(1) {
                loom::thread::yield_now();
                assert_eq!(*b, 1, "a slot was handed out twice");
            }
        });
        for v in [2, 3] {
            if let Ok(b) = pool.try_alloc(v) {
                assert_eq!(*b, v, "a slot was handed out twice");
            }
        }
        remote.join().unwrap();
        assert_eq!(pool.len(), 0);
        let a = pool.try_alloc(4).unwrap();
        let b = pool.try_alloc(5).unwrap();
        assert_eq!((*a, *b), (4, 5), "both slots came back");
    });
}

#[test]
fn growth_races_a_return() {
    loom::model(|| {
        let pool = Arc::new(SyncPool::<usize>::with_config(
            PoolConfig::growing(1, Growth::Linear).max_capacity(2),
        ));
        let held = pool.try_alloc(1).unwrap();
        let remote = loom::thread::spawn(move || drop(held));
        let b = pool.try_alloc(2).unwrap(); // grows, or reuses the returned slot
        assert_eq!(*b, 2);
        drop(b);
        remote.join().unwrap();
        assert_eq!(pool.len(), 0);
    });
}

struct Flag(AtomicBool);

impl Wake for Flag {
    fn wake(self: std::sync::Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
    }
}

#[test]
fn a_waiting_alloc_is_woken_by_a_drop_on_another_thread() {
    loom::model(|| {
        let pool = Arc::new(SyncPool::<usize>::bounded(1));
        let held = pool.try_alloc(0).unwrap();
        let remote = loom::thread::spawn(move || drop(held));
        let flag = std::sync::Arc::new(Flag(AtomicBool::new(false)));
        let waker = Waker::from(flag.clone());
        let mut cx = Context::from_waker(&waker);
        let mut fut = pin!(pool.alloc(1));
        if let Poll::Ready(b) = fut.as_mut().poll(&mut cx) {
            assert_eq!(*b, 1);
            remote.join().unwrap();
            return;
        }
        remote.join().unwrap();
        assert!(flag.0.load(Ordering::SeqCst), "the wakeup was lost");
        match fut.as_mut().poll(&mut cx) {
            Poll::Ready(b) => assert_eq!(*b, 1),
            Poll::Pending => panic!("woken, yet no slot"),
        }
    });
}
