//! A mock task: poll a future or a stream by hand, with no runtime, and see whether it was
//! woken (tokio-test's `task`).
//!
//! [`spawn`] pins the value in a [`Spawn`], whose [`poll`](Spawn::poll) and
//! [`poll_next`](Spawn::poll_next) build the `Context` for you. The waker handed to the value
//! is the task's own: [`is_woken`](Spawn::is_woken) says whether it was woken since the last
//! poll, [`waker_ref_count`](Spawn::waker_ref_count) how many clones of it are alive.
//!
//! Invariants: the wake flag is cleared at the start of each poll (or [`enter`](Spawn::enter))
//! and set by any wake after that, from any thread; the waker is an `Arc` of the flag, so
//! its reference count is the number of wakers alive plus the task's own reference. No
//! `unsafe`: the waker is built with `std::task::Wake`.
//!
//! A value that needs a runtime while polled (a tickslab timer, socket or channel wait) must
//! be polled inside one (`block_on` or `#[tickslab::test]`), as with tokio-test.
//!
//! ```
//! use tickslab::sync::oneshot;
//! use tickslab_test::{assert_pending, assert_ready_eq, task};
//!
//! let (tx, rx) = oneshot::channel();
//! let mut rx = task::spawn(rx);
//! assert_pending!(rx.poll());
//! assert!(!rx.is_woken());
//! tx.send(5).unwrap();
//! assert!(rx.is_woken());
//! assert_ready_eq!(rx.poll(), Ok(5));
//! ```

use std::fmt;
use std::future::Future;
use std::ops::{Deref, DerefMut};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Wake, Waker};

use futures_core::Stream;

/// Most polls [`Spawn::poll_until_idle`] makes before it decides the future wakes itself
/// without making progress (tokio-test's bound).
const POLL_UNTIL_IDLE_MAX: usize = 150;

/// Wraps `task` (a future or a stream) in a mock task, ready to be polled by hand.
pub fn spawn<T>(task: T) -> Spawn<T> {
    Spawn {
        flag: Arc::new(WakeFlag(AtomicBool::new(false))),
        value: Box::pin(task),
    }
}

/// A future or stream pinned in a mock task; made by [`spawn`].
///
/// It is itself a `Future` (and a `Stream`) that forwards to the value with the caller's
/// context, so it can also be awaited.
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct Spawn<T> {
    flag: Arc<WakeFlag>,
    value: Pin<Box<T>>,
}

/// The task's wake flag; an `Arc` of it is the task's waker.
struct WakeFlag(AtomicBool);

impl Wake for WakeFlag {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.store(true, Ordering::Release);
    }
}

impl<T> Spawn<T> {
    /// Takes the value back out of the task.
    pub fn into_inner(self) -> T
    where
        T: Unpin,
    {
        *Pin::into_inner(self.value)
    }

    /// Whether the task's waker was woken since the last poll (or [`enter`](Self::enter)).
    pub fn is_woken(&self) -> bool {
        self.flag.0.load(Ordering::Acquire)
    }

    /// How many references to the task's waker are alive, the task's own included: never
    /// zero, and 1 when the value keeps no waker.
    pub fn waker_ref_count(&self) -> usize {
        Arc::strong_count(&self.flag)
    }

    /// Calls `f` with a context of this task and the pinned value: for polling methods
    /// other than `poll` / `poll_next`. Clears the wake flag first, as a poll does.
    pub fn enter<F, R>(&mut self, f: F) -> R
    where
        F: FnOnce(&mut Context<'_>, Pin<&mut T>) -> R,
    {
        self.flag.0.store(false, Ordering::Release);
        let waker = Waker::from(self.flag.clone());
        let mut cx = Context::from_waker(&waker);
        f(&mut cx, self.value.as_mut())
    }
}

impl<T: Future> Spawn<T> {
    /// Polls the future once in this task's context.
    pub fn poll(&mut self) -> Poll<T::Output> {
        self.enter(|cx, fut| fut.poll(cx))
    }

    /// Polls the future until it completes, or returns `Pending` without having woken its
    /// task meanwhile: as far as it can go without an outside event.
    ///
    /// ```
    /// use tickslab_test::{assert_ready_eq, task};
    ///
    /// let mut t = task::spawn(async {
    ///     tickslab::task::yield_now().await; // wakes itself, returns Pending once
    ///     1
    /// });
    /// assert_ready_eq!(t.poll_until_idle(), 1);
    /// ```
    ///
    /// # Panics
    /// After 150 polls that each woke the task again and stayed `Pending`: the future
    /// wakes itself without making progress.
    pub fn poll_until_idle(&mut self) -> Poll<T::Output> {
        for _ in 0..POLL_UNTIL_IDLE_MAX {
            let out = self.poll();
            if out.is_ready() || !self.is_woken() {
                return out;
            }
        }
        panic!(
            "poll_until_idle: still pending and woken after {POLL_UNTIL_IDLE_MAX} polls; the \
             future wakes itself without making progress"
        );
    }
}

impl<T: Stream> Spawn<T> {
    /// Polls the stream for its next item once, in this task's context.
    pub fn poll_next(&mut self) -> Poll<Option<T::Item>> {
        self.enter(|cx, stream| stream.poll_next(cx))
    }
}

impl<T: Unpin> Deref for Spawn<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T: Unpin> DerefMut for Spawn<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.value
    }
}

impl<T: Future> Future for Spawn<T> {
    type Output = T::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T::Output> {
        self.value.as_mut().poll(cx)
    }
}

impl<T: Stream> Stream for Spawn<T> {
    type Item = T::Item;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T::Item>> {
        self.value.as_mut().poll_next(cx)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.value.size_hint()
    }
}

impl<T> fmt::Debug for Spawn<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Spawn")
            .field("is_woken", &self.is_woken())
            .field("waker_ref_count", &self.waker_ref_count())
            .finish_non_exhaustive()
    }
}
