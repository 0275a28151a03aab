//! Time: `sleep`, `sleep_until`, `timeout`, `interval`, and a clock that can be paused and
//! advanced by hand, with tokio's names and meanings.
//!
//! Timers live in a hierarchical wheel with **ticks of 1/32 ms (31.25 µs)** owned by the
//! runtime: arming, cancelling (by drop) and firing are O(1), and nothing is allocated per
//! sleep once the wheel has held as many timers at once as it ever will.
//!
//! **Accuracy.** A deadline is rounded *up*, once, to the next tick, and a timer fires only
//! once the clock has reached that tick: a sleep never ends before its deadline and ends at
//! most one tick after it, plus the wake-up's own delay. `block_on` sleeps until exactly
//! that tick: on Linux through a `timerfd` registered with epoll (epoll's own timeout counts
//! whole milliseconds and would round a second time), elsewhere with epoll's timeout.
//! The runtime looks at the clock when its run queue drains and every
//! [`Builder::io_interval`](crate::Builder::io_interval) task polls, not on every pass.
//!
//! **Manual clock.** [`pause`] freezes this runtime's clock; [`advance`] moves it forward and
//! fires what became due, in deadline order; [`resume`] lets it run again from where it
//! stands. [`Instant::now`] reads this clock. As in tokio, when a paused runtime has nothing
//! to do but wait for timers (no task ready, no socket event, no work from other threads),
//! its clock jumps to the next timer instead of sleeping ("auto-advance");
//! [`Builder::auto_advance(false)`](crate::Builder::auto_advance) turns that off, and then
//! only [`advance`] moves a paused clock. See also
//! [`Builder::start_paused`](crate::Builder::start_paused).

mod futures;
#[cfg(all(target_os = "linux", not(miri)))]
mod park_timer;
mod wheel;

#[cfg(all(target_os = "linux", not(miri)))]
pub(crate) use park_timer::ParkTimer;

use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::{Future, IntoFuture};
use std::marker::PhantomData;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker, ready};

pub mod error;
mod instant;
mod interval;

pub use error::Elapsed;
pub use instant::Instant;
pub use interval::{Interval, MissedTickBehavior, interval, interval_at};
/// Re-exported, as tokio's `time` module does.
pub use std::time::Duration;

/// The system clock's instant type, under a name that says so: the timers keep their
/// arithmetic in it.
type StdInstant = std::time::Instant;

use wheel::{TimerKey, Wheel};

/// One tick of the wheel: 1/32 ms.
const NANOS_PER_TICK: u64 = 31_250;

/// tokio's far future, 30 years: where a sleep too long for `Instant` ends, and what an
/// interval of `Duration::MAX` waits for its next tick.
pub(crate) const FAR_FUTURE: Duration = Duration::from_secs(86_400 * 365 * 30);

/// A runtime's clock and timer wheel. Runtime-thread only.
pub(crate) struct Timers {
    start: StdInstant,
    /// `now = base_virtual + (StdInstant::now() - base_real)`, or `base_virtual` while paused.
    base_real: Cell<StdInstant>,
    base_virtual: Cell<StdInstant>,
    paused: Cell<bool>,
    /// Whether a paused clock jumps to the next timer when the runtime has nothing else
    /// to do (`Builder::auto_advance`).
    auto_advance: bool,
    wheel: RefCell<Wheel>,
    /// A lower bound of the next due tick (`u64::MAX`: nothing armed).
    next_tick: Cell<u64>,
    /// Reused buffer for wakers of fired timers (woken after the wheel is released).
    fire_buf: Cell<Vec<Waker>>,
    /// The runtime is gone: nothing will fire any more.
    shut_down: Cell<bool>,
    /// Built without timers (tokio's builder without `enable_time`): making a timer
    /// panics (`assert_enabled`).
    disabled: Cell<bool>,
}

impl Timers {
    pub(crate) fn new(start_paused: bool, auto_advance: bool) -> Rc<Timers> {
        let start = StdInstant::now();
        Rc::new(Timers {
            start,
            base_real: Cell::new(start),
            base_virtual: Cell::new(start),
            paused: Cell::new(start_paused),
            auto_advance,
            wheel: RefCell::new(Wheel::new()),
            next_tick: Cell::new(u64::MAX),
            fire_buf: Cell::new(Vec::new()),
            shut_down: Cell::new(false),
            disabled: Cell::new(false),
        })
    }

    /// Makes every later `sleep`/`timeout`/`interval` on this runtime panic (tokio's
    /// runtime built without `enable_time`).
    pub(crate) fn disable(&self) {
        self.disabled.set(true);
    }

    /// The runtime's current time.
    #[inline]
    pub(crate) fn now(&self) -> StdInstant {
        if self.paused.get() {
            self.base_virtual.get()
        } else {
            self.base_virtual.get() + self.base_real.get().elapsed()
        }
    }

    /// Nanoseconds since the wheel's start (saturating: 584 years fit).
    fn nanos_since_start(&self, t: StdInstant) -> u64 {
        u64::try_from(t.saturating_duration_since(self.start).as_nanos()).unwrap_or(u64::MAX)
    }

    fn ceil_tick(&self, t: StdInstant) -> u64 {
        self.nanos_since_start(t)
            .div_ceil(NANOS_PER_TICK)
            .min(u64::MAX - 1)
    }

    fn floor_tick(&self, t: StdInstant) -> u64 {
        (self.nanos_since_start(t) / NANOS_PER_TICK).min(u64::MAX - 1)
    }

    fn tick_instant(&self, tick: u64) -> StdInstant {
        let at = Duration::from_nanos(tick.saturating_mul(NANOS_PER_TICK));
        // Beyond what `StdInstant` holds: far enough to be never.
        self.start
            .checked_add(at)
            .unwrap_or_else(|| self.start + Duration::from_secs(86_400 * 365 * 100))
    }

    /// Timers armed and not yet fired.
    pub(crate) fn armed(&self) -> usize {
        self.wheel.borrow().armed()
    }

    /// Fires every timer due by now; returns how many fired. Cheap when nothing is due.
    #[inline]
    pub(crate) fn process(&self) -> usize {
        if self.next_tick.get() == u64::MAX {
            return 0; // nothing armed: no clock read
        }
        self.process_armed()
    }

    #[inline(never)]
    fn process_armed(&self) -> usize {
        let next = self.next_tick.get();
        let now_tick = self.floor_tick(self.now());
        if now_tick < next {
            return 0;
        }
        let mut wakers = self.fire_buf.take();
        let fired = {
            let mut wheel = self.wheel.borrow_mut();
            let fired = wheel.advance(now_tick, |w| wakers.push(w));
            self.next_tick
                .set(wheel.next_expiration().unwrap_or(u64::MAX));
            fired
        };
        for w in wakers.drain(..) {
            w.wake();
        }
        self.fire_buf.set(wakers);
        fired
    }

    /// How long the runtime may sleep before a timer is due (`None`: no timer, or the
    /// clock is paused).
    pub(crate) fn park_timeout(&self) -> Option<Duration> {
        let next = self.next_tick.get();
        if next == u64::MAX || self.paused.get() {
            return None;
        }
        Some(
            self.tick_instant(next)
                .saturating_duration_since(self.now()),
        )
    }

    /// With the clock paused and auto-advance on, moves the clock to the next armed timer's
    /// tick (tokio's auto-advance); `true` if there was one (it fires on the next pass).
    /// The driver calls this instead of sleeping, once it has seen no task ready, no
    /// socket event and no work from other threads.
    pub(crate) fn auto_advance(&self) -> bool {
        let next = self.next_tick.get();
        if !self.paused.get() || !self.auto_advance || next == u64::MAX {
            return false;
        }
        let at = self.tick_instant(next);
        if at > self.base_virtual.get() {
            self.base_virtual.set(at);
        }
        true
    }

    /// The instant of the next due timer, if any.
    pub(crate) fn next_deadline(&self) -> Option<StdInstant> {
        let next = self.next_tick.get();
        (next != u64::MAX).then(|| self.tick_instant(next))
    }

    fn insert(&self, deadline: StdInstant, waker: &Waker) -> TimerKey {
        let tick = self.ceil_tick(deadline);
        let key = self.wheel.borrow_mut().insert(tick, waker.clone());
        if tick < self.next_tick.get() {
            self.next_tick.set(tick);
        }
        key
    }

    /// The runtime is going away: its timers will never fire. Armed sleeps that are polled
    /// again panic, saying so, rather than wait forever.
    pub(crate) fn shutdown(&self) {
        self.shut_down.set(true);
    }

    #[track_caller]
    fn pause(&self) {
        assert!(
            !self.paused.get(),
            "tickslab::time::pause: time is already frozen (paused twice)"
        );
        self.base_virtual.set(self.now());
        self.paused.set(true);
    }

    #[track_caller]
    fn resume(&self) {
        assert!(
            self.paused.get(),
            "tickslab::time::resume: time is not frozen (call time::pause() first)"
        );
        self.base_real.set(StdInstant::now());
        self.paused.set(false);
    }

    fn advance(&self, by: Duration) {
        assert!(
            self.paused.get(),
            "tickslab::time::advance: the clock is not paused (call time::pause() first)"
        );
        self.base_virtual.set(self.base_virtual.get() + by);
    }
}

// ---- the current timers ----------------------------------------------------------------------

thread_local! {
    /// The timers of the runtime current on this thread, installed by its context guard
    /// (`crate::context`). Owned: a guard that outlives its runtime leaves timers that are
    /// marked shut down, never dangling ones.
    static CURRENT: RefCell<Option<Rc<Timers>>> = const { RefCell::new(None) };
}

/// Installs `timers` as this thread's current ones; returns what was there.
pub(crate) fn set_current(timers: Option<Rc<Timers>>) -> Option<Rc<Timers>> {
    CURRENT
        .try_with(|c| std::mem::replace(&mut *c.borrow_mut(), timers))
        .unwrap_or(None)
}

/// The current runtime's timers, if it is alive.
fn try_current_timers() -> Option<Rc<Timers>> {
    CURRENT
        .try_with(|c| c.borrow().as_ref().filter(|t| !t.shut_down.get()).cloned())
        .unwrap_or(None)
}

/// Timers armed in the current runtime (0 outside one).
pub(crate) fn current_armed() -> usize {
    try_current_timers().map_or(0, |t| t.armed())
}

/// The current runtime's timers, or tokio's panic: "no reactor running" outside a runtime,
/// "being shutdown" when the current one was dropped (a guard outlived it).
#[track_caller]
fn current_timers(what: &str) -> Rc<Timers> {
    try_current_timers().unwrap_or_else(|| {
        let dropped = CURRENT.try_with(|c| c.borrow().is_some()).unwrap_or(false);
        if dropped {
            panic!(
                "A Tokio 1.x context was found, but it is being shutdown. (tickslab: {what} \
                 used after its runtime was dropped.)"
            )
        }
        panic!(
            "there is no reactor running, must be called from the context of a Tokio 1.x \
             runtime (tickslab: {what} used outside of a tickslab runtime: use it inside \
             `block_on` or a task)"
        )
    })
}

/// tokio's panic for a timer needed outside a runtime, for the calls that (as tokio's)
/// check at once rather than at their first wait (`mpsc::Sender::send_timeout`).
#[track_caller]
pub(crate) fn assert_in_runtime(what: &str) {
    assert!(
        try_current_timers().is_some(),
        "there is no reactor running, must be called from the context of a Tokio 1.x runtime \
         (tickslab: `{what}` needs a tickslab runtime's timers: call it inside `block_on` or a \
         task)"
    );
}

/// tokio's panic for a timer made on a runtime built without timers.
#[track_caller]
fn assert_timers_enabled() {
    if let Some(t) = try_current_timers() {
        assert!(
            !t.disabled.get(),
            "A Tokio 1.x context was found, but timers are disabled. Call `enable_time` on \
             the runtime builder to enable timers. (tickslab: this runtime was built with \
             `runtime::Builder` without `enable_time` or `enable_all`.)"
        );
    }
}

/// The current time of this thread's runtime (which may be paused), or the system's
/// outside a runtime: the same as [`Instant::now`].
pub fn now() -> Instant {
    Instant::from_std(now_std())
}

/// [`now`] as a `std::time::Instant`.
fn now_std() -> StdInstant {
    try_current_timers().map_or_else(StdInstant::now, |t| t.now())
}

/// Freezes the current runtime's clock: see the [module docs](self).
///
/// # Panics
/// Outside a runtime, or if the clock is already paused (as tokio's).
#[track_caller]
pub fn pause() {
    current_timers("tickslab::time::pause").pause();
}

/// Lets a paused clock run again, from the time it shows.
///
/// # Panics
/// Outside a runtime, or if the clock is not paused (as tokio's).
#[track_caller]
pub fn resume() {
    current_timers("tickslab::time::resume").resume();
}

/// Moves a paused clock forward by `by`, then yields once, so that the timers that became
/// due fire (in deadline order) and their tasks run before this returns.
///
/// # Panics
/// Outside a runtime, or if the clock is not paused.
pub async fn advance(by: Duration) {
    current_timers("tickslab::time::advance").advance(by);
    crate::yield_now().await;
}

// ---- Sleep ---------------------------------------------------------------------------------

/// Waits until `duration` has passed. Never completes early; see the [module docs](self).
/// A duration too long for `Instant` (`Duration::MAX`) ends 30 years from now, as tokio's:
/// a paused clock gets there by auto-advance.
///
/// # Panics
/// On a runtime built without timers (tokio's `runtime::Builder` without `enable_time`).
#[track_caller]
pub fn sleep(duration: Duration) -> Sleep {
    assert_timers_enabled();
    let now = now_std();
    Sleep::new(
        now.checked_add(duration)
            .or_else(|| now.checked_add(FAR_FUTURE)),
    )
}

/// Waits until `deadline`.
///
/// # Panics
/// As [`sleep`].
#[track_caller]
pub fn sleep_until(deadline: Instant) -> Sleep {
    assert_timers_enabled();
    Sleep::new(Some(deadline.into_std()))
}

/// Future returned by [`sleep`] and [`sleep_until`]. Dropping it cancels the timer.
///
/// The timer is armed on first poll, in the runtime that polls it; the future stays on that
/// runtime's thread (`!Send`).
#[must_use = "futures do nothing unless awaited"]
pub struct Sleep {
    /// `None`: further away than `Instant` can say, even 30 years on (never fires).
    deadline: Option<StdInstant>,
    key: Option<TimerKey>,
    timers: Option<Rc<Timers>>,
    /// Returned `Ready` (and not reset since): `FusedFuture::is_terminated`.
    done: bool,
    _not_send: PhantomData<*const ()>,
}

impl Sleep {
    fn new(deadline: Option<StdInstant>) -> Sleep {
        Sleep {
            deadline,
            key: None,
            timers: None,
            done: false,
            _not_send: PhantomData,
        }
    }

    /// Whether the sleep returned `Ready` (since it was made or last reset).
    pub(crate) fn is_done(&self) -> bool {
        self.done
    }

    /// When this sleep ends (far in the future for durations `Instant` cannot hold).
    pub fn deadline(&self) -> Instant {
        Instant::from_std(self.deadline.unwrap_or_else(|| now_std() + FAR_FUTURE))
    }

    /// Whether the sleep has ended, as tokio's: `false` until a poll has armed it (even when
    /// its deadline has passed), then whether its timer has fired; `true` once it returned
    /// `Ready`, until a [`reset`](Self::reset).
    pub fn is_elapsed(&self) -> bool {
        if self.done {
            return true;
        }
        match (&self.timers, self.key) {
            (Some(t), Some(key)) => t.wheel.borrow().is_fired(key),
            _ => false,
        }
    }

    /// Moves the deadline (the timer is re-armed on the next poll), as tokio's
    /// `Sleep::reset`, which takes `self: Pin<&mut Self>`: a `Sleep` is `Unpin`, so both
    /// `sleep.reset(t)` and `sleep.as_mut().reset(t)` on a pinned one work.
    pub fn reset(&mut self, deadline: Instant) {
        self.disarm();
        self.done = false;
        self.deadline = Some(deadline.into_std());
    }

    fn disarm(&mut self) {
        if let (Some(key), Some(timers)) = (self.key.take(), &self.timers) {
            // Dropping a waker can run foreign code: let the wheel go first.
            let waker = timers.wheel.borrow_mut().remove(key);
            drop(waker);
        }
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // A sleep that ends spends one unit of the task's budget (`crate::coop`).
        crate::coop::poll_budgeted(cx, |cx| self.poll_sleep(cx))
    }
}

impl Sleep {
    fn poll_sleep(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        let timers = this
            .timers
            .get_or_insert_with(|| current_timers("tickslab::time::Sleep"));
        assert!(
            !timers.shut_down.get(),
            "tickslab::time::Sleep polled after its runtime was dropped: it can never fire"
        );
        if let Some(key) = this.key {
            let mut wheel = timers.wheel.borrow_mut();
            if wheel.is_fired(key) {
                wheel.remove(key);
                drop(wheel);
                this.key = None;
                this.done = true;
                return Poll::Ready(());
            }
            wheel.set_waker(key, cx.waker());
            return Poll::Pending;
        }
        let Some(deadline) = this.deadline else {
            return Poll::Pending; // beyond any clock: never
        };
        if timers.now() >= deadline {
            this.done = true;
            return Poll::Ready(());
        }
        this.key = Some(timers.insert(deadline, cx.waker()));
        Poll::Pending
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        self.disarm();
    }
}

impl fmt::Debug for Sleep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sleep")
            .field("deadline", &self.deadline)
            .field("armed", &self.key.is_some())
            .finish()
    }
}

// ---- timeout ---------------------------------------------------------------------------------

/// Runs `future` for at most `duration`: `Ok(output)` if it finishes first, else
/// `Err(Elapsed)` (and the future is dropped when the `Timeout` is).
///
/// # Panics
/// As [`sleep`].
#[track_caller]
pub fn timeout<F: IntoFuture>(duration: Duration, future: F) -> Timeout<F::IntoFuture> {
    Timeout {
        future: future.into_future(),
        sleep: sleep(duration),
    }
}

/// As [`timeout`], with a deadline.
///
/// # Panics
/// As [`sleep`].
#[track_caller]
pub fn timeout_at<F: IntoFuture>(deadline: Instant, future: F) -> Timeout<F::IntoFuture> {
    Timeout {
        future: future.into_future(),
        sleep: sleep_until(deadline),
    }
}

/// Future returned by [`timeout`] and [`timeout_at`].
#[must_use = "futures do nothing unless awaited"]
#[derive(Debug)]
pub struct Timeout<F> {
    future: F,
    sleep: Sleep,
}

impl<F> Timeout<F> {
    /// The wrapped future.
    pub fn get_ref(&self) -> &F {
        &self.future
    }

    /// The wrapped future.
    pub fn get_mut(&mut self) -> &mut F {
        &mut self.future
    }

    /// The wrapped future, unwrapped.
    pub fn into_inner(self) -> F {
        self.future
    }
}

impl<F: Future> Future for Timeout<F> {
    type Output = Result<F::Output, Elapsed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: structural pinning of `future` only: it is never moved out of a pinned
        // `Timeout` (no method hands it out by value from `Pin<&mut Self>`), and `Sleep` is
        // `Unpin`, so handing out `&mut Sleep` is fine.
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: see above; `this.future` stays where it is.
        let future = unsafe { Pin::new_unchecked(&mut this.future) };
        let had_budget = crate::coop::has_budget_remaining();
        if let Poll::Ready(out) = future.poll(cx) {
            return Poll::Ready(Ok(out));
        }
        // As tokio's: a future that spent the whole budget must not keep its own deadline
        // from being seen, so the timer is then polled without a budget.
        let sleep = &mut this.sleep;
        let mut poll_sleep = || Pin::new(&mut *sleep).poll(cx);
        if had_budget && !crate::coop::has_budget_remaining() {
            ready!(crate::coop::with_budget(None, poll_sleep));
        } else {
            ready!(poll_sleep());
        }
        Poll::Ready(Err(Elapsed::new()))
    }
}
