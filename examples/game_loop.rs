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

use std::cell::Cell;
use std::future::poll_fn;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::ops::Range;
use std::rc::Rc;
use std::sync::mpsc as std_mpsc;
use std::thread;
use std::time::{Duration, Instant};

use tickslab::alloc::counting::{AllocStats, CountingAlloc};
use tickslab::io::{AsyncReadExt, AsyncWriteExt};
use tickslab::net::{TcpListener, TcpStream, UdpSocket};
use tickslab::slab::BoundedSlab;
use tickslab::sync::cross;
use tickslab::time::{interval, interval_at, timeout, timeout_at};
use tickslab::{Handle, Runtime, RuntimeStats, claim_slab, spawn_slab};

// Counts every allocation per thread; this is how the I/O thread knows what it allocated.
#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc::system();

/// One frame at 60 Hz.
const FRAME: Duration = Duration::from_nanos(16_666_667);
/// Players in the world, one per UDP bot.
const PLAYERS: usize = 8;
/// Input datagram: `b'I'`, player, dx, dy, seq (u32 LE).
const INPUT_LEN: usize = 8;
/// World datagram: `b'W'`, player count, 2 spare bytes, tick (u32 LE), then per player
/// x (i16 LE), y (i16 LE), the last input seq applied (u32 LE).
const WORLD_LEN: usize = 8 + 8 * PLAYERS;
/// Distinct assets the TCP service knows; asset `id` is `asset_len(id)` bytes.
const ASSETS: u32 = 16;
/// A stuck asset connection is dropped after this long (it would hold a slot forever).
const ASSET_TIMEOUT: Duration = Duration::from_secs(2);
/// I/O runtime slab: slot size and count, allocated once when the runtime is built.
const IO_SLOT: usize = 512;
const IO_SLOTS: usize = 1024;

// ---- messages between the threads: plain `Copy` values, no heap ----------------------------

/// A player's input, I/O thread → game.
#[derive(Clone, Copy, Debug)]
struct Input {
    player: u8,
    seq: u32,
    dx: i8,
    dy: i8,
}

#[derive(Clone, Copy, Debug, Default)]
struct PlayerState {
    x: i16,
    y: i16,
    /// The last input applied, so a bot can tell how long its input took to show up.
    last_seq: u32,
}

/// The world as of one frame, game → I/O thread, to broadcast.
#[derive(Clone, Copy, Debug)]
struct Snapshot {
    tick: u32,
    players: [PlayerState; PLAYERS],
}

/// Server-side counters (totals since start; a report carries one second's difference).
#[derive(Clone, Copy, Debug, Default)]
struct IoCounts {
    udp_in: u64,
    udp_out: u64,
    /// Inputs the game channel had no room for (the game fell behind).
    inputs_dropped: u64,
    assets_served: u64,
    asset_bytes: u64,
    /// Allocations made inside `TcpListener::poll_accept` (by the runtime).
    accept_allocs: u64,
}

impl IoCounts {
    fn minus(&self, o: &IoCounts) -> IoCounts {
        IoCounts {
            udp_in: self.udp_in - o.udp_in,
            udp_out: self.udp_out - o.udp_out,
            inputs_dropped: self.inputs_dropped - o.inputs_dropped,
            assets_served: self.assets_served - o.assets_served,
            asset_bytes: self.asset_bytes - o.asset_bytes,
            accept_allocs: self.accept_allocs - o.accept_allocs,
        }
    }
}

/// One second of the I/O thread, I/O thread → game.
#[derive(Clone, Copy, Debug)]
struct IoReport {
    second: u32,
    counts: IoCounts,
    allocs: AllocStats,
    rt: RuntimeStats,
}

// ---- wire format: fixed-size byte arrays ---------------------------------------------------

fn encode_input(i: &Input) -> [u8; INPUT_LEN] {
    let s = i.seq.to_le_bytes();
    [
        b'I', i.player, i.dx as u8, i.dy as u8, s[0], s[1], s[2], s[3],
    ]
}

fn decode_input(b: &[u8]) -> Option<Input> {
    if b.len() != INPUT_LEN || b[0] != b'I' || usize::from(b[1]) >= PLAYERS {
        return None;
    }
    Some(Input {
        player: b[1],
        dx: b[2] as i8,
        dy: b[3] as i8,
        seq: u32::from_le_bytes([b[4], b[5], b[6], b[7]]),
    })
}

fn encode_world(s: &Snapshot, out: &mut [u8; WORLD_LEN]) {
    out[..4].copy_from_slice(&[b'W', PLAYERS as u8, 0, 0]);
    out[4..8].copy_from_slice(&s.tick.to_le_bytes());
    for (p, chunk) in s.players.iter().zip(out[8..].chunks_exact_mut(8)) {
        chunk[..2].copy_from_slice(&p.x.to_le_bytes());
        chunk[2..4].copy_from_slice(&p.y.to_le_bytes());
        chunk[4..].copy_from_slice(&p.last_seq.to_le_bytes());
    }
}

/// The last input seq the server applied for `player`, from a world datagram.
fn decode_world_ack(b: &[u8], player: usize) -> Option<u32> {
    if b.len() != WORLD_LEN || b[0] != b'W' {
        return None;
    }
    let at = 8 + 8 * player + 4;
    Some(u32::from_le_bytes(b[at..at + 4].try_into().ok()?))
}

/// Asset sizes: 2 KiB to 7.6 KiB.
fn asset_len(id: u32) -> usize {
    2048 + 384 * id as usize
}

/// Asset contents are a function of id and position, so the bot can verify every byte.
fn asset_byte(id: u32, at: usize) -> u8 {
    (id as usize * 31 + at * 7 + at / 251) as u8
}

/// Where asset `id` sits in the asset store: its 4-byte length header, then its bytes,
/// so that serving it is one `write_all`.
fn asset_range(id: u32) -> Option<Range<usize>> {
    if id >= ASSETS {
        return None;
    }
    let start: usize = (0..id).map(|i| 4 + asset_len(i)).sum();
    Some(start..start + 4 + asset_len(id))
}

fn make_asset_store() -> Rc<[u8]> {
    let mut store = Vec::new();
    for id in 0..ASSETS {
        store.extend_from_slice(&(asset_len(id) as u32).to_le_bytes());
        store.extend((0..asset_len(id)).map(|at| asset_byte(id, at)));
    }
    store.into()
}

// ---- the I/O thread: the server ------------------------------------------------------------

/// State shared by the I/O thread's tasks (one thread: `Rc` and `Cell`, no locks).
struct IoState {
    counts: Cell<IoCounts>,
    /// Where each player's inputs come from: the world goes back there.
    peers: Cell<[Option<SocketAddr>; PLAYERS]>,
    /// The thread's allocation counters and the server's counts at the end of the warm-up
    /// second.
    warm: Cell<Option<(AllocStats, IoCounts)>>,
}

impl IoState {
    fn count(&self, f: impl FnOnce(&mut IoCounts)) {
        let mut c = self.counts.get();
        f(&mut c);
        self.counts.set(c);
    }
}

/// What the I/O thread hands back when it is joined.
struct IoSummary {
    counts: IoCounts,
    /// From the end of the warm-up second to the shutdown request: all allocations, and
    /// the server's counts (among them the allocations inside `accept`).
    after_warmup: Option<(AllocStats, IoCounts)>,
    rt: RuntimeStats,
}

/// The channel ends the I/O thread owns.
struct IoEnds {
    snapshots: cross::Receiver<Snapshot>,
    inputs: cross::Sender<Input>,
    reports: cross::Sender<IoReport>,
}

fn io_thread(
    udp: std::net::UdpSocket,
    tcp: std::net::TcpListener,
    ends: IoEnds,
    handle_tx: std_mpsc::Sender<Handle>,
) -> io::Result<IoSummary> {
    // Everything the thread allocates from here on shows in its reports.
    let thread_start = AllocStats::current_thread();
    // SAFETY: the runtime owns the slab and frees every slot it hands out.
    let slab = unsafe { BoundedSlab::<IO_SLOT>::with_capacity(IO_SLOTS) };
    let mut rt = Runtime::builder().slab_bounded(slab).build();
    // The game stops this thread with `handle.shutdown()`.
    handle_tx
        .send(rt.handle())
        .map_err(|_| io::Error::other("the game thread is gone"))?;

    let state = Rc::new(IoState {
        counts: Cell::new(IoCounts::default()),
        peers: Cell::new([None; PLAYERS]),
        warm: Cell::new(None),
    });
    let IoEnds {
        mut snapshots,
        inputs,
        reports,
    } = ends;
    let st = state.clone();
    let finished = rt.block_on_until_shutdown(async move {
        // Sockets register with the runtime that is current, so they are made in here.
        let udp = Rc::new(UdpSocket::from_std(udp)?);
        let listener = TcpListener::from_std(tcp)?;
        // The long-lived tasks: detached (dropping a JoinHandle detaches), each in a slot.
        drop(spawn_slab(udp_receive(udp.clone(), st.clone(), inputs)));
        drop(spawn_slab(asset_service(
            listener,
            make_asset_store(),
            st.clone(),
        )));
        drop(spawn_slab(reporter(st.clone(), reports, thread_start)));
        broadcast(&udp, &st, &mut snapshots).await;
        Ok::<(), io::Error>(())
    });
    // `None`: stopped by the shutdown request (the normal end). `Some`: the game dropped
    // its snapshot sender first, or setting up the sockets failed.
    if let Some(result) = finished {
        result?;
    }
    let counts = state.counts.get();
    let after_warmup = state.warm.get().map(|(allocs, warm_counts)| {
        (
            AllocStats::current_thread().since(&allocs),
            counts.minus(&warm_counts),
        )
    });
    let summary = IoSummary {
        counts,
        after_warmup,
        rt: rt.stats(),
    };
    // Dropping the runtime cancels the tasks still running (receive loop, accept loop,
    // reporter, open connections): their futures drop here, closing their sockets.
    drop(rt);
    Ok(summary)
}

/// Game → network: each snapshot goes to every player we have heard from. Ends when the
/// game drops its sender (or by cancellation at shutdown).
async fn broadcast(sock: &UdpSocket, state: &IoState, snapshots: &mut cross::Receiver<Snapshot>) {
    let mut packet = [0u8; WORLD_LEN];
    while let Some(snapshot) = snapshots.recv().await {
        encode_world(&snapshot, &mut packet);
        for peer in state.peers.get().into_iter().flatten() {
            // A send error (a bot's port closed) loses one datagram, as UDP does.
            if sock.send_to(&packet, peer).await.is_ok() {
                state.count(|c| c.udp_out += 1);
            }
        }
    }
}

/// Network → game: parse input datagrams and pass them on. Runs until the runtime drops it.
async fn udp_receive(sock: Rc<UdpSocket>, state: Rc<IoState>, inputs: cross::Sender<Input>) {
    let mut buf = [0u8; 64];
    loop {
        let (n, from) = match sock.recv_from(&mut buf).await {
            Ok(got) => got,
            // An ICMP error from some earlier send, reported here: the socket lives on.
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => continue,
            Err(_) => return, // the runtime is shutting down
        };
        let Some(input) = decode_input(&buf[..n]) else {
            continue; // not ours: ignore
        };
        let mut peers = state.peers.get();
        peers[usize::from(input.player)] = Some(from);
        state.peers.set(peers);
        state.count(|c| c.udp_in += 1);
        // Never wait for the game: when it is behind, dropping an input beats stalling
        // every player's socket. The count says how often it happens.
        match inputs.try_send(input) {
            Ok(()) => {}
            Err(e) if e.is_full() => state.count(|c| c.inputs_dropped += 1),
            Err(_) => return, // the game is gone
        }
    }
}

/// The TCP asset service: one slab task per connection, at most as many as there are
/// free slots. Runs until the runtime drops it.
async fn asset_service(listener: TcpListener, store: Rc<[u8]>, state: Rc<IoState>) {
    loop {
        // Backpressure: reserve the connection's slot *before* accepting it. With the slab
        // full we stop accepting and new connections wait in the kernel's backlog.
        let slot = claim_slab().await;
        match accept_counted(&listener, &state).await {
            Ok(stream) => drop(slot.spawn(serve_asset(stream, store.clone(), state.clone()))),
            // The slot goes back to the slab with `slot`. A per-connection failure
            // (the peer reset before we accepted) is routine; anything else is shutdown.
            Err(e) if e.kind() == io::ErrorKind::ConnectionAborted => {}
            Err(_) => return,
        }
    }
}

/// `listener.accept()`, counting the allocations made inside the runtime's accept. Each
/// accepted socket is registered with the reactor, which reuses registration slots, so
/// once warm an accept allocates nothing; the separate count makes that visible.
async fn accept_counted(listener: &TcpListener, state: &IoState) -> io::Result<TcpStream> {
    poll_fn(|cx| {
        let before = AllocStats::current_thread();
        let polled = listener.poll_accept(cx);
        let allocs = AllocStats::current_thread().since(&before).allocs;
        state.count(|c| c.accept_allocs += allocs);
        polled.map(|r| r.map(|(stream, _peer)| stream))
    })
    .await
}

/// One asset request: read a 4-byte id, write the asset, close.
async fn serve_asset(mut stream: TcpStream, store: Rc<[u8]>, state: Rc<IoState>) {
    let served = timeout(ASSET_TIMEOUT, async {
        let mut id = [0u8; 4];
        stream.read_exact(&mut id).await?;
        // `io::Error::from(ErrorKind)` carries no message: no allocation on this path.
        let range = asset_range(u32::from_le_bytes(id)).ok_or(io::ErrorKind::InvalidData)?;
        let len = range.len() - 4;
        stream.write_all(&store[range]).await?;
        stream.shutdown().await?;
        Ok::<usize, io::Error>(len)
    })
    .await;
    if let Ok(Ok(len)) = served {
        state.count(|c| {
            c.assets_served += 1;
            c.asset_bytes += len as u64;
        });
    }
}

/// Once a second: this second's counters, allocations and runtime stats, to the game.
async fn reporter(state: Rc<IoState>, reports: cross::Sender<IoReport>, thread_start: AllocStats) {
    let mut tick = interval_at(
        Instant::now() + Duration::from_secs(1),
        Duration::from_secs(1),
    );
    let mut last_allocs = thread_start;
    let mut last_counts = state.counts.get();
    for second in 1u32.. {
        tick.tick().await;
        let allocs = AllocStats::current_thread();
        let counts = state.counts.get();
        if second == 1 {
            state.warm.set(Some((allocs, counts)));
        }
        let report = IoReport {
            second,
            counts: counts.minus(&last_counts),
            allocs: allocs.since(&last_allocs),
            rt: RuntimeStats::current().unwrap_or_default(),
        };
        // A game too busy to read its reports misses a line; the I/O thread never waits.
        let _ = reports.try_send(report);
        (last_allocs, last_counts) = (allocs, counts);
    }
}

// ---- the bots thread: the clients ----------------------------------------------------------

/// Client-side counters.
#[derive(Clone, Copy, Debug, Default)]
struct BotCounts {
    inputs_sent: u64,
    worlds_received: u64,
    /// Input sent → a world packet showing it applied: network + I/O thread + game frame.
    acks: u64,
    ack_us_sum: u64,
    ack_us_max: u64,
    assets_fetched: u64,
    asset_bytes: u64,
    assets_bad: u64,
    fetches_failed: u64,
}

type BotState = Rc<Cell<BotCounts>>;

fn bump(state: &BotState, f: impl FnOnce(&mut BotCounts)) {
    let mut c = state.get();
    f(&mut c);
    state.set(c);
}

fn bots_thread(
    udp_server: SocketAddr,
    tcp_server: SocketAddr,
    handle_tx: std_mpsc::Sender<Handle>,
) -> BotCounts {
    // SAFETY: the runtime owns the slab and frees every slot it hands out.
    let slab = unsafe { BoundedSlab::<1024>::with_capacity(64) };
    let mut rt = Runtime::builder().slab_bounded(slab).build();
    if handle_tx.send(rt.handle()).is_err() {
        return BotCounts::default();
    }
    let state: BotState = Rc::default();
    let st = state.clone();
    // The bots run until the game calls `shutdown()` on this runtime's handle.
    rt.block_on_until_shutdown(async move {
        for player in 0..PLAYERS as u8 {
            drop(spawn_slab(udp_bot(player, udp_server, st.clone())));
        }
        drop(spawn_slab(asset_bot(tcp_server, st)));
        std::future::pending::<()>().await
    });
    drop(rt); // cancels the bots, closing their sockets
    state.get()
}

/// A player: sends inputs at its own rate (30 to 60 Hz), reads world states in between.
/// Runs until the runtime drops it.
async fn udp_bot(player: u8, server: SocketAddr, state: BotState) {
    let Ok(sock) = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).await else {
        return;
    };
    if sock.connect(server).await.is_err() {
        return;
    }
    let hz = 30 + 30 * u32::from(player) / (PLAYERS as u32 - 1);
    let period = Duration::from_secs(1) / hz;
    // When each of the last 16 inputs left, to time its round trip through the game.
    let mut sent_at = [Instant::now(); 16];
    let mut acked = 0u32;
    let mut buf = [0u8; 128];
    let mut next = Instant::now();
    for seq in 1u32.. {
        // Walk in a slow square so the world changes.
        let dx = [1i8, 0, -1, 0][(seq / 64 % 4) as usize];
        let dy = [0i8, 1, 0, -1][(seq / 64 % 4) as usize];
        let input = Input {
            player,
            seq,
            dx,
            dy,
        };
        sent_at[seq as usize % 16] = Instant::now();
        if sock.send(&encode_input(&input)).await.is_ok() {
            bump(&state, |c| c.inputs_sent += 1);
        }
        next = (next + period).max(Instant::now()); // late: do not try to catch up
        // Until the next input is due: world states.
        while let Ok(got) = timeout_at(next, sock.recv(&mut buf)).await {
            let Ok(n) = got else { continue }; // e.g. the server is not up yet
            let Some(ack) = decode_world_ack(&buf[..n], usize::from(player)) else {
                continue;
            };
            let now = Instant::now();
            bump(&state, |c| c.worlds_received += 1);
            // A newer ack whose send time is still in the ring: one round-trip sample.
            if ack > acked && seq - ack < 16 {
                let us = now.duration_since(sent_at[ack as usize % 16]).as_micros() as u64;
                bump(&state, |c| {
                    c.acks += 1;
                    c.ack_us_sum += us;
                    c.ack_us_max = c.ack_us_max.max(us);
                });
            }
            acked = acked.max(ack);
        }
    }
}

/// Fetches an asset ten times a second: connect, send the id, read the length and the
/// bytes, verify them, close. Runs until the runtime drops it.
async fn asset_bot(server: SocketAddr, state: BotState) {
    // The biggest asset; allocated once, on this (bots) thread.
    let mut buf = vec![0u8; asset_len(ASSETS - 1)];
    let mut tick = interval(Duration::from_millis(100));
    for n in 0u32.. {
        tick.tick().await;
        let id = n % ASSETS;
        match timeout(ASSET_TIMEOUT, fetch_asset(server, id, &mut buf)).await {
            Ok(Ok(len)) => {
                let good = buf[..len]
                    .iter()
                    .enumerate()
                    .all(|(at, &b)| b == asset_byte(id, at));
                bump(&state, |c| {
                    c.assets_fetched += 1;
                    c.asset_bytes += len as u64;
                    c.assets_bad += u64::from(!good || len != asset_len(id));
                });
            }
            _ => bump(&state, |c| c.fetches_failed += 1),
        }
    }
}

async fn fetch_asset(server: SocketAddr, id: u32, buf: &mut [u8]) -> io::Result<usize> {
    let mut stream = TcpStream::connect(server).await?;
    stream.write_all(&id.to_le_bytes()).await?;
    let mut len = [0u8; 4];
    stream.read_exact(&mut len).await?;
    let len = u32::from_le_bytes(len) as usize;
    let body = buf.get_mut(..len).ok_or(io::ErrorKind::InvalidData)?;
    stream.read_exact(body).await?;
    Ok(len)
}

// ---- the game thread -----------------------------------------------------------------------

/// Frame times in 50 µs buckets up to 100 ms: fixed memory, no allocation per frame.
struct FrameTimes {
    buckets: [u32; 2000],
    count: u64,
    max: Duration,
}

impl FrameTimes {
    const BUCKET_US: u64 = 50;

    fn new() -> Self {
        FrameTimes {
            buckets: [0; 2000],
            count: 0,
            max: Duration::ZERO,
        }
    }

    fn record(&mut self, d: Duration) {
        let i = (d.as_micros() as u64 / Self::BUCKET_US) as usize;
        self.buckets[i.min(self.buckets.len() - 1)] += 1;
        self.count += 1;
        self.max = self.max.max(d);
    }

    /// The `q` quantile in milliseconds (upper edge of its bucket, at most the max).
    fn quantile_ms(&self, q: f64) -> f64 {
        let rank = ((self.count as f64 * q).ceil() as u64).max(1);
        let mut seen = 0u64;
        for (i, &n) in self.buckets.iter().enumerate() {
            seen += u64::from(n);
            if seen >= rank {
                if i == self.buckets.len() - 1 {
                    return self.max_ms(); // the overflow bucket: no upper edge
                }
                let edge = ((i as u64 + 1) * Self::BUCKET_US) as f64 / 1e3;
                return edge.min(self.max_ms());
            }
        }
        self.max_ms()
    }

    fn max_ms(&self) -> f64 {
        self.max.as_secs_f64() * 1e3
    }
}

/// The game-side counters of one reporting window, or of the whole run.
#[derive(Clone, Copy, Default)]
struct GameCounts {
    frames: u64,
    inputs: u64,
    snapshots_sent: u64,
    snapshots_dropped: u64,
}

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

    println!(
        "game_loop: 60 Hz game thread, tickslab I/O thread (UDP {udp_addr}, TCP assets {tcp_addr}, \
         slab {IO_SLOTS} x {IO_SLOT} B), {PLAYERS} UDP bots + 1 asset bot on a third thread; {secs} s"
    );
    println!(
        "each second: frames, p99 frame time | game: inputs in, snapshots out | I/O thread: UDP \
         datagrams in/out, assets served, tasks spawned, slab slots used/capacity (peak), heap \
         allocations"
    );

    // ---- the frame loop ----
    let mut world = [PlayerState::default(); PLAYERS];
    let (mut window, mut total) = (GameCounts::default(), GameCounts::default());
    let (mut window_times, mut all_times) = (FrameTimes::new(), FrameTimes::new());
    let mut last_tasks = 0u64;
    let mut lines = 0u32;
    let start = Instant::now();
    // Normally the loop ends after `secs` report lines; this bounds it if reports stop.
    let give_up = start + Duration::from_secs(u64::from(secs) + 3);
    let mut frame_start = start;
    let mut next_frame = start;
    let mut tick = 0u32;
    while lines < secs && Instant::now() < give_up {
        // Sleep to the next frame boundary; a late frame starts at once (no catch-up burst).
        next_frame += FRAME;
        let now = Instant::now();
        match next_frame.checked_duration_since(now) {
            Some(wait) => thread::sleep(wait),
            None => next_frame = now,
        }
        let now = Instant::now();
        let frame_time = now - frame_start; // start to start: what a player sees
        frame_start = now;
        if tick > 0 {
            window_times.record(frame_time);
            all_times.record(frame_time);
        }
        tick += 1;
        window.frames += 1;

        // 1. Inputs that arrived since the last frame; never waits.
        for input in inputs.drain() {
            let p = &mut world[usize::from(input.player)];
            p.x = p.x.saturating_add(i16::from(input.dx));
            p.y = p.y.saturating_add(i16::from(input.dy));
            p.last_seq = p.last_seq.max(input.seq);
            window.inputs += 1;
        }

        // 2. (The game would simulate and render here.)

        // 3. Publish the world; if the I/O thread is behind, skip this one.
        match snapshots.try_send(Snapshot {
            tick,
            players: world,
        }) {
            Ok(()) => window.snapshots_sent += 1,
            Err(_) => window.snapshots_dropped += 1,
        }

        // 4. One line per second of the I/O thread.
        for r in reports.drain() {
            let c = &r.counts;
            let warm = if r.second == 1 { " (warm-up)" } else { "" };
            println!(
                "[{:>3}s] {:>3} frames p99 {:>5.2} ms | game in {:>4} out {:>3} | udp {:>4}/{:>4} \
                 | assets {:>3} | tasks +{:<3} | slab {}/{} (peak {}) | io allocs {} (accept {}){warm}",
                r.second,
                window.frames,
                window_times.quantile_ms(0.99),
                window.inputs,
                window.snapshots_sent,
                c.udp_in,
                c.udp_out,
                c.assets_served,
                r.rt.tasks_spawned - last_tasks,
                r.rt.slab_used,
                r.rt.slab_capacity.unwrap_or(0),
                r.rt.slab_peak,
                r.allocs.allocs + r.allocs.reallocs,
                c.accept_allocs,
            );
            last_tasks = r.rt.tasks_spawned;
            total.frames += window.frames;
            total.inputs += window.inputs;
            total.snapshots_sent += window.snapshots_sent;
            total.snapshots_dropped += window.snapshots_dropped;
            window = GameCounts::default();
            window_times = FrameTimes::new();
            lines += 1;
        }
    }
    let elapsed = start.elapsed();
    total.frames += window.frames;
    total.inputs += window.inputs;
    total.snapshots_sent += window.snapshots_sent;
    total.snapshots_dropped += window.snapshots_dropped;

    // ---- shutdown: the bots first (so the server sees no stragglers), then the server ----
    bots_handle.shutdown();
    let bot = bots.join().map_err(|_| "the bots thread panicked")?;
    io_handle.shutdown();
    let server = io.join().map_err(|_| "the I/O thread panicked")??;

    let s = &server.counts;
    println!("--- {elapsed:.2?}, threads joined ---");
    println!(
        "game: {} frames, frame time p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; {} inputs in, \
         {} snapshots out ({} dropped: channel full)",
        total.frames,
        all_times.quantile_ms(0.50),
        all_times.quantile_ms(0.99),
        all_times.max_ms(),
        total.inputs,
        total.snapshots_sent,
        total.snapshots_dropped,
    );
    println!(
        "I/O thread: {} datagrams in, {} out, {} inputs dropped; {} assets served ({} KiB); \
         {} tasks spawned, slab peak {}/{} slots",
        s.udp_in,
        s.udp_out,
        s.inputs_dropped,
        s.assets_served,
        s.asset_bytes / 1024,
        server.rt.tasks_spawned,
        server.rt.slab_peak,
        server.rt.slab_capacity.unwrap_or(0),
    );
    match server.after_warmup {
        Some((a, c)) => println!(
            "I/O thread heap allocations after warm-up: {} ({} in TcpListener::accept for {} \
             connections; {} elsewhere)",
            a.allocs + a.reallocs,
            c.accept_allocs,
            c.assets_served,
            (a.allocs + a.reallocs).saturating_sub(c.accept_allocs),
        ),
        None => println!("I/O thread: ran less than the warm-up second"),
    }
    println!(
        "bots: {} inputs sent, {} world states received, input→world round trip mean {:.1} ms \
         max {:.1} ms; {} assets fetched ({} KiB, {} corrupt, {} failed)",
        bot.inputs_sent,
        bot.worlds_received,
        bot.ack_us_sum as f64 / bot.acks.max(1) as f64 / 1e3,
        bot.ack_us_max as f64 / 1e3,
        bot.assets_fetched,
        bot.asset_bytes / 1024,
        bot.assets_bad,
        bot.fetches_failed,
    );
    Ok(())
}
