//! `Runtime` and its `Builder`: the entry points.

use std::future::Future;
use std::io;
use std::marker::PhantomData;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tickslab_alloc::slab::{ErasedSlab, SlabKind};

use crate::core::{self as rt_core, Core, CoreConfig};
use crate::frame::{ArenaConfig, Frame, FrameArena, FrameStats};
use crate::io::reactor::Reactor;
use crate::spawn::SpawnError;
use crate::task::JoinHandle;
use crate::task::TaskRef;
use crate::time::Timers;
use std::rc::Rc;

/// Tasks polled per pass of the scheduler, by default (see [`Builder::task_budget`]).
pub const DEFAULT_TASK_BUDGET: usize = 128;
/// Task polls between two non-blocking I/O polls while tasks keep the runtime busy (see
/// [`Builder::io_interval`]; tokio's `event_interval` is 61 too).
pub const DEFAULT_IO_INTERVAL: u32 = 61;
/// Remote-queue slots when no bounded slab says otherwise (see
/// [`Builder::remote_queue_capacity`]).
pub const DEFAULT_REMOTE_QUEUE_CAPACITY: usize = 1024;
const WAKE_TOKEN: mio::Token = mio::Token(usize::MAX);

/// Configures and builds a [`Runtime`].
///
/// ```
/// // 1,024 slots of 256 bytes, allocated once.
/// let mut rt = tickslab_runtime::Runtime::builder().slab_bounded::<256>(1024).build();
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
    busy: bool,
    arena: ArenaConfig,
    forbid_alloc_in_slab_polls: bool,
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
            busy: false,
            arena: ArenaConfig::default(),
            forbid_alloc_in_slab_polls: false,
        }
    }

    /// Gives the runtime a bounded byte slab for [`spawn_slab`](crate::spawn_slab):
    /// `capacity` slots of `N` bytes, allocated once, here. When all are in use, slab spawns
    /// fail recoverably ([`try_spawn_slab`](crate::try_spawn_slab)) or wait
    /// ([`claim_slab`](crate::claim_slab)). A slot holds a task of up to
    /// [`task_size::<F>()`](crate::task_size) bytes.
    ///
    /// ```
    /// let mut rt = tickslab_runtime::Runtime::builder().slab_bounded::<256>(1024).build();
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

    /// Slots of the lock-free queue that carries wakes from other threads (default: the
    /// bounded slab's capacity, at least [`DEFAULT_REMOTE_QUEUE_CAPACITY`]). A task occupies
    /// at most one slot; beyond capacity, wakes spill into a locked list (allocating).
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
        assert!(
            !self.forbid_alloc_in_slab_polls || tickslab_alloc::counting::is_counting_installed(),
            "Builder::forbid_alloc_in_slab_polls needs the counting allocator: add \
             `#[global_allocator] static GLOBAL: tickslab_alloc::counting::CountingAlloc = \
             tickslab_alloc::counting::CountingAlloc::system();`"
        );
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
        let reactor = Reactor::new(poll.registry().try_clone()?);
        let timers = Timers::new(self.start_paused);
        let core = Core::new(CoreConfig {
            slab: self.slab,
            budget: self.budget,
            remote_capacity,
            unparker,
            timers: timers.clone(),
            reactor: reactor.clone(),
            forbid_alloc_in_slab_polls: self.forbid_alloc_in_slab_polls,
        });
        Ok(Runtime {
            core,
            driver: Driver {
                poll,
                events: mio::Events::with_capacity(self.events_capacity),
                reactor,
                timers,
                io_interval: self.io_interval,
                polls_since_io: 0,
                passes: 0,
            },
            busy: self.busy,
            frames: FrameDriver {
                arena: FrameArena::with_config(self.arena),
                tasks: Vec::new(),
                number: 0,
                last: FrameStats::default(),
            },
            _not_send: PhantomData,
        })
    }
}

/// Polls epoll (sockets, remote wakes) and fires timers.
struct Driver {
    poll: mio::Poll,
    events: mio::Events,
    reactor: Rc<Reactor>,
    timers: Rc<Timers>,
    io_interval: u32,
    polls_since_io: u32,
    /// Scheduler passes since the runtime was built.
    passes: u64,
}

/// The runtime's frame arena and the bookkeeping reused from frame to frame.
struct FrameDriver {
    arena: FrameArena,
    tasks: Vec<TaskRef>,
    number: u64,
    last: FrameStats,
}

impl Driver {
    /// Waits for events up to `timeout` (`Some(ZERO)`: just look) and dispatches them.
    /// Returns how many socket events arrived.
    fn poll_io(&mut self, timeout: Option<Duration>) -> usize {
        self.polls_since_io = 0;
        match self.poll.poll(&mut self.events, timeout) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return 0,
            Err(e) => panic!("tickslab: epoll_wait failed: {e}"),
        }
        let mut n = 0;
        for event in self.events.iter() {
            if event.token() != WAKE_TOKEN {
                self.reactor.dispatch(event);
                n += 1;
            }
        }
        n
    }

    /// Sleeps in epoll until a socket event, a remote wake, or the next timer.
    fn park(&mut self, core: &Core) -> usize {
        if !core.prepare_sleep() {
            return 0;
        }
        let n = self.poll_io(self.timers.park_timeout());
        core.unsleep();
        n
    }
}

/// What one [`Runtime::tick`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TickReport {
    /// Tasks polled.
    pub tasks_polled: usize,
    /// Timers that fired.
    pub timers_fired: usize,
    /// Socket readiness events received.
    pub io_events: usize,
    /// Tasks ready to run right now (after this tick).
    pub tasks_ready: usize,
    /// When the next timer is due, if one is armed.
    pub next_timer: Option<std::time::Instant>,
}

impl TickReport {
    /// Whether the runtime has work it could do now without waiting.
    pub fn has_ready_work(&self) -> bool {
        self.tasks_ready > 0
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
    busy: bool,
    frames: FrameDriver,
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
    /// The root future and the tasks take turns: each scheduler pass first fires due
    /// timers, polls sockets if it is time to (every [`Builder::io_interval`] task polls
    /// while busy), takes in wakes from other threads, then polls the tasks that were ready when
    /// it began (up to the task budget); then the root future runs if it was woken. With
    /// nothing ready the thread sleeps in epoll until a socket event, a wake from any
    /// thread, or the next timer (or spins, with [`Builder::busy_poll`]).
    ///
    /// Tasks still pending when `future` completes stay spawned: they run again the next
    /// time the runtime is driven, and are cancelled when it is dropped.
    ///
    /// A panic in `future` propagates out of `block_on` (the runtime stays usable);
    /// a panic in a spawned task is caught and reported through its [`JoinHandle`].
    pub fn block_on<F: Future>(&mut self, future: F) -> F::Output {
        let busy = self.busy;
        self.run_until(future, busy)
    }

    /// As [`block_on`](Self::block_on), but returns `None` as soon as a shutdown is
    /// requested through a [`Handle`](crate::Handle) (before or during the call). The
    /// future is dropped then; the runtime's tasks stay until the runtime is dropped,
    /// which cancels them: newest first, each future dropped on this thread.
    pub fn block_on_until_shutdown<F: Future>(&mut self, future: F) -> Option<F::Output> {
        let busy = self.busy;
        run_until_or_shutdown(&self.core, &mut self.driver, future, busy, true)
    }

    /// A handle for other threads: spawn onto this runtime, ask it to shut down.
    pub fn handle(&self) -> crate::Handle {
        crate::Handle::new(self.core.clone())
    }

    /// As [`block_on`](Self::block_on), but never sleeps: when idle it polls sockets
    /// without blocking and tries again. Lowest wake-up latency, one core at 100%.
    pub fn block_on_busy<F: Future>(&mut self, future: F) -> F::Output {
        self.run_until(future, true)
    }

    fn run_until<F: Future>(&mut self, future: F, busy: bool) -> F::Output {
        run_until(&self.core, &mut self.driver, future, busy)
    }

    /// Runs one frame: see [`crate::frame`]. `f` gets a [`Frame`] to allocate frame data
    /// and spawn frame tasks (which may borrow that data and `f`'s surroundings). When `f`
    /// returns, the runtime runs (timers, sockets, all tasks) until every frame task is
    /// done, then resets the arena. If `f` panics, the frame's tasks are cancelled (their
    /// futures dropped) before the panic continues.
    ///
    /// ```
    /// let mut rt = tickslab_runtime::Runtime::new();
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
    pub fn frame<'env, F, R>(&'env mut self, f: F) -> R
    where
        F: for<'scope> FnOnce(&'scope Frame<'scope, 'env>) -> R,
    {
        let core: &Core = &self.core;
        let driver = &mut self.driver;
        let frames = &mut self.frames;
        let busy = self.busy;
        let _enter = rt_core::EnterGuard::enter(core);
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

    /// What the last [`frame`](Self::frame) did.
    pub fn last_frame(&self) -> FrameStats {
        self.frames.last
    }

    /// One scheduler pass: timers, (maybe) sockets, remote wakes, ready tasks.
    #[inline]
    fn pass(core: &Core, driver: &mut Driver) -> TickReport {
        driver.passes += 1;
        let timers_fired = driver.timers.process();
        let io_events = if driver.polls_since_io >= driver.io_interval {
            driver.poll_io(Some(Duration::ZERO))
        } else {
            0
        };
        let tasks_polled = core.run_pass();
        driver.polls_since_io = driver
            .polls_since_io
            .saturating_add(u32::try_from(tasks_polled).unwrap_or(u32::MAX));
        TickReport {
            tasks_polled,
            timers_fired,
            io_events,
            tasks_ready: core.run_queue_len(),
            next_timer: driver.timers.next_deadline(),
        }
    }

    /// Runs one bounded, non-blocking iteration, for a game that drives the runtime from
    /// its own frame loop: fires due timers, polls sockets without blocking, takes in wakes
    /// from other threads, and polls the tasks that were ready (at most the task budget).
    /// Never sleeps. Returns what it did and whether work remains.
    ///
    /// ```
    /// let mut rt = tickslab_runtime::Runtime::new();
    /// let h = rt.spawn(async { tickslab_runtime::yield_now().await; 5 });
    /// while !h.is_finished() {
    ///     let report = rt.tick();
    ///     // ... render a frame ...
    ///     # let _ = report;
    /// }
    /// ```
    pub fn tick(&mut self) -> TickReport {
        let core: &Core = &self.core;
        let _enter = rt_core::EnterGuard::enter(core);
        self.driver.polls_since_io = self.driver.io_interval; // always look at sockets
        Self::pass(core, &mut self.driver)
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

impl RuntimeStats {
    /// The counters of the runtime current on this thread (from inside a task), if any.
    pub fn current() -> Option<RuntimeStats> {
        // SAFETY: an installed context is alive while installed; runtime thread.
        rt_core::current().map(|c| unsafe { c.as_ref() }.stats())
    }
}

/// Drives the runtime until `future` completes (the loop behind `block_on` and frames).
fn run_until<F: Future>(core: &Core, driver: &mut Driver, future: F, busy: bool) -> F::Output {
    match run_until_or_shutdown(core, driver, future, busy, false) {
        Some(output) => output,
        None => unreachable!("only stops for a shutdown when asked to"),
    }
}

fn run_until_or_shutdown<F: Future>(
    core: &Core,
    driver: &mut Driver,
    future: F,
    busy: bool,
    stop_on_shutdown: bool,
) -> Option<F::Output> {
    let _enter = rt_core::EnterGuard::enter(core);
    let mut future = pin!(future);
    let waker = core.borrowed_root_waker();
    let mut cx = Context::from_waker(&waker);
    core.root_woken
        .store(true, std::sync::atomic::Ordering::Relaxed);
    loop {
        if stop_on_shutdown && core.is_shutdown_requested() {
            return None;
        }
        if core.take_root_woken()
            && let Poll::Ready(output) = future.as_mut().poll(&mut cx)
        {
            return Some(output);
        }
        Runtime::pass(core, driver);
        if core.run_queue_len() == 0 && !core.has_remote_work() {
            if busy {
                driver.poll_io(Some(Duration::ZERO));
            } else {
                driver.park(core);
            }
        }
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

/// A snapshot of a runtime's counters ([`Runtime::stats`], or [`RuntimeStats::current`]
/// from inside it). Cheap: plain reads.
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
    /// Wakes on the runtime's own thread that queued a task.
    pub local_wakes: u64,
    /// Scheduler passes (ticks).
    pub passes: u64,
    /// Frame-arena bytes the last [`Runtime::frame`] used.
    pub frame_bytes: usize,
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
    /// Timers armed and not yet fired.
    pub timers_armed: usize,
    /// Sockets registered with the reactor.
    pub sockets: usize,
}
