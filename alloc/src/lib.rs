//! Memory for tickslab, with no runtime in sight.
//!
//! - [`slab`]: type-erased glue over `nexus_slab` byte slabs, so a runtime can own a slab of
//!   any slot size behind a handful of monomorphized function pointers.
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

pub mod slab;
