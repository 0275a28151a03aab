//! What a [`FrameArena`](super::FrameArena) is told and what it reports back: its sizing
//! ([`ArenaConfig`]), the error for a request it cannot serve ([`ArenaFull`]) and its counters
//! ([`ArenaStats`]).
//!
//! Plain data with no invariant of its own; the arena keeps [`ArenaStats`] true (see
//! `frame_arena.rs`).

use core::fmt;

/// Default [`ArenaConfig::chunk_size`]: 64 KiB.
pub const DEFAULT_CHUNK_SIZE: usize = 64 * 1024;

/// Sizing of a [`FrameArena`](super::FrameArena).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ArenaConfig {
    /// Size in bytes of a regular chunk (a larger request gets a chunk of its own size).
    /// Must not be zero.
    pub chunk_size: usize,
    /// Upper bound on the chunk memory the arena holds, in bytes; `None` for no bound.
    /// Near the bound, the last chunk is made smaller so the bound can be used fully.
    pub byte_limit: Option<usize>,
}

impl ArenaConfig {
    /// [`DEFAULT_CHUNK_SIZE`] chunks, no limit.
    pub const DEFAULT: Self = Self {
        chunk_size: DEFAULT_CHUNK_SIZE,
        byte_limit: None,
    };
}

impl Default for ArenaConfig {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// An arena request could not be served: it would take the arena's chunk memory past its
/// [`byte_limit`](ArenaConfig::byte_limit), or (with no limit, or for a size that cannot be
/// computed) the memory could not be obtained at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ArenaFull {
    /// Size in bytes of the refused request (`usize::MAX` when computing it overflowed).
    pub requested: usize,
    /// The configured limit, `None` if the arena has none.
    pub limit: Option<usize>,
    /// Chunk memory the arena already held, in bytes (what the limit bounds).
    pub used: usize,
}

impl fmt::Display for ArenaFull {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.limit {
            Some(limit) => write!(
                f,
                "frame arena full: a request of {} bytes does not fit under the byte limit of \
                 {limit} bytes ({} bytes of chunks already held)",
                self.requested, self.used
            ),
            None => write!(
                f,
                "frame arena: no memory for a request of {} bytes ({} bytes of chunks already \
                 held, no byte limit)",
                self.requested, self.used
            ),
        }
    }
}

impl std::error::Error for ArenaFull {}

/// Counters of a [`FrameArena`](super::FrameArena), see
/// [`FrameArena::stats`](super::FrameArena::stats).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ArenaStats {
    /// Bytes handed out since the last reset, alignment padding included (chunk tails left
    /// behind when moving to the next chunk are not counted).
    pub bytes_used: usize,
    /// Highest `bytes_used` seen in any frame.
    pub peak_bytes: usize,
    /// Chunks held (in use or kept for reuse).
    pub chunks: usize,
    /// Bytes of all chunks held.
    pub chunk_bytes: usize,
    /// Number of resets so far.
    pub resets: u64,
}
