//! The futures being measured, written once and generic over the runtime's [`Spawn`].

use std::future::Future;
use std::hint::black_box;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use crate::Spawn;

/// Tasks per batch in the `spawn_join/1000` workload.
pub const BATCH: usize = 1000;

/// A measured workload. One iteration = one "op" as reported by the benches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Workload {
    /// Spawn `batch` trivial tasks (each returns a `u64` on its first poll), then
    /// join them all. With `batch == 1` each task is awaited right after spawning.
    /// One iteration = one batch.
    SpawnJoin {
        /// Tasks spawned before the first join.
        batch: usize,
    },
    /// One self-waking task: it calls `wake_by_ref` and returns `Pending` until it
    /// has been polled `iters` times. One iteration = one poll.
    Dispatch,
}

impl Workload {
    /// The workloads of the `tasks` bench, in report order.
    pub const TASKS: &'static [Workload] = &[
        Workload::SpawnJoin { batch: 1 },
        Workload::SpawnJoin { batch: BATCH },
        Workload::Dispatch,
    ];

    /// Criterion group name, e.g. `spawn_join/1000`.
    pub fn id(self) -> String {
        match self {
            Workload::SpawnJoin { batch } => format!("spawn_join/{batch}"),
            Workload::Dispatch => "dispatch".to_owned(),
        }
    }

    /// Elements (tasks or polls) per iteration, for throughput reporting.
    pub fn elements(self) -> u64 {
        match self {
            Workload::SpawnJoin { batch } => batch as u64,
            Workload::Dispatch => 1,
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

/// `iters` times: spawn a trivial task and await it. Returns the elapsed time.
pub async fn spawn_join_seq<S: Spawn>(iters: u64) -> Duration {
    let start = Instant::now();
    for i in 0..iters {
        black_box(S::spawn(trivial(i)).await);
    }
    start.elapsed()
}

/// `iters` times: spawn `batch` trivial tasks, then await them all in spawn order.
/// Returns the elapsed time.
pub async fn spawn_join_batch<S: Spawn>(batch: usize, iters: u64) -> Duration {
    let mut handles = Vec::with_capacity(batch);
    let start = Instant::now();
    for _ in 0..iters {
        for i in 0..batch as u64 {
            handles.push(S::spawn(trivial(i)));
        }
        for h in handles.drain(..) {
            black_box(h.await);
        }
    }
    start.elapsed()
}

/// Spawns one [`SelfWake`] task that is polled `iters` times in all and awaits it.
/// Returns the elapsed time.
pub async fn dispatch<S: Spawn>(iters: u64) -> Duration {
    let start = Instant::now();
    black_box(
        S::spawn(SelfWake {
            remaining: iters.saturating_sub(1),
        })
        .await,
    );
    start.elapsed()
}
