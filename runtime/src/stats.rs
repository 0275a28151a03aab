//! What a runtime reports: [`RuntimeStats`] for a debug overlay, [`TickReport`] per tick.

use crate::context;
use crate::core::CoreStats;

/// What one [`Runtime::tick`](crate::Runtime::tick) did.
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

/// A snapshot of a runtime's counters ([`Runtime::stats`](crate::Runtime::stats), or [`RuntimeStats::current`]
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
    /// Spins before parking (see [`Builder::park_spin`](crate::Builder::park_spin)) that
    /// found work, saving a sleep and the waking thread's eventfd write.
    pub park_spins_hit: u64,
    /// Spins before parking that found nothing (the runtime then slept).
    pub park_spins_empty: u64,
    /// Wakes that came from another thread (or from outside the runtime).
    pub remote_wakes: u64,
    /// Wakes on the runtime's own thread that queued a task.
    pub local_wakes: u64,
    /// Scheduler passes (ticks).
    pub passes: u64,
    /// Frame-arena bytes the last [`Runtime::frame`](crate::Runtime::frame) used.
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
    /// Threads of the blocking pool alive now (running or idle).
    pub blocking_threads: usize,
    /// Blocking-pool threads idle now.
    pub blocking_idle: usize,
    /// Jobs and file operations waiting for a blocking thread.
    pub blocking_queued: usize,
    /// Blocking-pool threads ever started.
    pub blocking_threads_started: u64,
    /// File operations in flight (their slots taken; at most `Builder::fs_depth`).
    pub fs_ops_in_flight: usize,
}

impl RuntimeStats {
    pub(crate) fn from_parts(
        core: CoreStats,
        timers_armed: usize,
        sockets: usize,
        blocking: crate::blocking::PoolCounts,
        fs_ops_in_flight: usize,
    ) -> Self {
        RuntimeStats {
            tasks_live: core.tasks_live,
            tasks_spawned: core.tasks_spawned,
            tasks_completed: core.tasks_completed,
            polls: core.polls,
            parks: core.parks,
            park_spins_hit: core.park_spins_hit,
            park_spins_empty: core.park_spins_empty,
            remote_wakes: core.remote_wakes,
            local_wakes: core.local_wakes,
            passes: core.passes,
            frame_bytes: core.frame_bytes,
            run_queue_len: core.run_queue_len,
            slab_slot_size: core.slab_slot_size,
            slab_capacity: core.slab_capacity,
            slab_used: core.slab_used,
            slab_peak: core.slab_peak,
            timers_armed,
            sockets,
            blocking_threads: blocking.threads,
            blocking_idle: blocking.idle,
            blocking_queued: blocking.queued,
            blocking_threads_started: blocking.spawned_total,
            fs_ops_in_flight,
        }
    }

    /// The counters of the runtime current on this thread (from inside a task), if one is
    /// entered and alive (`None` once it has been dropped).
    pub fn current() -> Option<RuntimeStats> {
        // SAFETY: reading counters runs no user code.
        let core = unsafe { context::with_core((), |c, ()| c.stats()) }.ok()?;
        Some(RuntimeStats::from_parts(
            core,
            crate::time::current_armed(),
            crate::io::reactor::current_registered(),
            crate::blocking::current_pool()
                .map(|p| p.counts())
                .unwrap_or_default(),
            crate::fs::current_in_flight(),
        ))
    }
}
