//! The driver: what a runtime waits on (epoll for sockets, remote wakes, the park timer and
//! io_uring completions) and the scheduler pass that fires timers, polls sockets and runs
//! tasks. `runtime.rs` owns a `Driver` and calls [`Driver::pass`] and [`Driver::park`].
//!
//! Invariants: the clock is read only when the run queue drains, at the I/O interval,
//! after a task spent its whole budget, or after a `yield_now` (tokio's yield waits for the
//! drivers); a park first looks (`epoll_wait(0)`), may spin on
//! the remote flag when remote wakes were recent, and only then sleeps, with the park timer
//! armed for sub-millisecond deadlines.

use std::io;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use crate::core::Core;
use crate::fs::FsDriver;
use crate::io::reactor::Reactor;
use crate::stats::TickReport;
use crate::time::Timers;

pub(crate) const WAKE_TOKEN: mio::Token = mio::Token(usize::MAX);
/// The park timer's events (see `time/park_timer.rs`).
pub(crate) const TIMER_TOKEN: mio::Token = mio::Token(usize::MAX - 1);
/// The io_uring completion eventfd's events (see `fs/uring.rs`).
pub(crate) const FS_TOKEN: mio::Token = mio::Token(usize::MAX - 2);

/// The driver's precise park timer, where the system has one.
#[cfg(all(target_os = "linux", not(miri)))]
pub(crate) type ParkTimer = crate::time::ParkTimer;
/// No precise park timer here: epoll's millisecond timeout is used.
#[cfg(not(all(target_os = "linux", not(miri))))]
pub(crate) enum ParkTimer {}

/// A callback run by the runtime's thread around its sleeps (tokio's `on_thread_park`).
pub(crate) type Hook = Arc<dyn Fn() + Send + Sync>;

/// `on_thread_park` / `on_thread_unpark` callbacks.
#[derive(Clone, Default)]
pub(crate) struct ParkHooks {
    pub(crate) park: Option<Hook>,
    pub(crate) unpark: Option<Hook>,
}

impl std::fmt::Debug for ParkHooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParkHooks")
            .field("park", &self.park.is_some())
            .field("unpark", &self.unpark.is_some())
            .finish()
    }
}

/// Polls epoll (sockets, remote wakes) and fires timers.
pub(crate) struct Driver {
    pub(crate) poll: mio::Poll,
    pub(crate) events: crate::io::events::Events,
    pub(crate) reactor: Rc<Reactor>,
    pub(crate) timers: Rc<Timers>,
    pub(crate) fs: Rc<FsDriver>,
    pub(crate) park_timer: Option<ParkTimer>,
    pub(crate) park_spin: Duration,
    /// `Core::remote_wake_count` at the last idle spell.
    pub(crate) remote_wakes_seen: u64,
    /// Whether work from another thread ended the last idle spell.
    pub(crate) remote_ended_idle: bool,
    pub(crate) io_interval: u32,
    pub(crate) polls_since_io: u32,
    /// Scheduler passes since the runtime was built.
    pub(crate) passes: u64,
    /// `on_thread_park` / `on_thread_unpark`.
    pub(crate) hooks: ParkHooks,
}

impl Driver {
    /// Waits for events up to `timeout` (`Some(ZERO)`: just look) and dispatches them.
    /// Returns how many socket events arrived.
    pub(crate) fn poll_io(&mut self, timeout: Option<Duration>) -> usize {
        self.polls_since_io = 0;
        // File operations queued since the last pass reach the kernel before we sleep.
        self.fs.flush();
        match self.events.wait(&mut self.poll, timeout) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return 0,
            Err(e) => panic!("tickslab: epoll_wait failed: {e}"),
        }
        let mut n = 0;
        for (token, bits) in self.events.iter() {
            match token {
                WAKE_TOKEN => {}
                TIMER_TOKEN => self.clear_park_timer(),
                FS_TOKEN => {
                    self.fs.on_event();
                    n += 1;
                }
                _ => {
                    self.reactor.dispatch(token, bits);
                    n += 1;
                }
            }
        }
        n
    }

    /// Spins for work from another thread (counted in the stats); `true` if it came.
    pub(crate) fn spin(&mut self, core: &Core) -> bool {
        let hit = spin_for_remote_work(core, self.park_spin);
        core.count_park_spin(hit);
        if hit {
            self.remote_ended_idle = true;
        }
        hit
    }

    pub(crate) fn clear_park_timer(&self) {
        #[cfg(all(target_os = "linux", not(miri)))]
        if let Some(timer) = &self.park_timer {
            timer.clear();
        }
    }

    /// The epoll timeout for a park that must end after `wait`: none when the park timer
    /// (armed here) will end it with microsecond precision, else epoll's own.
    pub(crate) fn arm_park(&self, wait: Option<Duration>) -> Option<Duration> {
        match wait {
            #[cfg(all(target_os = "linux", not(miri)))]
            Some(wait) if !wait.is_zero() => match &self.park_timer {
                Some(timer) if timer.arm(wait).is_ok() => None,
                _ => Some(wait),
            },
            other => other,
        }
    }

    /// Sleeps in epoll until a socket event, a remote wake, or the next timer.
    ///
    /// Before sleeping: while wakes from other threads are live (some arrived since the last
    /// idle spell), spin briefly for the next one (see `Builder::park_spin`), and look at the
    /// sockets once without blocking. Which comes first adapts: if remote work ended the
    /// last idle spell, the spin goes first (no syscall when the next wake is already on its
    /// way); otherwise the socket poll does (a datagram is not seen by spinning).
    pub(crate) fn park(&mut self, core: &Core) -> usize {
        let remote_wakes = core.remote_wake_count();
        let live_remote = !self.park_spin.is_zero() && remote_wakes != self.remote_wakes_seen;
        self.remote_wakes_seen = remote_wakes;
        let spin_first = live_remote && self.remote_ended_idle;
        if spin_first && self.spin(core) {
            return 0;
        }
        let n = self.poll_io(Some(Duration::ZERO));
        if n > 0 || core.run_queue_len() > 0 || core.has_remote_work() {
            self.remote_ended_idle = n == 0;
            return n;
        }
        if live_remote && !spin_first && self.spin(core) {
            return 0;
        }
        // Nothing to do but wait for timers: a paused clock jumps to the next one instead,
        // unless a `spawn_blocking` job is out (it runs in real time: tokio's rule); then
        // we sleep until something wakes us, the job's end included (pool invariant 4).
        let jobs_out = self.blocking_jobs_out();
        if !jobs_out && self.timers.auto_advance() {
            self.remote_ended_idle = false;
            return 0;
        }
        // User code, called before any state says "sleeping": a panic leaves nothing to undo.
        if let Some(hook) = &self.hooks.park {
            hook();
        }
        let n = if core.run_queue_len() > 0 {
            // The park hook spawned or woke a task (tokio's `before_park_spawns_task`): run
            // it instead of sleeping.
            0
        } else if core.prepare_sleep() {
            if jobs_out && !self.blocking_jobs_out() {
                // The last job ended before we announced this sleep, so its wake-up found
                // us awake: look again (the clock may auto-advance now) instead.
                core.unsleep();
                0
            } else {
                let timeout = self.arm_park(self.timers.park_timeout());
                let n = self.poll_io(timeout);
                self.remote_ended_idle = n == 0 && core.has_remote_work();
                core.unsleep();
                n
            }
        } else {
            // Work arrived from another thread while we got ready to sleep.
            self.remote_ended_idle = true;
            0
        };
        if let Some(hook) = &self.hooks.unpark {
            hook();
        }
        n
    }

    /// Whether a `spawn_blocking` job is queued or running: a paused clock then waits for
    /// it instead of auto-advancing.
    pub(crate) fn blocking_jobs_out(&self) -> bool {
        self.fs.blocking_pool().has_jobs()
    }

    /// One scheduler pass: timers, (maybe) sockets, remote wakes, ready tasks; then, if a
    /// task or the root future yielded (`yield_now`), sockets and timers again.
    #[inline]
    pub(crate) fn pass(&mut self, core: &Core) -> TickReport {
        self.passes += 1;
        // The clock is read only when the run queue has drained, at the I/O interval, or
        // after a task spent its whole budget (long polls: the interval counts polls, not
        // their length): a busy runtime does not pay for it on every pass.
        let look = self.polls_since_io >= self.io_interval || crate::coop::take_exhausted();
        let timers_fired = if look || core.run_queue_len() == 0 {
            self.timers.process()
        } else {
            0
        };
        let io_events = if look {
            self.poll_io(Some(Duration::ZERO))
        } else {
            0
        };
        let tasks_polled = core.run_pass();
        // Something yielded (`yield_now`): as tokio's "defer", the drivers run before the
        // yielder is polled again (it waits in the run queue for the next pass). What they
        // do then is not in this pass's report (the report stays in registers).
        if crate::coop::take_yield() {
            self.drive_after_yield();
        }
        // Submits the file operations this pass queued, reaps finished ones.
        self.fs.flush();
        self.polls_since_io = self
            .polls_since_io
            .saturating_add(u32::try_from(tasks_polled).unwrap_or(u32::MAX));
        TickReport {
            tasks_polled,
            timers_fired,
            io_events,
            tasks_ready: core.run_queue_len(),
            // Filled in by `tick` only: `block_on`'s passes need no `Instant` arithmetic.
            next_timer: None,
        }
    }
}

impl Driver {
    /// The drivers' turn after a `yield_now` (see [`Driver::pass`]): fires due timers and
    /// polls the sockets without blocking. Out of line: the pass of a runtime whose tasks
    /// do not yield pays one flag test for it.
    #[cold]
    #[inline(never)]
    fn drive_after_yield(&mut self) {
        self.timers.process();
        self.poll_io(Some(Duration::ZERO));
    }
}

/// Watches for work from other threads for up to `spin`; `true` if some arrived.
pub(crate) fn spin_for_remote_work(core: &Core, spin: Duration) -> bool {
    let until = std::time::Instant::now() + spin;
    loop {
        for _ in 0..64 {
            if core.has_remote_work() {
                return true;
            }
            std::hint::spin_loop();
        }
        if std::time::Instant::now() >= until {
            return false;
        }
    }
}
