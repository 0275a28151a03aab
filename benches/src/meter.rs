//! What one measured run reports: wall time, CPU time of the measuring thread, and heap
//! allocations (that thread, and the whole process) inside the measured window only; for
//! the latency workloads also the spread of the per-event latencies ([`Latency`]).
//!
//! Allocations are counted by [`tickslab::alloc::counting::CountingAlloc`] when a binary
//! installs it as its global allocator (the `compare` binary does; the criterion benches
//! do not, and then every count reads zero).

use std::time::{Duration, Instant};

use tickslab::alloc::counting::AllocStats;

/// The result of one measured run of a workload.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sample {
    /// Wall-clock time of the measured window.
    pub wall: Duration,
    /// CPU time (user + system) consumed by the measuring thread in the window. Lower
    /// than `wall` when that thread slept (e.g. a runtime parked in epoll waiting for a
    /// timer).
    pub cpu: Duration,
    /// Allocation calls (`alloc`, `alloc_zeroed`, `realloc`) made by the measuring thread.
    pub allocs_thread: u64,
    /// Allocation calls made by every thread of the process.
    pub allocs_process: u64,
    /// Per-event latencies, for the workloads that measure them
    /// ([`Workload::is_latency`](crate::Workload::is_latency)); `None` elsewhere.
    pub latency: Option<Latency>,
}

impl Sample {
    /// The sum of two windows (wall, CPU and allocations; the latencies are `self`'s).
    pub fn plus(self, other: Sample) -> Sample {
        Sample {
            wall: self.wall + other.wall,
            cpu: self.cpu + other.cpu,
            allocs_thread: self.allocs_thread + other.allocs_thread,
            allocs_process: self.allocs_process + other.allocs_process,
            latency: self.latency,
        }
    }
}

/// The spread of per-event latencies in one run of a latency workload: how late a wake,
/// a sleep or an interval tick came.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Latency {
    /// Events measured.
    pub events: u64,
    /// Median.
    pub p50: Duration,
    /// 99th percentile (nearest rank).
    pub p99: Duration,
    /// The slowest event.
    pub max: Duration,
    /// Events that completed before their deadline (a sleep shorter than asked, a tick
    /// before its time). A correct timer never does; 0 for the wake workload.
    pub early: u64,
    /// `flood/interval_p99`: datagrams the receiving task drained in the window (0
    /// elsewhere).
    pub received: u64,
    /// `flood/interval_p99`: datagrams the flooding thread sent in the window (0
    /// elsewhere).
    pub sent: u64,
}

impl Latency {
    /// Summarizes `nanos` (one latency per event, in nanoseconds; sorted in place).
    pub fn from_nanos(nanos: &mut [u64]) -> Latency {
        nanos.sort_unstable();
        let at = |percent: usize| {
            // Nearest rank: the smallest value with at least `percent`% of the events at or
            // below it.
            let rank = (nanos.len() * percent).div_ceil(100).max(1);
            nanos
                .get(rank - 1)
                .map_or(Duration::ZERO, |&n| Duration::from_nanos(n))
        };
        Latency {
            events: nanos.len() as u64,
            p50: at(50),
            p99: at(99),
            max: at(100),
            ..Latency::default()
        }
    }
}

/// A measured window in progress: [`Meter::start`] after the workload's setup,
/// [`Meter::stop`] before its teardown.
#[derive(Debug)]
pub struct Meter {
    wall: Instant,
    cpu: Duration,
    thread: AllocStats,
    process: AllocStats,
}

impl Meter {
    /// Opens the window on the calling thread.
    #[inline]
    pub fn start() -> Meter {
        let thread = AllocStats::current_thread();
        let process = AllocStats::process();
        let cpu = thread_cpu_time();
        Meter {
            wall: Instant::now(),
            cpu,
            thread,
            process,
        }
    }

    /// Closes the window (on the thread that opened it).
    #[inline]
    pub fn stop(self) -> Sample {
        let wall = self.wall.elapsed();
        let cpu = thread_cpu_time().saturating_sub(self.cpu);
        let thread = AllocStats::current_thread().since(&self.thread);
        let process = AllocStats::process().since(&self.process);
        Sample {
            wall,
            cpu,
            allocs_thread: thread.allocs + thread.reallocs,
            allocs_process: process.allocs + process.reallocs,
            latency: None,
        }
    }
}

/// CPU time consumed so far by the calling thread (`CLOCK_THREAD_CPUTIME_ID`).
pub fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the clock id is a constant Linux supports.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}
