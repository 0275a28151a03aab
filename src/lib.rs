//! tickslab: a single-threaded async runtime with a slab task allocator and a frame arena.
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

pub use tickslab_alloc as alloc;
pub use tickslab_runtime::*;
