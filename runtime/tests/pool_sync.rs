//! Behaviour of the thread-safe pool: `SyncPool`, `SyncPoolBox`, `SyncBufPool`. Boxes
//! dropped on other threads, the pool dropped (or its thread gone) while boxes live,
//! waiting allocations woken from another thread, growth under concurrent use, panicking
//! hooks. Runs under Miri and ASan; loom models the return path (`pool/loom_tests.rs`).

mod support;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tickslab_runtime::pool::{Growth, PoolConfig, Recycle, SyncBufPool, SyncPool, SyncPoolBox};
use tickslab_runtime::sync::cross;
use tickslab_runtime::{spawn_slab, yield_now};

/// Counts its drops, from any thread.
struct Counted(Arc<AtomicUsize>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn counter() -> Arc<AtomicUsize> {
    Arc::new(AtomicUsize::new(0))
}

/// Fewer rounds under Miri, which is slow.
const ROUNDS: usize = if cfg!(miri) { 20 } else { 2_000 };

#[test]
fn boxes_are_send_and_return_from_another_thread() {
    let pool: SyncPool<[u8; 32]> = SyncPool::bounded(2);
    let a = pool.try_alloc([1; 32]).unwrap();
    let b = pool.try_alloc([2; 32]).unwrap();
    assert_eq!(pool.try_alloc([3; 32]).unwrap_err().into_inner(), [3; 32]);
    std::thread::spawn(move || {
        assert_eq!(a[0] + b[0], 3);
    })
    .join()
    .unwrap();
    let s = pool.stats();
    assert_eq!(
        (s.len, s.capacity, s.peak, s.allocs, s.full),
        (0, 2, 2, 2, 1)
    );
}

#[test]
fn pool_dropped_before_boxes_on_a_thread_that_exits() {
    let drops = counter();
    let (tx, rx) = std::sync::mpsc::channel::<SyncPoolBox<Counted>>();
    let d = drops.clone();
    // The pool's thread fills boxes, hands them over, drops the pool and exits.
    std::thread::spawn(move || {
        let pool = SyncPool::bounded(3);
        for _ in 0..3 {
            tx.send(pool.try_alloc(Counted(d.clone())).unwrap())
                .unwrap();
        }
    })
    .join()
    .unwrap();
    let boxes: Vec<_> = rx.iter().collect();
    assert_eq!(drops.load(Ordering::SeqCst), 0);
    drop(boxes); // the last one frees the storage, on this thread
    assert_eq!(drops.load(Ordering::SeqCst), 3);
}

#[test]
fn concurrent_drops_and_allocs_lose_nothing() {
    let pool: SyncPool<usize> = SyncPool::with_config(PoolConfig::growing(64, Growth::Linear));
    let (tx, rx) = std::sync::mpsc::channel::<SyncPoolBox<usize>>();
    std::thread::scope(|s| {
        s.spawn(move || {
            for b in rx {
                assert!(*b < ROUNDS);
            } // every box dropped here, on the other thread
        });
        for i in 0..ROUNDS {
            tx.send(pool.try_alloc(i).unwrap()).unwrap();
        }
        drop(tx);
    });
    let s = pool.stats();
    assert_eq!((s.len, s.allocs), (0, ROUNDS as u64));
    assert_eq!(s.capacity, 64 * s.chunks);
}

#[test]
fn two_threads_allocate_and_free_at_once() {
    let pool: SyncPool<(usize, usize)> = SyncPool::bounded(8);
    std::thread::scope(|s| {
        for t in 0..2 {
            let pool = &pool;
            s.spawn(move || {
                let mut held = Vec::with_capacity(4);
                for i in 0..ROUNDS {
                    if let Ok(b) = pool.try_alloc((t, i)) {
                        held.push(b);
                    }
                    if held.len() == 4 || i % 3 == 0 {
                        for b in held.drain(..) {
                            assert_eq!(b.0, t, "a slot was handed out twice");
                        }
                    }
                }
            });
        }
    });
    assert_eq!(pool.len(), 0);
}

#[test]
fn exponential_growth_locates_every_slot() {
    let pool: SyncPool<u32> =
        SyncPool::with_config(PoolConfig::growing(3, Growth::Exponential).max_capacity(60));
    let boxes: Vec<_> = (0..60).map(|i| pool.try_alloc(i).unwrap()).collect();
    // chunks of 4 (3 rounded up), 4, 8, 16, 28 (cut by the maximum)
    let s = pool.stats();
    assert_eq!((s.capacity, s.chunks, s.grows), (60, 5, 4));
    assert!(pool.try_alloc(60).is_err());
    let mut addrs: Vec<_> = boxes.iter().map(|b| &**b as *const u32).collect();
    addrs.sort();
    addrs.dedup();
    assert_eq!(addrs.len(), 60, "distinct slots");
    for (i, b) in boxes.iter().enumerate() {
        assert_eq!(**b, i as u32);
    }
}

#[test]
fn aligned_slots() {
    #[repr(align(128))]
    struct Line(u8);
    let pool = SyncPool::with_config(PoolConfig::growing(2, Growth::Linear).align(256));
    let boxes: Vec<_> = (0..5).map(|i| pool.try_alloc(Line(i)).unwrap()).collect();
    for (i, b) in boxes.iter().enumerate() {
        assert_eq!(((&**b as *const Line).addr() % 256, b.0), (0, i as u8));
    }
}

#[test]
fn alloc_waits_until_another_thread_drops_a_box() {
    let pool = Arc::new(SyncPool::<u64>::bounded(1));
    let (to_game, mut from_io) = cross::channel::<SyncPoolBox<u64>>(4);
    let game = std::thread::spawn(move || {
        let mut seen = 0;
        while seen < ROUNDS as u64 {
            for b in from_io.drain() {
                assert_eq!(*b, seen);
                seen += 1;
            } // dropped here, waking the I/O task
            std::thread::yield_now();
        }
    });
    let rt = support::rt();
    let p = pool.clone();
    rt.block_on(async move {
        for i in 0..ROUNDS as u64 {
            let b = p.alloc(i).await; // the pool has one slot: waits for the game thread
            to_game.send(b).await.unwrap();
        }
    });
    game.join().unwrap();
    assert_eq!(pool.len(), 0);
    assert!(pool.stats().full > 0, "it did wait");
}

#[test]
fn a_woken_waiter_dropped_before_it_ran_wakes_the_next() {
    let rt = support::rt();
    rt.block_on(async {
        let pool = Arc::new(SyncPool::<u8>::bounded(1));
        let held = pool.try_alloc(0).unwrap();
        let p = pool.clone();
        let first = spawn_slab(async move { *p.alloc(1).await });
        let p = pool.clone();
        let second = spawn_slab(async move { *p.alloc(2).await });
        yield_now().await;
        std::thread::spawn(move || drop(held)).join().unwrap(); // wakes `first`
        first.abort(); // which never takes it: `second` must be woken
        assert!(first.await.unwrap_err().is_cancelled());
        assert_eq!(second.await.unwrap(), 2);
    });
}

struct Flaky {
    fail: bool,
    drops: Arc<AtomicUsize>,
}

impl Recycle for Flaky {
    fn on_release(&mut self) {
        assert!(!self.fail, "hook failed");
    }
}

impl Drop for Flaky {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn recycling_across_threads_and_a_panicking_hook() {
    let drops = counter();
    let d = drops.clone();
    let mut pool = SyncPool::recycling_with(PoolConfig::bounded(2), move || Flaky {
        fail: false,
        drops: d.clone(),
    });
    pool.prefill();
    let mut a = pool.try_take().unwrap();
    let b = pool.try_take().unwrap();
    a.fail = true;
    std::thread::spawn(move || {
        drop(b); // kept
        assert!(catch_unwind(AssertUnwindSafe(|| drop(a))).is_err()); // dropped
    })
    .join()
    .unwrap();
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    let s = pool.stats();
    assert_eq!((s.len, s.hook_panics), (0, 1));
    let again: Vec<_> = (0..2).map(|_| pool.try_take().unwrap()).collect();
    assert!(again.iter().all(|f| !f.fail));
    drop(again);
    drop(pool);
    assert_eq!(
        drops.load(Ordering::SeqCst),
        3,
        "both kept values dropped with the pool"
    );
}

#[test]
fn sync_buffers_go_to_the_game_thread_and_come_back() {
    let bufs = Arc::new(SyncBufPool::new(4, 256));
    let mut held = Vec::new();
    for i in 0..4u8 {
        let mut b = bufs.try_alloc().unwrap();
        b[0] = i;
        b.set_filled(1);
        held.push(b);
    }
    assert!(bufs.try_alloc().is_none());
    std::thread::spawn(move || {
        for (i, b) in held.into_iter().enumerate() {
            assert_eq!(b.filled(), [i as u8]);
        }
    })
    .join()
    .unwrap();
    let b = bufs.try_alloc().unwrap();
    assert_eq!((b.capacity(), b.filled_len()), (256, 0));
}

#[test]
fn thread_safety_follows_the_value_type() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<SyncPool<Vec<u8>>>();
    send_sync::<SyncPoolBox<Vec<u8>>>();
    send_sync::<SyncBufPool>();
    // The future of `alloc(v).await` may be held across awaits in a `Send` task.
    send::<tickslab_runtime::pool::SyncAlloc<'static, Vec<u8>>>();
    // A `Cell` is `Send` but not `Sync`: the box moves, it is not shared.
    send::<SyncPoolBox<std::cell::Cell<u8>>>();
}

// ---- found by an adversarial review ----------------------------------------------------

struct Loud {
    drops: Arc<AtomicUsize>,
    panics: bool,
}

impl Recycle for Loud {
    fn on_release(&mut self) {}
}

impl Drop for Loud {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::SeqCst);
        if self.panics {
            panic!("kept value's destructor panics");
        }
    }
}

#[test]
fn dropping_a_sync_pool_whose_kept_value_panics_still_drops_the_others() {
    let drops = Arc::new(AtomicUsize::new(0));
    let d = drops.clone();
    let pool: SyncPool<Loud> = SyncPool::recycling_with(PoolConfig::bounded(3), move || Loud {
        drops: d.clone(),
        panics: false,
    });
    {
        let mut a = pool.try_take().unwrap();
        let b = pool.try_take().unwrap();
        let c = pool.try_take().unwrap();
        a.panics = true;
        drop((b, c));
        drop(a);
    }
    assert!(catch_unwind(AssertUnwindSafe(|| drop(pool))).is_err());
    assert_eq!(drops.load(Ordering::SeqCst), 3);
}
