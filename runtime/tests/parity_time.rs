//! tokio's time behaviour that tokio's own tests check, on tickslab: pausing a paused clock
//! and resuming a running one panic, an `Interval` of `Duration::MAX` never overflows, a
//! `sleep(Duration::MAX)` ends 30 years on (tokio's far future), `Sleep::is_elapsed` is false
//! until a poll arms the sleep, a `timeout` fires even when its future spends the whole budget
//! every poll, and `time::error::Error`'s kinds.

mod support;

use std::future::Future;
use std::panic::catch_unwind;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tickslab_runtime::task::coop;
use tickslab_runtime::time::{self, Instant, MissedTickBehavior};
use tickslab_runtime::*;

use support::rt;

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    match payload.downcast::<String>() {
        Ok(s) => *s,
        Err(p) => p.downcast_ref::<&str>().copied().unwrap_or("?").to_string(),
    }
}

#[test]
fn pausing_twice_and_resuming_a_running_clock_panic() {
    rt().block_on(async {
        let twice = catch_unwind(|| {
            time::pause();
            time::pause();
        });
        assert!(panic_message(twice.unwrap_err()).contains("already frozen"));
        // The first pause held: the clock is paused, and one resume is fine.
        time::resume();
        let again = catch_unwind(time::resume);
        assert!(panic_message(again.unwrap_err()).contains("not frozen"));
        // Still usable: pause, advance, resume.
        time::pause();
        let t = Instant::now();
        time::advance(Duration::from_secs(5)).await;
        assert_eq!(t.elapsed(), Duration::from_secs(5));
        time::resume();
    });
}

#[test]
fn an_interval_of_duration_max_does_not_overflow() {
    let rt = Runtime::builder().start_paused(true).build();
    rt.block_on(async {
        for behavior in [
            MissedTickBehavior::Burst,
            MissedTickBehavior::Delay,
            MissedTickBehavior::Skip,
        ] {
            let mut i = time::interval(Duration::MAX);
            i.set_missed_tick_behavior(behavior);
            let first = i.tick().await; // at once
            // The next tick is in the far future, not a panic.
            let next = time::timeout(Duration::from_secs(3600), i.tick()).await;
            assert!(next.is_err(), "{behavior:?}");
            i.reset();
            i.reset_after(Duration::MAX);
            assert!(Instant::now() >= first);
        }
    });
}

/// Spends the whole budget on every poll, never finishing (tokio's
/// `timeout_is_not_exhausted_by_future`).
struct Hog;

impl Future for Hog {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        while coop::has_budget_remaining() {
            let mut f = std::pin::pin!(coop::consume_budget());
            let _ = f.as_mut().poll(cx);
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

#[test]
fn a_timeout_fires_when_its_future_spends_the_budget() {
    rt().block_on(async {
        let r = time::timeout(Duration::from_millis(1), Hog).await;
        assert!(r.is_err(), "the deadline was seen");
    });
    // The same as a task.
    let rt = rt();
    let h = rt.spawn(time::timeout(Duration::from_millis(1), Hog));
    assert!(rt.block_on(h).unwrap().is_err());
}

#[test]
fn timer_errors_say_which_kind() {
    use time::error::{Elapsed, Error};
    assert!(Error::shutdown().is_shutdown() && !Error::shutdown().is_invalid());
    assert!(Error::at_capacity().is_at_capacity() && !Error::at_capacity().is_shutdown());
    assert!(Error::invalid().is_invalid() && !Error::invalid().is_at_capacity());
    let elapsed: Elapsed = rt()
        .block_on(time::timeout(Duration::ZERO, std::future::pending::<()>()))
        .unwrap_err();
    let io: std::io::Error = elapsed.into();
    assert_eq!(io.kind(), std::io::ErrorKind::TimedOut);
}

/// tokio's `time_sleep::exactly_max` and `no_out_of_bounds_close_to_max`: a sleep too long
/// for `Instant` ends at tokio's far future, which a paused clock reaches by auto-advance.
#[test]
fn a_sleep_of_duration_max_ends_thirty_years_on() {
    const THIRTY_YEARS: Duration = Duration::from_secs(86_400 * 365 * 30);
    let rt = Runtime::builder().start_paused(true).build();
    rt.block_on(async {
        for long in [Duration::MAX, Duration::MAX - Duration::from_millis(1)] {
            let t0 = Instant::now();
            let s = time::sleep(long);
            assert_eq!(s.deadline(), t0 + THIRTY_YEARS);
            // The timeout, a year later, only bounds the test if the sleep never ends.
            let r = time::timeout(THIRTY_YEARS + Duration::from_secs(86_400 * 365), s).await;
            assert!(r.is_ok(), "the sleep ended at its own deadline");
            assert_eq!(t0.elapsed(), THIRTY_YEARS);
        }
    });
}

/// tokio's `time_sleep::immediate_sleep`: a sleep whose deadline has passed is not elapsed
/// until a poll has armed it, as tokio's (its timer entry is made on the first poll).
#[test]
fn a_sleep_is_not_elapsed_until_a_poll_arms_it() {
    rt().block_on(async {
        let mut s = time::sleep_until(Instant::now());
        assert!(
            !s.is_elapsed(),
            "never polled: not elapsed, though its deadline is now"
        );
        (&mut s).await;
        assert!(s.is_elapsed(), "returned Ready");
        s.reset(Instant::now() + Duration::from_secs(3600));
        assert!(!s.is_elapsed(), "reset: waiting again");
        // Polled once and pending: not elapsed while its timer has not fired.
        let mut cx = Context::from_waker(std::task::Waker::noop());
        assert!(Pin::new(&mut s).poll(&mut cx).is_pending());
        assert!(!s.is_elapsed());
    });
}
