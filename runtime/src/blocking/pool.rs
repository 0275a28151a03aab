//! The blocking pool: a bounded set of OS threads, started lazily, that run closures
//! ([`spawn_blocking`](super::spawn_blocking)) and file operations (`crate::fs` on the
//! thread-pool backend) off the runtime's thread.
//!
//! Invariants:
//! 1. **Bounded.** At most `max_threads` workers exist. A worker is started only when work is
//!    queued and no worker is idle; an idle worker exits after `keep_alive` without work.
//! 2. **One lock.** The queue, the counts and the join handles live under one `Mutex`;
//!    workers sleep on one `Condvar`. No user code runs under the lock: a job runs, and a
//!    cancelled job is dropped, after the lock is released.
//! 3. **Nothing lost at shutdown** ([`BlockingPool::shutdown`], from `Runtime`'s drop): the
//!    flag is set under the lock, so no work is queued after it. Queued *jobs* (closures)
//!    that wait for a busy worker are cancelled: dropped, their handles report
//!    [`JoinError`](crate::JoinError) "cancelled". A job that a worker was already on its
//!    way to take (a thread started, or an idle one woken, when it was queued: the first
//!    `starting + notified` entries of the queue) runs, as tokio's (a `spawn_blocking` that
//!    got a thread is not lost to a shutdown that comes before the thread picks it up);
//!    queued *operations* (`Work::Op`, file I/O whose buffer the operation owns) still run,
//!    as tokio runs its "mandatory" file tasks, so a write the program started lands. Jobs
//!    already running are waited for: shutdown joins every worker, so no thread outlives the
//!    runtime (a closure that never returns makes the runtime's drop wait forever, as in
//!    tokio).
//! 4. **Paused clocks wait for jobs.** `jobs` counts the `spawn_blocking` jobs submitted
//!    and not yet finished (run or cancelled): while it is not 0, a paused clock does not
//!    auto-advance (tokio's rule: the job runs in real time). The worker that brings it to
//!    0 wakes the runtime, after the count is stored, so a runtime that read a count above
//!    0 and went to sleep is woken to look again (`Driver::park` reads it after announcing
//!    its sleep: one of the two sides sees the other).
//! 5. **No allocation once warm.** The queue keeps its capacity; an operation is a pointer
//!    and a function; a job is the one `Arc` that [`spawn_blocking`](super::spawn_blocking)
//!    allocates.

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, Weak};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::core::Core;

/// Workers at most, by default (see [`Builder::max_blocking_threads`](crate::Builder::max_blocking_threads)).
pub const DEFAULT_MAX_BLOCKING_THREADS: usize = 16;
/// How long an idle worker waits for work before it exits, by default (tokio's 10 s; see
/// [`Builder::thread_keep_alive`](crate::Builder::thread_keep_alive)).
pub const DEFAULT_THREAD_KEEP_ALIVE: Duration = Duration::from_secs(10);

/// A closure queued by `spawn_blocking`: run it, or cancel it (shutdown, abort).
pub(crate) trait Job: Send + Sync {
    /// Runs the closure (once; later calls do nothing).
    fn run(&self);
    /// The closure will never run: report that to the handle.
    fn cancel(&self);
}

/// Work for a worker thread.
pub(crate) enum Work {
    /// A `spawn_blocking` closure: cancelled if still queued behind busy workers at shutdown.
    Job(Arc<dyn Job>),
    /// A file operation: always run, even at shutdown.
    Op(RawOp),
}

/// A type-erased operation: `run(ptr)` executes it and completes it.
pub(crate) struct RawOp {
    ptr: NonNull<()>,
    run: unsafe fn(NonNull<()>),
}

// SAFETY: `RawOp::new`'s contract: the operation behind `ptr` may be run from any thread.
unsafe impl Send for RawOp {}

impl RawOp {
    /// # Safety
    /// `run(ptr)` must be sound to call once, from any thread, at any time until it is called
    /// (the caller keeps what `ptr` points to alive until then).
    pub(crate) unsafe fn new(ptr: NonNull<()>, run: unsafe fn(NonNull<()>)) -> RawOp {
        RawOp { ptr, run }
    }

    fn run(self) {
        // SAFETY: `new`'s contract; a `RawOp` is not `Clone`, so this runs once.
        unsafe { (self.run)(self.ptr) }
    }
}

struct State {
    queue: VecDeque<Work>,
    /// Workers alive (running, idle, or about to exit).
    threads: usize,
    /// Workers waiting for work.
    idle: usize,
    /// Wake-ups sent to idle workers that have not taken them yet.
    notified: usize,
    /// Workers started that have not looked at the queue yet.
    starting: usize,
    shutdown: bool,
    next_id: usize,
    handles: Vec<(usize, JoinHandle<()>)>,
    spawned_total: u64,
}

/// The pool. Shared by the runtime (which shuts it down) and its workers.
pub(crate) struct BlockingPool {
    state: Mutex<State>,
    cond: Condvar,
    /// Signalled when the last worker leaves (a shutdown with a timeout waits on it).
    exited: Condvar,
    max_threads: usize,
    keep_alive: Duration,
    /// `spawn_blocking` jobs submitted and not finished (invariant 4).
    jobs: AtomicUsize,
    /// The runtime to wake when `jobs` drops to 0 (invariant 4).
    runtime: Weak<Core>,
}

/// What the pool is doing now (for `RuntimeStats`).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct PoolCounts {
    pub(crate) threads: usize,
    pub(crate) idle: usize,
    pub(crate) queued: usize,
    pub(crate) spawned_total: u64,
}

impl BlockingPool {
    pub(crate) fn new(
        max_threads: usize,
        keep_alive: Duration,
        runtime: Weak<Core>,
    ) -> Arc<BlockingPool> {
        Arc::new(BlockingPool {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                threads: 0,
                idle: 0,
                notified: 0,
                starting: 0,
                shutdown: false,
                next_id: 0,
                handles: Vec::new(),
                spawned_total: 0,
            }),
            cond: Condvar::new(),
            exited: Condvar::new(),
            max_threads: max_threads.max(1),
            keep_alive,
            jobs: AtomicUsize::new(0),
            runtime,
        })
    }

    /// Whether the pool was shut down (its runtime is gone): it refuses new work.
    pub(crate) fn is_shut_down(&self) -> bool {
        self.lock().shutdown
    }

    /// Whether a `spawn_blocking` job is queued or running (invariant 4).
    pub(crate) fn has_jobs(&self) -> bool {
        self.jobs.load(Ordering::SeqCst) != 0
    }

    /// A job finished (ran, or was cancelled): the last one wakes the runtime.
    fn job_done(&self) {
        if self.jobs.fetch_sub(1, Ordering::SeqCst) == 1
            && let Some(core) = self.runtime.upgrade()
        {
            core.unpark();
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // No user code runs under the lock (invariant 2): a poisoned lock holds whole data.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues `work`, starting a worker if none is idle and the bound allows. After shutdown
    /// the work comes back.
    pub(crate) fn submit(self: &Arc<Self>, work: Work) -> Result<(), Work> {
        let mut s = self.lock();
        if s.shutdown {
            return Err(work);
        }
        let is_job = matches!(work, Work::Job(_));
        if is_job {
            self.jobs.fetch_add(1, Ordering::SeqCst);
        }
        s.queue.push_back(work);
        if s.idle > s.notified {
            s.notified += 1;
            drop(s);
            self.cond.notify_one();
            return Ok(());
        }
        if s.threads < self.max_threads {
            let id = s.next_id;
            s.next_id += 1;
            s.threads += 1;
            s.starting += 1;
            s.spawned_total += 1;
            if s.handles.capacity() == 0 {
                // Once, so that starting threads later does not grow the list.
                s.handles.reserve_exact(self.max_threads);
            }
            let pool = Arc::clone(self);
            let spawned = std::thread::Builder::new()
                .name("tickslab-blocking".into())
                .spawn(move || pool.worker(id));
            match spawned {
                Ok(handle) => s.handles.push((id, handle)),
                // The OS refused a thread: the work stays queued for the workers there are;
                // with none at all, nobody would ever run it, so hand it back.
                Err(_) => {
                    s.threads -= 1;
                    s.starting -= 1;
                    if s.threads == 0 {
                        if is_job {
                            self.jobs.fetch_sub(1, Ordering::SeqCst);
                        }
                        return Err(s.queue.pop_back().expect("just pushed"));
                    }
                }
            }
        }
        Ok(())
    }

    fn worker(self: Arc<Self>, id: usize) {
        // A job may spawn more blocking work (as in tokio): onto this same pool.
        super::set_current(Some(Arc::clone(&self)));
        let mut s = self.lock();
        s.starting -= 1;
        loop {
            if let Some(work) = s.queue.pop_front() {
                // After shutdown the queue holds only what must still run (invariant 3).
                drop(s);
                self.run(work, false);
                s = self.lock();
                continue;
            }
            if s.shutdown {
                break;
            }
            s.idle += 1;
            let (guard, timeout) = self
                .cond
                .wait_timeout(s, self.keep_alive)
                .unwrap_or_else(PoisonError::into_inner);
            s = guard;
            s.idle -= 1;
            if s.notified > 0 {
                s.notified -= 1;
            } else if timeout.timed_out() && s.queue.is_empty() && !s.shutdown {
                // Idle too long: leave, detaching our own handle (this thread is ending).
                if let Some(i) = s.handles.iter().position(|(h, _)| *h == id) {
                    drop(s.handles.swap_remove(i));
                }
                break;
            }
        }
        s.threads -= 1;
        if s.threads == 0 {
            self.exited.notify_all();
        }
    }

    /// Stops the pool (invariant 3): cancels the jobs queued behind busy workers, lets the
    /// jobs a worker is on its way to take, the queued operations and the running jobs
    /// finish, and joins every worker. Returns the first panic of a cancelled job's
    /// destructor, to re-raise once the runtime is down.
    ///
    /// `wait`: `None` waits for running jobs however long they take (a runtime's drop);
    /// `Some(t)` waits up to `t`, then detaches the workers still running (tokio's
    /// `shutdown_timeout`; `Duration::ZERO` is `shutdown_background`). A detached worker
    /// still completes the file operation it runs: the operation's memory lives until then.
    pub(crate) fn shutdown(&self, wait: Option<Duration>) -> Option<Box<dyn std::any::Any + Send>> {
        let (cancelled, handles) = {
            let mut s = self.lock();
            s.shutdown = true;
            // Jobs no worker is on its way to take are taken out here; the rest, and every
            // operation, stay for the workers (or for us, below, if there are none).
            let mut cancelled = Vec::new();
            let taken = s.starting + s.notified;
            let queue = std::mem::take(&mut s.queue);
            for (i, work) in queue.into_iter().enumerate() {
                match work {
                    Work::Job(job) if i >= taken => cancelled.push(job),
                    work => s.queue.push_back(work),
                }
            }
            (cancelled, std::mem::take(&mut s.handles))
        };
        self.cond.notify_all();
        let mut panic = None;
        for job in cancelled {
            if let Err(p) = catch_unwind(AssertUnwindSafe(|| {
                job.cancel();
                drop(job);
            })) {
                panic.get_or_insert(p);
            }
            self.job_done();
        }
        if let Some(limit) = wait {
            let s = self.lock();
            let (s, _) = self
                .exited
                .wait_timeout_while(s, limit, |s| s.threads > 0)
                .unwrap_or_else(PoisonError::into_inner);
            if s.threads > 0 {
                // Out of time: detach them (dropping the handles), as tokio does.
                return panic;
            }
        }
        for (_, handle) in handles {
            // A worker's loop contains its jobs' panics (see `run`): join only fails if the
            // thread was killed, and there is nothing left to do about that.
            let _ = handle.join();
        }
        // Operations queued when the OS refused every thread: run them here.
        loop {
            let work = self.lock().queue.pop_front();
            match work {
                Some(work) => self.run(work, true),
                None => break,
            }
        }
        panic
    }

    pub(crate) fn counts(&self) -> PoolCounts {
        let s = self.lock();
        PoolCounts {
            threads: s.threads,
            idle: s.idle,
            queued: s.queue.len(),
            spawned_total: s.spawned_total,
        }
    }
}

impl BlockingPool {
    /// Runs one piece of work on a worker. A job catches its own closure's panic (reported
    /// to its handle); a panic from dropping a job (its output's or closure's destructor) is
    /// contained here so that the worker lives on.
    fn run(&self, work: Work, shutdown: bool) {
        match work {
            Work::Job(job) => {
                let _ = catch_unwind(AssertUnwindSafe(|| {
                    if shutdown {
                        job.cancel();
                    } else {
                        job.run();
                    }
                    drop(job);
                }));
                self.job_done();
            }
            Work::Op(op) => op.run(),
        }
    }
}

impl std::fmt::Debug for BlockingPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockingPool")
            .field("counts", &self.counts())
            .finish_non_exhaustive()
    }
}
