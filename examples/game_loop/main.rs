//! A game's frame loop with its network I/O on a tickslab thread: the main demo.
//!
//! `cargo run --release --example game_loop [-- --secs N]` (5 seconds by default)
//!
//! Three threads, as a game would have them:
//!
//! ```text
//!  main thread: the game             I/O thread: tickslab runtime      bots thread: tickslab runtime
//!  60 Hz frame loop, never blocks    (the server; allocations counted)  (the clients)
//!
//!  inputs.drain()  <── cross ──────  UDP recv task  <──── input packets ──── 8 UDP bots (30-60 Hz)
//!  inputs → world                    (fixed 8-byte datagrams)
//!  snapshots.try_send(world) ─ cross ─> broadcast loop ─── world packets ───> every known bot
//!                                    (fixed 72-byte datagrams)
//!                                    TCP asset service  <── id / bytes ───── asset bot (10/s):
//!                                    (one slab task per connection)            connect, fetch,
//!  reports.drain() → one line/s <── cross ── reporter task (1/s)              verify, close
//! ```
//!
//! - The game thread sleeps to each 60 Hz frame boundary and never waits on the network:
//!   it takes the inputs that arrived with `drain()` and publishes the world with
//!   `try_send` (a full channel drops that snapshot and counts it; the next one supersedes it).
//! - The I/O thread runs one tickslab runtime with a bounded slab of 1,024 slots of 512
//!   bytes. Every task lives in a slot; an asset connection first waits for a slot
//!   (`claim_slab().await`) and only then accepts, so a flood of connections waits in the
//!   kernel's backlog instead of growing memory.
//! - The bots run on a third thread with their own runtime, so the I/O thread's counters
//!   and allocation counts are the server's alone.
//! - Each second the I/O thread reports its counters and the heap allocations it made that
//!   second (a counting global allocator keeps per-thread counts). After the first
//!   (warm-up) second the UDP path and the tasks allocate nothing: packets are fixed-size
//!   arrays, buffers live in the tasks, nothing formats a `String` on the I/O thread.
//!   What remains is counted separately: `accept` allocates inside the runtime (see
//!   `accept_counted`).
//! - After `--secs` lines the game asks both runtimes to stop through their `Handle`s,
//!   joins the threads and prints a summary.
//!
//! The files, one concept each:
//!
//! - `protocol.rs`: the messages between the threads, the datagram formats, the asset store;
//! - `io_thread.rs`: the server, its tasks and its per-second reports;
//! - `bots.rs`: the clients;
//! - `game.rs`: the 60 Hz frame loop;
//! - `stats.rs`: frame-time histogram and game counters;
//! - `report.rs`: everything printed.

mod bots;
mod game;
mod io_thread;
mod protocol;
mod report;
mod stats;

use std::net::Ipv4Addr;
use std::sync::mpsc as std_mpsc;
use std::thread;
use std::time::Duration;

use tickslab::alloc::counting::CountingAlloc;
use tickslab::sync::cross;

use crate::bots::bots_thread;
use crate::io_thread::{IoEnds, IoReport, io_thread};
use crate::protocol::{Input, Snapshot};

// Counts every allocation per thread; this is how the I/O thread knows what it allocated.
#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc::system();

fn parse_secs() -> Result<u32, String> {
    let mut secs = 5;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--secs" => {
                secs = args
                    .next()
                    .and_then(|s| s.parse().ok())
                    .filter(|s| (1..=3600).contains(s))
                    .ok_or("--secs wants a whole number of seconds in 1..=3600")?;
            }
            "-h" | "--help" => {
                println!("usage: game_loop [--secs N]   (N seconds, 5 by default)");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?}; try --help")),
        }
    }
    Ok(secs)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let secs = match parse_secs() {
        Ok(secs) => secs,
        Err(message) => {
            eprintln!("{message}");
            std::process::exit(2);
        }
    };

    // Bind on the main thread so the addresses are known before anything starts.
    let udp = std::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))?;
    let tcp = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    let (udp_addr, tcp_addr) = (udp.local_addr()?, tcp.local_addr()?);

    // The three channels between the game and the I/O thread, allocated once, here.
    let (inputs_tx, mut inputs) = cross::channel::<Input>(1024);
    let (snapshots, snapshots_rx) = cross::channel::<Snapshot>(8);
    let (reports_tx, mut reports) = cross::channel::<IoReport>(16);

    let (handle_tx, handle_rx) = std_mpsc::channel();
    let ends = IoEnds {
        snapshots: snapshots_rx,
        inputs: inputs_tx,
        reports: reports_tx,
    };
    let io = thread::Builder::new()
        .name("io".into())
        .spawn(move || io_thread(udp, tcp, ends, handle_tx))?;
    let io_handle = handle_rx.recv_timeout(Duration::from_secs(10))?;

    let (handle_tx, handle_rx) = std_mpsc::channel();
    let bots = thread::Builder::new()
        .name("bots".into())
        .spawn(move || bots_thread(udp_addr, tcp_addr, handle_tx))?;
    let bots_handle = handle_rx.recv_timeout(Duration::from_secs(10))?;

    report::banner(udp_addr, tcp_addr, secs);
    let game = game::run(secs, &mut inputs, &snapshots, &mut reports);

    // ---- shutdown: the bots first (so the server sees no stragglers), then the server ----
    bots_handle.shutdown();
    let bot = bots.join().map_err(|_| "the bots thread panicked")?;
    io_handle.shutdown();
    let server = io.join().map_err(|_| "the I/O thread panicked")??;

    report::summary(&game, &server, &bot);
    Ok(())
}
