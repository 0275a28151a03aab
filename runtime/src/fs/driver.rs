//! The file driver: one per runtime. It owns the operation slots (the in-flight bound) and
//! the backend that executes them: io_uring, whose completion eventfd sits in the runtime's
//! mio poll (so the runtime parks once for sockets, timers and files), or the blocking pool.
//!
//! The backend starts on first use (`Auto` tries io_uring then falls back; a forced
//! `IoUring` is started when the runtime is built, and building fails if the kernel refuses).
//! Runtime-thread only, like the reactor; the operation slots are shared with the executors
//! under `op.rs`'s invariants.

use std::cell::{Cell, RefCell};
use std::io;
use std::ptr::NonNull;
use std::rc::Rc;
use std::sync::Arc;

use super::FsBackend;
use super::op::{self, OpCell};
use crate::blocking::{BlockingPool, RawOp, Work};
use crate::pool::{PoolConfig, SyncPool};
use crate::sync::batch_semaphore::{MAX_PERMITS, RawSemaphore};

/// The default in-flight depth (see `Builder::fs_depth`).
pub const DEFAULT_FS_DEPTH: usize = 256;

/// The default bytes of whole-file read buffers filled at once (see
/// `Builder::fs_read_budget`).
pub const DEFAULT_FS_READ_BUDGET: usize = 4 << 20;

pub(crate) enum Backend {
    /// Not chosen yet (`Auto`, nothing done so far).
    Unstarted,
    Threads,
    /// Boxed: the ring's handle is large, and made once per runtime.
    #[cfg(all(target_os = "linux", not(miri)))]
    Uring(Box<super::uring::Uring>),
}

/// The runtime's file driver.
pub(crate) struct FsDriver {
    ops: SyncPool<OpCell>,
    backend: RefCell<Backend>,
    wanted: FsBackend,
    depth: usize,
    /// Bytes of whole-file read buffers in flight (`fs::read`); permits are bytes.
    read_budget: RawSemaphore,
    read_budget_bytes: usize,
    pool: Arc<BlockingPool>,
    registry: mio::Registry,
    token: mio::Token,
    shut_down: Cell<bool>,
    /// Whether io_uring has submissions queued that the kernel has not seen.
    dirty: Cell<bool>,
    /// Whether io_uring had operations in flight after the last reap: a `Cell` the
    /// scheduler's pass reads, rather than a look at the ring behind its `RefCell`.
    ring_busy: Cell<bool>,
}

impl FsDriver {
    pub(crate) fn new(
        wanted: FsBackend,
        depth: usize,
        read_budget: usize,
        pool: Arc<BlockingPool>,
        registry: mio::Registry,
        token: mio::Token,
    ) -> io::Result<Rc<FsDriver>> {
        let depth = depth.clamp(1, 1 << 15);
        let read_budget = read_budget.clamp(1, MAX_PERMITS);
        let driver = Rc::new(FsDriver {
            ops: SyncPool::with_config(PoolConfig::bounded(depth)),
            backend: RefCell::new(Backend::Unstarted),
            wanted,
            depth,
            read_budget: RawSemaphore::new(read_budget),
            read_budget_bytes: read_budget,
            pool,
            registry,
            token,
            shut_down: Cell::new(false),
            dirty: Cell::new(false),
            ring_busy: Cell::new(false),
        });
        match wanted {
            FsBackend::ThreadPool => *driver.backend.borrow_mut() = Backend::Threads,
            FsBackend::IoUring => driver.start()?,
            FsBackend::Auto => {}
        }
        Ok(driver)
    }

    pub(crate) fn ops(&self) -> &SyncPool<OpCell> {
        &self.ops
    }

    pub(crate) fn blocking_pool(&self) -> &Arc<BlockingPool> {
        &self.pool
    }

    /// Waits until a whole-file read of `size` bytes fits in the read budget (all of it, for
    /// a file larger than the budget) and takes that part; the guard gives it back.
    pub(crate) async fn read_budget(&self, size: u64) -> io::Result<BudgetGuard<'_>> {
        let bytes = usize::try_from(size)
            .unwrap_or(usize::MAX)
            .clamp(1, self.read_budget_bytes);
        match self.read_budget.acquire(bytes).await {
            Ok(()) => Ok(BudgetGuard {
                sem: &self.read_budget,
                bytes,
            }),
            Err(_) => Err(super::shut_down_error()),
        }
    }

    /// Chooses the backend now, if it is not chosen yet.
    fn start(&self) -> io::Result<()> {
        if !matches!(*self.backend.borrow(), Backend::Unstarted) {
            return Ok(());
        }
        #[cfg(all(target_os = "linux", not(miri)))]
        {
            match super::uring::Uring::new(self.depth, &self.registry, self.token) {
                Ok(ring) => {
                    *self.backend.borrow_mut() = Backend::Uring(Box::new(ring));
                    return Ok(());
                }
                Err(e) if self.wanted == FsBackend::IoUring => return Err(e),
                Err(_) => {}
            }
        }
        if self.wanted == FsBackend::IoUring {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "io_uring is not available on this system",
            ));
        }
        *self.backend.borrow_mut() = Backend::Threads;
        Ok(())
    }

    /// The backend in use (starting it if needed).
    pub(crate) fn backend(&self) -> FsBackend {
        let _ = self.start();
        match *self.backend.borrow() {
            #[cfg(all(target_os = "linux", not(miri)))]
            Backend::Uring(_) => FsBackend::IoUring,
            _ => FsBackend::ThreadPool,
        }
    }

    /// Whether operations other than positional I/O (opens) should go through the ring.
    pub(crate) fn uses_uring(&self) -> bool {
        self.backend() == FsBackend::IoUring
    }

    pub(crate) fn is_shut_down(&self) -> bool {
        self.shut_down.get()
    }

    /// Hands a boxed operation (two references, `op.rs` invariant 1) to the backend. Always
    /// ends in a completion: when nothing can run it, it completes at once with an error.
    pub(crate) fn submit(&self, cell: NonNull<OpCell>) {
        if self.shut_down.get() || self.start().is_err() {
            // SAFETY: the executor's reference is ours: completed once, here.
            unsafe { op::complete(cell, op::SHUT_DOWN) };
            return;
        }
        let mut backend = self.backend.borrow_mut();
        match &mut *backend {
            #[cfg(all(target_os = "linux", not(miri)))]
            Backend::Uring(ring) => {
                ring.push(cell);
                self.dirty.set(true);
            }
            _ => {
                drop(backend);
                // SAFETY: `run_blocking` is sound from any thread while the executor's
                // reference is held, which this `RawOp` carries until it runs.
                let raw = unsafe { RawOp::new(cell.cast(), op::run_blocking) };
                if self.pool.submit(Work::Op(raw)).is_err() {
                    // SAFETY: refused, so the reference is still ours: completed once.
                    unsafe { op::complete(cell, op::SHUT_DOWN) };
                }
            }
        }
    }

    /// Submits what io_uring has queued and reaps its completions (the driver calls this
    /// once per scheduler pass and before it polls; a cell read when there is nothing).
    #[inline]
    pub(crate) fn flush(&self) {
        #[cfg(all(target_os = "linux", not(miri)))]
        if self.dirty.get() || self.ring_busy.get() {
            self.dirty.set(false);
            self.with_ring(|ring| ring.submit());
            self.reap();
        }
    }

    #[cfg(all(target_os = "linux", not(miri)))]
    fn with_ring<R>(&self, f: impl FnOnce(&mut super::uring::Uring) -> R) -> Option<R> {
        match &mut *self.backend.borrow_mut() {
            Backend::Uring(ring) => Some(f(ring)),
            _ => None,
        }
    }

    /// The completion eventfd fired.
    pub(crate) fn on_event(&self) {
        #[cfg(all(target_os = "linux", not(miri)))]
        {
            self.with_ring(|ring| ring.clear_event());
            self.reap();
        }
    }

    /// Completes what the kernel finished, waking the futures outside the ring's borrow.
    #[cfg(all(target_os = "linux", not(miri)))]
    fn reap(&self) {
        let mut batch = [(NonNull::<OpCell>::dangling(), 0i64); 32];
        loop {
            let n = self
                .with_ring(|ring| ring.take_completions(&mut batch))
                .unwrap_or(0);
            for &(cell, result) in &batch[..n] {
                // SAFETY: a completion of an operation this ring submitted, holding the
                // executor's reference; each completes once.
                unsafe { op::complete(cell, result) };
            }
            if n < batch.len() {
                break;
            }
        }
        let busy = self.with_ring(|ring| ring.in_flight() > 0);
        self.ring_busy.set(busy.unwrap_or(false));
    }

    /// The runtime is going away: refuse new operations, ask the kernel to cancel what is in
    /// flight, and wait until it has finished every operation (their buffers are freed only then; `op.rs`
    /// invariant 1). Operations on the blocking pool finish in the pool's own shutdown.
    pub(crate) fn shutdown(&self) {
        self.shut_down.set(true);
        #[cfg(all(target_os = "linux", not(miri)))]
        self.with_ring(|ring| {
            ring.submit();
            ring.cancel_all();
        });
        #[cfg(all(target_os = "linux", not(miri)))]
        loop {
            let waiting = self.with_ring(|ring| ring.wait_some()).unwrap_or(0);
            self.reap();
            if waiting == 0 {
                break;
            }
        }
    }
}

impl std::fmt::Debug for FsDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FsDriver")
            .field("backend", &self.wanted)
            .field("depth", &self.depth)
            .finish_non_exhaustive()
    }
}

/// Part of the read budget, given back on drop (a dropped `fs::read` included).
pub(crate) struct BudgetGuard<'a> {
    sem: &'a RawSemaphore,
    bytes: usize,
}

impl Drop for BudgetGuard<'_> {
    fn drop(&mut self) {
        self.sem.release(self.bytes);
    }
}

thread_local! {
    /// The file driver of the runtime current on this thread (see `crate::context`).
    static CURRENT: RefCell<Option<Rc<FsDriver>>> = const { RefCell::new(None) };
}

/// Installs `driver` as this thread's current one; returns what was there.
pub(crate) fn set_current(driver: Option<Rc<FsDriver>>) -> Option<Rc<FsDriver>> {
    CURRENT
        .try_with(|c| std::mem::replace(&mut *c.borrow_mut(), driver))
        .unwrap_or(None)
}

/// The current runtime's file driver; the error a file operation reports once that runtime
/// has shut down; or, with no runtime entered, `Err(None)`.
pub(crate) fn try_current() -> Result<Rc<FsDriver>, Option<io::Error>> {
    match CURRENT.try_with(|c| c.borrow().clone()).unwrap_or(None) {
        Some(d) if !d.is_shut_down() => Ok(d),
        // tokio's words: its file operations run on the blocking pool, which refuses them.
        Some(_) => Err(Some(crate::io::shut_down_error_tokio(
            "background task failed",
        ))),
        None => Err(None),
    }
}

/// The current runtime's file driver, or the error a file operation reports once that
/// runtime has shut down.
///
/// # Panics
/// With no runtime entered on this thread, with tokio's message (tokio's file operations
/// panic there too: they need its blocking pool).
#[track_caller]
pub(crate) fn current() -> io::Result<Rc<FsDriver>> {
    try_current().map_err(|e| {
        e.unwrap_or_else(|| {
            panic!(
                "there is no reactor running, must be called from the context of a Tokio 1.x \
                 runtime (tickslab: files are used inside a tickslab runtime: `block_on` or \
                 a task)"
            )
        })
    })
}
