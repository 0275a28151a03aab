//! The bots thread, the clients: eight UDP players sending inputs at 30 to 60 Hz and timing
//! how long each takes to show up in the world, and one asset bot fetching and verifying an
//! asset ten times a second. Their own runtime, so the server's counts stay the server's.

use std::cell::Cell;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::rc::Rc;
use std::sync::mpsc as std_mpsc;
use std::time::Duration;

use tickslab::time::Instant;

use tickslab::io::{AsyncReadExt, AsyncWriteExt};
use tickslab::net::{TcpStream, UdpSocket};
use tickslab::time::{interval, timeout, timeout_at};
use tickslab::{Handle, Runtime, spawn_slab};

use crate::protocol::{
    ASSET_TIMEOUT, ASSETS, Input, PLAYERS, asset_byte, asset_len, decode_world_ack, encode_input,
};

/// Client-side counters.
#[derive(Clone, Copy, Debug, Default)]
pub struct BotCounts {
    pub inputs_sent: u64,
    pub worlds_received: u64,
    /// Input sent → a world packet showing it applied: network + I/O thread + game frame.
    pub acks: u64,
    pub ack_us_sum: u64,
    pub ack_us_max: u64,
    pub assets_fetched: u64,
    pub asset_bytes: u64,
    pub assets_bad: u64,
    pub fetches_failed: u64,
}

type BotState = Rc<Cell<BotCounts>>;

fn bump(state: &BotState, f: impl FnOnce(&mut BotCounts)) {
    let mut c = state.get();
    f(&mut c);
    state.set(c);
}

pub fn bots_thread(
    udp_server: SocketAddr,
    tcp_server: SocketAddr,
    handle_tx: std_mpsc::Sender<Handle>,
) -> BotCounts {
    let rt = Runtime::builder().slab_bounded::<1024>(64).build();
    if handle_tx.send(rt.handle().clone()).is_err() {
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
