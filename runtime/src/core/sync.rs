//! The synchronization primitives of the cross-thread protocol, from std (and crossbeam's
//! lock-free queues) in normal builds, and from loom under `--cfg loom`, so that the model
//! tests in `loom_tests.rs` check the protocol's real code (`remote.rs`, `orphans.rs`,
//! `shutdown.rs`, `task/state.rs`) under every interleaving.
//!
//! Under loom the lock-free queues are modelled by a mutex-protected `VecDeque`: loom sees
//! the protocol's own atomics, fences and locks; crossbeam's internals are crossbeam's.

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering, fence};
#[cfg(loom)]
pub(crate) use loom::sync::{Mutex, MutexGuard};
#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering, fence};
#[cfg(not(loom))]
pub(crate) use std::sync::{Mutex, MutexGuard};

#[cfg(not(loom))]
pub(crate) use crossbeam_queue::{ArrayQueue, SegQueue};

/// Loom's stand-in for `crossbeam_queue::ArrayQueue` (bounded) and `SegQueue` (unbounded).
#[cfg(loom)]
pub(crate) struct ArrayQueue<T> {
    items: Mutex<std::collections::VecDeque<T>>,
    capacity: usize,
}

#[cfg(loom)]
impl<T> ArrayQueue<T> {
    pub(crate) fn new(capacity: usize) -> Self {
        ArrayQueue {
            items: Mutex::new(std::collections::VecDeque::new()),
            capacity,
        }
    }

    pub(crate) fn push(&self, value: T) -> Result<(), T> {
        let mut items = self.items.lock().unwrap();
        if items.len() == self.capacity {
            return Err(value);
        }
        items.push_back(value);
        Ok(())
    }

    pub(crate) fn pop(&self) -> Option<T> {
        self.items.lock().unwrap().pop_front()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.items.lock().unwrap().is_empty()
    }
}

#[cfg(loom)]
pub(crate) struct SegQueue<T>(ArrayQueue<T>);

#[cfg(loom)]
impl<T> SegQueue<T> {
    pub(crate) fn new() -> Self {
        SegQueue(ArrayQueue::new(usize::MAX))
    }

    pub(crate) fn push(&self, value: T) {
        let _ = self.0.push(value);
    }

    pub(crate) fn pop(&self) -> Option<T> {
        self.0.pop()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub(crate) fn len(&self) -> usize {
        self.0.items.lock().unwrap().len()
    }
}
