//! Timers: never early, never hung, ordered, cancellable; timeout; interval's missed-tick
//! behaviours; the manual clock; many concurrent sleeps; zero allocations once warm.
//!
//! Wall-clock bounds here only detect hangs (generous, seconds); nothing asserts speed.

mod support;

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use tickslab_alloc::counting::{AllocStats, CountingAlloc};
use tickslab_runtime::time::{self, MissedTickBehavior};
use tickslab_runtime::*;

use support::rt_bounded;

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc::system();

fn paused_rt() -> Runtime {
    Runtime::builder()
        .slab_bounded::<256>(64)
        .start_paused(true)
        .build()
}

fn xorshift(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
}

#[test]
fn a_thousand_short_random_sleeps_never_end_early_and_never_hang() {
    let rt = rt_bounded::<256>(8);
    let start = Instant::now();
    let worst_late = rt.block_on(async {
        let mut seed = 7;
        let mut worst = Duration::ZERO;
        for _ in 0..1000 {
            let d = Duration::from_nanos(1_000 + xorshift(&mut seed) % 2_000_000);
            let t0 = Instant::now();
            sleep(d).await;
            let took = t0.elapsed();
            assert!(took >= d, "slept {took:?} for a {d:?} sleep");
            worst = worst.max(took - d);
        }
        worst
    });
    println!(
        "1000 sleeps of 1us..2ms: {:?} in all, worst lateness {worst_late:?}",
        start.elapsed()
    );
    assert!(start.elapsed() < Duration::from_secs(60), "hang detector");
}

#[test]
fn sleeps_finish_in_deadline_order() {
    let rt = rt_bounded::<256>(64);
    let order = Rc::new(RefCell::new(Vec::new()));
    let o = order.clone();
    rt.block_on(async move {
        let ms = [30u64, 5, 20, 1, 15, 10, 25];
        let handles: Vec<_> = ms
            .iter()
            .map(|&m| {
                let o = o.clone();
                spawn_slab(async move {
                    sleep(Duration::from_millis(m)).await;
                    o.borrow_mut().push(m);
                })
            })
            .collect();
        for h in handles {
            h.await.unwrap();
        }
    });
    assert_eq!(*order.borrow(), [1, 5, 10, 15, 20, 25, 30]);
}

#[test]
fn dropping_a_sleep_cancels_its_timer() {
    let rt = rt_bounded::<256>(8);
    rt.block_on(async {
        let mut s = Box::pin(sleep(Duration::from_secs(3600)));
        assert!(futures_poll_once(s.as_mut()).await.is_none());
        assert_eq!(stats().timers_armed, 1);
        drop(s);
        assert_eq!(stats().timers_armed, 0);
        // A task stuck on a long sleep is cancelled by abort, which disarms it too.
        let h = spawn_slab(sleep(Duration::from_secs(3600)));
        yield_now().await;
        assert_eq!(stats().timers_armed, 1);
        h.abort();
        assert!(h.await.unwrap_err().is_cancelled());
        assert_eq!(stats().timers_armed, 0);
    });
}

fn stats() -> RuntimeStats {
    RuntimeStats::current().expect("inside the runtime")
}

async fn futures_poll_once<F: std::future::Future>(f: std::pin::Pin<&mut F>) -> Option<F::Output> {
    let mut f = Some(f);
    std::future::poll_fn(move |cx| {
        let f = f.take().unwrap();
        std::task::Poll::Ready(match f.poll(cx) {
            std::task::Poll::Ready(v) => Some(v),
            std::task::Poll::Pending => None,
        })
    })
    .await
}

#[test]
fn timeout_fires_and_does_not_fire() {
    let rt = rt_bounded::<256>(8);
    rt.block_on(async {
        let err = timeout(Duration::from_millis(5), std::future::pending::<()>())
            .await
            .unwrap_err();
        assert_eq!(err.to_string(), "deadline has elapsed");
        let io: std::io::Error = err.into();
        assert_eq!(io.kind(), std::io::ErrorKind::TimedOut);

        let ok = timeout(Duration::from_secs(5), async {
            sleep(Duration::from_millis(1)).await;
            7
        })
        .await;
        assert_eq!(ok, Ok(7));
        // A future ready at once wins even with a zero timeout.
        assert_eq!(timeout(Duration::ZERO, async { 1 }).await, Ok(1));
    });
}

#[test]
fn manual_clock_fires_in_deadline_order_only_when_advanced() {
    let rt = paused_rt();
    let fired = Rc::new(RefCell::new(Vec::new()));
    let f = fired.clone();
    rt.block_on(async move {
        let t0 = time::now();
        for ms in [300u64, 100, 200] {
            let f = f.clone();
            drop(spawn_slab(async move {
                sleep(Duration::from_millis(ms)).await;
                f.borrow_mut().push((ms, time::now() - t0));
            }));
        }
        yield_now().await;
        for _ in 0..10 {
            yield_now().await;
        }
        assert!(f.borrow().is_empty(), "time stands still");
        time::advance(Duration::from_millis(150)).await;
        assert_eq!(f.borrow().len(), 1);
        time::advance(Duration::from_millis(1000)).await;
        yield_now().await;
    });
    let fired = fired.borrow();
    let order: Vec<u64> = fired.iter().map(|(ms, _)| *ms).collect();
    assert_eq!(order, [100, 200, 300]);
    for (ms, at) in fired.iter() {
        assert!(
            *at >= Duration::from_millis(*ms),
            "fired at {at:?} for {ms} ms"
        );
    }
}

#[test]
fn advance_without_pause_panics_clearly() {
    let rt = rt_bounded::<256>(8);
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        rt.block_on(time::advance(Duration::from_secs(1)))
    }));
    let msg = r.unwrap_err();
    let msg = msg.downcast_ref::<&str>().copied().unwrap_or_default();
    assert!(msg.contains("not paused"), "{msg}");
}

#[test]
fn sleep_outside_a_runtime_panics_clearly() {
    let r = std::panic::catch_unwind(|| {
        let mut s = Box::pin(sleep(Duration::from_millis(1)));
        let waker = std::task::Waker::noop();
        let _ = s.as_mut().poll(&mut std::task::Context::from_waker(waker));
    });
    let payload = r.unwrap_err();
    let msg = payload
        .downcast_ref::<String>()
        .cloned()
        .unwrap_or_default();
    assert!(msg.contains("outside of a tickslab runtime"), "{msg}");
}

use std::future::Future as _;

fn interval_ticks(behavior: MissedTickBehavior) -> Vec<u64> {
    let rt = paused_rt();
    rt.block_on(async move {
        let t0 = time::now();
        let mut iv = time::interval(Duration::from_millis(10));
        iv.set_missed_tick_behavior(behavior);
        let mut at = Vec::new();
        iv.tick().await; // first tick at once
        at.push((time::now() - t0).as_millis() as u64);
        // Busy for 35 ms: ticks at 10, 20, 30 were missed.
        time::advance(Duration::from_millis(35)).await;
        // Then take every tick as soon as it is due, moving the clock 1 ms at a time.
        while at.len() < 5 {
            let tick = std::future::poll_fn(|cx| std::task::Poll::Ready(iv.poll_tick(cx))).await;
            match tick {
                std::task::Poll::Ready(scheduled) => at.push((scheduled - t0).as_millis() as u64),
                std::task::Poll::Pending => time::advance(Duration::from_millis(1)).await,
            }
        }
        at
    })
}

#[test]
fn interval_missed_tick_burst_catches_up_back_to_back() {
    // Scheduled instants: 0, then the missed 10, 20, 30 at once, then 40.
    let ticks = interval_ticks(MissedTickBehavior::Burst);
    assert_eq!(ticks, [0, 10, 20, 30, 40]);
}

#[test]
fn interval_missed_tick_delay_restarts_from_now() {
    // 0, then the late tick (scheduled 10, taken at 35), then 35 + 10 = 45, 55.
    let ticks = interval_ticks(MissedTickBehavior::Delay);
    assert_eq!(ticks, [0, 10, 45, 55, 65]);
}

#[test]
fn interval_missed_tick_skip_keeps_the_grid() {
    // 0, the late tick (10), then the next grid point after 35: 40, then 50.
    let ticks = interval_ticks(MissedTickBehavior::Skip);
    assert_eq!(ticks, [0, 10, 40, 50, 60]);
}

#[test]
fn hundred_thousand_concurrent_sleeps_all_complete() {
    let n = 100_000;
    let rt = rt_bounded::<256>(n);
    let start = Instant::now();
    let done = Rc::new(std::cell::Cell::new(0));
    let d = done.clone();
    rt.block_on(async move {
        let mut seed = 99;
        for _ in 0..n {
            let ms = xorshift(&mut seed) % 50;
            let d = d.clone();
            drop(spawn_slab(async move {
                sleep(Duration::from_millis(ms)).await;
                d.set(d.get() + 1);
            }));
        }
        while d.get() < n {
            sleep(Duration::from_millis(5)).await;
        }
    });
    assert_eq!(done.get(), n);
    assert_eq!(rt.stats().timers_armed, 0);
    assert!(start.elapsed() < Duration::from_secs(60), "hang detector");
}

#[test]
fn sleep_and_timeout_cycles_allocate_nothing_once_warm() {
    let rt = rt_bounded::<256>(64);
    let stats = rt.block_on(async {
        // Warm-up: the wheel's entry table reaches its peak size.
        sleep(Duration::from_micros(10)).await;
        let _ = timeout(Duration::from_millis(1), std::future::pending::<()>()).await;
        let before = AllocStats::current_thread();
        for i in 0..10_000u32 {
            if i % 100 == 0 {
                sleep(Duration::from_micros(50)).await; // a real wait, now and then
            }
            // A timeout that does not fire and one whose timer is armed then dropped.
            assert_eq!(timeout(Duration::from_secs(1), async { i }).await, Ok(i));
            let mut s = std::pin::pin!(sleep(Duration::from_secs(60)));
            assert!(futures_poll_once(s.as_mut()).await.is_none());
        }
        AllocStats::current_thread().since(&before)
    });
    println!("10,000 timeout + armed-and-dropped sleep cycles: {stats}");
    assert_eq!(stats.allocs + stats.reallocs, 0, "{stats}");
}
