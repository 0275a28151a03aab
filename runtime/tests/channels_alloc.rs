//! Exact heap-allocation counts for the channels, with a counting global allocator.
//!
//! A channel allocates when it is made and never after: local `mpsc` messages (including
//! senders waiting for room), and `cross` messages each way between a game thread and the
//! runtime thread (both threads measured) cost zero allocations after warm-up. A `oneshot`
//! costs exactly one allocation (its shared cell) per channel.
//!
//! Why a file of its own (not in `channels.rs`): a test binary has exactly one
//! `#[global_allocator]`, so counting-allocator tests get their own binaries.

mod support;

use std::thread;

use tickslab_alloc::counting::{AllocStats, CountingAlloc};
use tickslab_runtime::sync::cross;
use tickslab_runtime::sync::local::mpsc::error::{TryRecvError, TrySendError};
use tickslab_runtime::sync::local::{mpsc, oneshot};
use tickslab_runtime::*;

use support::{allocs_during, rt_bounded};

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc::system();

const N: u64 = if cfg!(miri) { 100 } else { 10_000 };
const WARM_UP: u64 = 100;

/// The same slab as `channels.rs`.
fn rt() -> Runtime {
    rt_bounded::<512>(64)
}

#[test]
fn local_mpsc_messages_allocate_nothing_after_creation() {
    let rt = rt();
    let (sum, stats) = rt.block_on(async {
        // Small capacity, three producers: senders keep waiting for room.
        let (tx, mut rx) = mpsc::channel::<u64>(8);
        let run = async |rx: &mut mpsc::Receiver<u64>, count: u64| {
            let per = count / 4;
            let handles = [0u64, 1, 2].map(|p| {
                let tx = tx.clone();
                spawn_slab(async move {
                    for i in 0..per {
                        tx.send(p * per + i).await.unwrap();
                    }
                })
            });
            // The fourth quarter goes through `try_send`, yielding while full.
            let tx = tx.clone();
            let last = spawn_slab(async move {
                for i in 0..per {
                    let mut v = 3 * per + i;
                    loop {
                        match tx.try_send(v) {
                            Ok(()) => break,
                            Err(TrySendError::Full(back)) => {
                                v = back;
                                yield_now().await;
                            }
                            Err(TrySendError::Closed(_)) => panic!("closed"),
                        }
                    }
                }
            });
            let mut sum = 0;
            for _ in 0..4 * per {
                sum += rx.recv().await.unwrap();
            }
            for h in handles {
                h.await.unwrap();
            }
            last.await.unwrap();
            assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
            sum
        };
        run(&mut rx, WARM_UP).await;
        allocs_during(run(&mut rx, N)).await
    });
    assert_eq!(sum, N * (N - 1) / 2);
    println!("local mpsc, {N} messages (3 waiting senders + 1 try_send, capacity 8): {stats}");
    assert_eq!(stats.allocs + stats.reallocs, 0, "{stats}");
}

#[test]
fn oneshot_allocates_exactly_its_shared_cell() {
    let rt = rt();
    let (sum, stats) = rt.block_on(async {
        let (tx, rx) = oneshot::channel::<u64>();
        tx.send(0).unwrap();
        rx.await.unwrap(); // warm-up
        allocs_during(async {
            let mut sum = 0;
            for i in 0..N {
                let (tx, rx) = oneshot::channel::<u64>();
                if i % 2 == 0 {
                    // The receiver waits for a task that sends later.
                    spawn_slab(async move {
                        yield_now().await;
                        tx.send(i).unwrap();
                    });
                } else {
                    tx.send(i).unwrap();
                }
                sum += rx.await.unwrap();
            }
            sum
        })
        .await
    });
    assert_eq!(sum, N * (N - 1) / 2);
    println!("{N} oneshot channels, each a send and a receive: {stats}");
    assert_eq!(stats.allocs, N, "one allocation per channel: {stats}");
    assert_eq!(stats.deallocs, N, "{stats}");
    assert_eq!(stats.reallocs, 0, "{stats}");
}

/// The game thread's side of one exchange: sends `count` messages up with `try_send`
/// (retrying a full ring), and takes `count` down with `drain`/`try_recv`. Returns the
/// sum of what came down.
fn game_exchange(up: &cross::Sender<u64>, down: &mut cross::Receiver<u64>, count: u64) -> u64 {
    let (mut sent, mut got, mut sum) = (0u64, 0u64, 0u64);
    while sent < count || got < count {
        let mut progress = false;
        if sent < count {
            match up.try_send(sent) {
                Ok(()) => {
                    sent += 1;
                    progress = true;
                }
                Err(TrySendError::Full(_)) => {}
                Err(TrySendError::Closed(_)) => panic!("closed"),
            }
        }
        // Not past `count`: the runtime may already be sending the next round.
        for v in down.drain().take((count - got) as usize) {
            sum += v;
            got += 1;
            progress = true;
        }
        if !progress {
            thread::yield_now();
        }
    }
    sum
}

/// The runtime's side: a task sends `count` down with `send().await` (waiting for room),
/// the caller receives `count` up with `recv().await`. Returns the sum of what came up.
async fn runtime_exchange(
    down: &cross::Sender<u64>,
    up: &mut cross::Receiver<u64>,
    count: u64,
) -> u64 {
    let down = down.clone();
    let sender = spawn_slab(async move {
        for i in 0..count {
            down.send(i).await.unwrap();
        }
    });
    let mut sum = 0;
    for _ in 0..count {
        sum += up.recv().await.unwrap();
    }
    sender.await.unwrap();
    sum
}

#[test]
fn cross_messages_each_way_allocate_nothing_on_either_thread() {
    let rt = rt();
    // Small rings so both sides keep meeting a full ring and waiting.
    let (up_tx, mut up_rx) = cross::channel::<u64>(16);
    let (down_tx, mut down_rx) = cross::channel::<u64>(16);
    let game = thread::spawn(move || {
        assert_eq!(
            game_exchange(&up_tx, &mut down_rx, WARM_UP),
            WARM_UP * (WARM_UP - 1) / 2
        );
        let before = AllocStats::current_thread();
        let sum = game_exchange(&up_tx, &mut down_rx, N);
        let stats = AllocStats::current_thread().since(&before);
        (sum, stats)
    });
    let (sum, stats) = rt.block_on(async {
        let warm = runtime_exchange(&down_tx, &mut up_rx, WARM_UP).await;
        assert_eq!(warm, WARM_UP * (WARM_UP - 1) / 2);
        allocs_during(runtime_exchange(&down_tx, &mut up_rx, N)).await
    });
    let (game_sum, game_stats) = game.join().unwrap();
    let expected = N * (N - 1) / 2;
    assert_eq!((sum, game_sum), (expected, expected));
    let s = rt.stats();
    println!("cross, {N} messages each way, runtime thread: {stats}");
    println!("cross, {N} messages each way, game thread: {game_stats}");
    println!(
        "runtime: {} parks, {} remote wakes",
        s.parks, s.remote_wakes
    );
    assert_eq!(stats.allocs + stats.reallocs, 0, "runtime thread: {stats}");
    assert_eq!(
        game_stats.allocs + game_stats.reallocs,
        0,
        "game thread: {game_stats}"
    );
}

#[test]
fn channel_creation_is_the_only_allocation() {
    let ((), stats) = tickslab_alloc::counting::count_allocs(|| {
        let (tx, rx) = mpsc::channel::<u64>(64);
        drop((tx, rx));
    });
    println!("mpsc::channel(64): {stats}");
    assert_eq!(stats.allocs, 2, "shared state + ring buffer: {stats}");
    let ((), stats) = tickslab_alloc::counting::count_allocs(|| {
        let (tx, rx) = cross::channel::<u64>(64);
        drop((tx, rx));
    });
    println!("cross::channel(64): {stats}");
    assert_eq!(stats.allocs, 2, "shared state + ring: {stats}");
}
