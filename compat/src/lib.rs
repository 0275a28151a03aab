//! tokio-shaped names over the tickslab runtime.
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]
pub use tickslab_runtime as runtime;
