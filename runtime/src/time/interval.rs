//! `Interval`: ticks at a fixed period on the runtime's clock, with tokio's missed-tick
//! behaviours and resets.
//!
//! Invariant: `sleep`'s deadline is the instant of the next tick; taking a tick moves it one
//! period on (or further, by the missed-tick behaviour), and each reset moves it to where
//! the reset says.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use super::{FAR_FUTURE, Instant, Sleep, now, sleep_until};

/// What an [`Interval`] does when ticks were missed (the task was busy past a tick).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MissedTickBehavior {
    /// Fire the missed ticks at once, back to back, then go on with the original schedule.
    #[default]
    Burst,
    /// Start over: the next tick is one period after the late one was taken.
    Delay,
    /// Drop the missed ticks: the next tick is the next one of the original schedule
    /// that lies in the future.
    Skip,
}

/// A tick is "missed" when it is taken more than this late (as tokio).
const MISSED_TOLERANCE: Duration = Duration::from_millis(5);

/// Ticks every `period`, the first tick at once.
///
/// # Panics
/// If `period` is zero (the panic names the caller's line).
#[track_caller]
pub fn interval(period: Duration) -> Interval {
    interval_at(now(), period)
}

/// Ticks every `period`, the first tick at `start`.
///
/// # Panics
/// If `period` is zero (the panic names the caller's line).
#[track_caller]
pub fn interval_at(start: Instant, period: Duration) -> Interval {
    assert!(
        !period.is_zero(),
        "tickslab::time::interval: the period must be non-zero"
    );
    Interval {
        sleep: sleep_until(start),
        period,
        missed: MissedTickBehavior::default(),
    }
}

/// `at + by`, or about 30 years from now when that overflows the clock (tokio's "far
/// future"): a period of `Duration::MAX` means "never again", not a panic.
fn add_or_far(at: Instant, by: Duration) -> Instant {
    at.checked_add(by).unwrap_or_else(|| now() + FAR_FUTURE)
}

/// A stream of ticks: see [`interval`].
#[derive(Debug)]
pub struct Interval {
    sleep: Sleep,
    period: Duration,
    missed: MissedTickBehavior,
}

impl Interval {
    /// Waits for the next tick; returns the instant it was scheduled for.
    pub async fn tick(&mut self) -> Instant {
        std::future::poll_fn(|cx| self.poll_tick(cx)).await
    }

    /// Polls for the next tick.
    pub fn poll_tick(&mut self, cx: &mut Context<'_>) -> Poll<Instant> {
        ready!(Pin::new(&mut self.sleep).poll(cx));
        let scheduled = self.sleep.deadline();
        let now = now();
        let late = now.saturating_duration_since(scheduled) > MISSED_TOLERANCE;
        let next = match self.missed {
            MissedTickBehavior::Burst => add_or_far(scheduled, self.period),
            MissedTickBehavior::Delay if late => add_or_far(now, self.period),
            MissedTickBehavior::Skip if late => {
                let behind = now.duration_since(scheduled).as_nanos();
                let period = self.period.as_nanos();
                let periods = behind / period + 1;
                let skip = self
                    .period
                    .checked_mul(u32::try_from(periods).unwrap_or(u32::MAX))
                    .unwrap_or(Duration::MAX);
                add_or_far(scheduled, skip)
            }
            MissedTickBehavior::Delay | MissedTickBehavior::Skip => {
                add_or_far(scheduled, self.period)
            }
        };
        self.sleep.reset(next);
        Poll::Ready(scheduled)
    }

    /// Restarts: the next tick is one period from now.
    pub fn reset(&mut self) {
        self.sleep.reset(add_or_far(now(), self.period));
    }

    /// The next tick is now: the next [`tick`](Self::tick) completes at once.
    pub fn reset_immediately(&mut self) {
        self.sleep.reset(now());
    }

    /// The next tick is `after` from now.
    pub fn reset_after(&mut self, after: Duration) {
        self.sleep.reset(add_or_far(now(), after));
    }

    /// The next tick is at `deadline`.
    pub fn reset_at(&mut self, deadline: Instant) {
        self.sleep.reset(deadline);
    }

    /// The period.
    pub fn period(&self) -> Duration {
        self.period
    }

    /// The missed-tick behaviour.
    pub fn missed_tick_behavior(&self) -> MissedTickBehavior {
        self.missed
    }

    /// Sets the missed-tick behaviour.
    pub fn set_missed_tick_behavior(&mut self, behavior: MissedTickBehavior) {
        self.missed = behavior;
    }
}
