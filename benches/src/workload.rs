//! The workloads, their catalogue ([`Workload`]) and the futures that are the same for
//! every runtime (generic over [`Spawn`] and [`Flavor`]).
//!
//! Runtime-specific code (sockets, cross-thread channels, frames) lives in the runtime
//! modules; the arena workload in [`crate::arena`].

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::hint::black_box;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use crate::meter::{Latency, Meter, Sample};
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

/// The read buffer of [`Workload::TcpEchoBuffered`] (tokio's `echo` example reads into
/// 1 KiB; 4 KiB is a common `BufReader`-less choice).
pub const READ_BUF: usize = 4096;
/// Untimed round trips before the measured window of the socket workloads.
pub const NET_WARMUP: u64 = 100;
/// Tasks per frame in `frame/tasks_100`.
pub const FRAME_TASKS: usize = 100;
/// Allocations per frame in `frame/alloc_1000`.
pub const ARENA_ALLOCS: usize = 1000;
/// Capacity of each cross-thread channel in `cross/round_trip`.
pub const CROSS_CAPACITY: usize = 64;
/// Deadline of the timers held armed during `dispatch/timers_*` (they never fire).
pub const FAR: Duration = Duration::from_secs(3600);
/// What the waking thread of `remote_wake/latency` waits (spinning) after each
/// acknowledgement before the next wake, so that the runtime is asleep in epoll when
/// the wake comes (well past any spin-before-park a runtime may do).
pub const WAKE_GAP: Duration = Duration::from_micros(50);
/// Datagrams per batch in `net/udp_batch32_*`.
pub const UDP_BATCH: usize = 32;
/// Period of the interval task of `flood/interval_p99`.
pub const FLOOD_PERIOD: Duration = Duration::from_millis(1);
/// Most datagrams the flooding thread of `flood/interval_p99` sends in one run (it also
/// stops after twice the run's planned duration, see [`flood_interval`]).
pub const FLOOD_MAX_DATAGRAMS: u64 = 5_000_000;
/// What the receiving task of `flood/interval_p99` spends on each datagram (spinning),
/// as a game decoding a packet would: it makes the receiver slower than one flooding
/// thread (~1.6 µs per `send_to` on loopback on the 2-core VM of benches/README.md; a
/// bare `recv_from` is ~0.3 µs), so that the socket stays readable for the whole flood.
pub const FLOOD_WORK: Duration = Duration::from_micros(2);
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
    /// [`Dispatch`](Workload::Dispatch) while `timers` other tasks each hold a timer
    /// armed [`FAR`] in the future (`timeout(FAR, <pending>)`): what dispatch costs on a
    /// game's I/O thread, which always has timers armed. Op = one poll.
    DispatchTimers {
        /// Timers armed (one per parked task).
        timers: usize,
    },
    /// Another thread wakes a task parked (with its runtime asleep in epoll) and spins
    /// until the task acknowledges through an atomic. Op = one round trip.
    RemoteWake,
    /// Latency workload: another thread waits [`WAKE_GAP`] (the runtime parks), reads
    /// the clock, wakes a parked task; the latency is the time until the task, polled,
    /// reads the clock. Event = one wake.
    RemoteWakeLatency,
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
    /// Latency workload: `sleep(micros µs).await`, one at a time; the latency is the
    /// wall time elapsed past the asked duration (lateness), and a sleep shorter than
    /// asked counts as early. Event = one sleep.
    SleepPrecision {
        /// The asked duration, in microseconds.
        micros: u32,
    },
    /// A 64-byte TCP echo over loopback, client and server tasks in one runtime, each side
    /// reading exactly 64 bytes (`read_exact`). Op = one round trip.
    TcpEcho,
    /// The same echo in the shape of tokio's `echo` example: each side reads into a
    /// [`READ_BUF`]-byte buffer whatever has come (`read`), and echoes that. Op = one round
    /// trip.
    TcpEchoBuffered,
    /// A 64-byte UDP ping-pong over loopback, both sockets' tasks in one runtime.
    /// Op = one round trip.
    UdpPingPong,
    /// [`UDP_BATCH`] 64-byte datagrams waiting on a socket (sent from a plain std socket
    /// on the runtime thread, outside the window), received one `recv_from` at a time.
    /// Op = one datagram received.
    UdpBatchSingle,
    /// The same [`UDP_BATCH`] datagrams received with the runtime's batched receive
    /// (tickslab's `UdpSocket::recv_many`: one `recvmmsg` for all of them when they are
    /// all queued). Op = one datagram received. tokio and nexus-async-rt have no batched
    /// receive: `n/a`.
    UdpBatchBatched,
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
    /// Latency workload: a task ticking a [`FLOOD_PERIOD`] interval beside a task
    /// draining a UDP socket that another thread floods over loopback; the latency is
    /// each tick's lateness past its schedule. Event = one tick.
    FloodInterval,
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
        Workload::DispatchTimers { timers: 1 },
        Workload::DispatchTimers { timers: 1000 },
        Workload::RemoteWake,
        Workload::RemoteWakeLatency,
        Workload::SleepBatch,
        Workload::TimeoutReady,
        Workload::TimeoutArmed,
        Workload::SleepPrecision { micros: 50 },
        Workload::SleepPrecision { micros: 250 },
        Workload::SleepPrecision { micros: 1000 },
        Workload::TcpEcho,
        Workload::TcpEchoBuffered,
        Workload::UdpPingPong,
        Workload::UdpBatchSingle,
        Workload::UdpBatchBatched,
        Workload::ArenaAlloc,
        Workload::FrameTasks,
        Workload::CrossRoundTrip,
        Workload::FloodInterval,
        Workload::PoolAllocDrop,
        Workload::PoolBatch,
        Workload::PoolSyncReturn,
    ];

    /// The workloads of the `tasks` bench: task lifecycle and dispatch.
    pub const TASKS: &'static [Workload] = &[
        Workload::SpawnJoin { batch: 1 },
        Workload::SpawnJoin { batch: BATCH },
        Workload::Dispatch,
        Workload::DispatchTimers { timers: 1 },
        Workload::DispatchTimers { timers: 1000 },
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
    pub const NET: &'static [Workload] = &[
        Workload::TcpEcho,
        Workload::TcpEchoBuffered,
        Workload::UdpPingPong,
        Workload::UdpBatchSingle,
        Workload::UdpBatchBatched,
    ];

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
            Workload::DispatchTimers { timers } => format!("dispatch/timers_{timers}"),
            Workload::RemoteWake => "remote_wake".to_owned(),
            Workload::RemoteWakeLatency => "remote_wake/latency".to_owned(),
            Workload::SleepBatch => "timers/sleep_10k".to_owned(),
            Workload::TimeoutReady => "timers/timeout_ready".to_owned(),
            Workload::TimeoutArmed => "timers/timeout_armed".to_owned(),
            Workload::SleepPrecision { micros } if micros.is_multiple_of(1000) => {
                format!("timers/sleep_precision_{}ms", micros / 1000)
            }
            Workload::SleepPrecision { micros } => format!("timers/sleep_precision_{micros}us"),
            Workload::TcpEcho => "net/tcp_echo_64".to_owned(),
            Workload::TcpEchoBuffered => format!("net/tcp_echo_64_read{READ_BUF}"),
            Workload::UdpPingPong => "net/udp_ping_pong_64".to_owned(),
            Workload::UdpBatchSingle => format!("net/udp_batch{UDP_BATCH}_single"),
            Workload::UdpBatchBatched => format!("net/udp_batch{UDP_BATCH}_batched"),
            Workload::ArenaAlloc => "frame/alloc_1000".to_owned(),
            Workload::FrameTasks => "frame/tasks_100".to_owned(),
            Workload::CrossRoundTrip => "cross/round_trip".to_owned(),
            Workload::FloodInterval => "flood/interval_p99".to_owned(),
            Workload::PoolAllocDrop => "pool/alloc_drop".to_owned(),
            Workload::PoolBatch => "pool/batch_1000".to_owned(),
            Workload::PoolSyncReturn => "pool/sync_return_1000".to_owned(),
        }
    }

    /// Looks a workload up by [`id`](Self::id).
    pub fn from_id(id: &str) -> Option<Workload> {
        Workload::ALL.iter().copied().find(|w| w.id() == id)
    }

    /// Whether this is a latency workload: one run measures `iters` events one at a
    /// time and reports their spread ([`Sample::latency`]: p50, p99, max) rather than a
    /// mean time per op. Not in the criterion groups.
    pub fn is_latency(self) -> bool {
        matches!(
            self,
            Workload::RemoteWakeLatency | Workload::SleepPrecision { .. } | Workload::FloodInterval
        )
    }

    /// Ops per iteration.
    pub fn elements(self) -> u64 {
        match self {
            Workload::SpawnJoin { batch } => batch as u64,
            Workload::SleepBatch => SLEEPS as u64,
            Workload::ArenaAlloc => ARENA_ALLOCS as u64,
            Workload::FrameTasks => FRAME_TASKS as u64,
            Workload::UdpBatchSingle | Workload::UdpBatchBatched => UDP_BATCH as u64,
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

/// The task side of the remote wake: acknowledges every request, parks in between;
/// ready after `remaining` distinct requests. `on_request` sees each request first.
struct Responder<F> {
    bell: Arc<Doorbell>,
    seen: u64,
    remaining: u64,
    on_request: F,
}

impl<F: FnMut(u64) + Unpin> Future for Responder<F> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        loop {
            let r = self.bell.request.load(Ordering::Acquire);
            if r != self.seen {
                self.seen = r;
                (self.on_request)(r);
                self.bell.ack.store(r, Ordering::Release);
                self.remaining -= 1;
                if self.remaining == 0 {
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
        remaining: iters,
        on_request: |_| {},
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

/// A one-shot gate many tasks wait on (`dispatch/timers_*`): counts the waiters that
/// were polled (so the setup knows their timers are armed) and wakes them all on
/// [`open`](Gate::open).
#[derive(Debug, Default)]
struct Gate {
    open: Cell<bool>,
    polled: Cell<usize>,
    wakers: RefCell<Vec<Waker>>,
}

impl Gate {
    fn wait(self: &Rc<Self>) -> GateWait {
        GateWait {
            gate: self.clone(),
            registered: false,
        }
    }

    fn open(&self) {
        self.open.set(true);
        for w in self.wakers.take() {
            w.wake();
        }
    }
}

/// Pending until its [`Gate`] opens.
struct GateWait {
    gate: Rc<Gate>,
    registered: bool,
}

impl Future for GateWait {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.gate.open.get() {
            return Poll::Ready(());
        }
        if !self.registered {
            // Every waiter is woken once, by `open`, so the waker of the first poll is
            // the one to keep.
            self.registered = true;
            self.gate.polled.set(self.gate.polled.get() + 1);
            self.gate.wakers.borrow_mut().push(cx.waker().clone());
        }
        Poll::Pending
    }
}

/// [`dispatch`] while `timers` tasks each wait on `timeout(FAR, <gate>)`, so that
/// `timers` timers are armed for the whole window. The holders are spawned and polled
/// once before the window and released (gate opened, all joined) after it.
pub async fn dispatch_timers<S: Spawn, T: Flavor>(timers: usize, iters: u64) -> Sample {
    let gate = Rc::new(Gate::default());
    gate.wakers.borrow_mut().reserve(timers);
    let holders: Vec<_> = (0..timers)
        .map(|_| S::spawn(T::timeout(FAR, gate.wait())))
        .collect();
    // A holder's timer is armed on its first poll.
    while gate.polled.get() < timers {
        T::yield_now().await;
    }
    let sample = dispatch::<S>(iters).await;
    gate.open();
    for h in holders {
        assert!(
            h.await.is_some(),
            "a timer of {FAR:?} fired during dispatch"
        );
    }
    sample
}

/// The waking thread of `remote_wake/latency`: `wakes` times, waits [`WAKE_GAP`] after
/// the previous acknowledgement (spinning), then calls `ring(stamp)` with `stamp` the
/// nanoseconds since `base` read just before, and waits for `ack` to show it. After a
/// stall (see [`STALL_AFTER`]) it is counted and `ring(stamp)` is called again with the
/// same stamp (the task skips a stamp it has seen).
pub fn ring_with_gaps(
    base: Instant,
    wakes: u64,
    go: &AtomicBool,
    ack: &AtomicU64,
    mut ring: impl FnMut(u64),
) {
    spin_until(|| go.load(Ordering::Acquire));
    for _ in 0..wakes {
        let gap = Instant::now();
        while gap.elapsed() < WAKE_GAP {
            std::hint::spin_loop();
        }
        // Never 0 (the task's "nothing seen yet"), and strictly increasing: the stamps
        // are at least `WAKE_GAP` apart.
        let stamp = base.elapsed().as_nanos() as u64 + 1;
        ring(stamp);
        while !spin_until_or_stall(|| ack.load(Ordering::Acquire) == stamp) {
            note_stall();
            ring(stamp);
        }
    }
}

/// The task side's clock for `remote_wake/latency`: the latency of a wake rung with
/// `stamp` by [`ring_with_gaps`], read now.
#[inline]
pub fn wake_latency(base: Instant, stamp: u64) -> u64 {
    (base.elapsed().as_nanos() as u64 + 1).saturating_sub(stamp)
}

/// `remote_wake/latency` with the task's own `Waker` woken from the other thread (as
/// [`remote_wake`]); `wakes` latencies, summarized in [`Sample::latency`].
pub async fn remote_wake_latency<S: Spawn>(wakes: u64) -> Sample {
    if wakes == 0 {
        return Sample::default();
    }
    let base = Instant::now();
    let bell = Arc::new(Doorbell::default());
    let go = Arc::new(AtomicBool::new(false));
    let nanos = Rc::new(RefCell::new(Vec::with_capacity(wakes as usize)));
    let responder = {
        let nanos = nanos.clone();
        S::spawn(Responder {
            bell: bell.clone(),
            seen: 0,
            remaining: wakes,
            on_request: move |stamp| nanos.borrow_mut().push(wake_latency(base, stamp)),
        })
    };
    let waker_thread = {
        let (bell, go) = (bell.clone(), go.clone());
        std::thread::spawn(move || {
            ring_with_gaps(base, wakes, &go, &bell.ack, |stamp| {
                bell.request.store(stamp, Ordering::Release);
                if let Some(w) = &*bell.waker.lock().expect("waker lock") {
                    w.wake_by_ref();
                }
            });
        })
    };
    let meter = Meter::start();
    go.store(true, Ordering::Release);
    responder.await;
    let mut sample = meter.stop();
    waker_thread.join().expect("waker thread panicked");
    sample.latency = Some(Latency::from_nanos(&mut nanos.borrow_mut()));
    sample
}

/// `iters` sleeps of `d`, one at a time, each timed from just before the sleep is made
/// to just after it completes; the lateness (elapsed − `d`) is summarized, and sleeps
/// shorter than `d` counted as early.
pub async fn sleep_precision<T: Flavor>(d: Duration, iters: u64) -> Sample {
    let mut late = Vec::with_capacity(iters as usize);
    let mut early = 0;
    let meter = Meter::start();
    for _ in 0..iters {
        let t0 = Instant::now();
        T::sleep(d).await;
        let elapsed = t0.elapsed();
        if elapsed < d {
            early += 1;
        }
        late.push(elapsed.saturating_sub(d).as_nanos() as u64);
    }
    let mut sample = meter.stop();
    sample.latency = Some(Latency {
        early,
        ..Latency::from_nanos(&mut late)
    });
    sample
}

/// `iters` batches: [`UDP_BATCH`] datagrams sent to the runtime's socket from a plain
/// std socket on this thread (outside the window), then received with one `recv_from`
/// each (inside). The sample sums the receive windows (each adds one `Meter` start and
/// stop, ~0.5 µs, to [`UDP_BATCH`] receives). One untimed batch first.
pub async fn udp_batch_single<T: Flavor>(iters: u64) -> Sample {
    udp_batch::<T>(iters, false).await
}

/// As [`udp_batch_single`], the batch received with the runtime's batched receive
/// ([`Flavor::udp_recv_many`]), called until all [`UDP_BATCH`] datagrams are in (once,
/// when they are all queued).
pub async fn udp_batch_batched<T: Flavor>(iters: u64) -> Sample {
    udp_batch::<T>(iters, true).await
}

async fn udp_batch<T: Flavor>(iters: u64, batched: bool) -> Sample {
    let mut sock = T::udp_bind().await;
    let to = T::udp_local_addr(&sock);
    let tx = std::net::UdpSocket::bind(localhost()).expect("bind");
    let mut batch = batched.then(|| T::udp_batch().expect("no batched receive"));
    let out = [7u8; MSG];
    let mut bufs = [[0u8; MSG]; UDP_BATCH];
    let mut total = Sample::default();
    for round in 0..=iters {
        for _ in 0..UDP_BATCH {
            tx.send_to(&out, to).expect("send_to");
        }
        let meter = Meter::start();
        match batch.as_mut() {
            Some(batch) => {
                let mut got = 0;
                while got < UDP_BATCH {
                    got += T::udp_recv_many(&mut sock, batch, &mut bufs[got..])
                        .await
                        .expect("recv_many");
                }
            }
            None => {
                for buf in &mut bufs {
                    let (n, _) = T::udp_recv_from(&mut sock, buf).await.expect("recv_from");
                    debug_assert_eq!(n, MSG);
                }
            }
        }
        let sample = meter.stop();
        if round > 0 {
            total = total.plus(sample);
        }
    }
    black_box(bufs);
    total
}

/// `flood/interval_p99`: a task drains a UDP socket (spending [`FLOOD_WORK`] on each
/// datagram) while another thread floods it over loopback (as fast as `send_to` goes):
/// the socket is never empty, so a receive loop never has to wait. Meanwhile this task
/// takes `ticks` ticks of a
/// [`FLOOD_PERIOD`] interval (missed ticks: burst, so each tick keeps its slot in the
/// schedule) and records each tick's lateness past its slot. The window is the ticks;
/// the flood stops when they are done, after twice their planned duration, or after
/// [`FLOOD_MAX_DATAGRAMS`], whichever comes first. [`Latency::received`] and
/// [`Latency::sent`] count the datagrams of the window.
///
/// Afterwards the receiving task is stopped through a flag it checks after every
/// datagram; the flooding thread sends one datagram per millisecond until it has.
pub async fn flood_interval<S: Spawn, T: Flavor>(ticks: u64) -> Sample {
    let mut sock = T::udp_bind().await;
    let to = T::udp_local_addr(&sock);
    let received = Rc::new(Cell::new(0u64));
    let stop = Rc::new(Cell::new(false));
    let go = Arc::new(AtomicBool::new(false));
    let ticks_done = Arc::new(AtomicBool::new(false));
    let receiver_gone = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicU64::new(0));
    let receiver = {
        let (received, stop, gone) = (received.clone(), stop.clone(), receiver_gone.clone());
        // Boxed (before the window): socket, buffer and `recv_from` future together
        // outgrow a slab slot of `SLAB_SLOT` bytes.
        S::spawn(Box::pin(async move {
            let mut buf = [0u8; MSG];
            loop {
                T::udp_recv_from(&mut sock, &mut buf)
                    .await
                    .expect("recv_from");
                received.set(received.get() + 1);
                let handling = Instant::now();
                while handling.elapsed() < FLOOD_WORK {
                    std::hint::spin_loop();
                }
                if stop.get() {
                    break;
                }
            }
            drop(sock);
            gone.store(true, Ordering::Release);
        }))
    };
    let flood_for = FLOOD_PERIOD * 2 * u32::try_from(ticks).unwrap_or(u32::MAX);
    let flooder = {
        let (go, done, gone, sent) = (
            go.clone(),
            ticks_done.clone(),
            receiver_gone.clone(),
            sent.clone(),
        );
        std::thread::spawn(move || {
            let tx = std::net::UdpSocket::bind(localhost()).expect("bind");
            let out = [3u8; MSG];
            spin_until(|| go.load(Ordering::Acquire));
            let t0 = Instant::now();
            let mut n = 0u64;
            // The flood. Loopback drops what the receiver's buffer cannot hold; errors
            // (ENOBUFS) are ignored the same way.
            while !done.load(Ordering::Relaxed)
                && n < FLOOD_MAX_DATAGRAMS
                && (!n.is_multiple_of(256) || t0.elapsed() < flood_for)
            {
                let _ = tx.send_to(&out, to);
                n += 1;
                sent.store(n, Ordering::Relaxed);
            }
            // Nudges until the receiver has seen its stop flag.
            while !gone.load(Ordering::Acquire) {
                let _ = tx.send_to(&out, to);
                std::thread::sleep(Duration::from_millis(1));
            }
        })
    };
    let mut late = Vec::with_capacity(ticks as usize);
    let mut early = 0;
    let start = Instant::now() + FLOOD_PERIOD;
    let mut interval = T::interval_at(start, FLOOD_PERIOD);
    let meter = Meter::start();
    go.store(true, Ordering::Release);
    let mut slot = start;
    for _ in 0..ticks {
        T::tick(&mut interval).await;
        let now = Instant::now();
        if now < slot {
            early += 1;
        }
        late.push(now.saturating_duration_since(slot).as_nanos() as u64);
        slot += FLOOD_PERIOD;
    }
    let mut sample = meter.stop();
    let (got, flooded) = (received.get(), sent.load(Ordering::Relaxed));
    ticks_done.store(true, Ordering::Relaxed);
    stop.set(true);
    receiver.await;
    flooder.join().expect("flooding thread panicked");
    sample.latency = Some(Latency {
        early,
        received: got,
        sent: flooded,
        ..Latency::from_nanos(&mut late)
    });
    sample
}
