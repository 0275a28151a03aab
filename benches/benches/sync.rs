//! `sync` on one thread, tickslab vs tokio (current_thread) in one run:
//! - `sync/mpsc_ping_pong`: two tasks bounce a message over two bounded channels (send,
//!   receive and a task wake per hop): tickslab's thread-safe `sync::mpsc`, its
//!   same-thread `sync::local::mpsc`, tokio's `sync::mpsc`;
//! - `sync/mutex_uncontended`: `lock().await` + unlock of an async mutex;
//! - `sync/semaphore_handoff`: two tasks pass one permit back and forth (each acquire
//!   waits, each release wakes the other).
//!
//! Run: `cargo bench -p tickslab-benches --bench sync`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};

const HOPS: u64 = 1_000;

fn tickslab_rt() -> tickslab::Runtime {
    tickslab::Runtime::builder().slab_bounded::<512>(64).build()
}

fn tokio_rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
}

macro_rules! ping_pong {
    ($channel:path, $spawn:path) => {
        async {
            let (to_b, mut at_b) = $channel(1);
            let (to_a, mut at_a) = $channel(1);
            let b = $spawn(async move {
                while let Some(v) = at_b.recv().await {
                    if to_a.send(v + 1).await.is_err() {
                        break;
                    }
                }
            });
            let start = Instant::now();
            let mut v = 0u64;
            for _ in 0..HOPS {
                to_b.send(v).await.unwrap();
                v = at_a.recv().await.unwrap();
            }
            let took = start.elapsed();
            drop(to_b);
            let _ = b.await;
            assert_eq!(v, HOPS);
            took
        }
    };
}

/// Runs whole rounds of `HOPS` until at least `iters` round trips are done, and scales the
/// time to `iters` of them (criterion divides by `iters`).
fn rounds(iters: u64, mut round: impl FnMut() -> Duration) -> Duration {
    let n = iters.div_ceil(HOPS).max(1);
    let total: Duration = (0..n).map(|_| round()).sum();
    total.mul_f64(iters as f64 / (n * HOPS) as f64)
}

fn mpsc_ping_pong(c: &mut Criterion) {
    let mut g = c.benchmark_group("sync/mpsc_ping_pong (per round trip)");
    g.bench_function("tickslab sync::mpsc", |b| {
        let rt = tickslab_rt();
        b.iter_custom(|iters| {
            rounds(iters, || {
                rt.block_on(ping_pong!(tickslab::sync::mpsc::channel, tickslab::spawn))
            })
        })
    });
    g.bench_function("tickslab sync::local::mpsc", |b| {
        let rt = tickslab_rt();
        b.iter_custom(|iters| {
            rounds(iters, || {
                rt.block_on(ping_pong!(
                    tickslab::sync::local::mpsc::channel,
                    tickslab::spawn
                ))
            })
        })
    });
    g.bench_function("tokio sync::mpsc", |b| {
        let rt = tokio_rt();
        b.iter_custom(|iters| {
            rounds(iters, || {
                rt.block_on(ping_pong!(tokio::sync::mpsc::channel, tokio::spawn))
            })
        })
    });
    g.finish();
}

fn mutex_uncontended(c: &mut Criterion) {
    let mut g = c.benchmark_group("sync/mutex_uncontended (per lock + unlock)");
    g.bench_function("tickslab sync::Mutex", |b| {
        let rt = tickslab_rt();
        let m = tickslab::sync::Mutex::new(0u64);
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    *m.lock().await += 1;
                }
                start.elapsed()
            })
        })
    });
    g.bench_function("tokio sync::Mutex", |b| {
        let rt = tokio_rt();
        let m = tokio::sync::Mutex::new(0u64);
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    *m.lock().await += 1;
                }
                start.elapsed()
            })
        })
    });
    g.finish();
}

macro_rules! handoff {
    ($sem:expr, $spawn:path, $yield_now:path, $iters:expr) => {
        async {
            let sem = Arc::new($sem);
            let other = {
                let sem = sem.clone();
                $spawn(async move {
                    for _ in 0..$iters {
                        let p = sem.acquire().await.unwrap();
                        $yield_now().await;
                        drop(p);
                    }
                })
            };
            let start = Instant::now();
            for _ in 0..$iters {
                let p = sem.acquire().await.unwrap();
                $yield_now().await;
                drop(p);
            }
            let _ = other.await;
            start.elapsed() / 2
        }
    };
}

fn semaphore_handoff(c: &mut Criterion) {
    let mut g = c.benchmark_group("sync/semaphore_handoff (per acquire + release)");
    g.bench_function("tickslab sync::Semaphore", |b| {
        let rt = tickslab_rt();
        b.iter_custom(|iters| {
            rt.block_on(handoff!(
                tickslab::sync::Semaphore::new(1),
                tickslab::spawn,
                tickslab::yield_now,
                iters
            ))
        })
    });
    g.bench_function("tokio sync::Semaphore", |b| {
        let rt = tokio_rt();
        b.iter_custom(|iters| {
            rt.block_on(handoff!(
                tokio::sync::Semaphore::new(1),
                tokio::spawn,
                tokio::task::yield_now,
                iters
            ))
        })
    });
    g.finish();
}

criterion_group!(
    benches,
    mpsc_ping_pong,
    mutex_uncontended,
    semaphore_handoff
);
criterion_main!(benches);
