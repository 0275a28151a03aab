//! Task behaviour: spawning, joining, the bad paths (full slab, oversized task, panics,
//! aborts, dropped handles, late wakes, runtime drop) and fairness.
//!
//! Sizes shrink under Miri, which runs these too (see `.ci/run`).

#![allow(clippy::async_yields_async)] // returning JoinHandles out of block_on is the point of some tests

mod support;

use std::cell::{Cell, RefCell};
use std::future::{Future, pending, poll_fn};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::{Poll, Waker};
use std::time::Duration;

use tickslab_runtime::*;

use support::{DropCounter, rt_bounded};

const fn scaled(n: usize) -> usize {
    if cfg!(miri) { n / 100 + 2 } else { n }
}

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "<non-string panic>".into()
    }
}

/// Counts its drops, thread-safely.
struct SyncDropCounter(Arc<AtomicUsize>);
impl Drop for SyncDropCounter {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// Pending until `flag` is set; stores its waker for whoever sets it.
fn wait_for(flag: Rc<Cell<bool>>, waker: Rc<RefCell<Option<Waker>>>) -> impl Future<Output = ()> {
    poll_fn(move |cx| {
        if flag.get() {
            Poll::Ready(())
        } else {
            *waker.borrow_mut() = Some(cx.waker().clone());
            Poll::Pending
        }
    })
}

// ---- the happy paths -------------------------------------------------------------------------

#[test]
fn slab_and_boxed_tasks_return_their_outputs() {
    let rt = rt_bounded::<256>(64);
    let out = rt.block_on(async {
        let a = spawn_slab(async { 40 + 2 });
        let b = spawn(async { String::from("boxed") });
        let claim = try_claim_slab().expect("a free slot");
        let c = claim.spawn(async { vec![1u8, 2, 3] });
        (a.await.unwrap(), b.await.unwrap(), c.await.unwrap())
    });
    assert_eq!(out, (42, "boxed".to_string(), vec![1, 2, 3]));
    let s = rt.stats();
    assert_eq!(
        (s.tasks_spawned, s.tasks_completed, s.tasks_live),
        (3, 3, 0)
    );
    assert_eq!(
        (s.slab_used, s.slab_peak, s.slab_capacity),
        (0, 2, Some(64))
    );
}

#[test]
fn tasks_can_await_each_other_and_spawn_more() {
    let rt = rt_bounded::<512>(16);
    let out = rt.block_on(async {
        let inner = spawn_slab(async {
            let leaf = spawn_slab(async {
                yield_now().await;
                5
            });
            leaf.await.unwrap() * 2
        });
        let outer = spawn_slab(async move { inner.await.unwrap() + 1 });
        outer.await.unwrap()
    });
    assert_eq!(out, 11);
}

#[test]
fn unbounded_slab_grows_past_its_first_chunk() {
    let rt = Runtime::builder().slab_unbounded::<256>(4).build();
    let n = scaled(1000);
    let sum = rt.block_on(async move {
        let handles: Vec<_> = (0..n).map(|i| spawn_slab(async move { i })).collect();
        let mut sum = 0;
        for h in handles {
            sum += h.await.unwrap();
        }
        sum
    });
    assert_eq!(sum, n * (n - 1) / 2);
    let s = rt.stats();
    assert_eq!((s.slab_capacity, s.slab_used, s.slab_peak), (None, 0, n));
}

#[test]
fn detached_task_still_runs_to_completion() {
    let rt = rt_bounded::<256>(8);
    let ran = Rc::new(Cell::new(false));
    let r = ran.clone();
    rt.block_on(async move {
        drop(spawn_slab(async move {
            yield_now().await;
            r.set(true);
        }));
        for _ in 0..4 {
            yield_now().await;
        }
    });
    assert!(ran.get());
    assert_eq!(
        rt.stats().slab_used,
        0,
        "a detached, finished task frees its slot"
    );
}

#[test]
fn is_finished_tracks_completion() {
    let rt = rt_bounded::<256>(8);
    rt.block_on(async {
        let h = spawn_slab(async {
            yield_now().await;
            1
        });
        assert!(!h.is_finished());
        while !h.is_finished() {
            yield_now().await;
        }
        assert_eq!(h.await.unwrap(), 1);
    });
}

#[test]
fn runtime_spawn_methods_work_outside_block_on() {
    let rt = rt_bounded::<256>(8);
    let a = rt.spawn_slab(async { 1 });
    let b = rt.spawn(async { 2 });
    let c = {
        let _guard = rt.enter();
        spawn_slab(async { 3 })
    };
    let out = rt.block_on(async { a.await.unwrap() + b.await.unwrap() + c.await.unwrap() });
    assert_eq!(out, 6);
}

#[test]
fn leftover_tasks_run_on_the_next_block_on() {
    let rt = rt_bounded::<256>(8);
    let count = Rc::new(Cell::new(0));
    let c = count.clone();
    let h = rt.block_on(async move {
        spawn_slab(async move {
            for _ in 0..3 {
                c.set(c.get() + 1);
                yield_now().await;
            }
            "done"
        })
    });
    assert!(count.get() < 3);
    assert_eq!(rt.block_on(h).unwrap(), "done");
    assert_eq!(count.get(), 3);
}

// ---- full slab, oversized task, no slab, no runtime -------------------------------------

#[test]
fn full_bounded_slab_hands_the_future_back() {
    let rt = rt_bounded::<256>(2);
    let drops = Rc::new(Cell::new(0));
    let d = drops.clone();
    rt.block_on(async move {
        let a = spawn_slab(pending::<()>());
        let b = try_claim_slab().expect("second slot");
        assert!(try_claim_slab().is_none(), "no third slot");

        let guard = DropCounter(d.clone());
        let err = try_spawn_slab(async move {
            let _g = guard;
            7
        })
        .expect_err("slab is full");
        assert!(err.is_full());
        assert_eq!(err.kind(), SpawnErrorKind::SlabFull { capacity: 2 });
        assert!(err.to_string().contains("all 2 slots in use"), "{err}");
        assert_eq!(d.get(), 0, "the future was handed back, not dropped");

        // Give a slot back and run the very same future.
        drop(b);
        let h = spawn_slab(err.into_future());
        assert_eq!(h.await.unwrap(), 7);
        assert_eq!(d.get(), 1);
        a.abort();
        assert!(a.await.unwrap_err().is_cancelled());
    });
    assert_eq!(drops.get(), 1);
    assert_eq!(rt.stats().slab_used, 0);
}

#[test]
fn spawn_slab_on_a_full_slab_panics_with_capacity_and_the_way_out() {
    let rt = rt_bounded::<256>(1);
    rt.block_on(async {
        let _held = try_claim_slab().unwrap();
        let msg = panic_message(
            catch_unwind(AssertUnwindSafe(|| drop(spawn_slab(async {})))).unwrap_err(),
        );
        assert!(msg.contains("all 1 slots in use"), "{msg}");
        assert!(
            msg.contains("try_spawn_slab") && msg.contains("claim_slab"),
            "{msg}"
        );
    });
}

#[test]
fn oversized_task_is_rejected_naming_both_sizes() {
    let rt = rt_bounded::<128>(4);
    rt.block_on(async {
        let big = [7u8; 512];
        let fut = async move { big.iter().map(|&b| b as u32).sum::<u32>() };
        let need = task_size::<std::pin::Pin<Box<dyn Future<Output = ()>>>>();
        assert!(need <= 128, "a boxed future's task fits ({need} bytes)");

        let err = try_spawn_slab(fut).expect_err("too large");
        let SpawnErrorKind::TooLarge {
            task_size,
            slot_size,
        } = err.kind()
        else {
            panic!("wrong error: {err}");
        };
        assert!(task_size > 512);
        assert_eq!(slot_size, 128);
        let msg = err.to_string();
        assert!(
            msg.contains(&task_size.to_string()) && msg.contains("128"),
            "{msg}"
        );

        // The future came back whole: run it boxed.
        assert_eq!(spawn(err.into_future()).await.unwrap(), 7 * 512);

        let msg = panic_message(
            catch_unwind(AssertUnwindSafe(|| drop(spawn_slab(async move { big[0] })))).unwrap_err(),
        );
        assert!(
            msg.contains("bytes but a slab slot holds 128 bytes"),
            "{msg}"
        );

        let claim = try_claim_slab().unwrap();
        let msg = panic_message(
            catch_unwind(AssertUnwindSafe(|| {
                drop(claim.spawn(async move { big[1] }))
            }))
            .unwrap_err(),
        );
        assert!(msg.contains("128"), "{msg}");
    });
    assert_eq!(
        rt.stats().slab_used,
        0,
        "the panicking claim returned its slot"
    );
}

#[test]
fn over_aligned_futures_up_to_128_live_in_the_slab_and_beyond_are_refused() {
    #[repr(align(64))]
    struct Aligned64(u8);
    #[repr(align(128))]
    struct Aligned128(u8);
    #[repr(align(256))]
    struct Aligned256(u8);
    let rt = rt_bounded::<1024>(4);
    rt.block_on(async {
        let a = Aligned64(3);
        // capture the whole (aligned) value, not just its field
        let h = try_spawn_slab(async move {
            let whole = a;
            std::ptr::from_ref(&whole).addr() % 64 + usize::from(whole.0)
        })
        .expect("a 64-aligned task fits a 1 KiB slot");
        assert_eq!(
            h.await.unwrap(),
            3,
            "placed on its alignment inside the slot"
        );
        let b = Aligned128(4);
        let h = spawn_slab(async move {
            let whole = b;
            std::ptr::from_ref(&whole).addr() % 128 + usize::from(whole.0)
        });
        assert_eq!(h.await.unwrap(), 4);
        assert_eq!(
            RuntimeStats::current().unwrap().slab_used,
            0,
            "slots came back"
        );

        let c = Aligned256(5);
        let err = try_spawn_slab(async move {
            let whole = c;
            whole.0
        })
        .expect_err("over 128 is refused");
        assert!(matches!(
            err.kind(),
            SpawnErrorKind::OverAligned {
                align: 256,
                max_align: 128
            }
        ));
        assert!(err.to_string().contains("at most 128"), "{err}");
        assert_eq!(spawn(err.into_future()).await.unwrap(), 5);
    });
}

#[test]
fn task_size_counts_the_alignment_padding() {
    #[repr(align(64))]
    struct Aligned64([u8; 64]);
    fn task_size_of<F: Future>(_: &F) -> usize {
        task_size::<F>()
    }
    let a = Aligned64([7; 64]);
    let aligned = async move {
        let whole = a;
        whole.0[0]
    };
    // The block needs 64-byte alignment and a slot is only 8-aligned: up to 56 bytes of
    // padding, counted in `task_size` so that a slot of that size fits wherever it sits.
    let needed = task_size_of(&aligned);
    assert!(
        needed >= std::mem::size_of_val(&aligned) + 56,
        "task_size {needed} includes the worst-case padding"
    );
    let rt = rt_bounded::<512>(8);
    assert!(needed <= 512);
    assert_eq!(rt.block_on(async { spawn_slab(aligned).await.unwrap() }), 7);
}

#[test]
fn spawn_slab_without_a_slab_says_so() {
    let rt = Runtime::new().unwrap();
    rt.block_on(async {
        let err = try_spawn_slab(async { 1 }).unwrap_err();
        assert_eq!(err.kind(), SpawnErrorKind::NoSlab);
        let msg = panic_message(
            catch_unwind(AssertUnwindSafe(|| drop(spawn_slab(async {})))).unwrap_err(),
        );
        assert!(
            msg.contains("no slab is configured") && msg.contains("slab_bounded"),
            "{msg}"
        );
        assert_eq!(
            spawn(async { 2 }).await.unwrap(),
            2,
            "boxed spawn still works"
        );
    });
}

#[test]
fn spawning_outside_a_runtime_fails_clearly() {
    let msg = panic_message(catch_unwind(|| drop(spawn(async {}))).unwrap_err());
    assert!(msg.contains("no tickslab runtime"), "{msg}");
    let err = try_spawn_slab(async { 1 }).unwrap_err();
    assert_eq!(err.kind(), SpawnErrorKind::NoRuntime);
}

// ---- panics -----------------------------------------------------------------------------------

#[test]
fn panicking_task_is_reported_and_the_runtime_keeps_going() {
    let rt = rt_bounded::<256>(8);
    let out = rt.block_on(async {
        let bad = spawn_slab(async {
            yield_now().await;
            panic!("boom {}", 42);
        });
        let good = spawn_slab(async { 1 });
        let err = bad.await.unwrap_err();
        assert!(err.is_panic() && !err.is_cancelled());
        assert!(err.to_string().contains("boom 42"), "{err}");
        assert_eq!(panic_message(err.into_panic()), "boom 42");
        good.await.unwrap()
    });
    assert_eq!(out, 1);
    assert_eq!(rt.stats().slab_used, 0);
}

#[test]
fn panic_in_root_future_propagates_and_runtime_stays_usable() {
    let rt = rt_bounded::<256>(8);
    let r = catch_unwind(AssertUnwindSafe(|| rt.block_on(async { panic!("root") })));
    assert!(r.is_err());
    assert_eq!(
        rt.block_on(async { spawn_slab(async { 3 }).await.unwrap() }),
        3
    );
    // The thread's context was restored by the unwinding guard.
    assert_eq!(
        try_spawn_slab(async {}).unwrap_err().kind(),
        SpawnErrorKind::NoRuntime
    );
}

#[test]
fn panicking_destructor_of_detached_output_is_contained() {
    struct Bomb;
    impl Drop for Bomb {
        fn drop(&mut self) {
            panic!("output destructor");
        }
    }
    let rt = rt_bounded::<256>(8);
    rt.block_on(async {
        drop(spawn_slab(async { Bomb }));
        yield_now().await;
        yield_now().await;
        assert_eq!(spawn_slab(async { 9 }).await.unwrap(), 9);
    });
}

// ---- abort -------------------------------------------------------------------------------

#[test]
fn abort_before_first_poll_drops_the_future_unpolled() {
    let rt = rt_bounded::<256>(8);
    let drops = Rc::new(Cell::new(0));
    let polled = Rc::new(Cell::new(false));
    let (d, p) = (drops.clone(), polled.clone());
    rt.block_on(async move {
        let g = DropCounter(d);
        let h = spawn_slab(async move {
            let _g = g;
            p.set(true);
        });
        h.abort();
        let err = h.await.unwrap_err();
        assert!(err.is_cancelled() && !err.is_panic());
        assert_eq!(err.to_string(), "task was cancelled");
    });
    assert!(!polled.get());
    assert_eq!(drops.get(), 1);
    assert_eq!(rt.stats().slab_used, 0);
}

#[test]
fn abort_while_pending_drops_the_future() {
    let rt = rt_bounded::<256>(8);
    let drops = Rc::new(Cell::new(0));
    let d = drops.clone();
    rt.block_on(async move {
        let g = DropCounter(d.clone());
        let h = spawn_slab(async move {
            let _g = g;
            pending::<()>().await;
        });
        yield_now().await;
        yield_now().await;
        assert_eq!(d.get(), 0);
        h.abort();
        h.abort(); // idempotent
        assert!(h.await.unwrap_err().is_cancelled());
        assert_eq!(d.get(), 1);
    });
}

#[test]
fn abort_of_the_running_task_takes_effect_after_its_poll() {
    let rt = rt_bounded::<256>(8);
    rt.block_on(async {
        let slot: Rc<RefCell<Option<JoinHandle<()>>>> = Rc::default();
        let s = slot.clone();
        let steps = Rc::new(Cell::new(0));
        let st = steps.clone();
        let h = spawn_slab(async move {
            yield_now().await; // let the root store our handle
            st.set(1);
            // Abort ourselves through a second handle-holder: the root gives us the handle.
            if let Some(me) = s.borrow().as_ref() {
                me.abort();
            }
            st.set(2);
            yield_now().await;
            st.set(3); // never reached
        });
        *slot.borrow_mut() = Some(h);
        for _ in 0..5 {
            yield_now().await;
        }
        let h = slot.borrow_mut().take().unwrap();
        assert!(h.is_finished());
        assert!(h.await.unwrap_err().is_cancelled());
        assert_eq!(steps.get(), 2);
    });
}

#[test]
fn abort_after_completion_keeps_the_output() {
    let rt = rt_bounded::<256>(8);
    rt.block_on(async {
        let h = spawn_slab(async { 5 });
        while !h.is_finished() {
            yield_now().await;
        }
        h.abort();
        assert_eq!(h.await.unwrap(), 5);
    });
}

// ---- handles and wakers outliving things --------------------------------------------------

#[test]
fn dropping_a_handle_after_completion_drops_the_output_once() {
    let rt = rt_bounded::<256>(8);
    let drops = Rc::new(Cell::new(0));
    let d = drops.clone();
    rt.block_on(async move {
        let h = spawn_slab(async move { DropCounter(d) });
        while !h.is_finished() {
            yield_now().await;
        }
        drop(h);
    });
    assert_eq!(drops.get(), 1);
    assert_eq!(rt.stats().slab_used, 0);
}

#[test]
fn waker_woken_long_after_the_task_finished_is_harmless() {
    let kept: Rc<RefCell<Option<Waker>>> = Rc::default();
    let rt = rt_bounded::<256>(8);
    let k = kept.clone();
    rt.block_on(async move {
        let h = spawn_slab(poll_fn(move |cx| {
            *k.borrow_mut() = Some(cx.waker().clone());
            Poll::Ready(1)
        }));
        assert_eq!(h.await.unwrap(), 1);
    });
    let waker = kept.borrow_mut().take().unwrap();
    assert_eq!(rt.stats().slab_used, 1, "the kept waker keeps the slot");
    waker.wake_by_ref(); // on the runtime's thread, outside block_on
    rt.block_on(async { yield_now().await });
    // From another thread, then dropped there.
    std::thread::spawn(move || {
        waker.wake_by_ref();
        waker.wake();
    })
    .join()
    .unwrap();
    rt.block_on(async { yield_now().await });
    assert_eq!(
        rt.stats().slab_used,
        0,
        "the last waker's drop freed the slot"
    );
}

#[test]
fn waker_and_handle_may_outlive_the_runtime() {
    let kept: Rc<RefCell<Option<Waker>>> = Rc::default();
    let drops = Rc::new(Cell::new(0));
    let rt = rt_bounded::<256>(8);
    let (k, d) = (kept.clone(), drops.clone());
    let (done, cancelled) = rt.block_on(async move {
        let g = DropCounter(d);
        let done = spawn_slab(async { 11 });
        let cancelled = spawn_slab(async move {
            let _g = g;
            poll_fn(|cx| {
                *k.borrow_mut() = Some(cx.waker().clone());
                Poll::<()>::Pending
            })
            .await
        });
        while !done.is_finished() {
            yield_now().await;
        }
        (done, cancelled)
    });
    drop(rt);
    assert_eq!(drops.get(), 1, "runtime drop dropped the pending future");
    let waker = kept.borrow_mut().take().unwrap();
    // Join the handles on a second runtime: one has its output, one was cancelled.
    let rt2 = Runtime::new().unwrap();
    assert_eq!(rt2.block_on(done).unwrap(), 11);
    assert!(rt2.block_on(cancelled).unwrap_err().is_cancelled());
    // The last reference goes away on another thread: the orphaned slab is retired there.
    std::thread::spawn(move || waker.wake()).join().unwrap();
}

#[test]
fn claim_outliving_the_runtime_is_released_safely() {
    let rt = rt_bounded::<256>(2);
    let claim = rt.block_on(async { try_claim_slab().unwrap() });
    drop(rt);
    let err = claim.try_spawn(async { 1 }).map(drop).unwrap_err();
    assert_eq!(err.0.kind(), SpawnErrorKind::Shutdown);
    drop(err); // the claim inside goes back to the orphaned slab, which is then dropped
}

#[test]
fn runtime_drop_with_10k_pending_slab_tasks_drops_each_future_once() {
    let n = scaled(10_000);
    let drops = Rc::new(Cell::new(0));
    let kept = {
        let rt = rt_bounded::<256>(n);
        let d = drops.clone();
        let kept = rt.block_on(async move {
            let mut kept = Vec::new();
            for i in 0..n {
                let g = DropCounter(d.clone());
                let h = spawn_slab(async move {
                    let _g = g;
                    if i % 2 == 0 {
                        yield_now().await; // some are polled once, some never
                    }
                    pending::<()>().await;
                });
                if i % 3 == 0 {
                    drop(h); // detached
                } else {
                    kept.push(h); // joined after the runtime is gone
                }
            }
            yield_now().await;
            kept
        });
        assert_eq!(rt.stats().tasks_live, n);
        assert_eq!(rt.stats().slab_used, n);
        assert_eq!(drops.get(), 0);
        kept
    };
    assert_eq!(drops.get(), n, "every pending future dropped exactly once");
    let rt2 = Runtime::new().unwrap();
    for h in kept {
        assert!(h.is_finished());
        assert!(rt2.block_on(h).unwrap_err().is_cancelled());
    }
    assert_eq!(drops.get(), n);
}

#[test]
fn destructor_spawning_during_shutdown_is_cancelled_too() {
    struct SpawnOnDrop(Rc<Cell<usize>>);
    impl Drop for SpawnOnDrop {
        fn drop(&mut self) {
            let g = DropCounter(self.0.clone());
            drop(spawn_slab(async move {
                let _g = g;
                pending::<()>().await
            }));
        }
    }
    let drops = Rc::new(Cell::new(0));
    let rt = rt_bounded::<256>(8);
    let d = drops.clone();
    rt.block_on(async move {
        let s = SpawnOnDrop(d);
        drop(spawn_slab(async move {
            let _s = s;
            pending::<()>().await
        }));
        yield_now().await;
    });
    drop(rt);
    assert_eq!(drops.get(), 1);
}

// ---- wakes from other threads -------------------------------------------------------------

#[test]
fn wake_from_another_thread_unparks_the_runtime() {
    let rt = rt_bounded::<256>(8);
    let flag = Arc::new(AtomicBool::new(false));
    let f = flag.clone();
    let out = rt.block_on(async move {
        let h = spawn_slab(poll_fn(move |cx| {
            if f.load(Ordering::Acquire) {
                return Poll::Ready(99);
            }
            let waker = cx.waker().clone();
            let f2 = f.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(20));
                f2.store(true, Ordering::Release);
                waker.wake();
            });
            Poll::Pending
        }));
        h.await.unwrap()
    });
    assert_eq!(out, 99);
    assert!(flag.load(Ordering::Acquire));
    let s = rt.stats();
    assert!(s.parks >= 1, "the runtime slept: {s:?}");
    assert!(s.remote_wakes >= 1, "{s:?}");
}

#[test]
fn root_future_woken_from_another_thread() {
    let rt = Runtime::new().unwrap();
    let flag = Arc::new(AtomicBool::new(false));
    let mut started = false;
    let out = rt.block_on(poll_fn(|cx| {
        if flag.load(Ordering::Acquire) {
            return Poll::Ready("woken");
        }
        if !started {
            started = true;
            let (waker, f) = (cx.waker().clone(), flag.clone());
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(10));
                f.store(true, Ordering::Release);
                waker.wake();
            });
        }
        Poll::Pending
    }));
    assert_eq!(out, "woken");
}

/// Many threads hammer wakes at many tasks, through a deliberately tiny remote queue so the
/// overflow path runs too. Every task must see every one of its wakes' effects.
#[test]
fn remote_wake_storm_with_queue_overflow() {
    let tasks = scaled(64).min(64);
    let rounds = scaled(200);
    let rt = Runtime::builder()
        .slab_bounded::<256>(tasks)
        .remote_queue_capacity(2)
        .build();
    let counters: Arc<Vec<AtomicUsize>> =
        Arc::new((0..tasks).map(|_| AtomicUsize::new(0)).collect());
    let wakers: Arc<std::sync::Mutex<Vec<Option<Waker>>>> =
        Arc::new(std::sync::Mutex::new(vec![None; tasks]));
    let total = rt.block_on({
        let (counters, wakers) = (counters.clone(), wakers.clone());
        async move {
            let handles: Vec<_> = (0..tasks)
                .map(|i| {
                    let (counters, wakers) = (counters.clone(), wakers.clone());
                    spawn_slab(poll_fn(move |cx| {
                        if counters[i].load(Ordering::Acquire) >= rounds {
                            return Poll::Ready(i);
                        }
                        wakers.lock().unwrap()[i] = Some(cx.waker().clone());
                        Poll::Pending
                    }))
                })
                .collect();
            let threads: Vec<_> = (0..2)
                .map(|_| {
                    let (counters, wakers) = (counters.clone(), wakers.clone());
                    std::thread::spawn(move || {
                        for _ in 0..rounds {
                            for i in 0..tasks {
                                counters[i].fetch_add(1, Ordering::AcqRel);
                                let w = wakers.lock().unwrap()[i].clone();
                                if let Some(w) = w {
                                    w.wake();
                                }
                            }
                        }
                    })
                })
                .collect();
            let mut total = 0;
            for h in handles {
                total += h.await.unwrap();
            }
            for t in threads {
                t.join().unwrap();
            }
            total
        }
    });
    assert_eq!(total, tasks * (tasks - 1) / 2);
    wakers.lock().unwrap().clear();
    rt.block_on(async { yield_now().await });
    assert_eq!(rt.stats().slab_used, 0);
}

#[test]
fn waker_is_send_and_sync_and_handles_are_not() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Waker>();
    // JoinHandle and SlabClaim stay on the runtime thread; see the compile_fail doc tests.
}

// ---- fairness and yield -------------------------------------------------------------------

#[test]
fn yield_now_interleaves_tasks() {
    let rt = rt_bounded::<256>(8);
    let log = Rc::new(RefCell::new(Vec::new()));
    let l = log.clone();
    rt.block_on(async move {
        let mk = |name: &'static str, l: Rc<RefCell<Vec<&'static str>>>| async move {
            for _ in 0..3 {
                l.borrow_mut().push(name);
                yield_now().await;
            }
        };
        let a = spawn_slab(mk("a", l.clone()));
        let b = spawn_slab(mk("b", l.clone()));
        a.await.unwrap();
        b.await.unwrap();
    });
    assert_eq!(*log.borrow(), ["a", "b", "a", "b", "a", "b"]);
}

#[test]
fn a_busy_task_does_not_starve_the_root() {
    let rt = rt_bounded::<256>(8);
    let spins = Rc::new(Cell::new(0u64));
    let s = spins.clone();
    rt.block_on(async move {
        drop(spawn_slab(async move {
            loop {
                s.set(s.get() + 1);
                yield_now().await;
            }
        }));
        for _ in 0..100 {
            yield_now().await;
        }
    });
    // The spinner and the root alternated.
    assert!((99..=101).contains(&spins.get()), "{}", spins.get());
}

#[test]
fn producer_with_claim_slab_backpressure_completes_100k_tasks() {
    let total = scaled(100_000);
    let rt = rt_bounded::<256>(256);
    let done = Rc::new(Cell::new(0usize));
    let d = done.clone();
    rt.block_on(async move {
        let mut spawned = 0;
        while spawned < total {
            for _ in 0..100.min(total - spawned) {
                let claim = claim_slab().await;
                let d = d.clone();
                drop(claim.spawn(async move {
                    yield_now().await;
                    d.set(d.get() + 1);
                }));
                spawned += 1;
            }
            yield_now().await;
        }
        while d.get() < total {
            yield_now().await;
        }
    });
    assert_eq!(done.get(), total);
    let s = rt.stats();
    assert_eq!((s.slab_used, s.slab_peak), (0, 256));
}

#[test]
fn many_waiters_for_a_slot_all_get_one() {
    let rt = rt_bounded::<256>(4);
    let done = Rc::new(Cell::new(0));
    let d = done.clone();
    rt.block_on(async move {
        // Eight boxed tasks each want a slot; only four exist, held briefly.
        let waiters: Vec<_> = (0..8)
            .map(|_| {
                let d = d.clone();
                spawn(async move {
                    let claim = claim_slab().await;
                    let h = claim.spawn(async { yield_now().await });
                    h.await.unwrap();
                    d.set(d.get() + 1);
                })
            })
            .collect();
        for w in waiters {
            w.await.unwrap();
        }
    });
    assert_eq!(done.get(), 8);
}

#[test]
fn claim_slab_future_dropped_while_waiting_is_fine() {
    let rt = rt_bounded::<256>(1);
    rt.block_on(async {
        let held = try_claim_slab().unwrap();
        let mut wait = Box::pin(claim_slab());
        assert!(poll_once(wait.as_mut()).await.is_none());
        drop(wait);
        drop(held);
        let again = claim_slab().await;
        drop(again);
    });
}

async fn poll_once<F: Future + Unpin>(mut f: F) -> Option<F::Output> {
    poll_fn(|cx| {
        Poll::Ready(match Pin::new(&mut f).poll(cx) {
            Poll::Ready(v) => Some(v),
            Poll::Pending => None,
        })
    })
    .await
}

// ---- several runtimes on one thread -----------------------------------------------------

#[test]
fn block_on_inside_a_running_runtime_panics_saying_what_to_do() {
    let outer = rt_bounded::<1024>(8); // the task holds a whole Runtime
    let out = outer.block_on(async {
        let h = spawn_slab(async {
            let mut inner = rt_bounded::<256>(8);
            // Would hang: the inner future waits on a task of the outer runtime, which
            // cannot run while this task blocks.
            let outer_task = spawn(async { 1 });
            let nested = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                inner.block_on(outer_task)
            }));
            let msg = panic_message(nested.expect_err("nested block_on panics"));
            assert!(msg.contains("already running a tickslab runtime"), "{msg}");
            assert!(msg.contains("tickslab::spawn"), "says what to do: {msg}");
            let ticked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| inner.tick()));
            assert!(ticked.is_err(), "tick inside a task panics too");
            // Entering another runtime inside a task stays allowed; dropping it panics with
            // tokio's message (it could block on blocking jobs), once it is fully shut
            // down: its tasks are cancelled all the same.
            let entered = inner.enter();
            let parked = spawn(async { 20 });
            drop(entered);
            let dropped = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(inner)));
            let msg = panic_message(dropped.expect_err("dropping a runtime in a task panics"));
            assert!(msg.contains("Cannot drop a runtime"), "{msg}");
            assert!(parked.await.unwrap_err().is_cancelled());
            // `shutdown_background` is the way to drop one there.
            rt_bounded::<256>(8).shutdown_background();
            // Back in the outer runtime's context.
            spawn_slab(async { 1 }).await.unwrap() + 21
        });
        h.await.unwrap()
    });
    assert_eq!(out, 22);
    // And the outer runtime is usable again afterwards.
    assert_eq!(outer.block_on(async { 5 }), 5);
}

#[test]
fn runtimes_one_after_another_on_one_thread() {
    for i in 0..3 {
        let rt = rt_bounded::<256>(4);
        assert_eq!(
            rt.block_on(async move { spawn_slab(async move { i }).await.unwrap() }),
            i
        );
    }
}

#[test]
fn runtime_drop_from_another_threads_point_of_view() {
    // Tasks of a runtime on thread A hold `Send` wakers given to thread B, which drops them
    // after A's runtime is gone.
    let drops = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = std::sync::mpsc::channel::<Waker>();
    let d = drops.clone();
    std::thread::spawn(move || {
        let rt = rt_bounded::<256>(8);
        rt.block_on(async move {
            for _ in 0..4 {
                let g = SyncDropCounter(d.clone());
                let tx = tx.clone();
                drop(spawn_slab(async move {
                    let _g = g;
                    poll_fn(|cx| {
                        tx.send(cx.waker().clone()).unwrap();
                        Poll::<()>::Pending
                    })
                    .await
                }));
            }
            yield_now().await;
        });
    })
    .join()
    .unwrap();
    assert_eq!(drops.load(Ordering::SeqCst), 4);
    for w in rx.iter() {
        w.wake(); // the runtime is gone: a no-op that releases the orphaned slot
    }
}

#[test]
fn wait_for_helper_wakes() {
    let rt = rt_bounded::<256>(8);
    let flag = Rc::new(Cell::new(false));
    let waker: Rc<RefCell<Option<Waker>>> = Rc::default();
    let (f, w) = (flag.clone(), waker.clone());
    rt.block_on(async move {
        let h = spawn_slab(wait_for(f.clone(), w.clone()));
        yield_now().await;
        f.set(true);
        w.borrow_mut().take().unwrap().wake();
        h.await.unwrap();
    });
}

#[test]
fn slab_spawner_checks_the_slot_size_once_and_hands_back_on_full() {
    let rt = rt_bounded::<256>(1);
    rt.block_on(async {
        let sp = SlabSpawner::<256>::current();
        let small = SlabSpawner::<128>::current(); // smaller N is fine: slots are larger
        let held = sp.spawn(pending::<()>());
        let err = small.try_spawn(async { 1 }).unwrap_err();
        assert!(err.is_full());
        held.abort();
        assert!(held.await.unwrap_err().is_cancelled());
        assert_eq!(small.spawn(err.into_future()).await.unwrap(), 1);
        let msg = panic_message(
            catch_unwind(|| SlabSpawner::<512>::current())
                .map(drop)
                .unwrap_err(),
        );
        assert!(msg.contains("256-byte slots, smaller than 512"), "{msg}");
    });
}
