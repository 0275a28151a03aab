//! `JoinSet`: a set of tasks whose outputs are taken as they finish, as tokio's.
//!
//! Storage: a `Vec` of the tasks' `JoinHandle`s (one pointer each). Taking a finished task
//! swaps it out of the vector; the vector keeps its capacity, so a set that has held `n`
//! tasks spawns and joins up to `n` again with no allocation (the tasks themselves go in
//! the slab or a box, as any spawn). The cost is a scan: [`JoinSet::join_next`] polls the
//! handles in turn (one flag read each for the unfinished), O(n) per wake-up of the joiner.
//!
//! Dropping the set aborts every task still in it (tokio's rule): each is cancelled on the
//! runtime's next pass, its future dropped on this thread.

use std::fmt;
use std::future::{Future, poll_fn};
use std::panic::resume_unwind;
use std::task::{Context, Poll, Waker};

use crate::core::task::{AbortHandle, Id, JoinError, JoinHandle};

/// A set of tasks spawned on the current runtime, joined in the order they finish.
///
/// ```
/// use tickslab_runtime::task::JoinSet;
///
/// # tickslab_runtime::Runtime::new().unwrap().block_on(async {
/// let mut set = JoinSet::new();
/// for i in 0..3u32 {
///     set.spawn(async move { i * 10 });
/// }
/// let mut sum = 0;
/// while let Some(res) = set.join_next().await {
///     sum += res.unwrap();
/// }
/// assert_eq!(sum, 30);
/// # });
/// ```
pub struct JoinSet<T> {
    handles: Vec<JoinHandle<T>>,
}

impl<T> Default for JoinSet<T> {
    fn default() -> Self {
        JoinSet::new()
    }
}

impl<T> JoinSet<T> {
    /// An empty set (no allocation until the first spawn).
    pub fn new() -> Self {
        JoinSet {
            handles: Vec::new(),
        }
    }

    /// How many tasks are in the set (finished ones not yet joined included).
    pub fn len(&self) -> usize {
        self.handles.len()
    }

    /// Whether the set holds no task.
    pub fn is_empty(&self) -> bool {
        self.handles.is_empty()
    }
}

impl<T: 'static> JoinSet<T> {
    /// Spawns `task` on the current runtime (boxed, as [`crate::spawn`]) into the set.
    /// tokio requires `Send` here; tickslab's tasks stay on this thread and need not be.
    ///
    /// # Panics
    /// Outside a runtime.
    #[track_caller]
    pub fn spawn<F>(&mut self, task: F) -> AbortHandle
    where
        F: Future<Output = T> + 'static,
    {
        self.insert(crate::spawn(task))
    }

    /// Spawns `task` into the set as tokio's `spawn_local`: as a task of the
    /// [`LocalSet`](super::LocalSet) being run, if any, else of the current runtime (as
    /// [`task::spawn_local`](super::spawn_local)).
    ///
    /// # Panics
    /// Outside a runtime, with tokio's message ("`spawn_local` called from outside of a
    /// `task::LocalSet` or `runtime::LocalRuntime`").
    #[track_caller]
    pub fn spawn_local<F>(&mut self, task: F) -> AbortHandle
    where
        F: Future<Output = T> + 'static,
    {
        self.insert(super::spawn_local(task))
    }

    /// Spawns `task` into the set on the runtime of `handle`, as tokio's `spawn_on`.
    ///
    /// # Panics
    /// Unless `handle`'s runtime is the one current on this thread (a tickslab task is
    /// created on its runtime's thread; from elsewhere use [`Handle::spawn`](crate::Handle::spawn)).
    #[track_caller]
    pub fn spawn_on<F>(&mut self, task: F, handle: &crate::Handle) -> AbortHandle
    where
        F: Future<Output = T> + 'static,
    {
        let _enter = handle.enter();
        self.spawn(task)
    }

    /// Spawns `task` into the set as a task of `local_set`, as tokio's `spawn_local_on`.
    ///
    /// # Panics
    /// Outside a runtime.
    #[track_caller]
    pub fn spawn_local_on<F>(&mut self, task: F, local_set: &super::LocalSet) -> AbortHandle
    where
        F: Future<Output = T> + 'static,
    {
        self.insert(local_set.spawn_local(task))
    }

    /// Runs `f` on the runtime's blocking pool as a member of the set, as tokio's
    /// `JoinSet::spawn_blocking` (see [`spawn_blocking`](super::spawn_blocking)). A panic in
    /// `f` is the member's [`JoinError::is_panic`](super::JoinError::is_panic); aborting the
    /// member stops waiting for it (the closure, already running or queued, still runs to
    /// its end, as in tokio).
    ///
    /// Costs two allocations: the job's cell and the boxed task that waits for it.
    ///
    /// # Panics
    /// Outside a runtime.
    #[track_caller]
    pub fn spawn_blocking<F>(&mut self, f: F) -> AbortHandle
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send,
    {
        let job = super::spawn_blocking(f);
        self.spawn(async move {
            match job.await {
                Ok(value) => value,
                // The task's own panic carries the closure's payload to `join_next`.
                Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                // A job is cancelled only when the runtime shuts down, which cancels this
                // task too: it never runs again.
                Err(_) => std::future::pending().await,
            }
        })
    }

    /// Spawns `task` into the runtime's slab (no allocation; see [`crate::spawn_slab`]).
    ///
    /// # Panics
    /// As [`crate::spawn_slab`].
    #[track_caller]
    pub fn spawn_slab<F>(&mut self, task: F) -> AbortHandle
    where
        F: Future<Output = T> + 'static,
    {
        self.insert(crate::spawn_slab(task))
    }

    /// Adds a task spawned elsewhere; the set now owns its output.
    pub fn insert(&mut self, handle: JoinHandle<T>) -> AbortHandle {
        let abort = handle.abort_handle();
        self.handles.push(handle);
        abort
    }

    /// Waits for the next task to finish and returns its result; `None` once the set is
    /// empty. Cancel-safe: dropping the future loses no output.
    pub async fn join_next(&mut self) -> Option<Result<T, JoinError>> {
        poll_fn(|cx| self.poll_join_next(cx)).await
    }

    /// As [`join_next`](Self::join_next), with the task's id.
    pub async fn join_next_with_id(&mut self) -> Option<Result<(Id, T), JoinError>> {
        poll_fn(|cx| {
            self.poll_next_at(cx)
                .map(|found| found.map(|(id, res)| res.map(|v| (id, v))))
        })
        .await
    }

    /// Polls for the next finished task, as tokio's `poll_join_next`.
    pub fn poll_join_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<T, JoinError>>> {
        self.poll_next_at(cx).map(|found| found.map(|(_, res)| res))
    }

    fn poll_next_at(&mut self, cx: &mut Context<'_>) -> Poll<Option<(Id, Result<T, JoinError>)>> {
        if self.handles.is_empty() {
            return Poll::Ready(None);
        }
        crate::coop::poll_budgeted(cx, |cx| {
            for i in 0..self.handles.len() {
                if let Poll::Ready(res) = self.handles[i].poll_unbudgeted(cx) {
                    let handle = self.handles.swap_remove(i);
                    return Poll::Ready(Some((handle.id(), res)));
                }
            }
            Poll::Pending
        })
    }

    /// Takes the result of a task that has already finished, without waiting; `None` if
    /// none has.
    pub fn try_join_next(&mut self) -> Option<Result<T, JoinError>> {
        self.try_join_next_with_id().map(|(_, res)| res)
    }

    /// As [`try_join_next`](Self::try_join_next), with the task's id.
    pub fn try_join_next_with_id(&mut self) -> Option<(Id, Result<T, JoinError>)> {
        let i = self.handles.iter().position(JoinHandle::is_finished)?;
        let mut handle = self.handles.swap_remove(i);
        let id = handle.id();
        // A finished task's output is there: this poll returns it and registers nothing.
        match handle.poll_unbudgeted(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(res) => Some((id, res)),
            Poll::Pending => unreachable!("a finished task's join is ready"),
        }
    }

    /// Aborts every task in the set; they stay in it, and [`join_next`](Self::join_next)
    /// then reports them cancelled (or their output, if they finished first).
    pub fn abort_all(&mut self) {
        self.handles.iter().for_each(JoinHandle::abort);
    }

    /// Removes every task from the set without aborting it (they run on, detached).
    pub fn detach_all(&mut self) {
        self.handles.clear();
    }

    /// Aborts every task and waits until all have finished, as tokio's `shutdown`.
    pub async fn shutdown(&mut self) {
        self.abort_all();
        while self.join_next().await.is_some() {}
    }

    /// Waits for every task and returns their outputs in the order they finished, as
    /// tokio's `join_all`.
    ///
    /// # Panics
    /// If a task panicked: the panic is resumed here (the other tasks are aborted as the
    /// set drops). If a task was cancelled.
    pub async fn join_all(mut self) -> Vec<T> {
        let mut out = Vec::with_capacity(self.len());
        while let Some(res) = self.join_next().await {
            match res {
                Ok(v) => out.push(v),
                Err(e) if e.is_panic() => resume_unwind(e.into_panic()),
                Err(e) => panic!("JoinSet::join_all: {e}"),
            }
        }
        out
    }
}

impl<T> Drop for JoinSet<T> {
    /// Aborts every task still in the set.
    fn drop(&mut self) {
        self.handles.iter().for_each(JoinHandle::abort);
    }
}

impl<T> fmt::Debug for JoinSet<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinSet").field("len", &self.len()).finish()
    }
}

impl<T: 'static, F> FromIterator<F> for JoinSet<T>
where
    F: Future<Output = T> + 'static,
{
    /// Spawns every future into a new set.
    fn from_iter<I: IntoIterator<Item = F>>(iter: I) -> Self {
        let mut set = JoinSet::new();
        set.extend(iter);
        set
    }
}

impl<T: 'static, F> Extend<F> for JoinSet<T>
where
    F: Future<Output = T> + 'static,
{
    /// Spawns every future into the set.
    fn extend<I: IntoIterator<Item = F>>(&mut self, iter: I) {
        for f in iter {
            self.spawn(f);
        }
    }
}
