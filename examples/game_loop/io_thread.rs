//! The I/O thread, the server: one tickslab runtime with a bounded slab, a UDP receive task, a
//! broadcast loop, a TCP asset service with one slab task per connection, and a reporter
//! that sends the game one [`IoReport`] a second.
//!
//! After the warm-up second nothing on this thread allocates except inside `accept`, which is
//! counted apart (see [`accept_counted`]).

use std::cell::Cell;
use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::mpsc as std_mpsc;
use std::time::Duration;

use tickslab::time::Instant;

use tickslab::alloc::counting::AllocStats;
use tickslab::io::{AsyncReadExt, AsyncWriteExt};
use tickslab::net::{TcpListener, TcpStream, UdpSocket};
use tickslab::sync::cross;
use tickslab::time::{interval_at, timeout};
use tickslab::{Handle, Runtime, RuntimeStats, claim_slab, spawn_slab};

use crate::protocol::{
    ASSET_TIMEOUT, Input, PLAYERS, Snapshot, WORLD_LEN, asset_range, decode_input, encode_world,
    make_asset_store,
};

/// I/O runtime slab: slot size and count, allocated once when the runtime is built.
pub const IO_SLOT: usize = 512;
pub const IO_SLOTS: usize = 1024;

/// Server-side counters (totals since start; a report carries one second's difference).
#[derive(Clone, Copy, Debug, Default)]
pub struct IoCounts {
    pub udp_in: u64,
    pub udp_out: u64,
    /// Inputs the game channel had no room for (the game fell behind).
    pub inputs_dropped: u64,
    pub assets_served: u64,
    pub asset_bytes: u64,
    /// Allocations made inside `TcpListener::poll_accept` (by the runtime).
    pub accept_allocs: u64,
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
pub struct IoReport {
    pub second: u32,
    pub counts: IoCounts,
    pub allocs: AllocStats,
    pub rt: RuntimeStats,
}

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
pub struct IoSummary {
    pub counts: IoCounts,
    /// From the end of the warm-up second to the shutdown request: all allocations, and
    /// the server's counts (among them the allocations inside `accept`).
    pub after_warmup: Option<(AllocStats, IoCounts)>,
    pub rt: RuntimeStats,
}

/// The channel ends the I/O thread owns.
pub struct IoEnds {
    pub snapshots: cross::Receiver<Snapshot>,
    pub inputs: cross::Sender<Input>,
    pub reports: cross::Sender<IoReport>,
}

pub fn io_thread(
    udp: std::net::UdpSocket,
    tcp: std::net::TcpListener,
    ends: IoEnds,
    handle_tx: std_mpsc::Sender<Handle>,
) -> io::Result<IoSummary> {
    // Everything the thread allocates from here on shows in its reports.
    let thread_start = AllocStats::current_thread();
    let rt = Runtime::builder().slab_bounded::<IO_SLOT>(IO_SLOTS).build();
    // The game stops this thread with `handle.shutdown()`.
    handle_tx
        .send(rt.handle().clone())
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
