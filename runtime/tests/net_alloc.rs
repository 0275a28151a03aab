//! Exact heap-allocation counts for socket operations, with a counting global allocator.
//!
//! After warm-up (sockets created, tasks spawned, first round trips done), TCP and UDP
//! ping-pongs between two tasks on one runtime must make zero allocations: reads, writes,
//! waits in the reactor, wakes, and the task polls around them; so must UDP batches
//! (`recv_many` / `send_many_to` through caller-owned `RecvBatch` / `SendBatch`). Counts
//! are per thread, and both tasks run on this one.
//!
//! Why a file of its own (not in `net.rs`): a test binary has exactly one
//! `#[global_allocator]`, so counting-allocator tests get their own binaries.

mod support;

use std::future::Future;
use std::io::ErrorKind;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use tickslab_alloc::counting::{AllocStats, CountingAlloc};
use tickslab_runtime::io::{AsyncReadExt, AsyncWriteExt};
use tickslab_runtime::net::{RecvBatch, SendBatch, TcpListener, TcpStream, UdpSocket};
use tickslab_runtime::time::timeout;
use tickslab_runtime::*;

use support::rt_bounded;

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc::system();

const MESSAGES: usize = 10_000;
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

/// What the measured loop made, and how long it took.
struct Measured {
    stats: AllocStats,
    elapsed: Duration,
}

impl Measured {
    fn report(&self, what: &str) {
        println!(
            "{what}: {MESSAGES} round trips of {MSG} B in {:?} ({:.1} us each), {} ({:.4} allocations per message)",
            self.elapsed,
            self.elapsed.as_secs_f64() * 1e6 / MESSAGES as f64,
            self.stats,
            (self.stats.allocs + self.stats.reallocs) as f64 / MESSAGES as f64,
        );
        assert_eq!(
            self.stats.allocs + self.stats.reallocs + self.stats.deallocs,
            0,
            "{what}: {}",
            self.stats
        );
    }
}

/// Runs `WARMUP` rounds, then measures `MESSAGES` rounds.
async fn measure(mut round: impl AsyncFnMut(usize)) -> Measured {
    for i in 0..WARMUP {
        round(i).await;
    }
    let before = AllocStats::current_thread();
    let start = Instant::now();
    for i in 0..MESSAGES {
        round(WARMUP + i).await;
    }
    let elapsed = start.elapsed();
    Measured {
        stats: AllocStats::current_thread().since(&before),
        elapsed,
    }
}

#[test]
fn tcp_ping_pong_allocates_nothing_after_warmup() {
    let m = run(async {
        let listener = TcpListener::bind(LOCALHOST).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            s.set_nodelay(true).unwrap();
            let mut buf = [0u8; MSG];
            loop {
                match s.read_exact(&mut buf).await {
                    Ok(_) => s.write_all(&buf).await.unwrap(),
                    Err(e) if e.kind() == ErrorKind::UnexpectedEof => return,
                    Err(e) => panic!("{e}"),
                }
            }
        });
        let client = spawn(async move {
            let mut c = TcpStream::connect(addr).await.unwrap();
            c.set_nodelay(true).unwrap();
            let c = &mut c;
            measure(async |i| {
                let msg = message(i);
                c.write_all(&msg).await.unwrap();
                let mut back = [0u8; MSG];
                c.read_exact(&mut back).await.unwrap();
                assert_eq!(back, msg);
            })
            .await
        });
        let m = client.await.unwrap();
        server.await.unwrap();
        m
    });
    m.report("TCP ping-pong");
}

#[test]
fn tcp_owned_halves_and_try_read_allocate_nothing_after_warmup() {
    let m = run(async {
        let listener = TcpListener::bind(LOCALHOST).await.unwrap();
        let addr = listener.local_addr().unwrap();
        // The echo side waits with `readable` and reads with `try_read`.
        let server = spawn(async move {
            let (s, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 4096];
            loop {
                s.readable().await.unwrap();
                match s.try_read(&mut buf) {
                    Ok(0) => return,
                    Ok(n) => {
                        let mut off = 0;
                        while off < n {
                            s.writable().await.unwrap();
                            match s.try_write(&buf[off..n]) {
                                Ok(k) => off += k,
                                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                                Err(e) => panic!("{e}"),
                            }
                        }
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                    Err(e) => panic!("{e}"),
                }
            }
        });
        let client = spawn(async move {
            let c = TcpStream::connect(addr).await.unwrap();
            c.set_nodelay(true).unwrap();
            let (mut r, mut w) = c.into_split();
            let (r, w) = (&mut r, &mut w);
            measure(async |i| {
                let msg = message(i);
                w.write_all(&msg).await.unwrap();
                let mut back = [0u8; MSG];
                r.read_exact(&mut back).await.unwrap();
                assert_eq!(back, msg);
            })
            .await
        });
        let m = client.await.unwrap();
        server.await.unwrap();
        m
    });
    m.report("TCP owned halves + readable/try_read echo");
}

#[test]
fn udp_ping_pong_allocates_nothing_after_warmup() {
    let m = run(async {
        let server = UdpSocket::bind(LOCALHOST).await.unwrap();
        let server_addr: SocketAddr = server.local_addr().unwrap();
        let echo = spawn(async move {
            let mut buf = [0u8; 1500];
            for _ in 0..WARMUP + MESSAGES {
                let (n, from) = server.recv_from(&mut buf).await.unwrap();
                server.send_to(&buf[..n], from).await.unwrap();
            }
            server // dropped after the measurement, not inside it
        });
        let client = spawn(async move {
            let c = UdpSocket::bind(LOCALHOST).await.unwrap();
            let c = &c;
            measure(async |i| {
                let msg = message(i);
                c.send_to(&msg, server_addr).await.unwrap();
                let mut back = [0u8; 1500];
                let (n, from) = c.recv_from(&mut back).await.unwrap();
                assert_eq!((n, from), (MSG, server_addr));
                assert_eq!(back[..MSG], msg);
            })
            .await
        });
        let m = client.await.unwrap();
        echo.await.unwrap();
        m
    });
    m.report("UDP ping-pong (send_to/recv_from)");
}

#[test]
fn connected_udp_ping_pong_allocates_nothing_after_warmup() {
    let m = run(async {
        let a = UdpSocket::bind(LOCALHOST).await.unwrap();
        let b = UdpSocket::bind(LOCALHOST).await.unwrap();
        a.connect(b.local_addr().unwrap()).await.unwrap();
        b.connect(a.local_addr().unwrap()).await.unwrap();
        let echo = spawn(async move {
            let mut buf = [0u8; 1500];
            for _ in 0..WARMUP + MESSAGES {
                let n = b.recv(&mut buf).await.unwrap();
                b.send(&buf[..n]).await.unwrap();
            }
            b // dropped after the measurement, not inside it
        });
        let client = spawn(async move {
            let a = &a;
            measure(async |i| {
                let msg = message(i);
                a.send(&msg).await.unwrap();
                let mut back = [0u8; MSG];
                assert_eq!(a.recv(&mut back).await.unwrap(), MSG);
                assert_eq!(back, msg);
            })
            .await
        });
        let m = client.await.unwrap();
        echo.await.unwrap();
        m
    });
    m.report("connected UDP ping-pong (send/recv)");
}

/// Accepting and connecting register sockets with the reactor: after warm-up that reuses
/// registration slots, so a server accepting connections all day allocates nothing.
#[test]
fn connect_accept_close_cycles_allocate_nothing_after_warmup() {
    let stats = run(async {
        let listener = TcpListener::bind(LOCALHOST).await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        let cycle = async |listener: &TcpListener| {
            let (client, server) = (TcpStream::connect(addr), listener.accept());
            let mut client = client.await.unwrap();
            let (mut server, _) = server.await.unwrap();
            client.write_all(b"ping").await.unwrap();
            let mut buf = [0u8; 4];
            server.read_exact(&mut buf).await.unwrap();
            assert_eq!(&buf, b"ping");
        };
        for _ in 0..20 {
            cycle(&listener).await;
        }
        let before = AllocStats::current_thread();
        for _ in 0..500 {
            cycle(&listener).await;
        }
        AllocStats::current_thread().since(&before)
    });
    println!("500 connect + accept + exchange + close cycles: {stats}");
    assert_eq!(stats.allocs + stats.reallocs, 0, "{stats}");
}

/// Datagrams per batch in the batched echo.
const BATCH: usize = 32;
/// Batches of the batched echo's measured window (32,000 datagrams each way).
const BATCH_ROUNDS: usize = 1_000;

/// Sends every datagram of `out`, as many `send_many_to` calls as it takes.
async fn send_all(sock: &UdpSocket, batch: &mut SendBatch<BATCH>, out: &[(&[u8], SocketAddr)]) {
    let mut sent = 0;
    while sent < out.len() {
        sent += sock.send_many_to(batch, &out[sent..]).await.unwrap();
    }
}

/// A client sends 32 datagrams with `send_many_to`, an echo task receives them with
/// `recv_many` and sends each back to its sender with `send_many_to`, and the client
/// receives them with `recv_many`: after warm-up, not one allocation, whatever way the
/// kernel splits the batches into calls.
#[test]
fn udp_batches_allocate_nothing_after_warmup() {
    let (stats, calls) = run(async {
        let server = UdpSocket::bind(LOCALHOST).await.unwrap();
        let server_addr: SocketAddr = server.local_addr().unwrap();
        let total = (WARMUP + BATCH_ROUNDS) * BATCH;
        let echo = spawn(async move {
            let (mut rb, mut sb) = (RecvBatch::<BATCH>::new(), SendBatch::<BATCH>::new());
            let mut bufs = [[0u8; MSG]; BATCH];
            let mut echoed = 0;
            while echoed < total {
                let n = server.recv_many(&mut rb, &mut bufs).await.unwrap();
                let mut out = [(&[][..], server_addr); BATCH];
                for (i, meta) in rb.iter().enumerate() {
                    out[i] = (&bufs[i][..meta.len], meta.addr);
                }
                send_all(&server, &mut sb, &out[..n]).await;
                echoed += n;
            }
            server // dropped after the measurement, not inside it
        });
        let client = spawn(async move {
            let c = UdpSocket::bind(LOCALHOST).await.unwrap();
            let (mut rb, mut sb) = (RecvBatch::<BATCH>::new(), SendBatch::<BATCH>::new());
            let mut bufs = [[0u8; MSG]; BATCH];
            let mut calls = 0;
            let mut round = async |r: usize| {
                let msgs: [[u8; MSG]; BATCH] = std::array::from_fn(|i| message(r * BATCH + i));
                let out: [(&[u8], SocketAddr); BATCH] =
                    std::array::from_fn(|i| (&msgs[i][..], server_addr));
                send_all(&c, &mut sb, &out).await;
                let mut got = 0;
                while got < BATCH {
                    let n = c.recv_many(&mut rb, &mut bufs[got..]).await.unwrap();
                    for (i, meta) in rb.iter().enumerate() {
                        assert_eq!((meta.len, meta.addr), (MSG, server_addr));
                        assert_eq!(bufs[got + i], msgs[got + i]);
                    }
                    got += n;
                    calls += 1;
                }
            };
            for r in 0..WARMUP {
                round(r).await;
            }
            let before = AllocStats::current_thread();
            for r in WARMUP..WARMUP + BATCH_ROUNDS {
                round(r).await;
            }
            let stats = AllocStats::current_thread().since(&before);
            (stats, calls)
        });
        let (stats, calls) = client.await.unwrap();
        drop(echo.await.unwrap()); // the server socket, after the window
        (stats, calls)
    });
    println!(
        "UDP batches: {BATCH_ROUNDS} rounds of {BATCH} datagrams sent and echoed with \
         send_many_to/recv_many ({calls} client recv_many calls, warm-up included): {stats}"
    );
    assert_eq!(stats.allocs + stats.reallocs + stats.deallocs, 0, "{stats}");
}
