//! A UDP echo server and client on loopback, timing round trips and counting heap
//! allocations per message on both sides.
//!
//! `cargo run --release --example udp_echo [-- --secs N] [--same-thread]`
//!
//! By default the server runs on a second thread with its own runtime (as a game's I/O
//! thread would talk to another process); `--same-thread` runs both as tasks of one runtime.
//! The client sends 64-byte datagrams one at a time for `--secs` seconds (2 by default),
//! then prints the round-trip count, mean, p50 / p99 / max, and the allocations each thread
//! made per message after warm-up.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use tickslab::alloc::counting::{AllocStats, CountingAlloc};
use tickslab::net::UdpSocket;
use tickslab::time::timeout;
use tickslab::{Runtime, spawn};

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc::system();

const MSG: usize = 64;
const WARMUP: u64 = 1_000;
/// No round trip takes this long on loopback; a datagram lost anyway is counted and skipped.
const LOST_AFTER: Duration = Duration::from_millis(500);
/// The server gives up when the client has been silent this long.
const SERVER_IDLE: Duration = Duration::from_secs(5);
/// Hard cap on round trips, whatever `--secs` says.
const MAX_ROUND_TRIPS: u64 = 100_000_000;
const STOP: &[u8] = b"stop";

/// A fixed latency histogram: 100 ns buckets up to 10 ms (allocated once, before measuring).
struct Histogram {
    buckets: Vec<u32>,
    over: u64,
    count: u64,
    sum_ns: u128,
    max_ns: u64,
}

impl Histogram {
    const BUCKET_NS: u64 = 100;

    fn new() -> Self {
        Histogram {
            buckets: vec![0; 100_000],
            over: 0,
            count: 0,
            sum_ns: 0,
            max_ns: 0,
        }
    }

    fn record(&mut self, d: Duration) {
        let ns = d.as_nanos().min(u64::MAX as u128) as u64;
        match self.buckets.get_mut((ns / Self::BUCKET_NS) as usize) {
            Some(b) => *b = b.saturating_add(1),
            None => self.over += 1,
        }
        self.count += 1;
        self.sum_ns += u128::from(ns);
        self.max_ns = self.max_ns.max(ns);
    }

    fn mean_us(&self) -> f64 {
        self.sum_ns as f64 / self.count.max(1) as f64 / 1e3
    }

    /// The `q` quantile in microseconds (upper edge of its bucket).
    fn quantile_us(&self, q: f64) -> f64 {
        let rank = ((self.count as f64 * q).ceil() as u64).max(1);
        let mut seen = 0u64;
        for (i, &n) in self.buckets.iter().enumerate() {
            seen += u64::from(n);
            if seen >= rank {
                return ((i as u64 + 1) * Self::BUCKET_NS) as f64 / 1e3;
            }
        }
        self.max_ns as f64 / 1e3
    }
}

struct ServerReport {
    echoed: u64,
    measured: u64,
    stats: AllocStats,
}

/// Echoes datagrams until a `STOP` datagram or `SERVER_IDLE` of silence; counts this
/// thread's allocations after the first `WARMUP` messages.
async fn serve(sock: UdpSocket) -> std::io::Result<ServerReport> {
    let mut buf = [0u8; 1500];
    let mut echoed = 0u64;
    let mut before = AllocStats::current_thread();
    loop {
        let Ok(got) = timeout(SERVER_IDLE, sock.recv_from(&mut buf)).await else {
            eprintln!("server: the client went silent; stopping");
            break;
        };
        let (n, from) = got?;
        if &buf[..n] == STOP {
            break;
        }
        sock.send_to(&buf[..n], from).await?;
        echoed += 1;
        if echoed == WARMUP {
            before = AllocStats::current_thread();
        }
    }
    Ok(ServerReport {
        echoed,
        measured: echoed.saturating_sub(WARMUP),
        stats: AllocStats::current_thread().since(&before),
    })
}

struct ClientReport {
    hist: Histogram,
    lost: u64,
    stats: AllocStats,
    elapsed: Duration,
}

/// One round trip: `Ok(true)` when the echo came back, `Ok(false)` when it was lost.
async fn round_trip(sock: &UdpSocket, server: SocketAddr, seq: u64) -> std::io::Result<bool> {
    let mut msg = [0xA5u8; MSG];
    msg[..8].copy_from_slice(&seq.to_le_bytes());
    sock.send_to(&msg, server).await?;
    let mut back = [0u8; 1500];
    let deadline = Instant::now() + LOST_AFTER;
    // Skip late echoes of earlier (lost-and-found) messages; bounded by the deadline.
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let Ok(got) = timeout(left, sock.recv_from(&mut back)).await else {
            return Ok(false);
        };
        let (n, from) = got?;
        if from == server && n == MSG && back[..8] == msg[..8] {
            return Ok(true);
        }
    }
}

async fn client(
    sock: &UdpSocket,
    server: SocketAddr,
    run_for: Duration,
) -> std::io::Result<ClientReport> {
    let mut hist = Histogram::new();
    let mut lost = 0;
    for seq in 0..WARMUP {
        round_trip(sock, server, seq).await?;
    }
    let before = AllocStats::current_thread();
    let start = Instant::now();
    let mut seq = WARMUP;
    while start.elapsed() < run_for && seq < WARMUP + MAX_ROUND_TRIPS {
        let t0 = Instant::now();
        if round_trip(sock, server, seq).await? {
            hist.record(t0.elapsed());
        } else {
            lost += 1;
        }
        seq += 1;
    }
    let elapsed = start.elapsed();
    let stats = AllocStats::current_thread().since(&before);
    sock.send_to(STOP, server).await?;
    Ok(ClientReport {
        hist,
        lost,
        stats,
        elapsed,
    })
}

fn runtime() -> Runtime {
    Runtime::builder().slab_bounded::<256>(16).build()
}

fn per_message(stats: &AllocStats, messages: u64) -> f64 {
    (stats.allocs + stats.reallocs) as f64 / messages.max(1) as f64
}

fn main() -> std::io::Result<()> {
    let mut secs = 2.0f64;
    let mut same_thread = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--secs" => {
                secs = args
                    .next()
                    .and_then(|s| s.parse().ok())
                    .filter(|&s: &f64| s > 0.0 && s <= 3600.0)
                    .ok_or_else(|| {
                        std::io::Error::other("--secs wants a number of seconds in (0, 3600]")
                    })?;
            }
            "--same-thread" => same_thread = true,
            "-h" | "--help" => {
                println!("usage: udp_echo [--secs N] [--same-thread]");
                return Ok(());
            }
            other => return Err(std::io::Error::other(format!("unknown argument {other:?}"))),
        }
    }
    let run_for = Duration::from_secs_f64(secs);
    let loopback = (Ipv4Addr::LOCALHOST, 0);

    let (client_report, server_report) = if same_thread {
        let rt = runtime();
        rt.block_on(async {
            let server_sock = UdpSocket::bind(loopback).await?;
            let server_addr = server_sock.local_addr()?;
            let server = spawn(serve(server_sock));
            let client_sock = UdpSocket::bind(loopback).await?;
            // Borrowed, so it closes after the server's count ends (one thread: one count).
            let c = client(&client_sock, server_addr, run_for).await?;
            let s = server
                .await
                .map_err(|e| std::io::Error::other(e.to_string()))??;
            Ok::<_, std::io::Error>((c, s))
        })?
    } else {
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let server_thread = std::thread::spawn(move || {
            runtime().block_on(async {
                let sock = UdpSocket::bind(loopback).await?;
                addr_tx
                    .send(sock.local_addr()?)
                    .map_err(std::io::Error::other)?;
                serve(sock).await
            })
        });
        let server_addr = addr_rx
            .recv_timeout(Duration::from_secs(10))
            .map_err(|_| std::io::Error::other("the server thread did not start"))?;
        let c = runtime().block_on(async {
            let sock = UdpSocket::bind(loopback).await?;
            client(&sock, server_addr, run_for).await
        })?;
        let s = server_thread
            .join()
            .map_err(|_| std::io::Error::other("the server thread panicked"))??;
        (c, s)
    };

    let h = &client_report.hist;
    println!(
        "udp_echo ({}): {} round trips of {MSG} B in {:.2?} ({:.0}/s), {} lost",
        if same_thread {
            "one runtime, two tasks"
        } else {
            "client and server on two threads"
        },
        h.count,
        client_report.elapsed,
        h.count as f64 / client_report.elapsed.as_secs_f64(),
        client_report.lost,
    );
    println!(
        "round trip: mean {:.1} us, p50 {:.1} us, p99 {:.1} us, max {:.1} us",
        h.mean_us(),
        h.quantile_us(0.50),
        h.quantile_us(0.99),
        h.max_ns as f64 / 1e3,
    );
    let sent = h.count + client_report.lost;
    println!(
        "heap allocations after warm-up: client {} ({:.4}/message), server {} ({:.4}/message over {} echoes of {})",
        client_report.stats,
        per_message(&client_report.stats, sent),
        server_report.stats,
        per_message(&server_report.stats, server_report.measured),
        server_report.measured,
        server_report.echoed,
    );
    Ok(())
}
