//! [`FrameArena`]: per-frame scratch memory, bump-allocated in reusable chunks.
//!
//! Allocation takes `&self`, so any number of allocations coexist, each borrowing the arena.
//! [`FrameArena::reset`] takes `&mut self`, so it cannot happen while any of them is alive:
//! the borrow checker, not a convention, ends the frame. Reset keeps the chunks, so once a
//! frame of a given shape has run, the next frame of that shape makes **zero** system
//! allocations.
//!
//! ```
//! use tickslab_alloc::arena::FrameArena;
//!
//! let mut arena = FrameArena::new();
//! for frame in 0..3u32 {
//!     let pos = arena.alloc([1.0f32, 2.0, 3.0]);
//!     let name = arena.alloc_str("player");
//!     let mut hits = arena.vec();
//!     hits.extend(0..frame);
//!     pos[0] += 1.0;
//!     assert_eq!((&*name, hits.len()), ("player", frame as usize));
//!     arena.reset(); // every reference above is dead here, or this would not compile
//! }
//! ```
//!
//! # Values with destructors are refused at compile time
//!
//! Reset does not run destructors, and a drop list would need memory of its own. Instead,
//! [`alloc`](FrameArena::alloc), [`alloc_slice_fill_with`](FrameArena::alloc_slice_fill_with),
//! [`FrameVec`] and their `try_` forms only accept types without drop glue
//! (`!core::mem::needs_drop::<T>()`), checked by a `const` assertion when the function is
//! instantiated. Plain data, `Copy` types, references and structs of those are fine:
//!
//! ```compile_fail,E0080
//! let arena = tickslab_alloc::arena::FrameArena::new();
//! let s = arena.alloc(String::from("owns heap memory")); // error: has a destructor
//! ```
//!
//! (Being a post-monomorphization error, it shows up in `cargo build`/`cargo test`, not in
//! `cargo check`.) The runtime places values with destructors through
//! [`alloc_raw`](FrameArena::alloc_raw) and drops them itself before the reset.
//!
//! # What the borrow checker refuses
//!
//! A reference from the arena cannot outlive a reset:
//!
//! ```compile_fail,E0502
//! let mut arena = tickslab_alloc::arena::FrameArena::new();
//! let x = arena.alloc(1u32);
//! arena.reset(); // error: `arena` is borrowed by `x`
//! *x += 1;
//! ```
//!
//! nor a growable frame vector:
//!
//! ```compile_fail,E0502
//! let mut arena = tickslab_alloc::arena::FrameArena::new();
//! let mut v = arena.vec::<u32>();
//! v.push(1);
//! arena.reset(); // error: `arena` is borrowed by `v`
//! v.push(2);
//! ```
//!
//! nor reach another thread through `std::thread::spawn` (which needs `'static`):
//!
//! ```compile_fail,E0597
//! let arena = tickslab_alloc::arena::FrameArena::new();
//! let x = arena.alloc(1u32);
//! std::thread::spawn(move || *x += 1); // error: `arena` does not live long enough
//! ```
//!
//! and the arena itself cannot be shared between threads (it is `Send` but not `Sync`):
//!
//! ```compile_fail,E0277
//! let arena = tickslab_alloc::arena::FrameArena::new();
//! std::thread::scope(|s| {
//!     s.spawn(|| arena.alloc(1u32)); // error: `Cell<..>` cannot be shared between threads
//! });
//! ```
//!
//! # Chunks
//!
//! Memory comes from the global allocator in chunks of [`ArenaConfig::chunk_size`] bytes. A
//! request that does not fit the rest of the current chunk moves on to the next chunk: a
//! retained one that fits (after a reset), else a new one of `max(chunk_size, request)` bytes,
//! aligned for the request; the tail of the previous chunk is left unused until the reset.
//! So a request bigger than a chunk gets a chunk of its own. Chunks are reused in the order
//! they were first used, which is why a frame of the same shape finds every chunk it needs.
//! [`FrameArena::trim`] gives unused chunks back.
//!
//! [`ArenaConfig::byte_limit`] bounds the chunk memory the arena may hold. A request that
//! would need more fails with [`ArenaFull`] (`try_` methods) or panics with its message.
//!
//! # Files
//!
//! - `config.rs`: what an arena is told ([`ArenaConfig`]) and what it reports back
//!   ([`ArenaFull`], [`ArenaStats`]).
//! - `frame_arena.rs`: [`FrameArena`], its chunk list and bump pointer, and the invariants
//!   every block it hands out relies on.
//! - `frame_vec.rs`: [`FrameVec`], a growable vector over blocks of the arena.
//!
//! The tests are integration tests over the public API: `alloc/tests/arena_alloc.rs` and
//! `alloc/tests/arena_vec.rs` (plus `alloc/tests/arena.rs`, the arena under the counting
//! allocator).

use core::mem;

mod config;
mod frame_arena;
mod frame_vec;

pub use config::{ArenaConfig, ArenaFull, ArenaStats, DEFAULT_CHUNK_SIZE};
pub use frame_arena::FrameArena;
pub use frame_vec::FrameVec;

/// Panics with the message of `e` (kept out of line: the callers' fast paths stay small).
#[cold]
#[inline(never)]
#[track_caller]
fn full(e: ArenaFull) -> ! {
    panic!("{e}")
}

/// Compile-time refusal of values with destructors (see the module docs).
const fn assert_no_drop<T>() {
    assert!(
        !mem::needs_drop::<T>(),
        "tickslab FrameArena: this type has a destructor (drop glue); the arena never runs \
         destructors, so it only accepts types without one (plain data, Copy types, references)"
    );
}
