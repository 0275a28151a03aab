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
//! let mut rt = tickslab_runtime::Runtime::new();
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
}

/// Runs one poll (`f`) with a fresh budget, then restores the one in force before.
#[inline]
pub(crate) fn with_fresh_budget<R>(f: impl FnOnce() -> R) -> R {
    with_budget(Some(BUDGET), f)
}

#[inline]
fn with_budget<R>(budget: Option<u8>, f: impl FnOnce() -> R) -> R {
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
/// spent; otherwise runs `op` and spends one unit if it completed.
#[inline]
pub(crate) fn poll_budgeted<T>(
    cx: &mut Context<'_>,
    op: impl FnOnce(&mut Context<'_>) -> Poll<T>,
) -> Poll<T> {
    let left = LEFT.get();
    if left == Some(0) {
        cx.waker().wake_by_ref();
        return Poll::Pending;
    }
    let out = op(cx);
    if out.is_ready()
        && let Some(n) = left
    {
        // Read again: `op` may have run nested budgeted work.
        LEFT.set(Some(LEFT.get().unwrap_or(n).saturating_sub(1)));
    }
    out
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
