//! futures-util on tickslab with no glue: receivers and intervals as `Stream`s, senders as
//! `Sink`s, `futures::select!` over tickslab's futures without `.fuse()`, `join!`,
//! `FuturesUnordered` of join handles; and the bad paths (a sink whose receiver is gone,
//! a select over futures that ended).
//!
//! Every test runs under a generous `timeout` that only detects hangs.

mod support;

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::pin;
use std::time::Duration;

use futures_util::future::FusedFuture;
use futures_util::stream::{FusedStream, FuturesUnordered};
use futures_util::{SinkExt, StreamExt, join, select};
use tickslab_runtime::sync::cross;
use tickslab_runtime::sync::local::{mpsc, oneshot};
use tickslab_runtime::time::{interval, sleep};
use tickslab_runtime::{spawn, spawn_slab, yield_now};

use support::rt;

const GUARD: Duration = Duration::from_secs(10);

fn run<F: Future>(f: F) -> F::Output {
    rt().block_on(async {
        tickslab_runtime::time::timeout(GUARD, f)
            .await
            .expect("the test hung (10 s guard)")
    })
}

#[test]
fn receivers_are_streams_that_end_when_the_senders_go() {
    run(async {
        let (tx, rx) = mpsc::channel::<u32>(4);
        spawn(async move {
            for i in 0..10 {
                tx.send(i).await.unwrap();
            }
        });
        let got: Vec<u32> = rx.collect().await;
        assert_eq!(got, (0..10).collect::<Vec<_>>());

        let (tx, mut rx) = cross::channel::<u32>(4);
        let producer = std::thread::spawn(move || {
            for i in 0..3 {
                while tx.try_send(i).is_err() {
                    std::thread::yield_now();
                }
            }
        });
        let mut sum = 0;
        while let Some(v) = rx.next().await {
            sum += v;
        }
        producer.join().unwrap();
        assert_eq!(sum, 3);
        assert!(rx.is_terminated(), "closed and empty: terminated");
        assert_eq!(rx.next().await, None);
    });
}

#[test]
fn interval_is_a_stream_of_ticks() {
    run(async {
        let ticks: Vec<_> = interval(Duration::from_millis(1)).take(3).collect().await;
        assert_eq!(ticks.len(), 3);
        assert!(
            ticks.windows(2).all(|w| w[0] < w[1]),
            "scheduled instants increase"
        );
    });
}

#[test]
fn senders_are_sinks_and_a_gone_receiver_hands_the_item_back() {
    run(async {
        let (tx, rx) = mpsc::channel::<u32>(2);
        let consumer = spawn(rx.collect::<Vec<_>>());
        {
            let mut sink = pin!(tx.into_sink());
            let mut items = futures_util::stream::iter(0..20).map(Ok);
            sink.send_all(&mut items).await.unwrap();
            sink.close().await.unwrap();
        } // the sink and its sender go here: the stream ends
        assert_eq!(consumer.await.unwrap(), (0..20).collect::<Vec<_>>());

        // Stream::forward from one channel to another through a cross sender's sink.
        let (tx_a, rx_a) = mpsc::channel::<u32>(2);
        let (tx_b, rx_b) = cross::channel::<u32>(2);
        spawn(async move {
            for i in 0..5 {
                tx_a.send(i).await.unwrap();
            }
        });
        let forward = spawn(rx_a.map(Ok).forward(tx_b.into_sink()));
        let got: Vec<u32> = rx_b.collect().await;
        forward.await.unwrap().unwrap();
        assert_eq!(got, [0, 1, 2, 3, 4]);

        // The receiver is gone: the error carries the item back.
        let (tx, rx) = mpsc::channel::<String>(1);
        drop(rx);
        let mut sink = pin!(tx.into_sink());
        let err = sink.send("lost?".to_string()).await.unwrap_err();
        assert_eq!(err.0, "lost?");
        // Used after it failed: a clear panic.
        let res = catch_unwind(AssertUnwindSafe(|| {
            let _ = futures_util::Sink::start_send(sink.as_mut(), "again".to_string());
        }));
        assert!(res.is_err());
    });
}

#[test]
fn select_takes_tickslab_futures_without_fuse() {
    run(async {
        let (tx, mut rx) = mpsc::channel::<u32>(4);
        let (otx, mut orx) = oneshot::channel::<&str>();
        let mut handle = spawn_slab(async {
            yield_now().await;
            7
        });
        let mut long = pin!(sleep(Duration::from_secs(3600)));
        tx.send(1).await.unwrap();
        otx.send("one").unwrap();
        let mut seen = Vec::new();
        // Each branch fires once; a finished future is skipped (is_terminated) instead of
        // being polled again, and the hour-long sleep never fires.
        for _ in 0..3 {
            select! {
                v = rx.recv() => seen.push(format!("recv {v:?}")),
                s = orx => seen.push(format!("oneshot {}", s.unwrap())),
                j = handle => seen.push(format!("join {}", j.unwrap())),
                () = long => unreachable!("an hour passed"),
            }
        }
        seen.sort();
        assert_eq!(seen, ["join 7", "oneshot one", "recv Some(1)"]);
        assert!(orx.is_terminated() && handle.is_terminated());
        assert!(!long.is_terminated());

        // A sleep is terminated once it fired (a fired sleep polled again would be ready
        // again: select_biased! would take it first), and live again after a reset.
        let mut short = pin!(sleep(Duration::from_millis(1)));
        short.as_mut().await;
        assert!(short.is_terminated());
        let mut other = 0;
        for _ in 0..2 {
            futures_util::select_biased! {
                () = short => unreachable!("a fired sleep was polled again"),
                () = futures_util::future::ready(()) => other += 1,
            }
        }
        assert_eq!(other, 2);
        let deadline = short.deadline() + Duration::from_millis(1);
        short.as_mut().reset(deadline);
        assert!(!short.is_terminated());
        short.await;
    });
}

#[test]
fn recv_future_is_terminated_only_after_ready() {
    run(async {
        let (tx, mut rx) = mpsc::channel::<u32>(1);
        let mut recv = pin!(rx.recv());
        assert!(!recv.is_terminated());
        tx.send(5).await.unwrap();
        assert_eq!(recv.as_mut().await, Some(5));
        assert!(recv.is_terminated());
    });
}

#[test]
fn join_and_futures_unordered_of_join_handles() {
    run(async {
        let (a, b) = join!(spawn(async { 1 }), spawn_slab(async { 2 }));
        assert_eq!((a.unwrap(), b.unwrap()), (1, 2));
        let mut set: FuturesUnordered<_> = (0..10u64)
            .map(|i| {
                spawn(async move {
                    sleep(Duration::from_millis(10 - i)).await;
                    i
                })
            })
            .collect();
        let mut got = Vec::new();
        while let Some(r) = set.next().await {
            got.push(r.unwrap());
        }
        got.sort();
        assert_eq!(got, (0..10).collect::<Vec<_>>());
        // A panicking task comes out as a JoinError through the set, the others finish.
        let set = FuturesUnordered::new();
        set.push(spawn(async { panic!("boom") }));
        set.push(spawn(async { 3 }));
        let mut results: Vec<_> = set.collect::<Vec<_>>().await;
        results.sort_by_key(|r| r.is_ok());
        assert!(results[0].as_ref().unwrap_err().is_panic());
        assert_eq!(*results[1].as_ref().unwrap(), 3);
    });
}

#[test]
fn an_aborted_task_is_reported_once_then_terminated() {
    run(async {
        let mut h = spawn(sleep(Duration::from_secs(3600)));
        yield_now().await;
        h.abort();
        assert!(
            !h.is_terminated(),
            "the cancellation is still to be reported"
        );
        let mut got = None;
        let mut skipped = 0;
        // The abort takes effect when the runtime next runs the task: loop until the
        // handle reports it, then once more (the guard bounds the loop).
        while skipped == 0 {
            futures_util::select_biased! {
                r = h => got = Some(r.unwrap_err().is_cancelled()),
                () = futures_util::future::ready(()) => if got.is_some() { skipped += 1 },
            }
            yield_now().await;
        }
        assert_eq!(got, Some(true));
        assert!(
            h.is_terminated(),
            "polling it again would panic: select! skipped it"
        );
    });
}
