//! Shared workloads and runtime adapters for the benchmarks.
//!
//! The same code drives the criterion benches (`benches/tasks.rs`) and the quick
//! comparison binary (`src/bin/compare.rs`), so every runtime runs exactly the same
//! futures.
//!
//! Layout:
//! - [`workload`]: the futures being measured and the [`Workload`] catalogue.
//! - [`Driver`] / [`Spawn`]: the two things a runtime has to provide (drive a root
//!   future; spawn a task from inside it and await its output).
//! - [`Contender`]: every runtime/allocation-strategy pair we compare, each able to
//!   build a long-lived [`Bench`] that runs any [`Workload`] for `iters` iterations.
//!
//! Adding a workload: add a variant to [`Workload`] and an `async fn` in
//! [`workload`], then one arm in [`Pair::run`]. Adding a contender: implement
//! [`Driver`] and [`Spawn`] and add a [`Contender`] variant.
//!
//! Every workload runs inside one spawned (boxed) task rather than directly as the
//! root future of `block_on`: a game's I/O thread does its work in tasks, and some
//! runtimes (nexus-async-rt) wake the root future through an eventfd syscall, which
//! would otherwise dominate the numbers.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

pub mod nexus;
pub mod tickslab_rt;
pub mod tokio_rt;
pub mod workload;

pub use workload::Workload;

/// Slot size, in bytes, of every byte slab used by the benches (task header included).
pub const SLAB_SLOT: usize = 256;

/// Slot count of every bounded byte slab used by the benches.
///
/// Room for several of the largest batches ([`workload::BATCH`]): nexus-async-rt
/// frees a completed slab task at the end of the executor cycle, so a batch spawned
/// right after the previous one was joined (same poll) needs a second batch of slots.
pub const SLAB_CAPACITY: usize = 4096;

/// A runtime able to drive a root future to completion on the current thread.
pub trait Driver {
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

/// A long-lived runtime instance, ready to run any workload repeatedly.
pub trait Bench {
    /// Runs `workload` for `iters` iterations and returns the time measured inside
    /// the runtime (runtime construction and `block_on` entry are not included).
    fn run(&mut self, workload: Workload, iters: u64) -> Duration;
}

/// A [`Driver`] together with a [`Spawn`] strategy.
pub struct Pair<D, S> {
    driver: D,
    _spawn: std::marker::PhantomData<fn() -> S>,
}

impl<D, S> Pair<D, S> {
    /// Combines `driver` with the spawn strategy `S`.
    pub fn new(driver: D) -> Self {
        Self {
            driver,
            _spawn: std::marker::PhantomData,
        }
    }
}

impl<D: Driver, S: Spawn + 'static> Bench for Pair<D, S> {
    fn run(&mut self, workload: Workload, iters: u64) -> Duration {
        match workload {
            Workload::SpawnJoin { batch: 1 } => self
                .driver
                .run_in_task(workload::spawn_join_seq::<S>(iters)),
            Workload::SpawnJoin { batch } => self
                .driver
                .run_in_task(workload::spawn_join_batch::<S>(batch, iters)),
            Workload::Dispatch => self.driver.run_in_task(workload::dispatch::<S>(iters)),
        }
    }
}

/// Every runtime / task-allocation strategy the benches compare.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Contender {
    /// tickslab, tasks in a bounded byte slab (`spawn_slab`).
    TickslabSlab,
    /// tickslab, Box-allocated tasks (`spawn`).
    TickslabBoxed,
    /// tokio `current_thread` runtime + `LocalSet`, `spawn_local`.
    TokioLocalSet,
    /// tokio `LocalRuntime`, `spawn_local`.
    TokioLocalRuntime,
    /// nexus-async-rt 0.7, tasks in a bounded byte slab (`spawn_slab`).
    NexusSlab,
    /// nexus-async-rt 0.7, Box-allocated tasks (`spawn_boxed`).
    NexusBoxed,
}

impl Contender {
    /// All contenders, in report order.
    pub const ALL: &'static [Contender] = &[
        Contender::TickslabSlab,
        Contender::TickslabBoxed,
        Contender::TokioLocalSet,
        Contender::TokioLocalRuntime,
        Contender::NexusSlab,
        Contender::NexusBoxed,
    ];

    /// Short identifier, used as the criterion function name.
    pub fn name(self) -> &'static str {
        match self {
            Contender::TickslabSlab => "tickslab_slab",
            Contender::TickslabBoxed => "tickslab_boxed",
            Contender::TokioLocalSet => "tokio_localset",
            Contender::TokioLocalRuntime => "tokio_local_rt",
            Contender::NexusSlab => "nexus_slab",
            Contender::NexusBoxed => "nexus_boxed",
        }
    }

    /// Builds a fresh runtime for this contender.
    ///
    /// nexus-async-rt allows one live runtime per thread: drop the returned value
    /// before building the next nexus contender.
    pub fn build(self) -> Box<dyn Bench> {
        match self {
            Contender::TickslabSlab => Box::new(Pair::<_, tickslab_rt::SlabSpawn>::new(
                tickslab_rt::TickslabDriver::with_bounded_slab(),
            )),
            Contender::TickslabBoxed => Box::new(Pair::<_, tickslab_rt::BoxSpawn>::new(
                tickslab_rt::TickslabDriver::boxed_only(),
            )),
            Contender::TokioLocalSet => Box::new(Pair::<_, tokio_rt::SpawnLocal>::new(
                tokio_rt::CurrentThreadLocalSet::new(),
            )),
            Contender::TokioLocalRuntime => Box::new(Pair::<_, tokio_rt::SpawnLocal>::new(
                tokio_rt::LocalRuntimeDriver::new(),
            )),
            Contender::NexusSlab => Box::new(Pair::<_, nexus::SlabSpawn>::new(
                nexus::NexusDriver::with_bounded_slab(),
            )),
            Contender::NexusBoxed => Box::new(Pair::<_, nexus::BoxSpawn>::new(
                nexus::NexusDriver::boxed_only(),
            )),
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
