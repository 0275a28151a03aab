//! Exact heap-allocation counts for Unix sockets: after warm-up, a `UnixStream` ping-pong
//! (through `AsyncReadExt` / `AsyncWriteExt`, both tasks on one runtime) and a
//! `UnixDatagram` ping-pong make zero allocations: reads, writes, reactor waits, wakes and
//! the task polls around them.
//!
//! A file of its own: a test binary has one `#[global_allocator]`.

mod support;

use std::future::Future;
use std::time::Duration;

use tickslab_alloc::counting::{AllocStats, CountingAlloc};
use tickslab_runtime::io::{AsyncReadExt, AsyncWriteExt};
use tickslab_runtime::net::{UnixDatagram, UnixStream};
use tickslab_runtime::time::timeout;
use tickslab_runtime::*;

use support::rt_bounded;

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc::system();

const MESSAGES: usize = 10_000;
const WARMUP: usize = 200;
const MSG: usize = 64;

fn run<F: Future>(f: F) -> F::Output {
    rt_bounded::<256>(64).block_on(async {
        timeout(Duration::from_secs(30), f)
            .await
            .expect("the test hung (30 s guard)")
    })
}

fn message(i: usize) -> [u8; MSG] {
    let mut m = [i as u8; MSG];
    m[..8].copy_from_slice(&(i as u64).to_le_bytes());
    m
}

/// Runs `WARMUP` rounds, then counts the allocations of `MESSAGES` rounds.
async fn measure(mut round: impl AsyncFnMut(usize)) -> AllocStats {
    for i in 0..WARMUP {
        round(i).await;
    }
    let before = AllocStats::current_thread();
    for i in 0..MESSAGES {
        round(WARMUP + i).await;
    }
    AllocStats::current_thread().since(&before)
}

fn assert_none(what: &str, stats: AllocStats) {
    println!("{what}: {MESSAGES} round trips: {stats}");
    assert_eq!(
        stats.allocs + stats.reallocs + stats.deallocs,
        0,
        "{what}: {stats}"
    );
}

#[test]
fn unix_stream_ping_pong_allocates_nothing_after_warmup() {
    let stats = run(async {
        let (mut a, mut b) = UnixStream::pair().unwrap();
        let echo = spawn(async move {
            let mut buf = [0u8; MSG];
            while b.read_exact(&mut buf).await.is_ok() {
                b.write_all(&buf).await.unwrap();
            }
        });
        let a = &mut a;
        let stats = measure(async |i| {
            let msg = message(i);
            a.write_all(&msg).await.unwrap();
            let mut back = [0u8; MSG];
            a.read_exact(&mut back).await.unwrap();
            assert_eq!(back, msg);
        })
        .await;
        a.shutdown().await.unwrap();
        echo.await.unwrap();
        stats
    });
    assert_none("UnixStream ping-pong", stats);
}

#[test]
fn unix_datagram_ping_pong_allocates_nothing_after_warmup() {
    let stats = run(async {
        let (a, b) = UnixDatagram::pair().unwrap();
        let echo = spawn(async move {
            let mut buf = [0u8; MSG];
            for _ in 0..WARMUP + MESSAGES {
                let n = b.recv(&mut buf).await.unwrap();
                b.send(&buf[..n]).await.unwrap();
            }
            b
        });
        let a = &a;
        let stats = measure(async |i| {
            let msg = message(i);
            a.send(&msg).await.unwrap();
            let mut back = [0u8; MSG];
            assert_eq!(a.recv(&mut back).await.unwrap(), MSG);
            assert_eq!(back, msg);
        })
        .await;
        drop(echo.await.unwrap());
        stats
    });
    assert_none("UnixDatagram ping-pong", stats);
}
