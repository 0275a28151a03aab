//! # tickslab
//!
//! A single-threaded async runtime for a game's I/O thread: tasks live in a pre-allocated
//! [`nexus_slab`] byte slab (no heap allocation per spawn), wakers carry a task pointer (no
//! allocation per waker) and may be woken from any thread, and the API speaks tokio.
//!
//! ```
//! use tickslab::{Runtime, spawn, spawn_slab, try_claim_slab};
//!
//! // 1,024 slots of 256 bytes, allocated once: spawning into them allocates nothing.
//! let rt = Runtime::builder().slab_bounded::<256>(1024).build();
//! let out = rt.block_on(async {
//!     let h = spawn_slab(async { 40 + 2 });          // zero heap allocation
//!     let claim = try_claim_slab().expect("room");    // reserve now, build later
//!     let h2 = claim.spawn(async { 1 });
//!     let boxed = spawn(async { 0 });                 // any size, one allocation
//!     h.await.unwrap() + h2.await.unwrap() + boxed.await.unwrap()
//! });
//! assert_eq!(out, 43);
//! ```
//!
//! Crates behind this facade:
//! - [`tickslab_runtime`] (re-exported at the root): the executor, tasks, spawning,
//!   [`sync`] channels, [`pool`]s for what tasks hold across `.await` (typed pools, buffer
//!   pools, task-scoped arenas).
//! - [`alloc`] (`tickslab-alloc`): slab glue, the frame arena, allocation counting and
//!   no-allocation guards.
//! - [`compat`] (`tickslab-compat`): tokio-shaped module paths and `futures-task` spawners.
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

pub use tickslab_alloc as alloc;
pub use tickslab_compat as compat;
pub use tickslab_runtime::*;

/// The README's Rust examples, compiled and run as doctests so they stay true.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
