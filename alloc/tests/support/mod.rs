//! Helpers shared by the arena test files.

use tickslab_alloc::arena::{ArenaConfig, FrameArena};

/// An arena of `chunk_size`-byte chunks with no byte limit.
pub fn small(chunk_size: usize) -> FrameArena {
    FrameArena::with_config(ArenaConfig {
        chunk_size,
        byte_limit: None,
    })
}
