//! The workloads, their catalogue ([`Workload`]) and the futures that are the same for
//! every runtime (generic over [`Spawn`] and [`Flavor`]).
//!
//! Runtime-specific code (sockets, cross-thread channels, frames) lives in the runtime
//! modules; the arena workload in [`crate::arena`].

use std::cell::Cell;
use std::future::Future;
use std::hint::black_box;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use crate::meter::{Meter, Sample};
use crate::{Flavor, Spawn};

/// Tasks per batch in the `spawn_join/1000` workload.
pub const BATCH: usize = 1000;
/// Sleeps armed (and fired) per iteration of `timers/sleep_10k`.
pub const SLEEPS: usize = 10_000;
/// Duration of every sleep of `timers/sleep_10k` (the same on every runtime).
pub const SLEEP_FOR: Duration = Duration::from_millis(1);
/// Duration of the timeouts of `timers/timeout_*` (they never fire).
///
/// Short on purpose: nexus-async-rt's timers are fire-and-forget (a dropped `Sleep` stays
/// in the wheel until its deadline), so at millions of timeouts per second a long
/// duration would grow its wheel without bound.
pub const TIMEOUT: Duration = Duration::from_millis(50);
/// Bytes per message of the TCP echo and UDP ping-pong.
pub const MSG: usize = 64;
/// Untimed round trips before the measured window of the socket workloads.
pub const NET_WARMUP: u64 = 100;
/// Tasks per frame in `frame/tasks_100`.
pub const FRAME_TASKS: usize = 100;
/// Allocations per frame in `frame/alloc_1000`.
pub const ARENA_ALLOCS: usize = 1000;
/// Capacity of each cross-thread channel in `cross/round_trip`.
pub const CROSS_CAPACITY: usize = 64;
/// Values alive at once in `pool/batch_1000` and `pool/sync_return_1000` (and the pools'
/// capacity in every pool workload).
pub const POOL_BATCH: usize = 1000;

/// `127.0.0.1:0`: a loopback address with a port chosen by the OS.
pub fn localhost() -> std::net::SocketAddr {
    (std::net::Ipv4Addr::LOCALHOST, 0).into()
}

/// A measured workload. One iteration = one `Bench::run` unit; [`Workload::elements`]
/// ops per iteration (an "op" is what the tables report per).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Workload {
    /// Spawn `batch` trivial tasks (each returns a `u64` on its first poll), then
    /// join them all. With `batch == 1` each task is awaited right after spawning.
    /// Op = one task.
    SpawnJoin {
        /// Tasks spawned before the first join.
        batch: usize,
    },
    /// One self-waking task: it calls `wake_by_ref` and returns `Pending` until it
    /// has been polled `iters` times. Op = one poll.
    Dispatch,
    /// Another thread wakes a task parked (with its runtime asleep in epoll) and spins
    /// until the task acknowledges through an atomic. Op = one round trip.
    RemoteWake,
    /// [`SLEEPS`] tasks, each `sleep(SLEEP_FOR).await`, then all joined. Op = one
    /// task + sleep. Reported on the runtime thread's CPU time (the wall time has a
    /// floor of [`SLEEP_FOR`] per iteration).
    SleepBatch,
    /// `timeout(TIMEOUT, ready(i)).await`: a timeout around a future that is ready at
    /// once. Op = one timeout.
    TimeoutReady,
    /// `timeout(TIMEOUT, yield_now()).await`: the inner future is pending once, so the
    /// timer is armed, then cancelled when the timeout completes. Op = one timeout.
    TimeoutArmed,
    /// A 64-byte TCP echo over loopback, client and server tasks in one runtime.
    /// Op = one round trip.
    TcpEcho,
    /// A 64-byte UDP ping-pong over loopback, both sockets' tasks in one runtime.
    /// Op = one round trip.
    UdpPingPong,
    /// [`ARENA_ALLOCS`] allocations of a 32-byte value, then all released at once
    /// (frame end, arena reset, or drops). Op = one allocation.
    ArenaAlloc,
    /// [`FRAME_TASKS`] tasks reading shared input and writing shared output, all joined:
    /// frame tasks borrowing frame data on tickslab, `'static` tasks sharing `Rc`s
    /// elsewhere. Op = one task.
    FrameTasks,
    /// Game thread → runtime (on its own thread) → game thread through two bounded
    /// cross-thread channels; the game side spins on `try_recv`. Op = one round trip.
    CrossRoundTrip,
    /// A 32-byte value placed in a pool (or a `Box`) and dropped at once, repeatedly.
    /// Op = one alloc + drop.
    PoolAllocDrop,
    /// [`POOL_BATCH`] 32-byte values placed (all alive), then all dropped. Op = one alloc +
    /// drop.
    PoolBatch,
    /// [`POOL_BATCH`] `SyncPool` boxes allocated on the measuring thread, then dropped on the
    /// same or on another thread (the batch's hand-over is not timed). Op = one alloc +
    /// drop.
    PoolSyncReturn,
}

impl Workload {
    /// Every workload, in report order.
    pub const ALL: &'static [Workload] = &[
        Workload::SpawnJoin { batch: 1 },
        Workload::SpawnJoin { batch: BATCH },
        Workload::Dispatch,
        Workload::RemoteWake,
        Workload::SleepBatch,
        Workload::TimeoutReady,
        Workload::TimeoutArmed,
        Workload::TcpEcho,
        Workload::UdpPingPong,
        Workload::ArenaAlloc,
        Workload::FrameTasks,
        Workload::CrossRoundTrip,
        Workload::PoolAllocDrop,
        Workload::PoolBatch,
        Workload::PoolSyncReturn,
    ];

    /// The workloads of the `tasks` bench: task lifecycle and dispatch.
    pub const TASKS: &'static [Workload] = &[
        Workload::SpawnJoin { batch: 1 },
        Workload::SpawnJoin { batch: BATCH },
        Workload::Dispatch,
    ];

    /// The workloads of the `wake` bench: cross-thread wakes and channels.
    pub const WAKE: &'static [Workload] = &[Workload::RemoteWake, Workload::CrossRoundTrip];

    /// The workloads of the `timers` bench.
    pub const TIMERS: &'static [Workload] = &[
        Workload::SleepBatch,
        Workload::TimeoutReady,
        Workload::TimeoutArmed,
    ];

    /// The workloads of the `net` bench.
    pub const NET: &'static [Workload] = &[Workload::TcpEcho, Workload::UdpPingPong];

    /// The workloads of the `frame` bench.
    pub const FRAME: &'static [Workload] = &[Workload::ArenaAlloc, Workload::FrameTasks];

    /// The workloads of the `pool` bench.
    pub const POOL: &'static [Workload] = &[
        Workload::PoolAllocDrop,
        Workload::PoolBatch,
        Workload::PoolSyncReturn,
    ];

    /// Identifier: the criterion group name, and what `compare --only` matches.
    pub fn id(self) -> String {
        match self {
            Workload::SpawnJoin { batch } => format!("spawn_join/{batch}"),
            Workload::Dispatch => "dispatch".to_owned(),
            Workload::RemoteWake => "remote_wake".to_owned(),
            Workload::SleepBatch => "timers/sleep_10k".to_owned(),
            Workload::TimeoutReady => "timers/timeout_ready".to_owned(),
            Workload::TimeoutArmed => "timers/timeout_armed".to_owned(),
            Workload::TcpEcho => "net/tcp_echo_64".to_owned(),
            Workload::UdpPingPong => "net/udp_ping_pong_64".to_owned(),
            Workload::ArenaAlloc => "frame/alloc_1000".to_owned(),
            Workload::FrameTasks => "frame/tasks_100".to_owned(),
            Workload::CrossRoundTrip => "cross/round_trip".to_owned(),
            Workload::PoolAllocDrop => "pool/alloc_drop".to_owned(),
            Workload::PoolBatch => "pool/batch_1000".to_owned(),
            Workload::PoolSyncReturn => "pool/sync_return_1000".to_owned(),
        }
    }

    /// Ops per iteration.
    pub fn elements(self) -> u64 {
        match self {
            Workload::SpawnJoin { batch } => batch as u64,
            Workload::SleepBatch => SLEEPS as u64,
            Workload::ArenaAlloc => ARENA_ALLOCS as u64,
            Workload::FrameTasks => FRAME_TASKS as u64,
            Workload::PoolBatch | Workload::PoolSyncReturn => POOL_BATCH as u64,
            _ => 1,
        }
    }

    /// Whether the headline number is the measuring thread's CPU time rather than wall
    /// time (only for `timers/sleep_10k`, whose wall time is mostly the sleep itself).
    pub fn cpu_metric(self) -> bool {
        matches!(self, Workload::SleepBatch)
    }

    /// The duration a criterion iteration reports for `sample`.
    pub fn metric(self, sample: &Sample) -> Duration {
        if self.cpu_metric() {
            sample.cpu
        } else {
            sample.wall
        }
    }
}

/// The trivial task: ready on its first poll with a `u64`.
#[inline]
pub async fn trivial(i: u64) -> u64 {
    black_box(i)
}

/// A future that wakes itself and returns `Pending` `remaining` times, then `Ready`.
#[derive(Debug)]
pub struct SelfWake {
    /// Pending polls left.
    pub remaining: u64,
}

impl Future for SelfWake {
    type Output = u64;

    #[inline]
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u64> {
        if self.remaining == 0 {
            return Poll::Ready(black_box(0));
        }
        self.remaining -= 1;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// `iters` times: spawn a trivial task and await it.
pub async fn spawn_join_seq<S: Spawn>(iters: u64) -> Sample {
    let meter = Meter::start();
    for i in 0..iters {
        black_box(S::spawn(trivial(i)).await);
    }
    meter.stop()
}

/// `iters` times: spawn `batch` trivial tasks, then await them all in spawn order.
pub async fn spawn_join_batch<S: Spawn>(batch: usize, iters: u64) -> Sample {
    let mut handles = Vec::with_capacity(batch);
    let meter = Meter::start();
    for _ in 0..iters {
        for i in 0..batch as u64 {
            handles.push(S::spawn(trivial(i)));
        }
        for h in handles.drain(..) {
            black_box(h.await);
        }
    }
    meter.stop()
}

/// Spawns one [`SelfWake`] task that is polled `iters` times in all and awaits it.
pub async fn dispatch<S: Spawn>(iters: u64) -> Sample {
    let meter = Meter::start();
    black_box(
        S::spawn(SelfWake {
            remaining: iters.saturating_sub(1),
        })
        .await,
    );
    meter.stop()
}

/// `iters` times: spawn [`SLEEPS`] tasks that each sleep [`SLEEP_FOR`], then join them.
pub async fn sleep_batch<S: Spawn, T: Flavor>(iters: u64) -> Sample {
    let mut handles = Vec::with_capacity(SLEEPS);
    let meter = Meter::start();
    for _ in 0..iters {
        for _ in 0..SLEEPS {
            handles.push(S::spawn(T::sleep(SLEEP_FOR)));
        }
        for h in handles.drain(..) {
            h.await;
        }
    }
    meter.stop()
}

static TIMEOUTS_FIRED: AtomicU64 = AtomicU64::new(0);

/// Timeouts of `timers/timeout_*` that elapsed although their inner future was ready
/// (at once, or after one yield) long before [`TIMEOUT`]. Zero for a correct runtime
/// that is not starved for [`TIMEOUT`].
pub fn timeouts_fired() -> u64 {
    TIMEOUTS_FIRED.load(Ordering::Relaxed)
}

#[inline]
fn check_timeout<T>(out: Option<T>) {
    if black_box(out).is_none() {
        TIMEOUTS_FIRED.fetch_add(1, Ordering::Relaxed);
    }
}

/// `iters` timeouts around a ready future.
pub async fn timeout_ready<T: Flavor>(iters: u64) -> Sample {
    let meter = Meter::start();
    for i in 0..iters {
        check_timeout(T::timeout(TIMEOUT, std::future::ready(i)).await);
    }
    meter.stop()
}

/// `iters` timeouts around `yield_now()` (armed, then cancelled).
pub async fn timeout_armed<T: Flavor>(iters: u64) -> Sample {
    let meter = Meter::start();
    for _ in 0..iters {
        check_timeout(T::timeout(TIMEOUT, T::yield_now()).await);
    }
    meter.stop()
}

/// `iters` frames' worth of [`FRAME_TASKS`] `'static` tasks sharing input and output
/// through `Rc`s (the same work as the tickslab frame-task version).
pub async fn shared_tasks<S: Spawn>(iters: u64) -> Sample {
    let input: Rc<[u64]> = (0..FRAME_TASKS as u64).collect();
    let acc = Rc::new(Cell::new(0u64));
    let mut handles = Vec::with_capacity(FRAME_TASKS);
    let meter = Meter::start();
    for _ in 0..iters {
        for i in 0..FRAME_TASKS {
            let (input, acc) = (input.clone(), acc.clone());
            handles.push(S::spawn(async move {
                acc.set(acc.get() + input[i] * 3);
            }));
        }
        for h in handles.drain(..) {
            h.await;
        }
    }
    let sample = meter.stop();
    black_box(acc.get());
    sample
}

/// Shared state of the [`RemoteWake`](Workload::RemoteWake) workload.
#[derive(Debug, Default)]
struct Doorbell {
    /// Last request number sent by the waking thread.
    request: AtomicU64,
    /// Last request number acknowledged by the task.
    ack: AtomicU64,
    /// The parked task's waker.
    waker: Mutex<Option<Waker>>,
}

/// The task side of the remote wake: acknowledges every request, parks in between.
struct Responder {
    bell: Arc<Doorbell>,
    seen: u64,
    last: u64,
}

impl Future for Responder {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        loop {
            let r = self.bell.request.load(Ordering::Acquire);
            if r != self.seen {
                self.seen = r;
                self.bell.ack.store(r, Ordering::Release);
                if r == self.last {
                    return Poll::Ready(());
                }
                continue;
            }
            {
                let mut slot = self.bell.waker.lock().expect("waker lock");
                match &*slot {
                    Some(w) if w.will_wake(cx.waker()) => {}
                    _ => *slot = Some(cx.waker().clone()),
                }
            }
            // Registered before this re-check: a request stored after it is woken.
            if self.bell.request.load(Ordering::Acquire) == self.seen {
                return Poll::Pending;
            }
        }
    }
}

/// Spins (then yields) until `done()`.
#[inline]
pub fn spin_until(mut done: impl FnMut() -> bool) {
    let mut spins = 0u32;
    while !done() {
        if spins < 4096 {
            spins += 1;
            std::hint::spin_loop();
        } else {
            std::thread::yield_now();
        }
    }
}

/// How long a cross-thread workload waits for an answer before calling it a stall
/// (a lost wake, or a runtime thread not scheduled for that long) and nudging again.
pub const STALL_AFTER: Duration = Duration::from_millis(50);

/// An answer to a cross-thread wake slower than this counts as slow (see [`slow`]).
pub const SLOW_AFTER: Duration = Duration::from_millis(1);

static STALLS: AtomicU64 = AtomicU64::new(0);
static SLOW: AtomicU64 = AtomicU64::new(0);

/// Answers to cross-thread wakes that took longer than [`SLOW_AFTER`] (runtime thread
/// not scheduled, or a wake lost and recovered by a timer).
pub fn slow() -> u64 {
    SLOW.load(Ordering::Relaxed)
}

/// Stalls seen so far by the cross-thread workloads (see [`STALL_AFTER`]). A correct
/// runtime on an idle machine has none; each one adds up to [`STALL_AFTER`] to a run.
pub fn stalls() -> u64 {
    STALLS.load(Ordering::Relaxed)
}

/// Counts one stall.
pub fn note_stall() {
    STALLS.fetch_add(1, Ordering::Relaxed);
}

/// As [`spin_until`], but gives up after [`STALL_AFTER`]: returns whether `done()`.
#[inline]
pub fn spin_until_or_stall(mut done: impl FnMut() -> bool) -> bool {
    let mut spins = 0u32;
    let mut since = None;
    loop {
        if done() {
            return true;
        }
        if spins < 4096 {
            spins += 1;
            std::hint::spin_loop();
            continue;
        }
        let t0 = *since.get_or_insert_with(std::time::Instant::now);
        let waited = t0.elapsed();
        if waited > SLOW_AFTER && spins != u32::MAX {
            spins = u32::MAX; // count once
            SLOW.fetch_add(1, Ordering::Relaxed);
        }
        if waited > STALL_AFTER {
            return false;
        }
        std::thread::yield_now();
    }
}

/// A task parks; another thread wakes it `iters` times, each time waiting (spinning)
/// for its acknowledgement. Measured on the runtime thread. A stall (no
/// acknowledgement within [`STALL_AFTER`]) is counted and the task woken again.
pub async fn remote_wake<S: Spawn>(iters: u64) -> Sample {
    if iters == 0 {
        return Sample::default();
    }
    let bell = Arc::new(Doorbell::default());
    let go = Arc::new(AtomicBool::new(false));
    let responder = S::spawn(Responder {
        bell: bell.clone(),
        seen: 0,
        last: iters,
    });
    let waker_thread = {
        let (bell, go) = (bell.clone(), go.clone());
        std::thread::spawn(move || {
            spin_until(|| go.load(Ordering::Acquire));
            for i in 1..=iters {
                bell.request.store(i, Ordering::Release);
                let ring = || {
                    if let Some(w) = &*bell.waker.lock().expect("waker lock") {
                        w.wake_by_ref();
                    }
                };
                ring();
                while !spin_until_or_stall(|| bell.ack.load(Ordering::Acquire) == i) {
                    note_stall();
                    ring();
                }
            }
        })
    };
    let meter = Meter::start();
    go.store(true, Ordering::Release);
    responder.await;
    let sample = meter.stop();
    waker_thread.join().expect("waker thread panicked");
    sample
}
