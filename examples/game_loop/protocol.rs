//! What crosses the wire and the channels: the plain `Copy` messages between the threads, the
//! fixed-size datagrams (input and world) and the asset store the TCP service serves.
//!
//! Nothing here allocates except [`make_asset_store`], called once when the server starts.

use std::ops::Range;
use std::rc::Rc;
use std::time::Duration;

/// Players in the world, one per UDP bot.
pub const PLAYERS: usize = 8;
/// Input datagram: `b'I'`, player, dx, dy, seq (u32 LE).
const INPUT_LEN: usize = 8;
/// World datagram: `b'W'`, player count, 2 spare bytes, tick (u32 LE), then per player
/// x (i16 LE), y (i16 LE), the last input seq applied (u32 LE).
pub const WORLD_LEN: usize = 8 + 8 * PLAYERS;
/// Distinct assets the TCP service knows; asset `id` is `asset_len(id)` bytes.
pub const ASSETS: u32 = 16;
/// A stuck asset connection is dropped after this long (it would hold a slot forever).
pub const ASSET_TIMEOUT: Duration = Duration::from_secs(2);

// ---- messages between the threads: plain `Copy` values, no heap ----------------------------

/// A player's input, I/O thread → game.
#[derive(Clone, Copy, Debug)]
pub struct Input {
    pub player: u8,
    pub seq: u32,
    pub dx: i8,
    pub dy: i8,
}

#[derive(Clone, Copy, Debug, Default)]
pub struct PlayerState {
    pub x: i16,
    pub y: i16,
    /// The last input applied, so a bot can tell how long its input took to show up.
    pub last_seq: u32,
}

/// The world as of one frame, game → I/O thread, to broadcast.
#[derive(Clone, Copy, Debug)]
pub struct Snapshot {
    pub tick: u32,
    pub players: [PlayerState; PLAYERS],
}

// ---- wire format: fixed-size byte arrays ---------------------------------------------------

pub fn encode_input(i: &Input) -> [u8; INPUT_LEN] {
    let s = i.seq.to_le_bytes();
    [
        b'I', i.player, i.dx as u8, i.dy as u8, s[0], s[1], s[2], s[3],
    ]
}

pub fn decode_input(b: &[u8]) -> Option<Input> {
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

pub fn encode_world(s: &Snapshot, out: &mut [u8; WORLD_LEN]) {
    out[..4].copy_from_slice(&[b'W', PLAYERS as u8, 0, 0]);
    out[4..8].copy_from_slice(&s.tick.to_le_bytes());
    for (p, chunk) in s.players.iter().zip(out[8..].chunks_exact_mut(8)) {
        chunk[..2].copy_from_slice(&p.x.to_le_bytes());
        chunk[2..4].copy_from_slice(&p.y.to_le_bytes());
        chunk[4..].copy_from_slice(&p.last_seq.to_le_bytes());
    }
}

/// The last input seq the server applied for `player`, from a world datagram.
pub fn decode_world_ack(b: &[u8], player: usize) -> Option<u32> {
    if b.len() != WORLD_LEN || b[0] != b'W' {
        return None;
    }
    let at = 8 + 8 * player + 4;
    Some(u32::from_le_bytes(b[at..at + 4].try_into().ok()?))
}

/// Asset sizes: 2 KiB to 7.6 KiB.
pub fn asset_len(id: u32) -> usize {
    2048 + 384 * id as usize
}

/// Asset contents are a function of id and position, so the bot can verify every byte.
pub fn asset_byte(id: u32, at: usize) -> u8 {
    (id as usize * 31 + at * 7 + at / 251) as u8
}

/// Where asset `id` sits in the asset store: its 4-byte length header, then its bytes,
/// so that serving it is one `write_all`.
pub fn asset_range(id: u32) -> Option<Range<usize>> {
    if id >= ASSETS {
        return None;
    }
    let start: usize = (0..id).map(|i| 4 + asset_len(i)).sum();
    Some(start..start + 4 + asset_len(id))
}

pub fn make_asset_store() -> Rc<[u8]> {
    let mut store = Vec::new();
    for id in 0..ASSETS {
        store.extend_from_slice(&(asset_len(id) as u32).to_le_bytes());
        store.extend((0..asset_len(id)).map(|at| asset_byte(id, at)));
    }
    store.into()
}
