//! `Builder`: how a [`Runtime`] is configured, and its defaults.

use std::io;
use std::sync::Arc;

use tickslab_alloc::slab::ErasedSlab;

use crate::blocking::{BlockingPool, DEFAULT_MAX_BLOCKING_THREADS, DEFAULT_THREAD_KEEP_ALIVE};
use crate::core::{Core, CoreConfig};
use crate::driver::{FS_TOKEN, ParkHooks, ParkTimer, TIMER_TOKEN, WAKE_TOKEN};
use crate::frame::{ArenaConfig, FrameArena};
use crate::fs::{DEFAULT_FS_DEPTH, DEFAULT_FS_READ_BUDGET, FsBackend, FsDriver};
use crate::io::reactor::Reactor;
use crate::runtime::{Runtime, RuntimeParts};
use crate::time::Timers;

/// Tasks polled per pass of the scheduler, by default (see [`Builder::task_budget`]).
pub const DEFAULT_TASK_BUDGET: usize = 128;
/// Task polls between two non-blocking I/O polls while tasks keep the runtime busy (see
/// [`Builder::io_interval`]; tokio's `event_interval` is 61 too).
pub const DEFAULT_IO_INTERVAL: u32 = 61;
/// How long an idle runtime spins before sleeping, when wakes from other threads are live
/// (see [`Builder::park_spin`]).
pub const DEFAULT_PARK_SPIN: std::time::Duration = std::time::Duration::from_micros(2);
/// Remote-queue slots by default (see [`Builder::remote_queue_capacity`]): 16 KiB of queue,
/// whatever the slab's size.
pub const DEFAULT_REMOTE_QUEUE_CAPACITY: usize = 1024;

/// Configures and builds a [`Runtime`].
///
/// ```
/// // 1,024 slots of 256 bytes, allocated once.
/// let rt = tickslab_runtime::Runtime::builder().slab_bounded::<256>(1024).build();
/// assert_eq!(rt.block_on(async { 7 }), 7);
/// ```
#[derive(Debug)]
pub struct Builder {
    slab: Option<ErasedSlab>,
    budget: usize,
    remote_capacity: Option<usize>,
    events_capacity: usize,
    io_interval: u32,
    start_paused: bool,
    auto_advance: bool,
    timers_enabled: bool,
    busy: bool,
    park_spin: std::time::Duration,
    arena: ArenaConfig,
    forbid_alloc_in_slab_polls: bool,
    max_blocking_threads: usize,
    keep_alive: std::time::Duration,
    fs_backend: FsBackend,
    fs_depth: usize,
    fs_read_budget: usize,
    park_hooks: ParkHooks,
    name: Option<Box<str>>,
    io_enabled: bool,
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
            io_interval: DEFAULT_IO_INTERVAL,
            start_paused: false,
            auto_advance: true,
            timers_enabled: true,
            busy: false,
            park_spin: DEFAULT_PARK_SPIN,
            arena: ArenaConfig::default(),
            forbid_alloc_in_slab_polls: false,
            max_blocking_threads: DEFAULT_MAX_BLOCKING_THREADS,
            keep_alive: DEFAULT_THREAD_KEEP_ALIVE,
            fs_backend: FsBackend::Auto,
            fs_depth: DEFAULT_FS_DEPTH,
            fs_read_budget: DEFAULT_FS_READ_BUDGET,
            park_hooks: ParkHooks::default(),
            name: None,
            io_enabled: true,
        }
    }

    /// Gives the runtime a bounded byte slab for [`spawn_slab`](crate::spawn_slab):
    /// `capacity` slots of `N` bytes, allocated once, here. When all are in use, slab spawns
    /// fail recoverably ([`try_spawn_slab`](crate::try_spawn_slab)) or wait
    /// ([`claim_slab`](crate::claim_slab)). A slot holds a task of up to
    /// [`task_size::<F>()`](crate::task_size) bytes.
    ///
    /// ```
    /// let rt = tickslab_runtime::Runtime::builder().slab_bounded::<256>(1024).build();
    /// assert_eq!(rt.stats().slab_capacity, Some(1024));
    /// ```
    ///
    /// # Panics
    /// If `capacity` is zero.
    pub fn slab_bounded<const N: usize>(mut self, capacity: usize) -> Self {
        self.slab = Some(ErasedSlab::new_bounded::<N>(capacity));
        self
    }

    /// Gives the runtime an unbounded byte slab: `N`-byte slots in chunks of
    /// `chunk_capacity` slots, growing by one chunk (one allocation) whenever all are in use.
    /// Slab spawns never fail for room.
    ///
    /// # Panics
    /// If `chunk_capacity` is zero.
    pub fn slab_unbounded<const N: usize>(mut self, chunk_capacity: usize) -> Self {
        self.slab = Some(ErasedSlab::new_unbounded::<N>(chunk_capacity));
        self
    }

    /// How many tasks one scheduler pass polls at most (default
    /// [`DEFAULT_TASK_BUDGET`]). A pass polls the tasks that were ready when it began, up to
    /// this many; then the root future (if woken) and the I/O driver get their turn.
    pub fn task_budget(mut self, tasks: usize) -> Self {
        self.budget = tasks.max(1);
        self
    }

    /// Slots of the lock-free queue that carries wakes from other threads (default
    /// [`DEFAULT_REMOTE_QUEUE_CAPACITY`], 16 bytes each). A task occupies at most one slot;
    /// beyond capacity, wakes spill into a locked list (allocating once, keeping its room).
    /// Raise it when more than that many tasks are woken from other threads between two
    /// passes; it does not follow the slab's size (a million-slot slab would otherwise
    /// bring 16 MiB of queue).
    pub fn remote_queue_capacity(mut self, slots: usize) -> Self {
        self.remote_capacity = Some(slots.max(1));
        self
    }

    /// While tasks keep the runtime busy, poll sockets (without blocking) at the start of
    /// the first pass after `polls` task polls (default [`DEFAULT_IO_INTERVAL`]). When the
    /// run queue empties, the runtime always polls sockets (sleeping in epoll unless
    /// busy-polling), and `tick()` always does.
    pub fn io_interval(mut self, polls: u32) -> Self {
        self.io_interval = polls.max(1);
        self
    }

    /// Starts with the clock paused (see [`time::pause`](crate::time::pause)).
    pub fn start_paused(mut self, paused: bool) -> Self {
        self.start_paused = paused;
        self
    }

    /// Whether a paused clock jumps to the next timer when the runtime has nothing else to
    /// do: no task ready, no socket event, no work from other threads (default `true`, as
    /// tokio). Turn it off to move a paused clock only with
    /// [`time::advance`](crate::time::advance) (what tokio#4522 asks for): a runtime
    /// waiting for nothing but timers then sleeps until I/O or another thread wakes it.
    ///
    /// Work that another thread is about to send is not seen: a paused, auto-advancing
    /// clock may jump past a timer that such work would have raced. Only the loops that
    /// would sleep jump (`block_on` and its kin, `frame`); `tick()` never sleeps, so a game
    /// that drives the runtime tick by tick moves a paused clock with `advance`.
    pub fn auto_advance(mut self, auto_advance: bool) -> Self {
        self.auto_advance = auto_advance;
        self
    }

    /// Whether the runtime has timers (default `true`). tokio's `runtime::Builder` turns
    /// them on with `enable_time`/`enable_all`; without, making a `sleep`, `timeout` or
    /// `interval` panics with tokio's message, as tokio's does. `tickslab::runtime::Builder`
    /// sets this for you; tickslab's own builder has them on.
    pub fn timers(mut self, enabled: bool) -> Self {
        self.timers_enabled = enabled;
        self
    }

    /// How long an idle `block_on` spins, watching for work from other threads, before it
    /// sleeps in epoll (default [`DEFAULT_PARK_SPIN`]; `Duration::ZERO` never spins, for a
    /// battery-bound client). It spins only when wakes from other threads arrived since it
    /// last slept (live traffic): a wake into a sleeping runtime costs the waking thread an
    /// eventfd write of several microseconds, a spinning one sees it at once. Before
    /// spinning it always polls sockets once without blocking.
    /// [`RuntimeStats::park_spins_hit`](crate::RuntimeStats::park_spins_hit) and
    /// `park_spins_empty` count how the spins went.
    pub fn park_spin(mut self, spin: std::time::Duration) -> Self {
        self.park_spin = spin;
        self
    }

    /// Makes [`Runtime::block_on`] spin instead of sleeping in epoll when idle: lowest
    /// latency, one core at 100%. Same as calling [`Runtime::block_on_busy`].
    pub fn busy_poll(mut self, busy: bool) -> Self {
        self.busy = busy;
        self
    }

    /// Sizes the frame arena used by [`Runtime::frame`]: chunk size and an optional hard
    /// byte limit (default: 64 KiB chunks, no limit).
    pub fn frame_arena(mut self, config: ArenaConfig) -> Self {
        self.arena = config;
        self
    }

    /// Runs every poll of a slab task inside a no-allocation region
    /// ([`no_alloc`](tickslab_alloc::counting::no_alloc)): a slab task whose poll touches the
    /// heap panics, naming the size, and its `JoinHandle` reports that panic. Off by
    /// default; for proving a hot path allocation-free in tests and debug builds.
    ///
    /// Needs [`CountingAlloc`](tickslab_alloc::counting::CountingAlloc) as the global
    /// allocator: `build` panics otherwise (the guard could not see anything).
    pub fn forbid_alloc_in_slab_polls(mut self, forbid: bool) -> Self {
        self.forbid_alloc_in_slab_polls = forbid;
        self
    }

    /// Threads the blocking pool may run at once (default
    /// [`DEFAULT_MAX_BLOCKING_THREADS`], 16; tokio's is 512, sized for servers). The pool
    /// runs [`spawn_blocking`](crate::task::spawn_blocking) jobs, file opens and the `fs`
    /// free functions, and file operations on the thread-pool backend. Threads start when
    /// work arrives and none is idle; beyond the bound, work waits in a queue.
    pub fn max_blocking_threads(mut self, threads: usize) -> Self {
        self.max_blocking_threads = threads.max(1);
        self
    }

    /// How long an idle blocking thread waits for work before it exits (default
    /// [`DEFAULT_THREAD_KEEP_ALIVE`], 10 s, as tokio).
    pub fn thread_keep_alive(mut self, keep_alive: std::time::Duration) -> Self {
        self.keep_alive = keep_alive;
        self
    }

    /// Which backend runs file operations (default [`FsBackend::Auto`]: io_uring where the
    /// kernel allows it, else the blocking pool). [`FsBackend::IoUring`] makes
    /// [`try_build`](Self::try_build) fail when io_uring is refused.
    pub fn fs_backend(mut self, backend: FsBackend) -> Self {
        self.fs_backend = backend;
        self
    }

    /// File operations in flight at most (default [`DEFAULT_FS_DEPTH`], 256): the slots are
    /// allocated when the runtime is built; beyond them, the next operation waits for one
    /// (backpressure, never an allocation). Also the io_uring ring's size.
    pub fn fs_depth(mut self, depth: usize) -> Self {
        self.fs_depth = depth.max(1);
        self
    }

    /// Bytes of whole-file buffers ([`fs::read`](crate::fs::read),
    /// [`fs::read_to_string`](crate::fs::read_to_string)) being filled at once, on either
    /// backend (default [`DEFAULT_FS_READ_BUDGET`], 4 MiB). A read of a file of `n`
    /// bytes waits until `n` bytes of the budget are free (a file larger than the budget
    /// waits for all of it) and allocates its buffer only then. Reading a thousand assets at
    /// once then keeps a few MiB of buffers in flight, whose memory the allocator reuses,
    /// instead of touching (page-faulting) fresh memory for every file at once: on the
    /// 2-core bench machine 1,000 files of 4 KiB..1 MiB read at once took ~7,800 page
    /// faults per run with an 8 MiB budget, ~2,000 with 4 MiB, ~13,000 unbounded, and the
    /// run was twice as fast with 4 MiB as unbounded (and the thread-pool backend's ~23,000
    /// page faults per run, with `std::fs::read` on its threads, fell to ~1,400).
    pub fn fs_read_budget(mut self, bytes: usize) -> Self {
        self.fs_read_budget = bytes.max(1);
        self
    }

    /// Names the runtime ([`Handle::name`](crate::Handle::name)), as tokio's `Builder::name`.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into().into_boxed_str());
        self
    }

    /// Calls `f` on the runtime's thread just before it sleeps waiting for events, timers or
    /// wakes from other threads (tokio's `on_thread_park`). Not called by busy polling or
    /// `tick()`, which never sleep. A panic in `f` propagates out of `block_on`.
    pub fn on_thread_park<F>(mut self, f: F) -> Self
    where
        F: Fn() + Send + Sync + 'static,
    {
        self.park_hooks.park = Some(Arc::new(f));
        self
    }

    /// Calls `f` on the runtime's thread just after such a sleep ends (tokio's
    /// `on_thread_unpark`); called once for every call of the park callback.
    pub fn on_thread_unpark<F>(mut self, f: F) -> Self
    where
        F: Fn() + Send + Sync + 'static,
    {
        self.park_hooks.unpark = Some(Arc::new(f));
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

    /// Whether sockets and `AsyncFd`s may register with this runtime (default `true`). With
    /// `false`, registering one panics with tokio's "IO is disabled" message: what
    /// `tickslab::runtime::Builder` (tokio's builder) sets unless `enable_io` or
    /// `enable_all` is called, as tokio's does.
    pub fn io_driver(mut self, enabled: bool) -> Self {
        self.io_enabled = enabled;
        self
    }

    /// Builds the runtime, reporting OS errors.
    pub fn try_build(self) -> io::Result<Runtime> {
        assert!(
            !self.forbid_alloc_in_slab_polls || tickslab_alloc::counting::is_counting_installed(),
            "Builder::forbid_alloc_in_slab_polls needs the counting allocator: add \
             `#[global_allocator] static GLOBAL: tickslab_alloc::counting::CountingAlloc = \
             tickslab_alloc::counting::CountingAlloc::system();`"
        );
        let poll = mio::Poll::new()?;
        let unparker = mio::Waker::new(poll.registry(), WAKE_TOKEN)?;
        let remote_capacity = self
            .remote_capacity
            .unwrap_or(DEFAULT_REMOTE_QUEUE_CAPACITY);
        let reactor = Reactor::new(poll.registry().try_clone()?, self.io_enabled);
        let timers = Timers::new(self.start_paused, self.auto_advance);
        if !self.timers_enabled {
            timers.disable();
        }
        let core = Core::new(CoreConfig {
            slab: self.slab,
            budget: self.budget,
            remote_capacity,
            unparker,
            forbid_alloc_in_slab_polls: self.forbid_alloc_in_slab_polls,
            name: self.name,
        });
        crate::context::note_built(&core);
        let park_timer = park_timer(&poll, TIMER_TOKEN);
        let blocking = BlockingPool::new(
            self.max_blocking_threads,
            self.keep_alive,
            Arc::downgrade(&core),
        );
        let fs = FsDriver::new(
            self.fs_backend,
            self.fs_depth,
            self.fs_read_budget,
            blocking,
            poll.registry().try_clone()?,
            FS_TOKEN,
        )?;
        Ok(Runtime::from_parts(RuntimeParts {
            core,
            poll,
            events: crate::io::events::Events::with_capacity(self.events_capacity),
            reactor,
            timers,
            io_interval: self.io_interval,
            busy: self.busy,
            park_spin: self.park_spin,
            arena: FrameArena::with_config(self.arena),
            park_timer,
            fs,
            park_hooks: self.park_hooks,
        }))
    }
}

impl Runtime {
    /// A runtime with default settings and no slab, as tokio's `Runtime::new()`: an error
    /// when the OS refuses what it needs (an epoll instance, an eventfd). tokio programs
    /// write `Runtime::new().unwrap()` or `?`; [`Runtime::builder`]`().build()` panics
    /// instead, with the OS's error.
    pub fn new() -> io::Result<Runtime> {
        Builder::new().try_build()
    }

    /// A [`Builder`] to configure the slab and the scheduler.
    pub fn builder() -> Builder {
        Builder::new()
    }
}

/// A runtime with default settings and no slab, like [`Runtime::builder`]`().build()`.
///
/// # Panics
/// When the OS refuses what the runtime needs (see [`Runtime::new`] for the error instead).
impl Default for Runtime {
    fn default() -> Self {
        Builder::new().build()
    }
}

/// The precise park timer, where the system has one (`None` falls back to epoll's
/// millisecond timeout).
#[cfg(all(target_os = "linux", not(miri)))]
fn park_timer(poll: &mio::Poll, token: mio::Token) -> Option<ParkTimer> {
    crate::time::ParkTimer::new(poll.registry(), token).ok()
}

#[cfg(not(all(target_os = "linux", not(miri))))]
fn park_timer(_: &mio::Poll, _: mio::Token) -> Option<ParkTimer> {
    None
}
