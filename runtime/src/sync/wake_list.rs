//! Helpers shared by the thread-safe primitives: a lock that shrugs off poisoning, and a
//! small on-stack batch of wakers to wake once the lock is released.
//!
//! No primitive in `sync/` runs user code while it holds one of its locks (wakers are
//! cloned before locking and woken or dropped after unlocking), so a poisoned lock can
//! only come from a panic in our own bookkeeping, which leaves nothing half-done: the
//! state behind it is taken as it is.

use std::any::Any;
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::task::Waker;

/// Locks `m`, ignoring poisoning (see the module docs).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// How many wakers a [`WakeList`] holds before the caller must unlock and wake them.
const BATCH: usize = 32;

/// Up to 32 wakers collected under a lock, woken after it (no allocation).
///
/// A waker's `wake` is foreign code and may panic. [`wake_all`](Self::wake_all) wakes the
/// whole batch anyway (a waiter already taken off its list must not be left unwoken) and
/// keeps the first panic; the caller finishes its own bookkeeping (further batches, permits
/// left to hand out) and then calls [`finish`](Self::finish), which lets that panic go on.
pub(crate) struct WakeList {
    wakers: [Option<Waker>; BATCH],
    len: usize,
    panic: Option<Box<dyn Any + Send>>,
}

impl WakeList {
    /// An empty batch.
    pub(crate) fn new() -> WakeList {
        WakeList {
            wakers: [const { None }; BATCH],
            len: 0,
            panic: None,
        }
    }

    /// Whether another waker fits.
    pub(crate) fn can_push(&self) -> bool {
        self.len < BATCH
    }

    /// Adds a waker (`None` is ignored).
    ///
    /// # Panics
    /// If the batch is full (callers check [`can_push`](Self::can_push)).
    pub(crate) fn push(&mut self, waker: Option<Waker>) {
        if let Some(w) = waker {
            self.wakers[self.len] = Some(w);
            self.len += 1;
        }
    }

    /// Wakes every collected waker (call with no lock held), even if some panic; the first
    /// panic is kept for [`finish`](Self::finish).
    pub(crate) fn wake_all(&mut self) {
        let len = std::mem::take(&mut self.len);
        for slot in &mut self.wakers[..len] {
            if let Some(w) = slot.take()
                && let Err(payload) = panic::catch_unwind(AssertUnwindSafe(|| w.wake()))
            {
                self.panic.get_or_insert(payload);
            }
        }
    }

    /// Wakes what is left, then resumes the first panic a waker raised, if any.
    pub(crate) fn finish(mut self) {
        self.wake_all();
        if let Some(payload) = self.panic.take() {
            panic::resume_unwind(payload);
        }
    }
}
