//! `Runtime` and its `Builder`: the entry points.

use std::future::Future;
use std::io;
use std::marker::PhantomData;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use nexus_slab::byte::{bounded, unbounded};
use tickslab_alloc::slab::{ErasedSlab, SlabKind};

use crate::core::{self as rt_core, Core, CoreConfig};
use crate::spawn::SpawnError;
use crate::task::JoinHandle;

/// Tasks polled per pass of the scheduler, by default (see [`Builder::task_budget`]).
pub const DEFAULT_TASK_BUDGET: usize = 128;
/// Remote-queue slots when no bounded slab says otherwise (see
/// [`Builder::remote_queue_capacity`]).
pub const DEFAULT_REMOTE_QUEUE_CAPACITY: usize = 1024;
const WAKE_TOKEN: mio::Token = mio::Token(usize::MAX);

/// Configures and builds a [`Runtime`].
///
/// ```
/// use nexus_slab::byte::bounded::Slab;
/// // SAFETY: the runtime owns the slab and frees every slot it hands out.
/// let slab = unsafe { Slab::<256>::with_capacity(1024) };
/// let mut rt = tickslab_runtime::Runtime::builder().slab_bounded(slab).build();
/// assert_eq!(rt.block_on(async { 7 }), 7);
/// ```
#[derive(Debug)]
pub struct Builder {
    slab: Option<ErasedSlab>,
    budget: usize,
    remote_capacity: Option<usize>,
    events_capacity: usize,
}

impl Default for Builder {
    fn default() -> Self {
        Self::new()
    }
}

impl Builder {
    /// A builder with no slab (only boxed [`spawn`](crate::spawn) works until one is added).
    pub fn new() -> Self {
        Builder {
            slab: None,
            budget: DEFAULT_TASK_BUDGET,
            remote_capacity: None,
            events_capacity: 1024,
        }
    }

    /// Gives the runtime a bounded byte slab for [`spawn_slab`](crate::spawn_slab): a fixed
    /// number of `N`-byte slots, allocated up front. When all are in use, slab spawns fail
    /// recoverably ([`try_spawn_slab`](crate::try_spawn_slab)) or wait
    /// ([`claim_slab`](crate::claim_slab)).
    pub fn slab_bounded<const N: usize>(mut self, slab: bounded::Slab<N>) -> Self {
        self.slab = Some(ErasedSlab::bounded(slab));
        self
    }

    /// Gives the runtime an unbounded byte slab: `N`-byte slots in chunks, growing by one
    /// chunk (one allocation) whenever all are in use. Slab spawns never fail for room.
    pub fn slab_unbounded<const N: usize>(mut self, slab: unbounded::Slab<N>) -> Self {
        self.slab = Some(ErasedSlab::unbounded(slab));
        self
    }

    /// How many tasks one scheduler pass polls at most (default
    /// [`DEFAULT_TASK_BUDGET`]). A pass polls the tasks that were ready when it began, up to
    /// this many; then the root future (if woken) and the I/O driver get their turn.
    pub fn task_budget(mut self, tasks: usize) -> Self {
        self.budget = tasks.max(1);
        self
    }

    /// Slots of the lock-free queue that carries wakes from other threads (default: the
    /// bounded slab's capacity, at least [`DEFAULT_REMOTE_QUEUE_CAPACITY`]). A task occupies
    /// at most one slot; beyond capacity, wakes spill into a locked list (allocating).
    pub fn remote_queue_capacity(mut self, slots: usize) -> Self {
        self.remote_capacity = Some(slots.max(1));
        self
    }

    /// Builds the runtime on this thread (it stays on this thread: `Runtime` is `!Send`).
    ///
    /// # Panics
    /// If the OS refuses an epoll instance or an eventfd; see [`try_build`](Self::try_build).
    pub fn build(self) -> Runtime {
        self.try_build()
            .unwrap_or_else(|e| panic!("tickslab: cannot build the runtime: {e}"))
    }

    /// Builds the runtime, reporting OS errors.
    pub fn try_build(self) -> io::Result<Runtime> {
        let poll = mio::Poll::new()?;
        let unparker = mio::Waker::new(poll.registry(), WAKE_TOKEN)?;
        let bounded_capacity = match &self.slab {
            Some(slab) if slab.kind() == SlabKind::Bounded => slab.capacity(),
            _ => None,
        };
        let remote_capacity = self.remote_capacity.unwrap_or_else(|| {
            bounded_capacity
                .unwrap_or(0)
                .max(DEFAULT_REMOTE_QUEUE_CAPACITY)
        });
        let core = Core::new(CoreConfig {
            slab: self.slab,
            budget: self.budget,
            remote_capacity,
            unparker,
        });
        Ok(Runtime {
            core,
            driver: Driver {
                poll,
                events: mio::Events::with_capacity(self.events_capacity),
            },
            _not_send: PhantomData,
        })
    }
}

/// Parks the runtime thread in epoll until a remote wake (or, later, I/O or a timer).
struct Driver {
    poll: mio::Poll,
    events: mio::Events,
}

impl Driver {
    fn park(&mut self, core: &Core, timeout: Option<Duration>) {
        if !core.prepare_sleep() {
            return;
        }
        match self.poll.poll(&mut self.events, timeout) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                core.unsleep();
                panic!("tickslab: epoll_wait failed: {e}");
            }
        }
        core.unsleep();
    }
}

/// A single-threaded async runtime whose tasks live in a slab.
///
/// - [`block_on`](Self::block_on) runs a future to completion, running spawned tasks
///   meanwhile and sleeping in epoll when there is nothing to do.
/// - Inside it, [`spawn`](crate::spawn) (boxed), [`spawn_slab`](crate::spawn_slab) (no
///   allocation) and friends put tasks on this runtime.
/// - Dropping the runtime cancels every task still pending: each future is dropped (its
///   destructors run, on this thread) and every slot is freed.
///
/// A `Runtime` lives on the thread that built it (`!Send`), like tokio's `LocalRuntime`:
///
/// ```compile_fail,E0277
/// let rt = tickslab_runtime::Runtime::new();
/// std::thread::spawn(move || drop(rt)); // error: `Runtime` cannot be sent
/// ```
pub struct Runtime {
    core: Arc<Core>,
    driver: Driver,
    _not_send: PhantomData<*const ()>,
}

impl Runtime {
    /// A runtime with default settings and no slab.
    pub fn new() -> Runtime {
        Builder::new().build()
    }

    /// A [`Builder`] to configure the slab and the scheduler.
    pub fn builder() -> Builder {
        Builder::new()
    }

    /// Runs `future` to completion on this thread, running spawned tasks meanwhile.
    ///
    /// The root future and the tasks take turns: each scheduler pass polls the tasks that
    /// were ready when it began (up to the task budget), then the root future if it was
    /// woken. With nothing ready the thread sleeps in epoll until woken from any thread.
    ///
    /// Tasks still pending when `future` completes stay spawned: they run again the next
    /// time the runtime is driven, and are cancelled when it is dropped.
    ///
    /// A panic in `future` propagates out of `block_on` (the runtime stays usable);
    /// a panic in a spawned task is caught and reported through its [`JoinHandle`].
    pub fn block_on<F: Future>(&mut self, future: F) -> F::Output {
        let core: &Core = &self.core;
        let _enter = rt_core::EnterGuard::enter(core);
        let mut future = pin!(future);
        let waker = core.borrowed_root_waker();
        let mut cx = Context::from_waker(&waker);
        core.root_woken
            .store(true, std::sync::atomic::Ordering::Relaxed);
        loop {
            if core.take_root_woken()
                && let Poll::Ready(output) = future.as_mut().poll(&mut cx)
            {
                return output;
            }
            core.run_pass();
            if core.run_queue_len() == 0 && !core.has_remote_work() {
                self.driver.park(core, None);
            }
        }
    }

    /// Makes this the current runtime of this thread until the guard drops, so that the
    /// free functions ([`spawn`](crate::spawn), [`spawn_slab`](crate::spawn_slab), ...)
    /// work outside [`block_on`](Self::block_on). Spawned tasks run when the runtime is
    /// next driven.
    pub fn enter(&self) -> EnterGuard<'_> {
        EnterGuard {
            _inner: rt_core::EnterGuard::enter(&self.core),
            _runtime: PhantomData,
        }
    }

    /// Spawns a boxed task on this runtime from outside it (see [`crate::spawn`]).
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
    {
        self.core.spawn_boxed(future)
    }

    /// Spawns a slab task on this runtime from outside it (see [`crate::spawn_slab`]).
    ///
    /// # Panics
    /// As [`crate::spawn_slab`].
    #[track_caller]
    pub fn spawn_slab<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
    {
        let _enter = self.enter();
        crate::spawn_slab(future)
    }

    /// Spawns a slab task on this runtime from outside it, or hands the future back.
    pub fn try_spawn_slab<F>(&self, future: F) -> Result<JoinHandle<F::Output>, SpawnError<F>>
    where
        F: Future + 'static,
    {
        self.core.try_spawn_slab(future)
    }

    /// Counters for a debug overlay: tasks, polls, parks, wakes, slab use.
    pub fn stats(&self) -> RuntimeStats {
        self.core.stats()
    }
}

impl Default for Runtime {
    fn default() -> Self {
        Runtime::new()
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        Core::shutdown(&self.core);
    }
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

/// Guard returned by [`Runtime::enter`]; restores the previous current runtime on drop.
#[must_use = "the runtime is current only while the guard lives"]
pub struct EnterGuard<'a> {
    _inner: rt_core::EnterGuard,
    _runtime: PhantomData<&'a Runtime>,
}

impl std::fmt::Debug for EnterGuard<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EnterGuard")
    }
}

/// A snapshot of a runtime's counters ([`Runtime::stats`]). Cheap: plain reads.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RuntimeStats {
    /// Tasks spawned and not yet finished.
    pub tasks_live: usize,
    /// Tasks spawned since the runtime was built.
    pub tasks_spawned: u64,
    /// Tasks finished (completed, panicked or cancelled).
    pub tasks_completed: u64,
    /// Task polls.
    pub polls: u64,
    /// Times the runtime thread went to sleep in epoll.
    pub parks: u64,
    /// Wakes that came from another thread (or from outside the runtime).
    pub remote_wakes: u64,
    /// Tasks waiting in the run queue.
    pub run_queue_len: usize,
    /// Bytes per slab slot, if there is a slab.
    pub slab_slot_size: Option<usize>,
    /// Slots of a bounded slab (`None`: no slab, or unbounded).
    pub slab_capacity: Option<usize>,
    /// Slab slots in use (tasks and claims).
    pub slab_used: usize,
    /// The most slab slots ever in use at once.
    pub slab_peak: usize,
}
