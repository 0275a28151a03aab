//! Pooled packets between the I/O thread and the game thread, with no heap allocation once
//! warm on either thread.
//!
//! `cargo run --release --example packet_pool [-- --secs N]`
//!
//! - A peer (the main thread, plain `std::net`) sends 200-byte datagrams over loopback,
//!   keeping a window of them in flight; every eighth is a one-way heartbeat.
//! - The **I/O thread** runs a tickslab runtime: one task takes a buffer from a
//!   [`SyncBufPool`] (`alloc().await` waits when the game holds them all), receives a
//!   datagram straight into it (`recv_from(&mut buf)`: a pooled buffer derefs to `[u8]`) and
//!   hands it to the game thread over a `tickslab::sync::cross` channel; another task sends
//!   the game's replies and drops their buffers, which returns them to the pool.
//! - The **game thread** polls its channel without ever blocking, answers each datagram by
//!   sending its buffer back to the I/O thread, and drops heartbeats itself: a
//!   [`SyncPoolBuf`] dropped on the game thread returns to the pool lock-free.
//!
//! At the end it prints the datagrams handled and the heap allocations each thread made
//! after warm-up (0 on both).

use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tickslab::alloc::counting::{AllocStats, CountingAlloc};
use tickslab::net::UdpSocket;
use tickslab::pool::{SyncBufPool, SyncPoolBuf};
use tickslab::sync::cross::{self, TryRecvError};
use tickslab::{Runtime, spawn_slab};

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc::system();

/// Buffers in the pool: the most datagrams in flight between the threads.
const BUFFERS: usize = 256;
/// Bytes per buffer (a datagram never exceeds the path MTU here).
const BUF_SIZE: usize = 1500;
/// Bytes per datagram the peer sends.
const PAYLOAD: usize = 200;
/// Datagrams the peer keeps in flight.
const WINDOW: u64 = 64;
/// Datagrams each thread handles before it starts counting allocations.
const WARMUP: u64 = 1_000;
const STOP: &[u8] = b"stop";

/// A received datagram on its way to the game thread (or back, as a reply).
type Packet = (SyncPoolBuf, SocketAddr);

/// What each thread reports.
#[derive(Default)]
struct Report {
    packets: u64,
    /// Allocations from the `WARMUP`-th packet on (`None`: never warmed up).
    allocs: Option<AllocStats>,
}

impl Report {
    fn count(&mut self) {
        self.packets += 1;
        if self.packets == WARMUP {
            self.allocs = Some(AllocStats::current_thread());
        }
    }

    fn finish(&mut self) {
        if let Some(before) = self.allocs {
            self.allocs = Some(AllocStats::current_thread().since(&before));
        }
    }

    fn describe(&self) -> String {
        match self.allocs {
            Some(a) => {
                let n = a.allocs + a.reallocs;
                let measured = (self.packets - WARMUP + 1).max(1);
                format!("{n} ({:.4} per datagram)", n as f64 / measured as f64)
            }
            None => "not measured (too few datagrams)".to_owned(),
        }
    }
}

/// The I/O thread's receiving task: pooled buffer, `recv_from` into it, off to the game.
async fn receive(
    sock: Rc<UdpSocket>,
    bufs: Arc<SyncBufPool>,
    to_game: cross::Sender<Packet>,
) -> std::io::Result<Report> {
    let mut report = Report::default();
    loop {
        let mut buf = bufs.alloc().await; // waits while every buffer is out
        let (n, from) = sock.recv_from(&mut buf).await?;
        if &buf[..n] == STOP {
            break;
        }
        buf.set_filled(n);
        report.count();
        if to_game.send((buf, from)).await.is_err() {
            break;
        }
    }
    report.finish();
    Ok(report)
}

/// The I/O thread's replying task: sends what the game answered; the buffer goes back to
/// the pool when it is dropped here.
async fn reply(sock: Rc<UdpSocket>, mut from_game: cross::Receiver<Packet>) -> u64 {
    let mut replies = 0;
    while let Some((buf, to)) = from_game.recv().await {
        if sock.send_to(buf.filled(), to).await.is_ok() {
            replies += 1;
        }
    }
    replies
}

/// The game thread: never blocks; answers datagrams, drops heartbeats.
fn game(mut from_io: cross::Receiver<Packet>, to_io: cross::Sender<Packet>) -> (Report, u64) {
    let mut report = Report::default();
    let mut heartbeats = 0;
    loop {
        match from_io.try_recv() {
            Ok((mut buf, from)) => {
                report.count();
                if buf.filled()[8] == 1 {
                    heartbeats += 1;
                    drop(buf); // back to the pool from this thread, lock-free
                    continue;
                }
                buf.filled_mut()[9] = b'!'; // the "answer"
                let mut packet = (buf, from);
                // The channel holds as many packets as there are buffers: never full for
                // long.
                while let Err(e) = to_io.try_send(packet) {
                    if e.is_closed() {
                        break;
                    }
                    packet = e.into_inner();
                    std::thread::yield_now();
                }
            }
            Err(TryRecvError::Empty) => std::thread::yield_now(),
            Err(TryRecvError::Disconnected) => break,
        }
    }
    report.finish();
    (report, heartbeats)
}

/// The peer on the main thread: keeps `WINDOW` datagrams in flight for `run_for`.
/// Returns (sent, replies, lost).
fn peer(to: SocketAddr, run_for: Duration) -> std::io::Result<(u64, u64, u64)> {
    let sock = std::net::UdpSocket::bind("127.0.0.1:0")?;
    sock.set_read_timeout(Some(Duration::from_millis(200)))?;
    let (mut sent, mut replies, mut lost, mut in_flight) = (0u64, 0u64, 0u64, 0u64);
    let mut msg = [0u8; PAYLOAD];
    let mut answer = [0u8; BUF_SIZE];
    let deadline = Instant::now() + run_for;
    while Instant::now() < deadline {
        while in_flight < WINDOW {
            sent += 1;
            let heartbeat = sent % 8 == 0;
            msg[..8].copy_from_slice(&sent.to_le_bytes());
            msg[8] = u8::from(heartbeat);
            sock.send_to(&msg, to)?;
            if !heartbeat {
                in_flight += 1;
            }
        }
        match sock.recv_from(&mut answer) {
            Ok((n, _)) => {
                assert_eq!((n, answer[9]), (PAYLOAD, b'!'), "a wrong answer");
                replies += 1;
                in_flight -= 1;
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                lost += in_flight; // loopback dropped some: start a new window
                in_flight = 0;
            }
            Err(e) => return Err(e),
        }
    }
    // Collect the answers still on their way, then tell the I/O thread to stop.
    while in_flight > 0 && sock.recv_from(&mut answer).is_ok() {
        replies += 1;
        in_flight -= 1;
    }
    lost += in_flight;
    sock.send_to(STOP, to)?;
    Ok((sent, replies, lost))
}

fn parse_secs() -> std::io::Result<Option<f64>> {
    let mut secs = 2.0f64;
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
            "-h" | "--help" => {
                println!("usage: packet_pool [--secs N]");
                return Ok(None);
            }
            other => return Err(std::io::Error::other(format!("unknown argument {other:?}"))),
        }
    }
    Ok(Some(secs))
}

fn main() -> std::io::Result<()> {
    let Some(secs) = parse_secs()? else {
        return Ok(());
    };
    // Every buffer is allocated here, once.
    let bufs = Arc::new(SyncBufPool::new(BUFFERS, BUF_SIZE));
    let (to_game, from_io) = cross::channel::<Packet>(BUFFERS);
    let (to_io, from_game) = cross::channel::<Packet>(BUFFERS);
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();

    let io_bufs = bufs.clone();
    let io = std::thread::spawn(move || -> std::io::Result<(Report, u64)> {
        let rt = Runtime::builder().slab_bounded::<1024>(4).build();
        rt.block_on(async move {
            let sock = Rc::new(UdpSocket::bind("127.0.0.1:0").await?);
            addr_tx.send(sock.local_addr()?).expect("main thread waits");
            let replier = spawn_slab(reply(sock.clone(), from_game));
            let report = receive(sock, io_bufs, to_game).await?;
            let replies = replier.await.expect("the reply task does not panic");
            Ok((report, replies))
        })
    });
    let game = std::thread::spawn(move || game(from_io, to_io));

    let io_addr = addr_rx
        .recv()
        .map_err(|_| std::io::Error::other("the I/O thread failed to start"))?;
    let (sent, answered, lost) = peer(io_addr, Duration::from_secs_f64(secs))?;
    let (io_report, replies) = io.join().expect("I/O thread panicked")?;
    let (game_report, heartbeats) = game.join().expect("game thread panicked");

    let stats = bufs.stats();
    println!("packet_pool: {secs} s over loopback, {PAYLOAD}-byte datagrams, {WINDOW} in flight");
    println!("  peer:        sent {sent}, answers {answered}, lost {lost}");
    println!(
        "  I/O thread:  received {} into pooled buffers, sent {replies} answers",
        io_report.packets
    );
    println!(
        "  game thread: handled {}, dropped {heartbeats} heartbeats there (buffers back to the pool)",
        game_report.packets
    );
    println!(
        "  pool:        {} buffers of {BUF_SIZE} bytes, peak {} in use, {} in use now",
        stats.capacity, stats.peak, stats.len
    );
    println!("heap allocations after {WARMUP} warm-up datagrams:");
    println!("  I/O thread:  {}", io_report.describe());
    println!("  game thread: {}", game_report.describe());
    Ok(())
}
