//! tokio's `runtime` module: [`Runtime`], [`Handle`], [`EnterGuard`], [`LocalRuntime`] and a
//! [`Builder`] spelled as tokio's (`&mut self` methods, `build() -> io::Result<Runtime>`).
//!
//! tickslab has one kind of runtime, tokio's *current-thread* / `LocalRuntime` kind: it
//! lives on the thread that built it (`!Send`) and runs `!Send` tasks. So
//! `Builder::new_current_thread()` and `build_local` build the same thing, and
//! [`Builder::new_multi_thread`] panics, saying what to use (it exists, deprecated, so that
//! the mistake is named instead of being a missing function).
//!
//! tickslab's own settings (the slab, budgets, spin) are on the root [`crate::Builder`];
//! this builder reaches them through [`Builder::slab_bounded`], [`Builder::slab_unbounded`]
//! and [`Builder::tickslab`].
//!
//! ```
//! use tickslab::runtime::Builder;
//!
//! let rt = Builder::new_current_thread()
//!     .enable_all()
//!     .slab_bounded::<256>(1024)   // tickslab's: spawn_slab allocates nothing
//!     .build()?;
//! assert_eq!(rt.block_on(async { 6 * 7 }), 42);
//! # Ok::<(), std::io::Error>(())
//! ```

use std::fmt;
use std::io;

pub use tickslab_runtime::{
    EnterGuard, Handle, HandleEnterGuard, Runtime, RuntimeFlavor, RuntimeStats, TryCurrentError,
};

/// tokio's `runtime::Id`: a runtime's id, from [`Handle::id`].
pub use tickslab_runtime::RuntimeId as Id;
pub use tickslab_runtime::io::is_rt_shutdown_err;

/// tokio's `LocalRuntime`: every tickslab runtime is one (single-threaded, `!Send` tasks).
pub type LocalRuntime = Runtime;

/// tokio's `runtime::LocalOptions`, for [`Builder::build_local`]: nothing to set.
#[derive(Debug, Default, Clone)]
#[non_exhaustive]
pub struct LocalOptions {}

/// Builds a [`Runtime`] with tokio's method names.
pub struct Builder {
    inner: crate::Builder,
    /// `enable_io` / `enable_all` was called: without it, registering a socket panics, as
    /// in tokio.
    io: bool,
}

impl Builder {
    /// A builder for a single-threaded runtime (the only kind tickslab has).
    pub fn new_current_thread() -> Builder {
        Builder {
            // As tokio's: no timers until `enable_time`/`enable_all`, no sockets until
            // `enable_io`/`enable_all`.
            inner: crate::Builder::new().timers(false),
            io: false,
        }
    }

    /// tokio's multi-thread builder, which tickslab does not have.
    ///
    /// # Panics
    /// Always, naming what to use: tickslab runs on one thread, and running a program
    /// written for many on one would change its behaviour silently.
    #[deprecated(
        note = "tickslab runs on one thread: use `Builder::new_current_thread()`; to use other \
                cores, run work on std threads and reach the runtime through `Handle`"
    )]
    #[track_caller]
    pub fn new_multi_thread() -> Builder {
        panic!(
            "tickslab runs on one thread and has no multi-thread runtime: use \
             `Builder::new_current_thread()` (or `#[tickslab::main]`'s default flavor); to use \
             other cores, run work on std threads and reach the runtime through `Handle`"
        )
    }

    /// Turns on the I/O driver and the timers ([`enable_io`](Self::enable_io),
    /// [`enable_time`](Self::enable_time)), as tokio's.
    pub fn enable_all(&mut self) -> &mut Self {
        self.enable_io().enable_time()
    }

    /// Turns on the I/O driver, as tokio's: without it (or [`enable_all`](Self::enable_all)),
    /// creating a socket or an `AsyncFd` in this runtime panics with tokio's "IO is
    /// disabled" message.
    pub fn enable_io(&mut self) -> &mut Self {
        self.io = true;
        self
    }

    /// Turns the timers on. As in tokio, a runtime built without `enable_time` or
    /// [`enable_all`](Self::enable_all) panics when a `sleep`, `timeout` or `interval` is
    /// made on it, with tokio's message.
    pub fn enable_time(&mut self) -> &mut Self {
        self.map(|b| b.timers(true))
    }

    /// Starts the runtime with its clock paused (see [`crate::time::pause`]).
    pub fn start_paused(&mut self, start_paused: bool) -> &mut Self {
        self.map(|b| b.start_paused(start_paused))
    }

    /// Whether a paused clock jumps to the next timer when the runtime has nothing else to
    /// do (default `true`, as tokio; see [`crate::Builder::auto_advance`]). tickslab's.
    pub fn auto_advance(&mut self, auto_advance: bool) -> &mut Self {
        self.map(|b| b.auto_advance(auto_advance))
    }

    /// Accepted, and the same as [`event_interval`](Self::event_interval): tokio's
    /// current-thread scheduler takes a task from its global queue every `interval` polls;
    /// tickslab's one run queue has no global queue, and the nearest setting is how often
    /// the runtime looks outside its queue (sockets, timers, other threads' spawns).
    ///
    /// # Panics
    /// If `interval` is 0, as tokio's.
    #[track_caller]
    pub fn global_queue_interval(&mut self, interval: u32) -> &mut Self {
        assert!(interval > 0, "global_queue_interval must be greater than 0");
        self.event_interval(interval)
    }

    /// Task polls between two looks at the sockets while tasks keep the runtime busy
    /// (tokio's name for [`crate::Builder::io_interval`]; 61 by default, as tokio's).
    pub fn event_interval(&mut self, ticks: u32) -> &mut Self {
        self.map(|b| b.io_interval(ticks))
    }

    /// Called on the runtime's thread just before it sleeps waiting for events.
    pub fn on_thread_park<F>(&mut self, f: F) -> &mut Self
    where
        F: Fn() + Send + Sync + 'static,
    {
        self.map(|b| b.on_thread_park(f))
    }

    /// Called on the runtime's thread just after it wakes from such a sleep.
    pub fn on_thread_unpark<F>(&mut self, f: F) -> &mut Self
    where
        F: Fn() + Send + Sync + 'static,
    {
        self.map(|b| b.on_thread_unpark(f))
    }

    /// Names the runtime ([`Handle::name`]).
    pub fn name(&mut self, name: impl Into<String>) -> &mut Self {
        let name = name.into();
        self.map(|b| b.name(name))
    }

    /// Accepted and ignored, as tokio's current-thread builder ignores it: the runtime runs
    /// on the thread that builds it. (A multi-thread runtime is refused where it is asked
    /// for: [`Builder::new_multi_thread`], `flavor = "multi_thread"`.)
    pub fn worker_threads(&mut self, _threads: usize) -> &mut Self {
        self
    }

    /// Accepted and ignored: tickslab has no worker threads, and its blocking threads are
    /// named `tickslab-blocking`.
    pub fn thread_name(&mut self, _name: impl Into<String>) -> &mut Self {
        self
    }

    /// Accepted and ignored: tickslab has no worker threads, and its blocking threads get
    /// the standard library's default stack size.
    pub fn thread_stack_size(&mut self, _bytes: usize) -> &mut Self {
        self
    }

    /// Threads the blocking pool may run at once, as tokio's (see
    /// [`crate::Builder::max_blocking_threads`]; default 16, tokio's 512).
    pub fn max_blocking_threads(&mut self, threads: usize) -> &mut Self {
        self.map(|b| b.max_blocking_threads(threads))
    }

    /// How long an idle blocking thread lives, as tokio's (see
    /// [`crate::Builder::thread_keep_alive`]).
    pub fn thread_keep_alive(&mut self, keep_alive: std::time::Duration) -> &mut Self {
        self.map(|b| b.thread_keep_alive(keep_alive))
    }

    /// Gives the runtime a bounded slab for [`crate::spawn_slab`]: `capacity` slots of `N`
    /// bytes, allocated once (see [`crate::Builder::slab_bounded`]).
    pub fn slab_bounded<const N: usize>(&mut self, capacity: usize) -> &mut Self {
        self.map(|b| b.slab_bounded::<N>(capacity))
    }

    /// Gives the runtime an unbounded slab (see [`crate::Builder::slab_unbounded`]).
    pub fn slab_unbounded<const N: usize>(&mut self, chunk_capacity: usize) -> &mut Self {
        self.map(|b| b.slab_unbounded::<N>(chunk_capacity))
    }

    /// Any other tickslab setting, on the root [`crate::Builder`]:
    /// `.tickslab(|b| b.task_budget(64).park_spin(Duration::ZERO))`.
    pub fn tickslab(&mut self, f: impl FnOnce(crate::Builder) -> crate::Builder) -> &mut Self {
        self.map(f)
    }

    /// Builds the runtime on this thread.
    pub fn build(&mut self) -> io::Result<Runtime> {
        std::mem::take(&mut self.inner)
            .io_driver(self.io)
            .try_build()
    }

    /// Builds the runtime as tokio's `LocalRuntime` (the same thing here).
    pub fn build_local(&mut self, _options: LocalOptions) -> io::Result<LocalRuntime> {
        self.build()
    }

    fn map(&mut self, f: impl FnOnce(crate::Builder) -> crate::Builder) -> &mut Self {
        self.inner = f(std::mem::take(&mut self.inner));
        self
    }
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("inner", &self.inner)
            .field("io", &self.io)
            .finish()
    }
}
