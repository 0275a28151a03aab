//! `yield_now`: let every other ready task, and the I/O and timer drivers, run once before
//! continuing.
//!
//! tokio's `yield_now` *defers* the task: it is woken only after the driver has been polled,
//! so a task that yields to let "the runtime catch up" (a readiness event, a due timer) sees
//! it when it resumes. tickslab does the same without a deferred list: the yielding task is
//! queued at once (tasks woken during a pass run in the next pass, never in the same one)
//! and notes the yield (a thread-local flag, `crate::coop`); the driver, at the end of that pass,
//! sees the note and polls sockets and timers (`Driver::pass`). So before the task (or
//! `block_on`'s root future) is polled again, the drivers have run, and the root future, if
//! an event woke it, has had its turn.
//!
//! Invariant: the note is set only here and cleared only by the driver when it takes its
//! turn. Outside a runtime a yield is a plain self-wake (tokio's behaviour there too); its
//! note costs the next runtime pass on the thread one extra driver turn, nothing more.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Yields to the runtime once, as tokio's `task::yield_now`: the current task goes to the
/// back of the run queue, every task that was ready before it runs first, and the runtime
/// polls its sockets and fires due timers before the task resumes (so a readiness event or a
/// timer that was pending when it yielded is seen when it resumes; `block_on`'s root future
/// is polled in between if one of them woke it).
///
/// ```
/// let rt = tickslab_runtime::Runtime::new().unwrap();
/// rt.block_on(async {
///     let h = tickslab_runtime::spawn(async { 1 });
///     tickslab_runtime::yield_now().await; // the spawned task runs meanwhile
///     assert!(h.is_finished());
/// });
/// ```
pub fn yield_now() -> YieldNow {
    YieldNow { yielded: false }
}

/// Future returned by [`yield_now`].
#[must_use = "futures do nothing unless awaited"]
#[derive(Debug)]
pub struct YieldNow {
    yielded: bool,
}

impl Future for YieldNow {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            return Poll::Ready(());
        }
        self.yielded = true;
        crate::coop::note_yield();
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}
