//! Exact heap-allocation counts for the thread-safe `sync` primitives, with a counting
//! global allocator: after warm-up, messages and waits cost **zero** allocations (bounded
//! and unbounded `mpsc` with waiting senders and a receiver on another thread, `Notify`,
//! `Semaphore`, `Mutex`, `RwLock`, `watch`, `broadcast`, `Barrier`, `CancellationToken`);
//! a `oneshot` costs exactly one (its shared cell), as tokio's.
//!
//! A file of its own: a test binary has exactly one `#[global_allocator]`.

mod support;

use std::future::Future;
use std::sync::Arc;
use std::thread;

use tickslab_alloc::counting::{AllocStats, CountingAlloc};
use tickslab_runtime::sync::{
    Barrier, CancellationToken, Mutex, Notify, RwLock, Semaphore, broadcast, mpsc, oneshot, watch,
};
use tickslab_runtime::*;

use support::{allocs_during, rt_bounded};

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc::system();

const N: u64 = if cfg!(miri) { 60 } else { 6_000 };
const WARM_UP: u64 = 60;

fn rt() -> Runtime {
    rt_bounded::<1024>(64)
}

fn assert_zero(what: &str, stats: AllocStats) {
    println!("{what}: {stats}");
    assert_eq!(stats.allocs + stats.reallocs, 0, "{what}: {stats}");
}

#[test]
fn bounded_mpsc_with_waiting_senders_allocates_nothing_per_message() {
    let rt = rt();
    let (sum, stats) = rt.block_on(async {
        let (tx, mut rx) = mpsc::channel::<u64>(4);
        let run = async |rx: &mut mpsc::Receiver<u64>, count: u64| {
            let per = count / 3;
            let handles = [0u64, 1, 2].map(|p| {
                let tx = tx.clone();
                spawn_slab(async move {
                    for i in 0..per {
                        if i % 2 == 0 {
                            tx.send(p * per + i).await.unwrap();
                        } else {
                            tx.reserve().await.unwrap().send(p * per + i);
                        }
                    }
                })
            });
            let mut sum = 0;
            for _ in 0..3 * per {
                sum += rx.recv().await.unwrap();
            }
            for h in handles {
                h.await.unwrap();
            }
            sum
        };
        run(&mut rx, WARM_UP).await;
        allocs_during(run(&mut rx, N)).await
    });
    assert_eq!(sum, N * (N - 1) / 2);
    assert_zero("bounded mpsc, 3 waiting senders, capacity 4", stats);
}

#[test]
fn mpsc_between_a_thread_and_the_runtime_allocates_nothing_on_either_side() {
    let (tx, mut rx) = mpsc::channel::<u64>(8);
    let (back_tx, mut back_rx) = mpsc::unbounded_channel::<u64>();
    let game = thread::spawn(move || {
        // Chunks of 16 into a ring of 8: the sender parks on a full ring, the receiver on
        // an empty one; the way back never holds more than 16 (its high-water mark).
        let round = |count: u64, back_rx: &mut mpsc::UnboundedReceiver<u64>| {
            let (mut sum, mut start) = (0, 0);
            while start < count {
                let end = (start + 16).min(count);
                for i in start..end {
                    tx.blocking_send(i).unwrap();
                }
                for _ in start..end {
                    sum += back_rx.blocking_recv().unwrap();
                }
                start = end;
            }
            sum
        };
        round(WARM_UP, &mut back_rx);
        let before = AllocStats::current_thread();
        let sum = round(N, &mut back_rx);
        (sum, AllocStats::current_thread().since(&before))
    });
    let rt = rt();
    let stats = rt.block_on(async move {
        for _ in 0..WARM_UP {
            back_tx.send(rx.recv().await.unwrap()).unwrap();
        }
        allocs_during(async {
            for _ in 0..N {
                back_tx.send(rx.recv().await.unwrap()).unwrap();
            }
        })
        .await
        .1
    });
    let (sum, game_stats) = game.join().unwrap();
    assert_eq!(sum, N * (N - 1) / 2);
    assert_zero("mpsc, runtime side", stats);
    assert_zero(
        "mpsc, plain thread side (blocking_send / blocking_recv)",
        game_stats,
    );
}

#[test]
fn unbounded_mpsc_recycles_its_blocks() {
    let rt = rt();
    let stats = rt.block_on(async {
        let (tx, mut rx) = mpsc::unbounded_channel::<u64>();
        let burst = async |rx: &mut mpsc::UnboundedReceiver<u64>| {
            // Backlogs of up to 200 messages: 7 blocks at the high-water mark.
            for i in 0..200 {
                tx.send(i).unwrap();
            }
            for i in 0..200 {
                assert_eq!(rx.recv().await, Some(i));
            }
        };
        burst(&mut rx).await;
        allocs_during(async {
            for _ in 0..N / 100 {
                burst(&mut rx).await;
            }
        })
        .await
        .1
    });
    assert_zero(
        "unbounded mpsc, bursts of 200 below the high-water mark",
        stats,
    );
}

#[test]
fn oneshot_allocates_exactly_its_shared_cell() {
    let rt = rt();
    let (sum, stats) = rt.block_on(async {
        let (tx, rx) = oneshot::channel::<u64>();
        tx.send(0).unwrap();
        rx.await.unwrap();
        allocs_during(async {
            let mut sum = 0;
            for i in 0..N {
                let (tx, rx) = oneshot::channel::<u64>();
                spawn_slab(async move {
                    yield_now().await;
                    tx.send(i).unwrap();
                });
                sum += rx.await.unwrap();
            }
            sum
        })
        .await
    });
    assert_eq!(sum, N * (N - 1) / 2);
    println!("{N} oneshot channels: {stats}");
    assert_eq!(stats.allocs, N, "one allocation per channel: {stats}");
    assert_eq!(stats.reallocs, 0, "{stats}");
}

#[test]
fn notify_semaphore_mutex_rwlock_waits_allocate_nothing() {
    let rt = rt();
    let stats = rt.block_on(async {
        let notify = Arc::new(Notify::new());
        let sem = Arc::new(Semaphore::new(1));
        let mutex = Arc::new(Mutex::new(0u64));
        let rwlock = Arc::new(RwLock::new(0u64));
        let run = async |count: u64| {
            let tasks = [0, 1].map(|_| {
                let (notify, sem, mutex, rwlock) =
                    (notify.clone(), sem.clone(), mutex.clone(), rwlock.clone());
                spawn_slab(async move {
                    for _ in 0..count {
                        notify.notified().await;
                        let _p = sem.acquire().await.unwrap();
                        let mut g = mutex.lock().await;
                        yield_now().await; // the other task waits on the lock
                        *g += 1;
                        drop(g);
                        *rwlock.write().await += 1;
                        let _r = rwlock.read().await;
                    }
                })
            });
            for _ in 0..2 * count {
                notify.notify_one();
                yield_now().await;
            }
            for t in tasks {
                t.await.unwrap();
            }
        };
        run(WARM_UP).await;
        allocs_during(run(N)).await.1
    });
    assert_zero(
        "Notify + Semaphore + Mutex + RwLock, 2 contending tasks",
        stats,
    );
}

#[test]
fn watch_broadcast_barrier_and_cancellation_waits_allocate_nothing() {
    let rt = rt();
    let stats = rt.block_on(async {
        let (wtx, wrx) = watch::channel(0u64);
        let (btx, brx) = broadcast::channel::<u64>(16);
        let barrier = Arc::new(Barrier::new(3));
        let token = CancellationToken::new();
        let run = async |count: u64| {
            let tasks = [0, 1].map(|_| {
                let (mut wrx, mut brx, barrier, token) = (
                    wrx.clone(),
                    brx.resubscribe(),
                    barrier.clone(),
                    token.clone(),
                );
                spawn_slab(async move {
                    let mut sum = 0;
                    for _ in 0..count {
                        wrx.changed().await.unwrap();
                        sum += brx.recv().await.unwrap();
                        barrier.wait().await;
                    }
                    let mut c = std::pin::pin!(token.cancelled());
                    std::future::poll_fn(|cx| {
                        let _ = c.as_mut().poll(cx);
                        std::task::Poll::Ready(())
                    })
                    .await;
                    sum
                })
            });
            for i in 0..count {
                yield_now().await;
                wtx.send(i).unwrap();
                btx.send(i).unwrap();
                barrier.wait().await;
            }
            let mut total = 0;
            for t in tasks {
                total += t.await.unwrap();
            }
            assert_eq!(total, count * (count - 1));
        };
        run(WARM_UP).await;
        allocs_during(run(N)).await.1
    });
    assert_zero("watch + broadcast + Barrier, 2 receiving tasks", stats);
}
