//! Shared workloads and runtime adapters for the benchmarks.
//!
//! The same code drives the criterion benches (`benches/*.rs`) and the quick comparison
//! binary (`src/bin/compare.rs`), so every runtime runs exactly the same workload.
//!
//! Layout:
//! - [`workload`]: the [`Workload`] catalogue and the futures that are the same for every
//!   runtime (generic over [`Spawn`] and [`Flavor`]).
//! - [`Driver`] / [`Spawn`] / [`Flavor`]: what a runtime provides (drive a root future;
//!   spawn a task and await its output; timers, sockets and cross-thread channels).
//! - [`tickslab_rt`], [`tokio_rt`], [`nexus`]: those three for each runtime, plus the
//!   tickslab frame contender.
//! - [`arena`]: the frame-arena workload's runtime-free contenders (`FrameArena`,
//!   `Box::new`, bumpalo); [`pool`]: the pool workloads' (`Pool`, `SyncPool`, `Box::new`,
//!   fastalloc's `FixedPool`); [`cross`]: the cross-thread round trip.
//! - [`Contender`]: every runtime/strategy compared, each able to build a long-lived
//!   [`Bench`] that runs the workloads it [`supports`](Contender::supports).
//! - [`meter`]: what a run reports ([`Sample`]: wall time, CPU time, allocations inside
//!   the measured window).
//!
//! Adding a workload: a [`Workload`] variant (id, ops per iteration, whether it measures
//! latencies), the future (generic in [`workload`] or one per runtime), one arm in
//! [`Pair::run`] and in [`Contender::supports`], and its iterations in `compare`'s
//! `default_iters`. Adding a contender: implement [`Driver`], [`Spawn`] and
//! [`Flavor`] (or [`Bench`] directly) and add a [`Contender`] variant.
//!
//! Every workload runs inside one spawned (boxed) task rather than directly as the
//! root future of `block_on`: a game's I/O thread does its work in tasks, and some
//! runtimes (nexus-async-rt) wake the root future through an eventfd syscall, which
//! would otherwise dominate the numbers.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::mpsc::SyncSender;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

pub mod arena;
pub mod crit;
pub mod cross;
pub mod fs;
pub mod meter;
pub mod nexus;
pub mod pool;
pub mod tickslab_rt;
pub mod tokio_rt;
pub mod workload;

pub use meter::{Latency, Meter, Sample};
pub use workload::Workload;

/// Slot size, in bytes, of every byte slab used by the benches (task header included).
pub const SLAB_SLOT: usize = 256;

/// Slot count of every bounded byte slab used by the benches.
///
/// Room for several of the largest batches ([`workload::SLEEPS`] tasks): nexus-async-rt
/// frees a completed slab task at the end of the executor cycle, so a batch spawned
/// right after the previous one was joined (same poll) needs a second batch of slots.
pub const SLAB_CAPACITY: usize = 32 * 1024;

/// A runtime able to drive a root future to completion on the current thread.
pub trait Driver {
    /// Timers, sockets and channels of this runtime.
    type Flavor: Flavor;

    /// Runs `fut` as a task inside the runtime (spawned with the runtime's default,
    /// boxed, spawn) and returns its output once it completes.
    fn run_in_task<F>(&mut self, fut: F) -> F::Output
    where
        F: Future + 'static,
        F::Output: 'static;
}

/// A way of spawning a task onto the runtime that is currently driving us.
pub trait Spawn {
    /// Spawns `fut` and returns a future resolving to its output (panicking if the
    /// task failed).
    fn spawn<F>(fut: F) -> impl Future<Output = F::Output> + 'static
    where
        F: Future + 'static,
        F::Output: 'static;
}

/// A runtime's timers, sockets and cross-thread channels, called from inside one of its
/// tasks.
pub trait Flavor: 'static {
    /// Game-thread end of the game → runtime channel.
    type GameTx: Send + 'static;
    /// Game-thread end of the runtime → game channel.
    type GameRx: Send + 'static;
    /// The runtime's UDP socket.
    type Udp: 'static;
    /// The runtime's interval timer.
    type Interval: 'static;

    /// The runtime's `sleep(d)`.
    fn sleep(d: Duration) -> impl Future<Output = ()> + 'static;

    /// The runtime's `interval_at(start, period)`: first tick at `start`, missed ticks
    /// fired at once (burst; every runtime's default).
    fn interval_at(start: Instant, period: Duration) -> Self::Interval;

    /// The interval's next tick.
    fn tick(interval: &mut Self::Interval) -> impl Future<Output = ()> + '_;

    /// A UDP socket bound to `127.0.0.1:0`.
    fn udp_bind() -> impl Future<Output = Self::Udp> + 'static;

    /// The socket's local address.
    fn udp_local_addr(sock: &Self::Udp) -> SocketAddr;

    /// The runtime's `recv_from`.
    fn udp_recv_from<'a>(
        sock: &'a mut Self::Udp,
        buf: &'a mut [u8],
    ) -> impl Future<Output = io::Result<(usize, SocketAddr)>> + 'a;

    /// What the runtime's batched receive reuses between calls
    /// ([`Infallible`](std::convert::Infallible) where the runtime has none).
    type UdpBatch: 'static;

    /// A fresh [`UdpBatch`](Self::UdpBatch) for [`workload::UDP_BATCH`] datagrams; `None`
    /// if the runtime has no batched receive (tokio, nexus-async-rt).
    fn udp_batch() -> Option<Self::UdpBatch>;

    /// The runtime's batched receive (one `recvmmsg`): up to [`workload::UDP_BATCH`]
    /// datagrams into `bufs`, waiting for the first; returns how many.
    fn udp_recv_many<'a>(
        sock: &'a mut Self::Udp,
        batch: &'a mut Self::UdpBatch,
        bufs: &'a mut [[u8; workload::MSG]],
    ) -> impl Future<Output = io::Result<usize>> + 'a;

    /// The runtime's `timeout(d, f)`; `None` if it elapsed.
    fn timeout<F>(d: Duration, f: F) -> impl Future<Output = Option<F::Output>> + 'static
    where
        F: Future + 'static;

    /// The runtime's `yield_now()`.
    fn yield_now() -> impl Future<Output = ()> + 'static;

    /// The [`RemoteWake`](Workload::RemoteWake) workload, the responder task spawned with
    /// `S`. Default: [`workload::remote_wake`], which wakes the task's own `Waker` from
    /// the other thread.
    fn remote_wake<S: Spawn + 'static>(iters: u64) -> impl Future<Output = Sample> + 'static {
        workload::remote_wake::<S>(iters)
    }

    /// The [`RemoteWakeLatency`](Workload::RemoteWakeLatency) workload, the waiting task
    /// spawned with `S`. Default: [`workload::remote_wake_latency`], which wakes the
    /// task's own `Waker` from the other thread.
    fn remote_wake_latency<S: Spawn + 'static>(
        wakes: u64,
    ) -> impl Future<Output = Sample> + 'static {
        workload::remote_wake_latency::<S>(wakes)
    }

    /// The [`TcpEcho`](Workload::TcpEcho) workload: connects a client to a server task
    /// over loopback, warms up, then measures `iters` 64-byte round trips.
    fn tcp_echo(iters: u64) -> impl Future<Output = Sample> + 'static;

    /// The [`TcpEchoBuffered`](Workload::TcpEchoBuffered) workload: as
    /// [`tcp_echo`](Self::tcp_echo), each side reading whatever came into
    /// [`workload::READ_BUF`] bytes instead of `read_exact` of 64.
    fn tcp_echo_buffered(iters: u64) -> impl Future<Output = Sample> + 'static;

    /// The [`UdpPingPong`](Workload::UdpPingPong) workload, as [`tcp_echo`](Self::tcp_echo)
    /// with two connected UDP sockets.
    fn udp_ping_pong(iters: u64) -> impl Future<Output = Sample> + 'static;

    /// The runtime side of [`CrossRoundTrip`](Workload::CrossRoundTrip): makes the two
    /// channels (capacity [`workload::CROSS_CAPACITY`]), hands the game ends over `ends`,
    /// then echoes every message back until the game side hangs up.
    fn cross_serve(
        ends: SyncSender<(Self::GameTx, Self::GameRx)>,
    ) -> impl Future<Output = ()> + 'static;

    /// Game side: sends `v` if there is room.
    fn game_try_send(tx: &Self::GameTx, v: u64) -> bool;

    /// Game side: a message, if one is there.
    fn game_try_recv(rx: &mut Self::GameRx) -> Option<u64>;
}

/// A long-lived contender instance, ready to run any workload it supports repeatedly.
pub trait Bench {
    /// Runs `workload` for `iters` iterations and returns what was measured inside the
    /// runtime (runtime construction, `block_on` entry and per-run setup such as
    /// connecting sockets are not included).
    ///
    /// # Panics
    /// If the contender does not support `workload` (see [`Contender::supports`]).
    fn run(&mut self, workload: Workload, iters: u64) -> Sample;
}

/// A [`Driver`] together with a [`Spawn`] strategy.
pub struct Pair<D, S> {
    driver: D,
    make: fn() -> D,
    _spawn: std::marker::PhantomData<fn() -> S>,
}

impl<D, S> Pair<D, S> {
    /// Builds a driver with `make` (kept, to build more on other threads) and combines it
    /// with the spawn strategy `S`.
    pub fn new(make: fn() -> D) -> Self {
        Self {
            driver: make(),
            make,
            _spawn: std::marker::PhantomData,
        }
    }
}

impl<D: Driver + 'static, S: Spawn + 'static> Bench for Pair<D, S> {
    fn run(&mut self, workload: Workload, iters: u64) -> Sample {
        use crate::workload as w;
        type Fl<D> = <D as Driver>::Flavor;
        let d = &mut self.driver;
        match workload {
            Workload::SpawnJoin { batch: 1 } => d.run_in_task(w::spawn_join_seq::<S>(iters)),
            Workload::SpawnJoin { batch } => d.run_in_task(w::spawn_join_batch::<S>(batch, iters)),
            Workload::Dispatch => d.run_in_task(w::dispatch::<S>(iters)),
            Workload::DispatchTimers { timers } => {
                d.run_in_task(w::dispatch_timers::<S, Fl<D>>(timers, iters))
            }
            Workload::RemoteWake => d.run_in_task(Fl::<D>::remote_wake::<S>(iters)),
            Workload::RemoteWakeLatency => d.run_in_task(Fl::<D>::remote_wake_latency::<S>(iters)),
            Workload::SleepBatch => d.run_in_task(w::sleep_batch::<S, Fl<D>>(iters)),
            Workload::TimeoutReady => d.run_in_task(w::timeout_ready::<Fl<D>>(iters)),
            Workload::TimeoutArmed => d.run_in_task(w::timeout_armed::<Fl<D>>(iters)),
            Workload::SleepPrecision { micros } => d.run_in_task(w::sleep_precision::<Fl<D>>(
                Duration::from_micros(micros.into()),
                iters,
            )),
            Workload::TcpEcho => d.run_in_task(Fl::<D>::tcp_echo(iters)),
            Workload::TcpEchoBuffered => d.run_in_task(Fl::<D>::tcp_echo_buffered(iters)),
            Workload::UdpPingPong => d.run_in_task(Fl::<D>::udp_ping_pong(iters)),
            Workload::UdpBatchSingle => d.run_in_task(w::udp_batch_single::<Fl<D>>(iters)),
            Workload::UdpBatchBatched => d.run_in_task(w::udp_batch_batched::<Fl<D>>(iters)),
            Workload::FrameTasks => d.run_in_task(w::shared_tasks::<S>(iters)),
            Workload::CrossRoundTrip => cross::cross_round_trip(self.make, iters),
            Workload::FloodInterval => d.run_in_task(w::flood_interval::<S, Fl<D>>(iters)),
            Workload::ArenaAlloc
            | Workload::PoolAllocDrop
            | Workload::PoolBatch
            | Workload::PoolSyncReturn => panic!("{} needs no runtime", workload.id()),
        }
    }
}

/// Which project a contender belongs to (for the ratio columns).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// tickslab.
    Tickslab,
    /// tokio.
    Tokio,
    /// nexus-async-rt.
    Nexus,
    /// A reference without a runtime (`Box::new`, bumpalo, fastalloc).
    Reference,
}

/// Every runtime / task-allocation strategy the benches compare.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Contender {
    /// tickslab, tasks in a bounded byte slab (`spawn_slab`).
    TickslabSlab,
    /// tickslab, Box-allocated tasks (`spawn`).
    TickslabBoxed,
    /// tickslab frames: `Runtime::frame`, `Frame::alloc`, `Frame::spawn`.
    TickslabFrame,
    /// tickslab's `FrameArena` on its own (no runtime).
    TickslabArena,
    /// tokio `current_thread` runtime + `LocalSet`, `spawn_local`.
    TokioLocalSet,
    /// tokio `LocalRuntime`, `spawn_local`.
    TokioLocalRuntime,
    /// nexus-async-rt 0.7, tasks in a bounded byte slab (`spawn_slab`).
    NexusSlab,
    /// nexus-async-rt 0.7, Box-allocated tasks (`spawn_boxed`).
    NexusBoxed,
    /// `Box::new` (the arena workload's heap reference).
    StdBox,
    /// `bumpalo::Bump` (the arena workload's bump-allocator reference).
    Bumpalo,
    /// tickslab's same-thread `Pool` (no runtime).
    TickslabPool,
    /// tickslab's `SyncPool`, allocated and dropped on one thread.
    TickslabSyncPool,
    /// tickslab's `SyncPool`, allocated on one thread and dropped on another.
    TickslabSyncCross,
    /// fastalloc 1.5's `FixedPool` (the pool workloads' typed-pool reference).
    Fastalloc,
}

impl Contender {
    /// All contenders, in report order.
    pub const ALL: &'static [Contender] = &[
        Contender::TickslabSlab,
        Contender::TickslabBoxed,
        Contender::TickslabFrame,
        Contender::TickslabArena,
        Contender::TokioLocalSet,
        Contender::TokioLocalRuntime,
        Contender::NexusSlab,
        Contender::NexusBoxed,
        Contender::StdBox,
        Contender::Bumpalo,
        Contender::TickslabPool,
        Contender::TickslabSyncPool,
        Contender::TickslabSyncCross,
        Contender::Fastalloc,
    ];

    /// Short identifier, used as the criterion function name and by `compare --contender`.
    pub fn name(self) -> &'static str {
        match self {
            Contender::TickslabSlab => "tickslab_slab",
            Contender::TickslabBoxed => "tickslab_boxed",
            Contender::TickslabFrame => "tickslab_frame",
            Contender::TickslabArena => "tickslab_arena",
            Contender::TokioLocalSet => "tokio_localset",
            Contender::TokioLocalRuntime => "tokio_local_rt",
            Contender::NexusSlab => "nexus_slab",
            Contender::NexusBoxed => "nexus_boxed",
            Contender::StdBox => "std_box",
            Contender::Bumpalo => "bumpalo",
            Contender::TickslabPool => "tickslab_pool",
            Contender::TickslabSyncPool => "tickslab_syncpool",
            Contender::TickslabSyncCross => "tickslab_sync_xthr",
            Contender::Fastalloc => "fastalloc_fixed",
        }
    }

    /// The project this contender belongs to.
    pub fn family(self) -> Family {
        match self {
            Contender::TickslabSlab
            | Contender::TickslabBoxed
            | Contender::TickslabFrame
            | Contender::TickslabArena
            | Contender::TickslabPool
            | Contender::TickslabSyncPool
            | Contender::TickslabSyncCross => Family::Tickslab,
            Contender::TokioLocalSet | Contender::TokioLocalRuntime => Family::Tokio,
            Contender::NexusSlab | Contender::NexusBoxed => Family::Nexus,
            Contender::StdBox | Contender::Bumpalo | Contender::Fastalloc => Family::Reference,
        }
    }

    /// Whether this contender runs `workload` (the runtime has the feature, and the
    /// variant adds information: boxed spawns only where spawning is measured). nexus
    /// skips the cross-thread workloads unless [`nexus::cross_enabled`].
    pub fn supports(self, workload: Workload) -> bool {
        use Workload as W;
        let pool_workload = matches!(
            workload,
            W::PoolAllocDrop | W::PoolBatch | W::PoolSyncReturn
        );
        match self {
            _ if self.lacks(workload).is_some() => false,
            Contender::NexusSlab => match workload {
                W::ArenaAlloc => false,
                _ if pool_workload => false,
                W::RemoteWake | W::RemoteWakeLatency | W::CrossRoundTrip => nexus::cross_enabled(),
                _ => true,
            },
            Contender::TickslabSlab | Contender::TokioLocalSet | Contender::TokioLocalRuntime => {
                workload != W::ArenaAlloc && !pool_workload
            }
            Contender::TickslabBoxed | Contender::NexusBoxed => matches!(
                workload,
                W::SpawnJoin { .. } | W::Dispatch | W::SleepBatch | W::FrameTasks
            ),
            Contender::TickslabFrame => matches!(workload, W::ArenaAlloc | W::FrameTasks),
            Contender::TickslabArena | Contender::Bumpalo => workload == W::ArenaAlloc,
            Contender::StdBox => {
                matches!(workload, W::ArenaAlloc | W::PoolAllocDrop | W::PoolBatch)
            }
            Contender::TickslabPool | Contender::Fastalloc => {
                matches!(workload, W::PoolAllocDrop | W::PoolBatch)
            }
            Contender::TickslabSyncPool => pool_workload,
            Contender::TickslabSyncCross => workload == W::PoolSyncReturn,
        }
    }

    /// Why this contender's runtime cannot run `workload` at all (it lacks the API), for
    /// an `n/a` row in the tables; `None` if it can (it may still not be
    /// [`supports`](Self::supports)ed, where a variant adds no information).
    pub fn lacks(self, workload: Workload) -> Option<&'static str> {
        match (self, workload) {
            (
                Contender::TokioLocalSet | Contender::TokioLocalRuntime | Contender::NexusSlab,
                Workload::UdpBatchBatched,
            ) => Some("no batched UDP receive (recvmmsg) in its API"),
            _ => None,
        }
    }

    /// The tickslab contender whose numbers a workload's ratios are computed from.
    pub fn tickslab_for(workload: Workload) -> Contender {
        match workload {
            Workload::ArenaAlloc | Workload::FrameTasks => Contender::TickslabFrame,
            Workload::PoolAllocDrop | Workload::PoolBatch => Contender::TickslabPool,
            Workload::PoolSyncReturn => Contender::TickslabSyncPool,
            _ => Contender::TickslabSlab,
        }
    }

    /// Looks a contender up by [`name`](Self::name).
    pub fn from_name(name: &str) -> Option<Contender> {
        Contender::ALL.iter().copied().find(|c| c.name() == name)
    }

    /// Builds a fresh instance of this contender.
    ///
    /// nexus-async-rt allows one live runtime per thread: drop the returned value
    /// before building the next nexus contender.
    pub fn build(self) -> Box<dyn Bench> {
        match self {
            Contender::TickslabSlab => Box::new(Pair::<_, tickslab_rt::SlabSpawn>::new(
                tickslab_rt::TickslabDriver::with_bounded_slab,
            )),
            Contender::TickslabBoxed => Box::new(Pair::<_, tickslab_rt::BoxSpawn>::new(
                tickslab_rt::TickslabDriver::boxed_only,
            )),
            Contender::TickslabFrame => Box::new(tickslab_rt::FrameBench::new()),
            Contender::TickslabArena => Box::<arena::ArenaBench>::default(),
            Contender::TokioLocalSet => Box::new(Pair::<_, tokio_rt::SpawnLocal>::new(
                tokio_rt::CurrentThreadLocalSet::new,
            )),
            Contender::TokioLocalRuntime => Box::new(Pair::<_, tokio_rt::SpawnLocal>::new(
                tokio_rt::LocalRuntimeDriver::new,
            )),
            Contender::NexusSlab => Box::new(Pair::<_, nexus::SlabSpawn>::new(
                nexus::NexusDriver::with_bounded_slab,
            )),
            Contender::NexusBoxed => Box::new(Pair::<_, nexus::BoxSpawn>::new(
                nexus::NexusDriver::boxed_only,
            )),
            Contender::StdBox => Box::<arena::BoxBench>::default(),
            Contender::Bumpalo => Box::<arena::BumpaloBench>::default(),
            Contender::TickslabPool => Box::<pool::PoolBench>::default(),
            Contender::TickslabSyncPool => Box::<pool::SyncPoolBench>::default(),
            Contender::TickslabSyncCross => Box::<pool::SyncCrossBench>::default(),
            Contender::Fastalloc => Box::<pool::FastallocBench>::default(),
        }
    }
}

/// Wraps a join handle whose output is `Result<T, E>` and unwraps it, so that every
/// runtime's [`Spawn::spawn`] yields a plain `T` without an extra `async` state
/// machine.
pub struct Unwrap<H>(pub H);

impl<H, T, E> Future for Unwrap<H>
where
    H: Future<Output = Result<T, E>>,
    E: std::fmt::Debug,
{
    type Output = T;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        // SAFETY: structural pinning of the only field: `Unwrap` never moves `H` out
        // and has no `Drop` impl. (tickslab's `JoinHandle<T>` is `Unpin` only when
        // `T: Unpin`, so `Pin::new` is not available.)
        let inner = unsafe { self.map_unchecked_mut(|s| &mut s.0) };
        match inner.poll(cx) {
            Poll::Ready(r) => Poll::Ready(r.expect("benchmark task failed")),
            Poll::Pending => Poll::Pending,
        }
    }
}
