//! The synchronization primitives of [`SyncPool`](super::SyncPool): std's in normal builds,
//! loom's under `--cfg loom`, so that `pool/loom_tests.rs` checks the real return path
//! (`shared/raw.rs`) under every interleaving. The same shim as `core/sync.rs`, for the
//! pool's own types.

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{
    AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering, fence,
};
#[cfg(loom)]
pub(crate) use loom::sync::{Mutex, MutexGuard};
#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering, fence};
#[cfg(not(loom))]
pub(crate) use std::sync::{Mutex, MutexGuard};
