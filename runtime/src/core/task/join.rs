//! `JoinHandle` and `JoinError`, with tokio's meaning.

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::task::{Context, Poll};

use super::harness::{
    abort_task, drop_join_handle, is_complete, join_taken, poll_join, poll_join_budgeted,
};
use super::{AbortHandle, Id, TaskRef};

/// Why a task produced no output: it was cancelled ([`JoinHandle::abort`], or the runtime
/// was dropped first) or it panicked.
pub struct JoinError {
    repr: Repr,
    /// The task's id, for `Debug` as tokio's (`JoinError::Panic(Id(..), "msg", ...)`); `None`
    /// for a task spawned through a `Handle` from another thread, whose result crosses
    /// threads without it.
    id: Option<Id>,
}

enum Repr {
    Cancelled,
    Panic(Box<dyn Any + Send + 'static>),
}

impl JoinError {
    pub(crate) fn cancelled() -> Self {
        JoinError {
            repr: Repr::Cancelled,
            id: None,
        }
    }

    pub(crate) fn panicked(payload: Box<dyn Any + Send + 'static>) -> Self {
        JoinError {
            repr: Repr::Panic(payload),
            id: None,
        }
    }

    /// The same error, naming the task it comes from.
    pub(crate) fn of(mut self, id: Id) -> Self {
        self.id = Some(id);
        self
    }

    /// The task was cancelled before it finished.
    pub fn is_cancelled(&self) -> bool {
        matches!(self.repr, Repr::Cancelled)
    }

    /// The task panicked.
    pub fn is_panic(&self) -> bool {
        matches!(self.repr, Repr::Panic(_))
    }

    /// The panic payload.
    ///
    /// # Panics
    /// If the task did not panic; see [`try_into_panic`](Self::try_into_panic).
    #[track_caller]
    pub fn into_panic(self) -> Box<dyn Any + Send + 'static> {
        self.try_into_panic()
            .expect("`JoinError::into_panic` called on a task that was cancelled, not panicked")
    }

    /// The panic payload, or the error back if the task was cancelled.
    pub fn try_into_panic(self) -> Result<Box<dyn Any + Send + 'static>, JoinError> {
        match self.repr {
            Repr::Panic(payload) => Ok(payload),
            Repr::Cancelled => Err(self),
        }
    }

    fn panic_message(&self) -> Option<&str> {
        match &self.repr {
            Repr::Panic(p) => p
                .downcast_ref::<&'static str>()
                .copied()
                .or_else(|| p.downcast_ref::<String>().map(String::as_str)),
            Repr::Cancelled => None,
        }
    }
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.repr, self.panic_message()) {
            (Repr::Cancelled, _) => f.write_str("task was cancelled"),
            (Repr::Panic(_), Some(msg)) => write!(f, "task panicked with message {msg:?}"),
            (Repr::Panic(_), None) => f.write_str("task panicked"),
        }
    }
}

/// As tokio's: `JoinError::Cancelled(Id(7))`, `JoinError::Panic(Id(7), "message", ...)`,
/// `JoinError::Panic(Id(7), ...)` for a payload that is not a string (without the id when
/// it is not known).
impl fmt::Debug for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let id = self.id.map(|id| format!("{id:?}"));
        let id = id.as_deref();
        match (&self.repr, self.panic_message(), id) {
            (Repr::Cancelled, _, Some(id)) => write!(f, "JoinError::Cancelled({id})"),
            (Repr::Cancelled, _, None) => f.write_str("JoinError::Cancelled"),
            (Repr::Panic(_), Some(msg), Some(id)) => {
                write!(f, "JoinError::Panic({id}, {msg:?}, ...)")
            }
            (Repr::Panic(_), Some(msg), None) => write!(f, "JoinError::Panic({msg:?}, ...)"),
            (Repr::Panic(_), None, Some(id)) => write!(f, "JoinError::Panic({id}, ...)"),
            (Repr::Panic(_), None, None) => f.write_str("JoinError::Panic(...)"),
        }
    }
}

impl std::error::Error for JoinError {}

impl From<JoinError> for std::io::Error {
    fn from(e: JoinError) -> Self {
        std::io::Error::other(e.to_string())
    }
}

/// An owned permission to join a task: await it for the task's output.
///
/// As in tokio: awaiting yields `Ok(output)`, or `Err(JoinError)` if the task panicked or
/// was cancelled; dropping the handle *detaches* the task (it keeps running, its output is
/// dropped); [`abort`](Self::abort) cancels it.
///
/// A `JoinHandle` stays on the runtime's thread (`!Send`). It may outlive the runtime:
/// it then reports the output the task had produced, or that it was cancelled.
///
/// ```compile_fail,E0277
/// # use tickslab_runtime::*;
/// let rt = Runtime::new().unwrap();
/// let handle = rt.block_on(async { spawn(async { 1 }) });
/// std::thread::spawn(move || drop(handle)); // error: `JoinHandle` cannot be sent
/// ```
pub struct JoinHandle<T> {
    task: TaskRef,
    _marker: PhantomData<(T, *const ())>,
}

// The handle is a pointer; the output is never pinned inside it.
impl<T> Unpin for JoinHandle<T> {}

impl<T> JoinHandle<T> {
    /// The task, for the frame's bookkeeping.
    pub(crate) fn task_ref(&self) -> TaskRef {
        self.task
    }

    /// # Safety
    /// `task` was spawned with `HANDLE` set and has output type `T`; this handle owns that.
    pub(crate) unsafe fn from_task(task: TaskRef) -> Self {
        JoinHandle {
            task,
            _marker: PhantomData,
        }
    }

    /// Cancels the task. A task not yet finished is dropped (its destructors run) the next
    /// time the runtime runs (or right after its current poll, if it aborts itself), and
    /// this handle then yields a cancelled [`JoinError`]. No effect on a finished task.
    pub fn abort(&self) {
        // SAFETY: the handle keeps the task live, and `!Send` keeps us on its thread.
        unsafe { abort_task(self.task) }
    }

    /// Whether the task has finished (completed, panicked or been cancelled).
    pub fn is_finished(&self) -> bool {
        // SAFETY: the handle keeps the task live, and `!Send` keeps us on its thread.
        unsafe { is_complete(self.task) }
    }

    /// A handle that can cancel the task without owning its output.
    pub fn abort_handle(&self) -> AbortHandle {
        // SAFETY: the handle holds `HANDLE` on the task, on its thread.
        unsafe { AbortHandle::new(self.task) }
    }

    /// The task's id.
    pub fn id(&self) -> Id {
        Id::of(self.task)
    }

    /// Polls for the output without spending the cooperative budget (for `JoinSet`, which
    /// spends one unit per completed join itself).
    pub(crate) fn poll_unbudgeted(&mut self, cx: &mut Context<'_>) -> Poll<Result<T, JoinError>> {
        // SAFETY: as in `poll`.
        unsafe { poll_join(self.task, cx) }
    }
}

impl<T> Future for JoinHandle<T> {
    type Output = Result<T, JoinError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: the handle holds `HANDLE` (keeping the task live), the task's output type
        // is `T`, and `!Send` keeps us on its thread.
        unsafe { poll_join_budgeted(self.task, cx) }
    }
}

/// `futures::select!` takes a `JoinHandle` as it is: terminated once it returned the output.
impl<T> futures_core::FusedFuture for JoinHandle<T> {
    fn is_terminated(&self) -> bool {
        // SAFETY: the handle holds `HANDLE` (keeping the task live), and `!Send` keeps us on
        // its thread.
        unsafe { join_taken(self.task) }
    }
}

impl<T> Drop for JoinHandle<T> {
    fn drop(&mut self) {
        // SAFETY: the handle holds `HANDLE`, given up here, once, on the task's thread.
        let panicked = unsafe { drop_join_handle(self.task) };
        // The output's (or the join waker's) destructor panicked: as in tokio, the panic
        // does not reach the dropper (a `JoinHandle` drop never panics). Its payload is
        // dropped here; should that drop panic too, it is contained as well.
        if let Some(payload) = panicked {
            let _ = catch_unwind(AssertUnwindSafe(move || drop(payload)));
        }
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("task", &self.task.as_ptr())
            .field("finished", &self.is_finished())
            .finish()
    }
}
