//! Behaviour of the same-thread pools: `Pool`, `PoolBox`, recycling, waiting, buffer pools
//! and task-scoped arenas, including the bad paths (full pool, drop orders, panicking hooks
//! and destructors, cancelled waiters). The thread-safe pool is in `pool_sync.rs`,
//! allocation counts in `pool_alloc.rs`. Runs under Miri and ASan (`.ci/run`, `.ci/asan`).

mod support;

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::pin;
use std::rc::Rc;
use std::task::{Context, Waker};

use support::DropCounter;
use tickslab_alloc::arena::ArenaConfig;
use tickslab_runtime::pool::{BufPool, Growth, Pool, PoolBox, PoolConfig, Recycle, TaskArenas};
use tickslab_runtime::{spawn, spawn_slab, yield_now};

fn rt() -> tickslab_runtime::Runtime {
    support::rt_bounded::<512>(64)
}

#[test]
fn full_bounded_pool_hands_the_value_back() {
    let pool = Pool::bounded(2);
    let a = pool.try_alloc(String::from("a")).unwrap();
    let b = pool.try_alloc(String::from("b")).unwrap();
    let err = pool.try_alloc(String::from("c")).unwrap_err();
    assert_eq!(err.capacity(), 2);
    assert!(err.to_string().contains("all 2 slots in use"));
    assert_eq!(err.into_inner(), "c");
    assert_eq!((a.as_str(), b.as_str()), ("a", "b"));
    let stats = pool.stats();
    assert_eq!(
        (stats.len, stats.capacity, stats.allocs, stats.full),
        (2, 2, 2, 1)
    );
    drop(a);
    let c = pool.try_alloc(String::from("c")).unwrap();
    assert_eq!(*c, "c");
    assert_eq!(pool.stats().peak, 2);
}

#[test]
fn values_are_dropped_exactly_once() {
    let drops = Rc::new(Cell::new(0));
    let pool = Pool::bounded(4);
    let boxes: Vec<_> = (0..4)
        .map(|_| pool.try_alloc(DropCounter(drops.clone())).unwrap())
        .collect();
    drop(boxes);
    assert_eq!(drops.get(), 4);
    let kept = pool.try_alloc(DropCounter(drops.clone())).unwrap();
    let moved = PoolBox::into_inner(kept); // moved out: not dropped by the pool
    assert_eq!((drops.get(), pool.len()), (4, 0));
    drop(moved);
    assert_eq!(drops.get(), 5);
}

#[test]
fn pool_dropped_before_its_boxes_keeps_the_storage() {
    let drops = Rc::new(Cell::new(0));
    let pool = Pool::bounded(3);
    let a = pool.try_alloc(DropCounter(drops.clone())).unwrap();
    let clone = pool.clone();
    let b = clone.try_alloc(DropCounter(drops.clone())).unwrap();
    drop(pool);
    drop(clone); // no handle left; the two boxes keep the storage
    assert_eq!(drops.get(), 0);
    drop(b);
    assert_eq!(drops.get(), 1);
    drop(a); // the last box frees the storage (Miri / ASan check it is freed once)
    assert_eq!(drops.get(), 2);
}

#[test]
#[cfg_attr(miri, ignore = "leaks on purpose")]
fn a_forgotten_box_leaks_its_slot_and_nothing_else() {
    let drops = Rc::new(Cell::new(0));
    let pool = Pool::bounded(2);
    std::mem::forget(pool.try_alloc(DropCounter(drops.clone())).unwrap());
    let b = pool.try_alloc(DropCounter(drops.clone())).unwrap();
    assert!(pool.try_alloc(DropCounter(drops.clone())).is_err());
    drop(b);
    drop(pool); // the storage stays (leaked with the box), never freed under it
    assert_eq!(
        drops.get(),
        2,
        "the forgotten value is never dropped; the others once"
    );
}

#[test]
fn growing_pools_add_chunks_and_never_move_live_values() {
    for (growth, caps) in [
        (Growth::Linear, [4, 8, 12, 16]),
        (Growth::Exponential, [4, 8, 16, 32]),
    ] {
        let pool = Pool::growing(4, growth);
        let mut boxes = Vec::new();
        let mut addrs = Vec::new();
        for (round, &cap) in caps.iter().enumerate() {
            while pool.len() < cap {
                let b = pool.try_alloc(pool.len() as u64).unwrap();
                addrs.push(&*b as *const u64);
                boxes.push(b);
            }
            let s = pool.stats();
            assert_eq!(
                (s.capacity, s.chunks, s.grows),
                (cap, round + 1, round as u64)
            );
        }
        for (i, b) in boxes.iter().enumerate() {
            assert_eq!(**b, i as u64);
            assert_eq!(&**b as *const u64, addrs[i], "a live value moved");
        }
    }
}

#[test]
fn max_capacity_cuts_growth_then_the_pool_is_full() {
    let pool = Pool::with_config(PoolConfig::growing(4, Growth::Exponential).max_capacity(10));
    let boxes: Vec<_> = (0..10).map(|i| pool.try_alloc(i).unwrap()).collect();
    assert_eq!(pool.capacity(), 10);
    assert_eq!(pool.available(), 0);
    assert_eq!(pool.try_alloc(10).unwrap_err().into_inner(), 10);
    drop(boxes);
    assert_eq!(pool.available(), 10);
}

#[test]
fn slots_are_aligned_up_to_4096_bytes() {
    #[repr(align(128))]
    struct Simd([f32; 4]);
    let pool = Pool::growing(3, Growth::Linear);
    let boxes: Vec<_> = (0..7)
        .map(|_| pool.try_alloc(Simd([1.0; 4])).unwrap())
        .collect();
    for b in &boxes {
        assert_eq!((&**b as *const Simd).addr() % 128, 0);
        assert_eq!(b.0[3], 1.0);
    }
    for align in [64, 256, 4096] {
        let pool = Pool::with_config(PoolConfig::bounded(3).align(align));
        let boxes: Vec<_> = (0..3).map(|i| pool.try_alloc(i as u8).unwrap()).collect();
        for b in &boxes {
            assert_eq!((&**b as *const u8).addr() % align, 0);
        }
    }
    assert!(catch_unwind(|| Pool::<u8>::with_config(PoolConfig::bounded(1).align(8192))).is_err());
    assert!(catch_unwind(|| Pool::<u8>::with_config(PoolConfig::bounded(1).align(3))).is_err());
    assert!(catch_unwind(|| Pool::<u8>::bounded(0)).is_err());
}

#[test]
fn zero_sized_values_get_distinct_slots() {
    let pool = Pool::bounded(3);
    let a = pool.try_alloc(()).unwrap();
    let b = pool.try_alloc(()).unwrap();
    assert_ne!(&*a as *const (), &*b as *const ());
}

#[test]
fn recycling_keeps_inner_buffers() {
    let pool: Pool<Vec<u8>> =
        Pool::recycling_with(PoolConfig::bounded(1), || Vec::with_capacity(1500));
    let mut v = pool.try_take().unwrap();
    assert_eq!(v.capacity(), 1500);
    let heap = v.as_ptr();
    v.extend_from_slice(b"datagram");
    drop(v);
    let v = pool.try_take().unwrap();
    assert!(v.is_empty(), "the hook cleared it");
    assert_eq!((v.as_ptr(), v.capacity()), (heap, 1500), "same buffer");
    drop(v);
    // `alloc(value)` in a recycling pool replaces (drops) the kept value.
    let w = pool.try_alloc(vec![1, 2, 3]).unwrap();
    assert_eq!(*w, [1, 2, 3]);
}

#[test]
fn prefill_builds_every_value_up_front() {
    let made = Rc::new(Cell::new(0));
    let m = made.clone();
    let pool: Pool<String> = Pool::recycling_with(PoolConfig::bounded(3), move || {
        m.set(m.get() + 1);
        String::with_capacity(8)
    });
    pool.prefill();
    assert_eq!(made.get(), 3);
    let all: Vec<_> = (0..3).map(|_| pool.try_take().unwrap()).collect();
    assert_eq!(made.get(), 3);
    assert!(pool.try_take().is_none());
    drop(all);
}

#[test]
#[should_panic(expected = "needs a recycling pool")]
fn take_on_a_plain_pool_panics() {
    let pool: Pool<String> = Pool::bounded(1);
    let _ = pool.try_take();
}

/// A value whose hook panics when asked to.
struct Touchy {
    panic_on_release: bool,
    drops: Rc<Cell<usize>>,
}

impl Recycle for Touchy {
    fn on_release(&mut self) {
        if self.panic_on_release {
            panic!("hook failed");
        }
    }
}

impl Drop for Touchy {
    fn drop(&mut self) {
        self.drops.set(self.drops.get() + 1);
    }
}

#[test]
fn a_panicking_hook_drops_its_value_and_frees_the_slot() {
    let drops = Rc::new(Cell::new(0));
    let d = drops.clone();
    let pool = Pool::recycling_with(PoolConfig::bounded(1), move || Touchy {
        panic_on_release: false,
        drops: d.clone(),
    });
    let mut t = pool.try_take().unwrap();
    t.panic_on_release = true;
    let err = catch_unwind(AssertUnwindSafe(|| drop(t))).unwrap_err();
    assert_eq!(err.downcast_ref::<&str>(), Some(&"hook failed"));
    assert_eq!(drops.get(), 1, "the value was dropped, not kept");
    let s = pool.stats();
    assert_eq!((s.len, s.hook_panics), (0, 1));
    let t = pool.try_take().unwrap(); // a fresh value from the factory
    assert!(!t.panic_on_release);
    drop(t);
    drop(pool);
    assert_eq!(drops.get(), 2, "the kept value dropped with the pool");
}

#[test]
fn a_panicking_destructor_still_frees_the_slot() {
    struct Bomb;
    impl Drop for Bomb {
        fn drop(&mut self) {
            panic!("boom");
        }
    }
    let pool = Pool::bounded(1);
    let b = pool.try_alloc(Bomb).unwrap();
    assert!(catch_unwind(AssertUnwindSafe(|| drop(b))).is_err());
    assert_eq!(pool.len(), 0);
    let b = pool.try_alloc(Bomb).unwrap();
    std::mem::forget(PoolBox::into_inner(b));
}

#[test]
fn a_panicking_factory_gives_the_slot_back() {
    let fail = Rc::new(Cell::new(true));
    let f = fail.clone();
    let pool: Pool<Vec<u8>> = Pool::recycling_with(PoolConfig::bounded(1), move || {
        assert!(!f.get(), "factory failed");
        Vec::new()
    });
    assert!(catch_unwind(AssertUnwindSafe(|| pool.try_take())).is_err());
    assert_eq!(pool.len(), 0);
    fail.set(false);
    assert!(pool.try_take().is_some());
}

#[test]
fn alloc_waits_for_a_slot_and_waiters_are_served_in_order() {
    let rt = rt();
    let order = rt.block_on(async {
        let pool: Pool<u32> = Pool::bounded(1);
        let order = Rc::new(RefCell::new(Vec::new()));
        let first = pool.try_alloc(0).unwrap();
        let mut handles = Vec::new();
        for id in 1..=3u32 {
            let (pool, order) = (pool.clone(), order.clone());
            handles.push(spawn_slab(async move {
                let b = pool.alloc(id).await;
                order.borrow_mut().push(*b);
                yield_now().await; // hold the slot across a pass
            }));
        }
        yield_now().await; // all three are waiting now
        assert_eq!(pool.stats().full, 3);
        // A `try_alloc` cannot take a slot promised to a waiter.
        drop(first);
        assert!(pool.try_alloc(9).is_err());
        for h in handles {
            h.await.unwrap();
        }
        assert_eq!(pool.len(), 0);
        order.take()
    });
    assert_eq!(order, [1, 2, 3]);
}

#[test]
fn a_cancelled_waiter_passes_its_slot_on() {
    let rt = rt();
    rt.block_on(async {
        let pool: Pool<u32> = Pool::bounded(1);
        let held = pool.try_alloc(0).unwrap();
        let p1 = pool.clone();
        let first = spawn_slab(async move { *p1.alloc(1).await });
        let p2 = pool.clone();
        let second = spawn_slab(async move { *p2.alloc(2).await });
        yield_now().await;
        drop(held); // promised to `first` ...
        first.abort(); // ... which is cancelled before it runs: `second` gets the slot
        assert!(first.await.unwrap_err().is_cancelled());
        assert_eq!(second.await.unwrap(), 2);
    });
}

#[test]
fn a_dropped_pending_alloc_unlinks_itself() {
    let pool: Pool<u32> = Pool::bounded(1);
    let held = pool.try_alloc(0).unwrap();
    let mut cx = Context::from_waker(Waker::noop());
    {
        let mut fut = pin!(pool.alloc(1));
        assert!(fut.as_mut().poll(&mut cx).is_pending());
        assert!(fut.as_mut().poll(&mut cx).is_pending()); // refreshes its waker
    } // dropped while queued
    drop(held);
    assert_eq!(*pool.try_alloc(2).unwrap(), 2);
    // Notified, then dropped without taking: the slot is not lost.
    let held = pool.try_alloc(3).unwrap();
    {
        let mut fut = pin!(pool.alloc(4));
        assert!(fut.as_mut().poll(&mut cx).is_pending());
        drop(held);
        assert_eq!(pool.available(), 0, "promised to the waiter");
    }
    assert_eq!(pool.available(), 1);
}

#[test]
fn boxes_cross_awaits_and_return_when_tasks_finish_or_are_cancelled() {
    let rt = rt();
    rt.block_on(async {
        let pool: Pool<[u64; 8]> = Pool::bounded(4);
        let p = pool.clone();
        let done = spawn(async move {
            let b = p.alloc([1; 8]).await;
            yield_now().await;
            b.iter().sum::<u64>()
        });
        let p = pool.clone();
        let stuck = spawn_slab(async move {
            let _b = p.alloc([2; 8]).await;
            std::future::pending::<()>().await;
        });
        assert_eq!(done.await.unwrap(), 8);
        yield_now().await;
        assert_eq!(pool.len(), 1);
        stuck.abort();
        assert!(stuck.await.unwrap_err().is_cancelled());
        assert_eq!(pool.len(), 0);
    });
}

#[test]
fn runtime_dropped_with_tasks_holding_boxes() {
    let pool: Pool<String> = Pool::bounded(2);
    let rt = rt();
    let p = pool.clone();
    rt.spawn(async move {
        let _b = p.alloc(String::from("held")).await;
        std::future::pending::<()>().await;
    });
    rt.block_on(yield_now());
    assert_eq!(pool.len(), 1);
    drop(rt); // cancels the task: its box goes back
    assert_eq!(pool.len(), 0);
}

#[test]
fn buffer_pool_hands_out_fixed_buffers() {
    let bufs = BufPool::new(2, 64);
    assert_eq!(bufs.stats().capacity, 2);
    let mut a = bufs.try_alloc().unwrap();
    assert_eq!((a.len(), a.capacity(), a.filled_len()), (64, 64, 0));
    a[..3].copy_from_slice(b"abc");
    a.set_filled(3);
    assert_eq!(a.filled(), b"abc");
    let heap = a.as_ptr();
    let b = bufs.try_alloc().unwrap();
    assert!(bufs.try_alloc().is_none());
    drop(b);
    drop(a);
    let a = bufs.try_alloc().unwrap();
    assert_eq!(
        (a.as_ptr(), a.filled_len()),
        (heap, 0),
        "same buffer, emptied"
    );
    assert!(
        catch_unwind(AssertUnwindSafe(|| bufs
            .try_alloc()
            .unwrap()
            .set_filled(65)))
        .is_err()
    );
}

#[test]
fn buffer_pool_waits_when_all_buffers_are_out() {
    let rt = rt();
    rt.block_on(async {
        let bufs = BufPool::new(1, 16);
        let held = bufs.try_alloc().unwrap();
        let b2 = bufs.clone();
        let waiter = spawn_slab(async move { b2.alloc().await.capacity() });
        yield_now().await;
        drop(held);
        assert_eq!(waiter.await.unwrap(), 16);
    });
}

#[test]
fn task_arenas_live_as_long_as_their_task() {
    let rt = rt();
    let arenas = TaskArenas::new(2, ArenaConfig::DEFAULT);
    rt.block_on(async {
        let a = arenas.clone();
        let t = spawn_slab(async move {
            let mem = a.scope().await;
            let xs = mem.alloc_slice_copy(&[1u32, 2, 3]);
            let name = mem.alloc_str("scope");
            yield_now().await;
            xs.iter().sum::<u32>() + name.len() as u32
        });
        assert_eq!(t.await.unwrap(), 11);
        assert_eq!(arenas.stats().len, 0, "returned when the task completed");

        let a = arenas.clone();
        let cancelled = spawn_slab(async move {
            let mem = a.scope().await;
            let _v = mem.alloc([0u8; 100]);
            std::future::pending::<()>().await;
        });
        yield_now().await;
        assert_eq!(arenas.stats().len, 1);
        cancelled.abort();
        let _ = cancelled.await;
        assert_eq!(
            arenas.stats().len,
            0,
            "returned when the task was cancelled"
        );

        // The next scope reuses a reset arena: nothing allocated in it yet.
        let mem = arenas.try_scope().unwrap();
        assert_eq!(mem.stats().bytes_used, 0);
        assert!(mem.stats().chunks >= 1, "the chunks were kept");
    });
}

#[test]
fn task_arenas_wait_when_every_scope_is_taken() {
    let rt = rt();
    let arenas = TaskArenas::new(1, ArenaConfig::DEFAULT);
    rt.block_on(async {
        let held = arenas.try_scope().unwrap();
        assert!(arenas.try_scope().is_none());
        let a = arenas.clone();
        let waiter = spawn_slab(async move { *a.scope().await.alloc(5u8) });
        yield_now().await;
        drop(held);
        assert_eq!(waiter.await.unwrap(), 5);
    });
}

#[cfg(not(miri))] // sockets: mio's epoll is not available under Miri
#[test]
fn recv_from_into_a_pooled_buffer() {
    use tickslab_runtime::net::UdpSocket;
    let rt = rt();
    rt.block_on(async {
        let bufs = BufPool::new(4, 1500);
        let rx = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let tx = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        tx.send_to(b"pooled", rx.local_addr().unwrap())
            .await
            .unwrap();
        let mut buf = bufs.alloc().await;
        let (n, from) = rx.recv_from(&mut buf).await.unwrap();
        buf.set_filled(n);
        assert_eq!(
            (buf.filled(), from),
            (&b"pooled"[..], tx.local_addr().unwrap())
        );
    });
}

// ---- found by an adversarial review ----------------------------------------------------

/// A kept value whose destructor may panic.
struct Loud {
    drops: Rc<Cell<usize>>,
    panics: bool,
}

impl Recycle for Loud {
    fn on_release(&mut self) {}
}

impl Drop for Loud {
    fn drop(&mut self) {
        self.drops.set(self.drops.get() + 1);
        if self.panics {
            panic!("kept value's destructor panics");
        }
    }
}

#[test]
fn dropping_a_pool_whose_kept_value_panics_still_drops_the_others() {
    let drops = Rc::new(Cell::new(0));
    let d = drops.clone();
    let pool: Pool<Loud> = Pool::recycling_with(PoolConfig::bounded(3), move || Loud {
        drops: d.clone(),
        panics: false,
    });
    {
        let mut a = pool.try_take().unwrap();
        let b = pool.try_take().unwrap();
        let c = pool.try_take().unwrap();
        a.panics = true;
        drop((b, c));
        drop(a); // kept last: dropped first when the pool goes
    }
    assert!(catch_unwind(AssertUnwindSafe(|| drop(pool))).is_err());
    assert_eq!(
        drops.get(),
        3,
        "the panic did not stop the other kept values' drops"
    );
}

thread_local! {
    static HELD: RefCell<Option<PoolBox<u32>>> = const { RefCell::new(None) };
}

/// A waker whose `clone` drops a box of the pool being waited on.
fn releasing_waker() -> Waker {
    use std::task::{RawWaker, RawWakerVTable};
    unsafe fn clone(p: *const ()) -> RawWaker {
        HELD.with(|h| drop(h.borrow_mut().take()));
        RawWaker::new(p, &VTABLE)
    }
    unsafe fn noop(_: *const ()) {}
    static VTABLE: RawWakerVTable = RawWakerVTable::new(clone, noop, noop, noop);
    // SAFETY: the vtable's functions touch nothing through the (null) data pointer.
    unsafe { Waker::from_raw(RawWaker::new(std::ptr::null(), &VTABLE)) }
}

#[test]
fn a_waker_whose_clone_frees_a_slot_loses_no_wakeup() {
    let pool: Pool<u32> = Pool::bounded(1);
    HELD.with(|h| *h.borrow_mut() = Some(pool.try_alloc(1).unwrap()));
    let mut first = Box::pin(pool.alloc(2));
    assert!(
        first
            .as_mut()
            .poll(&mut Context::from_waker(Waker::noop()))
            .is_pending()
    );
    let waker = releasing_waker();
    let mut second = Box::pin(pool.alloc(3));
    // The clone runs foreign code that frees the only slot: no "already borrowed" panic,
    // and the slot goes to the waiter ahead.
    assert!(
        second
            .as_mut()
            .poll(&mut Context::from_waker(&waker))
            .is_pending()
    );
    let got = first.as_mut().poll(&mut Context::from_waker(Waker::noop()));
    assert!(got.is_ready(), "the freed slot reached the first waiter");
    drop(got);
    drop((first, second));
    assert!(pool.try_alloc(9).is_ok(), "no slot was lost");
}
