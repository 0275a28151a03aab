//! `Runtime`: the executor, its driver and its frames, and the loops that drive them
//! (`block_on`, `tick`, `frame`). Configuration lives in `builder.rs`, what the runtime
//! waits on and its scheduler pass in `driver.rs`, counters in `stats.rs`.
//!
//! Every entry point that runs user code installs the runtime as the thread's context
//! (`crate::context`) for its duration; the ones that *drive* the runtime (`block_on`,
//! `tick`, `frame`) also claim the thread's single drive slot, so that a runtime cannot be
//! driven from inside another's task, where it would stall both.
//!
//! The executor, driver and resources sit in a `Driven` behind an `Rc`, which `home.rs` lends
//! to a `Handle::block_on` on this thread so that it drives the runtime through the same loop
//! (`Driven::drive_until`). `Driven`'s drop is the shutdown: it runs when the last of the
//! `Runtime` and such a `block_on` lets go, so never under a drive loop of its own runtime.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::marker::PhantomData;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::pin::Pin;
use std::pin::pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use crate::context;
use crate::core::Core;
use crate::core::task::JoinHandle;
use crate::driver::{Driver, ParkHooks, ParkTimer};
use crate::frame::{Frame, FrameArena, FrameStats};
use crate::fs::FsDriver;
use crate::home::{self, Home};
use crate::io::reactor::Reactor;
use crate::spawn::{SpawnError, expect_slab_spawn};
use crate::stats::{RuntimeStats, TickReport};
use crate::time::Timers;

/// What `Builder::try_build` made.
pub(crate) struct RuntimeParts {
    pub(crate) core: Arc<Core>,
    pub(crate) poll: mio::Poll,
    pub(crate) events: crate::io::events::Events,
    pub(crate) reactor: Rc<Reactor>,
    pub(crate) timers: Rc<Timers>,
    pub(crate) io_interval: u32,
    pub(crate) busy: bool,
    pub(crate) park_spin: Duration,
    pub(crate) arena: FrameArena,
    pub(crate) park_timer: Option<ParkTimer>,
    pub(crate) fs: Rc<FsDriver>,
    pub(crate) park_hooks: ParkHooks,
}

/// The runtime's frame arena and the bookkeeping reused from frame to frame.
struct FrameDriver {
    arena: FrameArena,
    tasks: Vec<crate::core::task::TaskRef>,
    number: u64,
    last: FrameStats,
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
/// let rt = tickslab_runtime::Runtime::new().unwrap();
/// std::thread::spawn(move || drop(rt)); // error: `Runtime` cannot be sent
/// ```
///
/// # Drop
/// Dropping the runtime shuts it down: every task is cancelled (each future dropped once,
/// on this thread), the sockets fail, the timers stop, the slab is retired. Then the files
/// and the blocking pool: file operations in flight complete (io_uring's are waited for, so
/// no kernel write lands in a freed buffer), `spawn_blocking` jobs queued behind busy workers
/// are cancelled (one that a thread was already started or woken for runs, as in tokio),
/// running ones are waited for, and every blocking thread is joined. User code that panics
/// on the way (a destructor, a join waker, a job from another thread) cannot stop it
/// halfway: the first such panic is re-raised after everything is done.
///
/// Dropped inside another runtime's task or `block_on` (where blocking would stall that
/// runtime), it panics with tokio's message once everything is done, without waiting for
/// running blocking jobs (their threads are detached, as by
/// [`shutdown_background`](Runtime::shutdown_background)); `shutdown_timeout` and
/// `shutdown_background` may be used there.
///
/// Dropped by the future that a [`Handle::block_on`](crate::Handle::block_on) drives it
/// for, the runtime goes on running until that `block_on` returns, and shuts down then.
pub struct Runtime {
    /// The parts the drive loops use, shared with a `Handle::block_on` that drives this
    /// runtime from its thread (`home.rs`): their drop is the runtime's shutdown, which
    /// therefore never runs under a drive loop, even when user code drops the `Runtime`
    /// inside the future a `Handle::block_on` is driving.
    driven: Rc<Driven>,
    core: Arc<Core>,
    /// What `handle()` lends out (tokio's `Runtime::handle` returns `&Handle`).
    handle: crate::Handle,
    frames: FrameDriver,
}

/// The runtime's executor, driver and their resources: what `block_on` drives and what the
/// shutdown (its `Drop`) retires.
struct Driven {
    core: Arc<Core>,
    /// Borrowed mutably only by the drive entry points, which the thread's drive slot
    /// (`context::drive`) keeps from nesting: `block_on` takes `&self` as tokio's does, and
    /// a root future that calls `rt.block_on` again panics on that slot before any borrow.
    driver: RefCell<Driver>,
    /// The driver's timers and reactor, reachable without borrowing it (`stats`, `enter`).
    timers: Rc<Timers>,
    reactor: Rc<Reactor>,
    /// The driver's files and blocking pool, likewise.
    fs: Rc<FsDriver>,
    /// How long the shutdown waits for running blocking jobs (`None`: until they return; set
    /// by `shutdown_timeout`).
    blocking_wait: Cell<Option<Duration>>,
    busy: bool,
}

impl Runtime {
    pub(crate) fn from_parts(p: RuntimeParts) -> Runtime {
        let driven = Rc::new(Driven {
            core: Arc::clone(&p.core),
            timers: Rc::clone(&p.timers),
            reactor: Rc::clone(&p.reactor),
            fs: Rc::clone(&p.fs),
            blocking_wait: Cell::new(None),
            driver: RefCell::new(Driver {
                poll: p.poll,
                events: p.events,
                reactor: p.reactor,
                timers: p.timers,
                fs: p.fs,
                park_timer: p.park_timer,
                park_spin: p.park_spin,
                remote_wakes_seen: 0,
                remote_ended_idle: false,
                io_interval: p.io_interval,
                polls_since_io: 0,
                passes: 0,
                hooks: p.park_hooks,
            }),
            busy: p.busy,
        });
        let home: Rc<dyn Home> = driven.clone();
        home::register(p.core.id(), Rc::downgrade(&home));
        Runtime {
            handle: crate::Handle::new(p.core.clone(), Some(driven.fs.blocking_pool().clone())),
            core: p.core,
            driven,
            frames: FrameDriver {
                arena: p.arena,
                tasks: Vec::new(),
                number: 0,
                last: FrameStats::default(),
            },
        }
    }

    fn enter_context(&self) -> context::EnterGuard {
        self.driven.enter_context()
    }

    /// Runs `future` to completion on this thread, running spawned tasks meanwhile.
    ///
    /// The root future and the tasks take turns: each scheduler pass first fires due
    /// timers, polls sockets if it is time to (every [`Builder::io_interval`](crate::Builder::io_interval) task polls
    /// while busy), takes in wakes from other threads, then polls the tasks that were ready when
    /// it began (up to the task budget); then the root future runs if it was woken. With
    /// nothing ready the thread sleeps in epoll until a socket event, a wake from any
    /// thread, or the next timer (or spins, with [`Builder::busy_poll`](crate::Builder::busy_poll)).
    ///
    /// Tasks still pending when `future` completes stay spawned: they run again the next
    /// time the runtime is driven, and are cancelled when it is dropped.
    ///
    /// A panic in `future` propagates out of `block_on` (the runtime stays usable);
    /// a panic in a spawned task is caught and reported through its [`JoinHandle`].
    ///
    /// # Panics
    /// If this thread is already running a runtime (inside `block_on`, `tick` or `frame`,
    /// or in one of its tasks): spawn the future there instead. Also re-raises a panic of
    /// user code that the runtime contained meanwhile (a join waker's `wake`, say), once
    /// the runtime is consistent again.
    #[track_caller]
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        let busy = self.driven.busy;
        self.driven
            .drive_until(future, busy, false, "Runtime::block_on")
            .expect("only stops for a shutdown when asked to")
    }

    /// As [`block_on`](Self::block_on), but returns `None` as soon as a shutdown is
    /// requested through a [`Handle`](crate::Handle) (before or during the call). The
    /// future is dropped then; the runtime's tasks stay until the runtime is dropped,
    /// which cancels them: newest first, each future dropped on this thread.
    #[track_caller]
    pub fn block_on_until_shutdown<F: Future>(&self, future: F) -> Option<F::Output> {
        let busy = self.driven.busy;
        self.driven
            .drive_until(future, busy, true, "Runtime::block_on_until_shutdown")
    }

    /// As [`block_on`](Self::block_on), but never sleeps: when idle it polls sockets
    /// without blocking and tries again. Lowest wake-up latency, one core at 100%.
    #[track_caller]
    pub fn block_on_busy<F: Future>(&self, future: F) -> F::Output {
        self.driven
            .drive_until(future, true, false, "Runtime::block_on_busy")
            .expect("only stops for a shutdown when asked to")
    }

    /// A handle for other threads: spawn onto this runtime, ask it to shut down. As tokio's,
    /// it is lent: `rt.handle().clone()` to keep one.
    pub fn handle(&self) -> &crate::Handle {
        &self.handle
    }

    /// Runs one frame: see [`crate::frame`]. `f` gets a [`Frame`] to allocate frame data
    /// and spawn frame tasks (which may borrow that data and `f`'s surroundings). When `f`
    /// returns, the runtime runs (timers, sockets, all tasks) until every frame task is
    /// done, then resets the arena. If `f` panics, the frame's tasks are cancelled (their
    /// futures dropped) before the panic continues.
    ///
    /// ```
    /// let mut rt = tickslab_runtime::Runtime::new().unwrap();
    /// let mut scores = vec![0u32; 4];
    /// rt.frame(|f| {
    ///     let weights = f.alloc_slice_copy(&[1u32, 2, 3, 4]);
    ///     let scores = &mut scores;
    ///     drop(f.spawn(async move {
    ///         for (s, w) in scores.iter_mut().zip(weights.iter()) {
    ///             *s += *w * 10;
    ///         }
    ///     }));
    /// });
    /// assert_eq!(scores, [10, 20, 30, 40]);
    /// ```
    ///
    /// # Panics
    /// As [`block_on`](Self::block_on), if this thread is already running a runtime.
    #[track_caller]
    pub fn frame<'env, F, R>(&'env mut self, f: F) -> R
    where
        F: for<'scope> FnOnce(&'scope Frame<'scope, 'env>) -> R,
    {
        let _drive = context::drive("Runtime::frame");
        let _enter = self.enter_context();
        let core: &Core = &self.core;
        let mut driver = self.driven.driver.borrow_mut();
        let driver = &mut *driver;
        let frames = &mut self.frames;
        let busy = self.driven.busy;
        // A frame that unwound last time left its memory: reclaim it now.
        frames.arena.reset();
        frames.number += 1;
        let number = frames.number;
        let passes_before = driver.passes;
        let (result, tasks, spawned) = {
            let frame = Frame::new(
                &frames.arena,
                core,
                std::mem::take(&mut frames.tasks),
                number,
            );
            /// Cancels the frame's live tasks if the closure or the wait panics: nothing
            /// borrowing the frame may outlive it.
            struct Unwind<'a, 'b, 'c> {
                frame: &'a Frame<'b, 'c>,
                core: &'a Core,
            }
            impl Drop for Unwind<'_, '_, '_> {
                fn drop(&mut self) {
                    drop(self.frame.state().finish(self.core, true));
                    // Already unwinding with the frame's own panic: a panic that user code
                    // raised while its tasks were cancelled has nowhere to go.
                    drop(self.core.take_deferred_panic());
                }
            }
            let guard = Unwind {
                frame: &frame,
                core,
            };
            let result = f(&frame);
            let state = frame.state();
            run_until(
                core,
                driver,
                std::future::poll_fn(|cx| state.poll_all_done(cx)),
                busy,
                false,
            );
            std::mem::forget(guard);
            (result, state.finish(core, false), state.spawned())
        };
        let stats = frames.arena.stats();
        frames.last = FrameStats {
            number,
            bytes_used: stats.bytes_used,
            chunks: stats.chunks,
            peak_bytes: stats.peak_bytes,
            tasks_spawned: spawned,
            end_wait_passes: driver.passes - passes_before,
        };
        core.set_frame_bytes(stats.bytes_used);
        frames.tasks = tasks;
        frames.arena.reset();
        result
    }

    /// This runtime's id (`Handle::id`'s number), for checks within the crate.
    pub(crate) fn core_id(&self) -> u64 {
        self.core.id()
    }

    /// What the last [`frame`](Self::frame) did.
    pub fn last_frame(&self) -> FrameStats {
        self.frames.last
    }

    /// Runs one bounded, non-blocking iteration, for a game that drives the runtime from
    /// its own frame loop: fires due timers, polls sockets without blocking, takes in wakes
    /// from other threads, and polls the tasks that were ready (at most the task budget).
    /// Never sleeps. Returns what it did and whether work remains.
    ///
    /// ```
    /// let mut rt = tickslab_runtime::Runtime::new().unwrap();
    /// let h = rt.spawn(async { tickslab_runtime::yield_now().await; 5 });
    /// while !h.is_finished() {
    ///     let report = rt.tick();
    ///     // ... render a frame ...
    ///     # let _ = report;
    /// }
    /// ```
    ///
    /// # Panics
    /// As [`block_on`](Self::block_on), if this thread is already running a runtime.
    #[track_caller]
    pub fn tick(&mut self) -> TickReport {
        let _drive = context::drive("Runtime::tick");
        let _enter = self.enter_context();
        let mut driver = self.driven.driver.borrow_mut();
        driver.polls_since_io = driver.io_interval; // always look at sockets
        let mut report = driver.pass(&self.core);
        report.next_timer = self.driven.timers.next_deadline();
        drop(driver);
        reraise_contained(&self.core);
        report
    }

    /// Makes this the current runtime of this thread until the guard drops, so that the
    /// free functions ([`spawn`](crate::spawn), [`spawn_slab`](crate::spawn_slab), ...)
    /// work outside [`block_on`](Self::block_on). Spawned tasks run when the runtime is
    /// next driven.
    ///
    /// Guards must be dropped in the reverse order they were made (dropping one out of
    /// order panics). A guard forgotten with `mem::forget` keeps this runtime current on
    /// the thread; once the runtime is dropped, spawning there panics with "the runtime has
    /// shut down".
    pub fn enter(&self) -> EnterGuard<'_> {
        EnterGuard {
            _inner: self.enter_context(),
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

    /// Spawns a `!Send` task on this runtime, as tokio's `LocalRuntime::spawn_local`: the
    /// same boxed spawn as [`spawn`](Self::spawn) (every tickslab task is local).
    pub fn spawn_local<F>(&self, future: F) -> JoinHandle<F::Output>
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
        expect_slab_spawn("Runtime::spawn_slab", self.try_spawn_slab(future))
    }

    /// Spawns a slab task on this runtime from outside it, or hands the future back.
    pub fn try_spawn_slab<F>(&self, future: F) -> Result<JoinHandle<F::Output>, SpawnError<F>>
    where
        F: Future + 'static,
    {
        self.core
            .try_spawn_slab(future)
            .map_err(|(refusal, future)| SpawnError::new(refusal.into(), future))
    }

    /// Shuts the runtime down, as tokio's `shutdown_timeout`: every task is cancelled (its
    /// future dropped, on this thread), then the blocking pool's running jobs get up to
    /// `timeout` to finish; those still running then are detached (their threads end when
    /// their jobs return). File operations in flight are still completed or cancelled
    /// first, as in the drop.
    pub fn shutdown_timeout(self, timeout: Duration) {
        self.driven.blocking_wait.set(Some(timeout));
        drop(self);
    }

    /// Shuts the runtime down without waiting for blocking jobs, as tokio's
    /// `shutdown_background`: `shutdown_timeout(Duration::ZERO)`.
    pub fn shutdown_background(self) {
        self.shutdown_timeout(Duration::ZERO);
    }

    /// Counters for a debug overlay: tasks, polls, parks, wakes, slab use.
    pub fn stats(&self) -> RuntimeStats {
        RuntimeStats::from_parts(
            self.core.stats(),
            self.driven.timers.armed(),
            self.driven.reactor.registered(),
            self.driven.fs.blocking_pool().counts(),
            self.driven.fs.ops().len(),
        )
    }
}

/// Re-raises a panic of user code that the core contained (a join waker's `wake`, ...).
#[inline]
fn reraise_contained(core: &Core) {
    if let Some(payload) = core.take_deferred_panic() {
        resume_unwind(payload);
    }
}

/// Drives the runtime until `future` completes (the loop behind `block_on` and frames), or
/// until a shutdown is requested if `stop_on_shutdown`. The context is installed.
fn run_until<F: Future>(
    core: &Core,
    driver: &mut Driver,
    future: F,
    busy: bool,
    stop_on_shutdown: bool,
) -> Option<F::Output> {
    let mut future = pin!(future);
    let waker = core.borrowed_root_waker();
    let mut cx = Context::from_waker(&waker);
    core.wake_root();
    loop {
        if stop_on_shutdown && core.is_shutdown_requested() {
            return None;
        }
        if core.take_root_woken() {
            if let Poll::Ready(output) = crate::coop::with_budget(Some(crate::coop::BUDGET), || {
                future.as_mut().poll(&mut cx)
            }) {
                return Some(output);
            }
            // The root's polls count toward the I/O interval as tasks' do: a root that
            // keeps itself awake (spinning on `yield_now`) never lets the loop park, and the
            // sockets would never be looked at.
            driver.polls_since_io = driver.polls_since_io.saturating_add(1);
        }
        driver.pass(core);
        reraise_contained(core);
        if core.run_queue_len() == 0 && !core.has_remote_work() {
            if busy {
                if driver.poll_io(Some(Duration::ZERO)) == 0
                    && core.run_queue_len() == 0
                    && !core.has_remote_work()
                    && !driver.blocking_jobs_out()
                {
                    driver.timers.auto_advance();
                }
            } else {
                driver.park(core);
            }
        }
    }
}

impl Driven {
    fn enter_context(&self) -> context::EnterGuard {
        context::enter(
            &self.core,
            context::Parts {
                timers: &self.timers,
                reactor: &self.reactor,
                fs: &self.fs,
            },
        )
    }

    /// The loop behind every `block_on` (the runtime's and, on its thread, the handle's).
    #[track_caller]
    fn drive_until<F: Future>(
        &self,
        future: F,
        busy: bool,
        stop_on_shutdown: bool,
        what: &str,
    ) -> Option<F::Output> {
        let _drive = context::drive(what);
        let _enter = self.enter_context();
        // The drive slot just claimed rules out a second borrow on this thread, and the
        // runtime is `!Send`: this cannot fail.
        let mut driver = self.driver.borrow_mut();
        run_until(&self.core, &mut driver, future, busy, stop_on_shutdown)
    }
}

impl Home for Driven {
    #[track_caller]
    fn block_on_root(&self, root: Pin<&mut dyn Future<Output = ()>>) {
        self.drive_until(root, self.busy, false, "Handle::block_on")
            .expect("only stops for a shutdown when asked to");
    }

    fn enter_context(&self) -> context::EnterGuard {
        Driven::enter_context(self)
    }
}

impl Drop for Driven {
    /// The runtime's shutdown (see "Drop" in [`Runtime`]'s docs): it runs when the `Runtime`
    /// is dropped, or, if a `Handle::block_on` is driving the runtime then, when that call
    /// returns.
    fn drop(&mut self) {
        // Read before this runtime's context is entered (entering does not change it).
        let in_async = crate::coop::in_task_poll() && self.blocking_wait.get().is_none();
        let enter = self.enter_context();
        let mut panic = Core::shutdown(&self.core);
        self.timers.shutdown();
        // The tasks are gone: what file operations they left in flight can only finish now.
        self.fs.shutdown();
        let wait = if in_async {
            Some(Duration::ZERO)
        } else {
            self.blocking_wait.get()
        };
        if let Some(payload) = self.fs.blocking_pool().shutdown(wait) {
            panic.get_or_insert(payload);
        }
        // Sockets that outlive the runtime fail from now on; their waiters are woken.
        if let Err(payload) = catch_unwind(AssertUnwindSafe(|| self.reactor.shutdown())) {
            panic.get_or_insert(payload);
        }
        drop(enter);
        // Only now may a `Handle::block_on` on this thread treat the runtime as gone.
        home::unregister(self.core.id());
        if std::thread::panicking() {
            return;
        }
        if let Some(payload) = panic {
            resume_unwind(payload);
        }
        // tokio's message (a `&'static str` payload, as tokio's).
        assert!(
            !in_async,
            "Cannot drop a runtime in a context where blocking is not allowed. This happens \
             when a runtime is dropped from within an asynchronous context."
        );
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
    _inner: context::EnterGuard,
    _runtime: PhantomData<&'a Runtime>,
}

impl std::fmt::Debug for EnterGuard<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EnterGuard")
    }
}
