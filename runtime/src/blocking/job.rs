//! [`spawn_blocking`] and its [`BlockingJoinHandle`].
//!
//! A job is one `Arc<JobCell>` (the only allocation per call): the closure, then its
//! output, a state word and the handle's waker. Invariants:
//! 1. **One owner per field at a time, chosen by `state`.** `QUEUED`: the closure belongs to
//!    the queue. The worker that moves `QUEUED -> RUNNING` (a compare-exchange, so at most
//!    one) owns the closure and the output slot until it stores `DONE` (release). Whoever
//!    moves `QUEUED -> CANCELLED` (the handle's `abort`, or the pool's shutdown) owns the
//!    closure from then on: after it, it takes the closure and drops it at once
//!    (a cancelled job's captures are released when it is cancelled). After `DONE` (acquire) the handle
//!    alone takes the output.
//! 2. **No lost wake-up.** The handle registers its waker, then reads the state; the worker
//!    stores the state, then wakes ([`AtomicWaker`]'s protocol orders the two).
//! 3. **A panic is an output.** The closure runs under `catch_unwind`; its panic becomes
//!    [`JoinError::is_panic`] for the handle.

use std::fmt;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

// loom's under `--cfg loom`: `loom_tests.rs` checks this protocol under every interleaving.
#[cfg(loom)]
use loom::sync::atomic::{AtomicU8, Ordering};
#[cfg(not(loom))]
use std::sync::atomic::{AtomicU8, Ordering};

use super::pool::{BlockingPool, Job, Work};
use crate::core::task::{Id, JoinError, with_id};
use crate::sync::atomic_waker::AtomicWaker;
use crate::sync::loom_cell::UnsafeCell;

const QUEUED: u8 = 0;
const RUNNING: u8 = 1;
const DONE: u8 = 2;
const CANCELLED: u8 = 3;
/// The handle took the output.
const TAKEN: u8 = 4;

pub(super) struct JobCell<F, T> {
    state: AtomicU8,
    func: UnsafeCell<Option<F>>,
    output: UnsafeCell<Option<Result<T, JoinError>>>,
    waker: AtomicWaker,
}

// SAFETY: invariant 1: `func` and `output` are touched by one side at a time, handed over
// by the acquire/release transitions of `state`; `F` and `T` are `Send` (they move to the
// worker and back), and the cell gives out no `&F`/`&T` to two threads at once.
unsafe impl<F: Send, T: Send> Sync for JobCell<F, T> {}
// SAFETY: as above.
unsafe impl<F: Send, T: Send> Send for JobCell<F, T> {}

impl<F, T> JobCell<F, T> {
    /// A queued job of `f`.
    pub(super) fn new(f: F) -> Self {
        JobCell {
            state: AtomicU8::new(QUEUED),
            func: UnsafeCell::new(Some(f)),
            output: UnsafeCell::new(None),
            waker: AtomicWaker::new(),
        }
    }
}

impl<F, T> Job for JobCell<F, T>
where
    F: FnOnce() -> T + Send,
    T: Send,
{
    fn run(&self) {
        if self
            .state
            .compare_exchange(QUEUED, RUNNING, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            return; // aborted before it started
        }
        // SAFETY: invariant 1: `RUNNING` is ours, so the closure is.
        let func =
            unsafe { self.func.with_mut(|f| (*f).take()) }.expect("a queued job has its closure");
        // `task::id()` in the closure names the job, as tokio's blocking tasks have ids.
        let id = Id::from_addr(std::ptr::from_ref(self).addr());
        let out = catch_unwind(AssertUnwindSafe(|| with_id(id, func)))
            .map_err(|payload| JoinError::panicked(payload).of(id));
        // SAFETY: invariant 1: the output slot is ours until `DONE` is stored.
        unsafe { self.output.with_mut(|o| *o = Some(out)) };
        self.state.store(DONE, Ordering::Release);
        self.waker.wake();
    }

    fn cancel(&self) {
        if self
            .state
            .compare_exchange(QUEUED, CANCELLED, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok()
        {
            // SAFETY: invariant 1: moving to `CANCELLED` made the closure ours.
            let func = unsafe { self.func.with_mut(|f| (*f).take()) };
            self.waker.wake();
            // Dropped now, not with the cell (the handle may keep that for long); its
            // destructor may panic, after the handle was told.
            drop(func);
        }
    }
}

/// Runs `f` on the runtime's blocking pool, off the runtime's thread, and returns a handle
/// to await its output: tokio's `task::spawn_blocking`.
///
/// For work that blocks or burns CPU (hashing, decompressing an asset, a synchronous
/// library call) and would otherwise stall every task on the I/O thread. The pool starts
/// threads as they are needed, up to [`Builder::max_blocking_threads`](crate::Builder::max_blocking_threads);
/// beyond that, jobs wait in a queue. A panic in `f` is caught and reported as
/// [`JoinError::is_panic`].
///
/// ```
/// use tickslab_runtime::{Runtime, task};
///
/// let mut rt = Runtime::new().unwrap();
/// let sum = rt.block_on(async {
///     task::spawn_blocking(|| (1..=1000u64).sum::<u64>()).await.unwrap()
/// });
/// assert_eq!(sum, 500_500);
/// ```
///
/// Cost: one heap allocation per call (the job's shared cell); the queue and the threads
/// are reused. Dropping the handle detaches the job (it still runs).
///
/// A job spawned once the runtime is shutting down is never run: its handle reports
/// [`JoinError::is_cancelled`].
///
/// # Panics
/// Outside a runtime (no runtime entered on this thread), as [`spawn`](crate::spawn) does.
#[track_caller]
pub fn spawn_blocking<F, T>(f: F) -> BlockingJoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let pool = match super::current_pool() {
        Some(pool) => pool,
        None => panic!(
            "tickslab: `spawn_blocking` called outside a tickslab runtime (enter one with \
             `Runtime::enter` or call it from inside `block_on`), or after it shut down"
        ),
    };
    spawn_blocking_on(&pool, f)
}

/// [`spawn_blocking`] on a given pool (`Handle::spawn_blocking`, from any thread).
pub(crate) fn spawn_blocking_on<F, T>(pool: &Arc<BlockingPool>, f: F) -> BlockingJoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let cell = Arc::new(JobCell::new(f));
    let job: Arc<dyn Job> = cell.clone();
    if let Err(Work::Job(job)) = pool.submit(Work::Job(job.clone())) {
        // Shut down: nobody will run it.
        job.cancel();
    }
    BlockingJoinHandle { cell, job }
}

/// The handle's side of a job, without its closure's type.
pub(super) trait Output<T>: Send + Sync {
    fn poll_output(&self, cx: &mut Context<'_>) -> Poll<Result<T, JoinError>>;
    fn state(&self) -> u8;
}

impl<F, T> Output<T> for JobCell<F, T>
where
    F: FnOnce() -> T + Send,
    T: Send,
{
    fn poll_output(&self, cx: &mut Context<'_>) -> Poll<Result<T, JoinError>> {
        // Invariant 2: register first, then look.
        self.waker.register(cx.waker());
        match self.state.load(Ordering::Acquire) {
            DONE => {
                self.state.store(TAKEN, Ordering::Relaxed);
                // SAFETY: invariant 1: after `DONE` the output is the handle's, and the
                // handle (`&mut` in `poll`) is the only caller.
                let out = unsafe { self.output.with_mut(|o| (*o).take()) };
                Poll::Ready(out.expect("a done job has its output"))
            }
            CANCELLED => {
                self.state.store(TAKEN, Ordering::Relaxed);
                let id = Id::from_addr(std::ptr::from_ref(self).addr());
                Poll::Ready(Err(JoinError::cancelled().of(id)))
            }
            TAKEN => panic!("BlockingJoinHandle polled after it returned Ready"),
            _ => Poll::Pending,
        }
    }

    fn state(&self) -> u8 {
        self.state.load(Ordering::Acquire)
    }
}

/// Awaits a [`spawn_blocking`] job: a future of `Result<T, JoinError>`, like a task's
/// [`JoinHandle`](crate::JoinHandle). `Send`, so it may be awaited anywhere; dropping it
/// detaches the job (it still runs, and its output is dropped).
#[must_use = "dropping the handle detaches the job; .await it for the output"]
pub struct BlockingJoinHandle<T> {
    cell: Arc<dyn Output<T>>,
    job: Arc<dyn Job>,
}

impl<T> BlockingJoinHandle<T> {
    /// Whether the job has finished (returned, panicked, or was cancelled).
    pub fn is_finished(&self) -> bool {
        self.cell.state() >= DONE
    }

    /// Cancels the job if it has not started yet: the handle then reports
    /// [`JoinError::is_cancelled`]. A job already running runs to the end (a thread cannot
    /// be interrupted), as in tokio.
    pub fn abort(&self) {
        self.job.cancel();
    }
}

impl<T> Future for BlockingJoinHandle<T> {
    type Output = Result<T, JoinError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.cell.poll_output(cx)
    }
}

impl<T> fmt::Debug for BlockingJoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlockingJoinHandle")
            .field("finished", &self.is_finished())
            .finish()
    }
}
