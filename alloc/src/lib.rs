//! Memory for tickslab, with no runtime in sight.
//!
//! - [`slab`]: type-erased glue over `nexus_slab` byte slabs, so a runtime can own a slab of
//!   any slot size behind a handful of monomorphized function pointers.
//! - [`arena`]: [`FrameArena`](arena::FrameArena), per-frame bump allocation in reusable
//!   chunks; references into it cannot outlive the frame (its `reset` takes `&mut self`), and
//!   after warm-up a frame makes no system allocation.
//! - [`counting`]: [`CountingAlloc`](counting::CountingAlloc), a counting global allocator,
//!   and no-allocation regions ([`no_alloc`](counting::no_alloc)) to prove the hot paths
//!   allocation-free in tests and benches.
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

pub mod arena;
pub mod counting;
pub mod slab;
