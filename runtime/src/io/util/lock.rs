//! [`Lock`]: the small lock behind `split`'s halves and `duplex`'s pipes, which tokio makes
//! `Send + Sync` and so does tickslab.
//!
//! A `std::sync::Mutex` (no allocation, one uncontended atomic per lock) plus the locking
//! thread's mark, so that a *re-entrant* lock (a stream whose `poll_*` reaches its own other
//! half, a waker whose `clone` writes into the pipe that is storing it) panics with a clear
//! message instead of deadlocking. Invariants:
//! - `owner` holds the mark of the thread holding the mutex, or 0: it is set right after the
//!   mutex is taken and cleared right before it is released, by that thread; so a thread
//!   finds its own mark there only while it holds the lock itself;
//! - poisoning is ignored: a panic while locked (in user code polled under the lock) leaves
//!   the value as that code left it, as the `RefCell` it replaces did.

use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError, TryLockError};

/// A mutex that panics, instead of deadlocking, when its holder locks it again.
#[derive(Debug, Default)]
pub(crate) struct Lock<T> {
    mutex: Mutex<T>,
    owner: AtomicUsize,
}

/// The locked value; unlocks when dropped.
pub(crate) struct LockGuard<'a, T> {
    lock: &'a Lock<T>,
    guard: MutexGuard<'a, T>,
}

thread_local! {
    static MARK: u8 = const { 0 };
}

/// This thread's mark: the address of a thread-local, unique among live threads, never 0.
fn mark() -> usize {
    MARK.with(|m| std::ptr::from_ref(m).addr())
}

impl<T> Lock<T> {
    pub(crate) fn new(value: T) -> Self {
        Lock {
            mutex: Mutex::new(value),
            owner: AtomicUsize::new(0),
        }
    }

    /// Locks, waiting for another thread's holder.
    ///
    /// # Panics
    /// If this thread already holds it (re-entrant use: a deadlock otherwise).
    #[track_caller]
    pub(crate) fn lock(&self) -> LockGuard<'_, T> {
        let guard = match self.mutex.try_lock() {
            Ok(g) => g,
            Err(TryLockError::Poisoned(p)) => p.into_inner(),
            Err(TryLockError::WouldBlock) => {
                if self.owner.load(Ordering::Relaxed) == mark() {
                    panic!(
                        "tickslab: an io stream was used re-entrantly (its `poll_*` reached \
                         itself through the other half, or a waker did)"
                    );
                }
                self.mutex.lock().unwrap_or_else(PoisonError::into_inner)
            }
        };
        self.owner.store(mark(), Ordering::Relaxed);
        LockGuard { lock: self, guard }
    }

    /// The value, for its owner.
    pub(crate) fn into_inner(self) -> T {
        self.mutex
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl<T> Deref for LockGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.guard
    }
}

impl<T> DerefMut for LockGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.guard
    }
}

impl<T> Drop for LockGuard<'_, T> {
    fn drop(&mut self) {
        // Before the mutex is released (the field drops after this).
        self.lock.owner.store(0, Ordering::Relaxed);
    }
}
