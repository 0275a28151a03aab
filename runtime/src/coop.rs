//! Cooperative scheduling: a budget per task poll, as in tokio's `task::coop`.
//!
//! A task whose resources are always ready (a flooded socket, a full channel) would run
//! forever inside one poll and starve every other task: the heartbeat timer, the game
//! channel. So each poll of a task (and of `block_on`'s root future) starts with a budget of
//! [`BUDGET`] units; every tickslab resource that completes an operation (a socket, a
//! channel, a timer, a `JoinHandle`) spends one; once it is spent, resources return
//! `Pending` and wake the task, which goes to the back of the run queue.
//!
//! ```
//! use tickslab_runtime::task::coop;
//! let rt = tickslab_runtime::Runtime::new().unwrap();
//! rt.block_on(async {
//!     let mut spins = 0;
//!     while coop::has_budget_remaining() {
//!         coop::consume_budget().await; // yields once the budget is spent
//!         spins += 1;
//!     }
//!     assert_eq!(spins, coop::BUDGET as usize);
//! });
//! ```
//!
//! Invariant: the budget is a thread-local that the executor sets before each poll and
//! restores after it; outside a poll it is unconstrained, so code that runs outside a
//! runtime (or inside [`unconstrained`]) never yields for budget.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Operations one poll of a task may complete before tickslab's resources make it yield
/// (tokio's value).
pub const BUDGET: u8 = 128;

thread_local! {
    /// Units left in the current poll; `None`: unconstrained.
    static LEFT: Cell<Option<u8>> = const { Cell::new(None) };
    /// Whether some task ran out of budget since the driver last asked (`take_exhausted`).
    static EXHAUSTED: Cell<bool> = const { Cell::new(false) };
    /// A `yield_now` asked the driver for a turn before the yielder runs again
    /// (`crate::yield_now`); the driver takes it at the end of the pass.
    static YIELDED: Cell<bool> = const { Cell::new(false) };
}

/// Whether a task ran out of budget since the last call: a sign of long polls, after which
/// the driver looks at its timers and sockets at once instead of waiting for its I/O
/// interval (which counts polls, not their length).
#[inline]
pub(crate) fn take_exhausted() -> bool {
    EXHAUSTED.replace(false)
}

/// Notes a `yield_now`: the driver polls sockets and timers at the end of this pass, before
/// the yielder runs again (`crate::yield_now`). Outside a runtime the note waits for the
/// next runtime pass on this thread, which then takes one extra driver turn.
#[inline]
pub(crate) fn note_yield() {
    YIELDED.set(true);
}

/// Takes the `yield_now` note (the driver, as it takes its turn).
#[inline(always)]
pub(crate) fn take_yield() -> bool {
    YIELDED.get() && YIELDED.replace(false)
}

/// Whether this thread is inside a task poll (or `block_on`'s root future) of a tickslab
/// runtime, where blocking the thread would stall every task: the `blocking_*` methods of
/// `sync` refuse to run there. (Inside [`unconstrained`] this cannot tell.)
#[inline]
pub(crate) fn in_task_poll() -> bool {
    LEFT.get().is_some()
}

/// Runs one task poll (`f`) with a fresh budget; the thread is unconstrained again after
/// it. For the executor's task polls, which never unwind (a task's panic is caught inside
/// its poll) and never nest (one runtime is driven per thread): two stores, no guard.
#[inline(always)]
pub(crate) fn with_fresh_budget<R>(f: impl FnOnce() -> R) -> R {
    LEFT.set(Some(BUDGET));
    let out = f();
    LEFT.set(None);
    out
}

/// Runs `f` with `budget`, restoring the one in force before, even if `f` unwinds (the
/// root future of `block_on`, [`Unconstrained`]).
#[inline]
pub(crate) fn with_budget<R>(budget: Option<u8>, f: impl FnOnce() -> R) -> R {
    struct Restore(Option<u8>);
    impl Drop for Restore {
        fn drop(&mut self) {
            LEFT.set(self.0);
        }
    }
    let _restore = Restore(LEFT.replace(budget));
    f()
}

/// `Pending` (and a wake-up, so the task runs again in a later pass) when the budget is
/// spent; otherwise runs `op` and spends one unit if it completed. (Work nested inside `op`
/// that spends budget of its own is not charged twice: the unit comes off the count read
/// before `op` ran.)
#[inline(always)]
pub(crate) fn poll_budgeted<T>(
    cx: &mut Context<'_>,
    op: impl FnOnce(&mut Context<'_>) -> Poll<T>,
) -> Poll<T> {
    let left = LEFT.get();
    if left == Some(0) {
        return spent(cx);
    }
    let out = op(cx);
    if let Some(n) = left
        && out.is_ready()
    {
        LEFT.set(Some(n - 1));
    }
    out
}

#[cold]
fn spent<T>(cx: &mut Context<'_>) -> Poll<T> {
    EXHAUSTED.set(true);
    cx.waker().wake_by_ref();
    Poll::Pending
}

/// Whether the current poll has budget left (always `true` outside a runtime's poll and
/// inside [`unconstrained`]).
pub fn has_budget_remaining() -> bool {
    LEFT.get() != Some(0)
}

/// Spends one unit of the budget; if it was the last, yields to the runtime first. For
/// loops that do their own work without touching a tickslab resource.
pub async fn consume_budget() {
    std::future::poll_fn(|cx| poll_budgeted(cx, |_| Poll::Ready(()))).await
}

/// Runs `future` as one budgeted resource, as tokio's internal `coop::cooperative`: each
/// poll first checks the budget (spent: `Pending`, and the task is woken to run again
/// later), and a poll that completes spends one unit. For resources whose future could be
/// ready on every poll (a closed channel's `changed()`), so a loop over it still yields.
pub(crate) fn cooperative<F: Future>(future: F) -> Cooperative<F> {
    Cooperative { future }
}

pin_project_lite::pin_project! {
    /// Future of [`cooperative`].
    pub(crate) struct Cooperative<F> {
        #[pin]
        future: F,
    }
}

impl<F: Future> Future for Cooperative<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let future = self.project().future;
        poll_budgeted(cx, |cx| future.poll(cx))
    }
}

/// Runs `future` without a budget: its resources never make it yield. For code that must
/// not be interrupted; use sparingly (it can starve other tasks again).
pub fn unconstrained<F: Future>(future: F) -> Unconstrained<F> {
    Unconstrained { future }
}

/// Future returned by [`unconstrained`].
#[must_use = "futures do nothing unless awaited"]
#[derive(Debug)]
pub struct Unconstrained<F> {
    future: F,
}

impl<F: Future> Future for Unconstrained<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        // SAFETY: structural pinning of `future` only: `Unconstrained` never moves it and has
        // no `Unpin` impl or `Drop` of its own.
        let future = unsafe { self.map_unchecked_mut(|this| &mut this.future) };
        with_budget(None, || future.poll(cx))
    }
}
