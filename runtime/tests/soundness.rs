//! Regression tests for the ways safe code once reached freed memory or lost a future:
//! guards forgotten or dropped out of order, user code that panics while the runtime shuts
//! down or drains work from other threads, and frame tasks spawned while a frame unwinds.
//! Each test names the defect it guards against; CI runs them natively, under Miri and
//! under AddressSanitizer.

mod support;

use std::cell::Cell;
use std::future::{Future, pending};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use support::{DropCounter, rt_bounded};
use tickslab_runtime::*;

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_default()
}

/// A waker whose `wake` panics: user code the runtime calls at the worst moments.
struct PanickingWaker;

impl Wake for PanickingWaker {
    fn wake(self: Arc<Self>) {
        panic!("waker says no");
    }
}

fn panicking_waker() -> Waker {
    Waker::from(Arc::new(PanickingWaker))
}

fn poll_once<F: Future + Unpin>(f: &mut F, waker: &Waker) -> Poll<F::Output> {
    Pin::new(f).poll(&mut Context::from_waker(waker))
}

// ---- defect 1: a dead runtime left installed as current --------------------------------------

#[test]
fn forgotten_enter_guard_then_dropped_runtime_gives_clear_errors() {
    let rt = rt_bounded::<256>(4);
    std::mem::forget(rt.enter());
    drop(rt);
    let spawned = catch_unwind(|| drop(spawn(async { 1 })));
    let msg = panic_message(spawned.expect_err("spawn on a dropped runtime panics"));
    assert!(msg.contains("shut down"), "{msg}");
    let err = try_spawn_slab(async { 1 }).expect_err("refused");
    assert_eq!(err.kind(), SpawnErrorKind::Shutdown);
    assert!(RuntimeStats::current().is_none());
    let slept = catch_unwind(|| {
        let mut sleep = Box::pin(time::sleep(Duration::from_millis(1)));
        let _ = sleep.as_mut().poll(&mut Context::from_waker(Waker::noop()));
    });
    let msg = panic_message(slept.expect_err("sleep outside a live runtime panics"));
    assert!(msg.contains("used after its runtime was dropped"), "{msg}");
    assert!(msg.contains("being shutdown"), "tokio's words: {msg}");
    // A new runtime on this thread works as usual (its guard nests over the forgotten one).
    let rt2 = rt_bounded::<256>(4);
    assert_eq!(
        rt2.block_on(async { spawn_slab(async { 2 }).await.unwrap() }),
        2
    );
}

#[test]
fn enter_guards_dropped_out_of_order_panic_and_never_dangle() {
    let rt1 = rt_bounded::<256>(4);
    let rt2 = rt_bounded::<256>(4);
    let g1 = rt1.enter();
    let g2 = rt2.enter();
    let out_of_order = catch_unwind(AssertUnwindSafe(|| drop(g1)));
    let msg = panic_message(out_of_order.expect_err("out of order"));
    assert!(msg.contains("out of order"), "{msg}");
    drop(g2); // restores rt1, whose own guard is gone
    drop(rt1);
    assert!(
        RuntimeStats::current().is_none(),
        "a dead runtime reads as none"
    );
    let spawned = catch_unwind(|| drop(spawn(async { 1 })));
    assert!(panic_message(spawned.unwrap_err()).contains("shut down"));
    drop(rt2);
}

#[test]
fn stats_of_a_forgotten_runtime_are_none_not_freed_memory() {
    let rt = Runtime::new().unwrap();
    let guard = rt.enter();
    assert!(RuntimeStats::current().is_some());
    std::mem::forget(guard);
    drop(rt);
    assert!(RuntimeStats::current().is_none());
}

// ---- defect 2: user code that panics during `Runtime` drop ----------------------------------

#[test]
fn join_waker_panicking_during_shutdown_cannot_stop_it() {
    let rt = rt_bounded::<256>(16);
    let dropped = Rc::new(Cell::new(0));
    // Older tasks (spawned first, cancelled last: newest first).
    let older: Vec<_> = (0..5)
        .map(|_| {
            let d = DropCounter(dropped.clone());
            rt.spawn_slab(async move {
                let _d = d;
                pending::<()>().await
            })
        })
        .collect();
    let d = DropCounter(dropped.clone());
    let mut watched = rt.spawn_slab(async move {
        let _d = d;
        pending::<u32>().await
    });
    // Polled from "another executor" whose waker panics when the task completes.
    assert!(poll_once(&mut watched, &panicking_waker()).is_pending());
    let newer: Vec<_> = (0..5)
        .map(|_| {
            let d = DropCounter(dropped.clone());
            rt.spawn(async move {
                let _d = d;
                pending::<()>().await
            })
        })
        .collect();

    let shutdown = catch_unwind(AssertUnwindSafe(|| drop(rt)));
    let msg = panic_message(shutdown.expect_err("the waker's panic is re-raised"));
    assert_eq!(msg, "waker says no");
    assert_eq!(dropped.get(), 11, "every future dropped exactly once");
    // The handles outlive the runtime and still work (no freed memory behind them).
    match poll_once(&mut watched, Waker::noop()) {
        Poll::Ready(Err(e)) => assert!(e.is_cancelled()),
        other => panic!("expected cancelled, got {:?}", other.map(|r| r.is_ok())),
    }
    drop(watched);
    for h in older.into_iter().chain(newer) {
        assert!(h.is_finished());
        drop(h);
    }
}

#[test]
fn panicking_join_waker_while_running_is_reraised_after_the_pass() {
    let rt = rt_bounded::<256>(8);
    let mut handle = rt.spawn_slab(async { 42 });
    assert!(poll_once(&mut handle, &panicking_waker()).is_pending());
    let other = rt.spawn_slab(async { 7 });
    let ran = catch_unwind(AssertUnwindSafe(|| rt.block_on(async { 1 })));
    // The task completed, its waker panicked; the runtime re-raised it once consistent.
    let ran = match ran {
        Ok(v) => {
            // The root may finish first; drive once more to complete the task.
            assert_eq!(v, 1);
            catch_unwind(AssertUnwindSafe(|| {
                rt.block_on(async { yield_now().await })
            }))
            .map(|()| 1)
        }
        Err(p) => Err(p),
    };
    assert_eq!(panic_message(ran.expect_err("re-raised")), "waker says no");
    // Nothing was lost: the output is there, and the runtime goes on.
    assert_eq!(
        rt.block_on(async move { handle.await.unwrap() + other.await.unwrap() }),
        49
    );
    assert_eq!(rt.stats().slab_used, 0);
}

#[test]
fn spawn_with_jobs_pending_at_shutdown_are_cancelled_even_if_their_drop_panics() {
    struct PanicOnDrop;
    impl Drop for PanicOnDrop {
        fn drop(&mut self) {
            panic!("job drop says no");
        }
    }
    let rt = rt_bounded::<256>(8);
    let handle = rt.handle().clone();
    let first = handle.spawn_with(|| async { 1 }).expect("runtime is up");
    let bad = PanicOnDrop;
    let second = handle
        .spawn_with(move || {
            let _keep = &bad;
            async { 2 }
        })
        .expect("runtime is up");
    let third = handle.spawn_with(|| async { 3 }).expect("runtime is up");
    let shutdown = catch_unwind(AssertUnwindSafe(|| drop(rt)));
    assert_eq!(
        panic_message(shutdown.expect_err("re-raised after shutdown")),
        "job drop says no"
    );
    for h in [first, third] {
        assert!(h.join().unwrap_err().is_cancelled());
    }
    assert!(second.join().unwrap_err().is_cancelled());
    assert!(handle.is_shutdown());
}

// ---- defect 3: a panicking `Handle::spawn_with` closure while running ------------------------

#[test]
fn panicking_spawn_with_closure_is_reported_and_the_queue_runs_on() {
    let rt = rt_bounded::<256>(8);
    let handle = rt.handle().clone();
    let ok_before = handle.spawn_with(|| async { 1 }).unwrap();
    let bad = handle
        .spawn_with(|| -> std::future::Ready<u32> { panic!("closure says no") })
        .unwrap();
    let ok_after = handle.spawn_with(|| async { 3 }).unwrap();
    // One pass takes in all three; the panic stays with its handle.
    rt.block_on(async { yield_now().await });
    let err = bad.join().unwrap_err();
    assert!(err.is_panic());
    assert_eq!(panic_message(err.into_panic()), "closure says no");
    assert_eq!(ok_before.join().unwrap(), 1);
    assert_eq!(ok_after.join().unwrap(), 3);
}

#[test]
fn a_job_that_sends_a_job_waits_for_the_next_pass() {
    fn chain(handle: Handle, left: u32, ran: Arc<AtomicUsize>) {
        let next = handle.clone();
        let spawned = handle.spawn_with(move || {
            ran.fetch_add(1, Ordering::SeqCst);
            if left > 0 {
                chain(next, left - 1, ran);
            }
            async {}
        });
        assert!(spawned.is_ok());
    }
    let mut rt = rt_bounded::<256>(8);
    let ran = Arc::new(AtomicUsize::new(0));
    chain(rt.handle().clone(), 1_000, ran.clone());
    rt.tick();
    assert_eq!(
        ran.load(Ordering::SeqCst),
        1,
        "one pass runs the jobs it found"
    );
    for _ in 0..1_000 {
        rt.tick();
    }
    assert_eq!(
        ran.load(Ordering::SeqCst),
        1_001,
        "and every job runs, pass after pass"
    );
}

// ---- defect 4: a frame task that outlives its frame -----------------------------------------

#[test]
fn frame_task_spawned_by_a_destructor_while_the_frame_unwinds_is_cancelled_too() {
    struct SpawnOnDrop<'f, 'e> {
        frame: &'f Frame<'f, 'e>,
        spawned: &'f Cell<u32>,
        dropped: &'f Cell<u32>,
    }
    impl Drop for SpawnOnDrop<'_, '_> {
        fn drop(&mut self) {
            self.spawned.set(self.spawned.get() + 1);
            struct Count<'a>(&'a Cell<u32>);
            impl Drop for Count<'_> {
                fn drop(&mut self) {
                    self.0.set(self.0.get() + 1);
                }
            }
            // Moved into the future: dropped when the future is, polled or not.
            let count = Count(self.dropped);
            drop(self.frame.spawn(async move {
                let _c = count;
                pending::<()>().await
            }));
        }
    }
    let mut rt = rt_bounded::<1024>(8);
    let spawned = Cell::new(0);
    let dropped = Cell::new(0);
    let unwound = catch_unwind(AssertUnwindSafe(|| {
        rt.frame(|f| {
            let guard = SpawnOnDrop {
                frame: f,
                spawned: &spawned,
                dropped: &dropped,
            };
            drop(f.spawn(async move {
                let _g = guard;
                pending::<()>().await
            }));
            panic!("frame says no");
        })
    }));
    assert_eq!(panic_message(unwound.unwrap_err()), "frame says no");
    assert_eq!(
        spawned.get(),
        1,
        "the destructor spawned while the frame unwound"
    );
    assert_eq!(
        dropped.get(),
        1,
        "and that task was cancelled before the frame ended"
    );
    assert_eq!(rt.stats().tasks_live, 0);
    // The runtime and its frames go on; the cancelled tasks' queue entries are taken in by
    // the next pass, and their slots come back.
    assert_eq!(rt.frame(|f| *f.alloc(3u8)), 3);
    rt.block_on(yield_now());
    assert_eq!(rt.stats().slab_used, 0);
}

// ---- drop in every order -------------------------------------------------------------------

#[test]
fn handles_claims_and_wakers_dropped_after_the_runtime_in_any_order() {
    for order in 0..6 {
        let rt = rt_bounded::<128>(4);
        let waker_slot: Rc<Cell<Option<Waker>>> = Rc::new(Cell::new(None));
        let ws = waker_slot.clone();
        let (handle, claim) = rt.block_on(async move {
            let h = spawn_slab(std::future::poll_fn(move |cx| {
                ws.set(Some(cx.waker().clone()));
                Poll::<()>::Pending
            }));
            yield_now().await;
            (h, try_claim_slab().expect("room"))
        });
        let waker = waker_slot.take().expect("polled once");
        let remote = Arc::new(AtomicUsize::new(0));
        let sent = {
            let waker = waker.clone();
            let remote = remote.clone();
            std::thread::spawn(move || {
                waker.wake_by_ref();
                remote.fetch_add(1, Ordering::SeqCst);
                waker
            })
        };
        let sent = sent.join().unwrap();
        drop(rt);
        let mut handle = Some(handle);
        let mut claim = Some(claim);
        let mut waker = Some(waker);
        let mut sent = Some(sent);
        let steps: [u8; 4] = match order {
            0 => [0, 1, 2, 3],
            1 => [3, 2, 1, 0],
            2 => [1, 3, 0, 2],
            3 => [2, 0, 3, 1],
            4 => [0, 2, 1, 3],
            _ => [3, 1, 2, 0],
        };
        for step in steps {
            match step {
                0 => drop(handle.take()),
                1 => drop(claim.take()),
                2 => drop(waker.take()),
                _ => drop(sent.take()),
            }
        }
        assert_eq!(remote.load(Ordering::SeqCst), 1);
    }
}
