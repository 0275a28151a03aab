//! Exact heap-allocation counts for the io toolbox, with a counting global allocator.
//!
//! Once warm (wrappers made, buffers sized, the thread's copy buffers cached), every
//! toolbox call allocates nothing: `BufReader` reads, `read_line` / `read_until` into a
//! buffer with room, the number readers and writers, `BufWriter` writes and flushes,
//! `write_all_buf`, `duplex` reads and writes (with waits and wakes between two tasks),
//! `copy`, `copy_buf` and `copy_bidirectional` (per-thread spare buffers), `read_to_end`
//! into a vector with room or filled to its capacity. Made things allocate exactly what
//! their docs say: a `BufReader` its buffer, a `duplex` its two rings and two `Arc`s, a
//! cold `copy` its 8 KiB buffer.
//!
//! Why a file of its own: a test binary has exactly one `#[global_allocator]`.

mod support;

use std::time::Duration;

use tickslab_alloc::counting::{AllocStats, CountingAlloc};
use tickslab_runtime::io::{
    self as tio, AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader, BufWriter,
};
use tickslab_runtime::spawn_slab;
use tickslab_runtime::time::timeout;

use support::{allocs_during, rt_bounded};

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc::system();

const ROUNDS: usize = 1_000;
/// Only detects hangs.
const GUARD: Duration = Duration::from_secs(30);

fn run<F: std::future::Future>(f: F) -> F::Output {
    rt_bounded::<512>(16)
        .block_on(async { timeout(GUARD, f).await.expect("the test hung (30 s guard)") })
}

fn assert_none(what: &str, stats: AllocStats) {
    println!("{what}: {stats}");
    assert_eq!(stats.allocs + stats.reallocs, 0, "{what}: {stats}");
}

#[test]
fn buffered_reads_lines_and_numbers_allocate_nothing() {
    let text = "a line of text\n".repeat(ROUNDS);
    let mut numbers = Vec::new();
    for i in 0..ROUNDS as u32 {
        numbers.extend_from_slice(&i.to_be_bytes());
        numbers.extend_from_slice(&(i as u64).to_le_bytes());
    }
    run(async {
        let (mut r, stats) = allocs_during(async { BufReader::new(text.as_bytes()) }).await;
        assert_eq!(
            stats.allocs, 1,
            "a BufReader allocates its buffer once: {stats}"
        );
        let mut line = String::with_capacity(64);
        let ((), stats) = allocs_during(async {
            for _ in 0..ROUNDS {
                line.clear();
                assert_eq!(r.read_line(&mut line).await.unwrap(), 15);
            }
        })
        .await;
        assert_none("read_line x1000 through a BufReader", stats);

        let mut r = BufReader::new(&numbers[..]);
        let mut seg = Vec::with_capacity(16);
        let ((), stats) = allocs_during(async {
            for i in 0..ROUNDS as u32 {
                assert_eq!(r.read_u32().await.unwrap(), i);
                assert_eq!(r.read_u64_le().await.unwrap(), i as u64);
            }
            assert_eq!(r.read_until(b'\n', &mut seg).await.unwrap(), 0);
        })
        .await;
        assert_none("read_u32 + read_u64_le x1000", stats);

        let mut out = Vec::with_capacity(text.len() + 64);
        let (n, stats) = allocs_during(async { text.as_bytes().read_to_end(&mut out).await }).await;
        assert_eq!(n.unwrap(), text.len());
        assert_none("read_to_end into a vector with room", stats);
        // A vector filled exactly to its capacity: the end is found by the stack probe.
        let mut out = Vec::with_capacity(text.len());
        let (n, stats) = allocs_during(async { text.as_bytes().read_to_end(&mut out).await }).await;
        assert_eq!(n.unwrap(), text.len());
        assert_none("read_to_end that fills the vector exactly", stats);
    });
}

#[test]
fn buffered_writes_and_bufs_allocate_nothing() {
    run(async {
        let mut w = BufWriter::with_capacity(256, Vec::with_capacity(64 * ROUNDS));
        let ((), stats) = allocs_during(async {
            for i in 0..ROUNDS as u64 {
                w.write_u64(i).await.unwrap();
                w.write_i32_le(-(i as i32)).await.unwrap();
                w.write_all(b"tail").await.unwrap();
                let mut buf = &b"bytes::Buf"[..];
                w.write_all_buf(&mut buf).await.unwrap();
            }
            w.flush().await.unwrap();
        })
        .await;
        assert_none("BufWriter writes x4000 + flush", stats);
        assert_eq!(w.get_ref().len(), ROUNDS * (8 + 4 + 4 + 10));
    });
}

#[test]
fn duplex_and_copies_allocate_nothing_once_warm() {
    run(async {
        let (pair, stats) = allocs_during(async { tio::duplex(64) }).await;
        println!("duplex(64): {stats}");
        assert_eq!(
            stats.allocs, 4,
            "two Arc'd pipes, each with its ring: {stats}"
        );
        let (mut a, mut b) = pair;

        // Ping-pong between two tasks: waits and wakes through the pipes.
        let echo = spawn_slab(async move {
            let mut buf = [0u8; 16];
            while b.read_exact(&mut buf).await.is_ok() {
                b.write_all(&buf).await.unwrap();
            }
            b
        });
        let mut back = [0u8; 16];
        a.write_all(&[1; 16]).await.unwrap();
        a.read_exact(&mut back).await.unwrap();
        let ((), stats) = allocs_during(async {
            for i in 0..ROUNDS {
                a.write_all(&[i as u8; 16]).await.unwrap();
                a.read_exact(&mut back).await.unwrap();
                assert_eq!(back, [i as u8; 16]);
            }
        })
        .await;
        assert_none("duplex round trips x1000 between two tasks", stats);
        drop(a);
        drop(echo.await.unwrap());

        // copy: the first on a thread allocates its buffer; later ones reuse it.
        let data = vec![5u8; 100_000];
        let mut sink = tio::sink();
        let (n, stats) = allocs_during(tio::copy(&mut &data[..], &mut sink)).await;
        assert_eq!(n.unwrap(), 100_000);
        println!("a cold copy: {stats}");
        assert_eq!(
            (stats.allocs, stats.bytes_allocated),
            (2, 8192 + 16 * 16),
            "a cold copy makes its 8 KiB buffer, then the spare list of 16 takes it back"
        );
        let ((), stats) = allocs_during(async {
            for _ in 0..100 {
                tio::copy(&mut &data[..], &mut sink).await.unwrap();
            }
        })
        .await;
        assert_none("copy of 100 KB x100, warm", stats);
        // copy_buf through the reader's own buffer (the budget and the flush-while-waiting
        // state cost nothing).
        let mut r = tio::BufReader::new(&data[..]);
        let ((), stats) = allocs_during(async {
            for _ in 0..100 {
                tio::copy_buf(&mut &data[..], &mut sink).await.unwrap();
            }
            tio::copy_buf(&mut r, &mut sink).await.unwrap();
        })
        .await;
        assert_none("copy_buf x101, warm", stats);

        // A copy dropped mid-way gives its buffer back.
        let (mut full, _peer) = tio::duplex(8);
        let ((), stats) = allocs_during(async {
            for _ in 0..10 {
                let cut = timeout(Duration::ZERO, tio::copy(&mut &data[..], &mut full)).await;
                assert!(cut.is_err());
            }
        })
        .await;
        assert_none("copies dropped mid-way x10", stats);

        // copy_bidirectional through two pairs: its two buffers come from the spares (the
        // first run makes the second one).
        for round in 0..2 {
            let (mut x, mut y) = tio::duplex(64);
            let (mut z, mut w) = tio::duplex(64);
            let ((), stats) = allocs_during(async {
                let proxy = async {
                    assert_eq!(
                        tio::copy_bidirectional(&mut y, &mut z).await.unwrap(),
                        (5, 0)
                    );
                };
                let ends = async {
                    x.write_all(b"hello").await.unwrap();
                    let mut five = [0u8; 5];
                    w.read_exact(&mut five).await.unwrap();
                    x.shutdown().await.unwrap();
                    w.shutdown().await.unwrap();
                };
                futures_util::join!(proxy, ends);
            })
            .await;
            if round == 1 {
                assert_none("copy_bidirectional, warm", stats);
            } else {
                assert_eq!(stats.allocs, 1, "the second spare buffer: {stats}");
            }
        }
    });
}
