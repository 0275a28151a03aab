//! The tickslab executor.
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]
