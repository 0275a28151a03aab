//! Exact heap-allocation counts on the paths the optional integrations add, with a counting
//! global allocator: after warm-up, tickslab adds no allocation to them.
//!
//! - `tokio-io`: a TCP ping-pong through tokio's `AsyncReadExt::read_exact` /
//!   `AsyncWriteExt::write_all` on the stream itself.
//! - `hyper`: a TCP ping-pong through `hyper::rt::Read::poll_read` (into hyper's cursor) and
//!   `hyper::rt::Write::poll_write`; a hyper `Timer` sleep reset in place and fired.
//! - `quinn`: what quinn calls on our runtime per datagram: `try_send`, `poll_recv`, the
//!   write poller, a timer's reset and poll.
//!
//! (quinn and hyper themselves allocate per message and per request; the examples
//! `quic_echo` and `http_assets` report those totals.) A file of its own: a test binary has
//! exactly one `#[global_allocator]`.
#![cfg(any(feature = "tokio-io", feature = "hyper", feature = "quinn"))]

mod support;

use std::future::Future;
use std::net::Ipv4Addr;
use std::time::Duration;

use tickslab_alloc::counting::{AllocStats, CountingAlloc};
use tickslab_runtime::Runtime;
use tickslab_runtime::time::timeout;

use support::rt_bounded;

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc::system();

const ROUNDS: usize = 5_000;
const WARMUP: usize = 200;
const MSG: usize = 64;
/// Only detects hangs.
const GUARD: Duration = Duration::from_secs(30);
const LOCALHOST: (Ipv4Addr, u16) = (Ipv4Addr::LOCALHOST, 0);

fn rt() -> Runtime {
    rt_bounded::<256>(64)
}

fn run<F: Future>(f: F) -> F::Output {
    rt().block_on(async { timeout(GUARD, f).await.expect("the test hung (30 s guard)") })
}

fn message(i: usize) -> [u8; MSG] {
    let mut m = [i as u8; MSG];
    m[..8].copy_from_slice(&(i as u64).to_le_bytes());
    m
}

/// Runs `WARMUP` rounds, then counts what `ROUNDS` rounds allocate; asserts zero.
async fn assert_no_allocs(what: &str, mut round: impl AsyncFnMut(usize)) {
    for i in 0..WARMUP {
        round(i).await;
    }
    let before = AllocStats::current_thread();
    for i in 0..ROUNDS {
        round(WARMUP + i).await;
    }
    let stats = AllocStats::current_thread().since(&before);
    println!("{what}: {ROUNDS} rounds, {stats}");
    assert_eq!(
        stats.allocs + stats.reallocs + stats.deallocs,
        0,
        "{what}: {stats}"
    );
}

#[cfg(any(feature = "tokio-io", feature = "hyper"))]
mod tcp {
    use tickslab_runtime::io::{AsyncReadExt, AsyncWriteExt};
    use tickslab_runtime::net::{TcpListener, TcpStream};
    use tickslab_runtime::{JoinHandle, spawn};

    use super::*;

    /// A connected client stream and an echo server task (tickslab's own traits).
    pub async fn echo_pair() -> (TcpStream, JoinHandle<()>) {
        let listener = TcpListener::bind(LOCALHOST).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            s.set_nodelay(true).unwrap();
            let mut buf = [0u8; MSG];
            while s.read_exact(&mut buf).await.is_ok() {
                s.write_all(&buf).await.unwrap();
            }
        });
        let c = TcpStream::connect(addr).await.unwrap();
        c.set_nodelay(true).unwrap();
        (c, server)
    }
}

#[cfg(feature = "tokio-io")]
#[test]
fn tokio_io_ping_pong_allocates_nothing_after_warmup() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    run(async {
        let (mut stream, server) = tcp::echo_pair().await;
        let c = &mut stream;
        assert_no_allocs("tokio-io ping-pong", async |i| {
            let msg = message(i);
            c.write_all(&msg).await.unwrap();
            let mut back = [0u8; MSG];
            c.read_exact(&mut back).await.unwrap();
            assert_eq!(back, msg);
        })
        .await;
        drop(stream); // the server sees the end of stream and returns
        server.await.unwrap();
    });
}

#[cfg(feature = "hyper")]
#[test]
fn hyper_read_and_write_allocate_nothing_after_warmup() {
    use std::future::poll_fn;
    use std::pin::Pin;

    use hyper::rt::{Read, ReadBuf, Write};

    run(async {
        let (mut stream, server) = tcp::echo_pair().await;
        let c = &mut stream;
        assert_no_allocs("hyper::rt ping-pong", async |i| {
            let msg = message(i);
            let mut sent = 0;
            while sent < MSG {
                sent += poll_fn(|cx| Pin::new(&mut *c).poll_write(cx, &msg[sent..]))
                    .await
                    .unwrap();
            }
            let mut back = [std::mem::MaybeUninit::<u8>::uninit(); MSG];
            let mut buf = ReadBuf::uninit(&mut back);
            while buf.filled().len() < MSG {
                let before = buf.filled().len();
                poll_fn(|cx| Pin::new(&mut *c).poll_read(cx, buf.unfilled()))
                    .await
                    .unwrap();
                assert!(buf.filled().len() > before, "no end of stream here");
            }
            assert_eq!(buf.filled(), &msg[..]);
        })
        .await;
        drop(stream); // the server sees the end of stream and returns
        server.await.unwrap();
    });
}

#[cfg(feature = "hyper")]
#[test]
fn a_hyper_timer_sleep_reset_in_place_allocates_nothing() {
    use hyper::rt::Timer as _;
    use tickslab_runtime::hyper::Timer;
    run(async {
        let timer = Timer;
        let mut sleep = timer.sleep(Duration::ZERO); // the one box, hyper's API
        assert_no_allocs("hyper Timer reset + fire", async |_| {
            timer.reset(&mut sleep, timer.now() + Duration::from_micros(50));
            sleep.as_mut().await;
        })
        .await;
    });
}

#[cfg(feature = "quinn")]
#[test]
fn what_quinn_calls_per_datagram_allocates_nothing_after_warmup() {
    use std::future::poll_fn;
    use std::io::IoSliceMut;
    use std::sync::Arc;
    use std::time::Instant;

    use quinn::Runtime as _;
    use quinn::udp::{RecvMeta, Transmit};
    use tickslab_runtime::quinn::Runtime;

    run(async {
        let runtime = Arc::new(Runtime::new());
        let a = runtime
            .wrap_udp_socket(std::net::UdpSocket::bind(LOCALHOST).unwrap())
            .unwrap();
        let b = runtime
            .wrap_udp_socket(std::net::UdpSocket::bind(LOCALHOST).unwrap())
            .unwrap();
        let to = b.local_addr().unwrap();
        let mut poller = a.clone().create_io_poller();
        let mut timer = runtime.new_timer(Instant::now());
        let mut recv_buf = [0u8; 2048];
        let (a, b) = (&a, &b);
        assert_no_allocs("quinn runtime per datagram", async |i| {
            let msg = message(i);
            let transmit = Transmit {
                destination: to,
                ecn: None,
                contents: &msg,
                segment_size: None,
                src_ip: None,
            };
            // quinn's way: try, and wait on the poller when the socket is full.
            loop {
                match a.try_send(&transmit) {
                    Ok(()) => break,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        poll_fn(|cx| poller.as_mut().poll_writable(cx))
                            .await
                            .unwrap();
                    }
                    Err(e) => panic!("{e}"),
                }
            }
            let mut meta = [RecvMeta::default()];
            let n = {
                let mut bufs = [IoSliceMut::new(&mut recv_buf)];
                poll_fn(|cx| b.poll_recv(cx, &mut bufs, &mut meta))
                    .await
                    .unwrap()
            };
            assert_eq!(n, 1);
            assert_eq!(&recv_buf[..meta[0].len], &msg[..]);
            timer
                .as_mut()
                .reset(runtime.now() + Duration::from_micros(20));
            poll_fn(|cx| timer.as_mut().poll(cx)).await;
        })
        .await;
    });
}
