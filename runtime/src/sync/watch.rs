//! A single-value channel that receivers watch for changes: tokio's `sync::watch`.
//!
//! The value sits in a `std::sync::RwLock`; a version word counts the sends (bit 0: every
//! sender is gone); receivers wait on a [`Notify`] that each send wakes with
//! `notify_waiters`. Safe code only, no allocation per send or per wait (`channel` makes
//! one `Arc`).
//!
//! # Invariants
//!
//! 1. The version is bumped (by 2) while the write lock is held, so a receiver that reads
//!    the version while holding the read lock sees the version *of the value it reads*
//!    (`borrow_and_update` marks exactly that value seen).
//! 2. A waiting receiver makes its `Notified` before it compares versions: a send after the
//!    comparison wakes it (`notify_waiters` reaches every `Notified` created before it).
//! 3. A panic in a `send_modify` closure leaves the lock unpoisoned for us (we take
//!    poisoned guards as they are) and the version not bumped: receivers are not told of a
//!    half-made change.
//!
//! ```
//! use tickslab_runtime::{Runtime, spawn, sync::watch};
//!
//! let rt = Runtime::new().unwrap();
//! rt.block_on(async {
//!     let (tx, mut rx) = watch::channel("hello");
//!     let task = spawn(async move {
//!         rx.changed().await.unwrap();
//!         *rx.borrow_and_update()
//!     });
//!     tx.send("world").unwrap();
//!     assert_eq!(task.await.unwrap(), "world");
//! });
//! ```

use std::fmt;
use std::ops::Deref;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard};

use super::notify::Notify;

/// The errors of [`watch`](self) (tokio's `sync::watch::error`).
pub mod error {
    use std::fmt;

    /// Every receiver is gone: the value comes back.
    #[derive(PartialEq, Eq, Clone, Copy)]
    pub struct SendError<T>(pub T);

    impl<T> fmt::Debug for SendError<T> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("SendError").finish_non_exhaustive()
        }
    }

    impl<T> fmt::Display for SendError<T> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("channel closed")
        }
    }

    impl<T> std::error::Error for SendError<T> {}

    /// Every sender is gone (and no unseen value is left, for `changed`).
    #[derive(Debug, PartialEq, Eq, Clone, Copy)]
    pub struct RecvError(pub(super) ());

    impl fmt::Display for RecvError {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("channel closed")
        }
    }

    impl std::error::Error for RecvError {}
}

use error::{RecvError, SendError};

/// Bit 0 of the version word: every sender is gone.
const CLOSED: usize = 1;
/// A receiver's "seen" version that no real version equals (they are even).
const UNSEEN: usize = usize::MAX;

struct Shared<T> {
    value: RwLock<T>,
    version: AtomicUsize,
    changed: Notify,
    receivers: AtomicUsize,
    senders: AtomicUsize,
    /// Woken when the last receiver goes (`Sender::closed`).
    no_receivers: Notify,
}

impl<T> Shared<T> {
    fn read(&self) -> RwLockReadGuard<'_, T> {
        self.value.read().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Makes a watch channel holding `init`. One allocation (the shared state).
pub fn channel<T>(init: T) -> (Sender<T>, Receiver<T>) {
    let shared = Arc::new(Shared {
        value: RwLock::new(init),
        version: AtomicUsize::new(0),
        changed: Notify::new(),
        receivers: AtomicUsize::new(1),
        senders: AtomicUsize::new(1),
        no_receivers: Notify::new(),
    });
    (
        Sender {
            shared: shared.clone(),
        },
        Receiver { shared, seen: 0 },
    )
}

/// A read borrow of the value; hold it briefly (senders wait for it).
pub struct Ref<'a, T> {
    inner: RwLockReadGuard<'a, T>,
    has_changed: bool,
}

impl<T> Ref<'_, T> {
    /// Whether this value was unseen by the receiver when it was borrowed.
    pub fn has_changed(&self) -> bool {
        self.has_changed
    }
}

impl<T> Deref for Ref<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.inner
    }
}

impl<T: fmt::Debug> fmt::Debug for Ref<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.inner, f)
    }
}

/// The sending half: `Send + Sync + Clone` when `T: Send + Sync`.
pub struct Sender<T> {
    shared: Arc<Shared<T>>,
}

impl<T> Sender<T> {
    /// A sender with no receiver yet (make them with [`subscribe`](Self::subscribe)).
    pub fn new(init: T) -> Sender<T> {
        let (tx, rx) = channel(init);
        drop(rx);
        tx
    }

    /// Replaces the value and notifies the receivers; `Err(value)` back if none is left.
    pub fn send(&self, value: T) -> Result<(), SendError<T>> {
        if self.shared.receivers.load(Ordering::Acquire) == 0 {
            return Err(SendError(value));
        }
        self.send_replace(value);
        Ok(())
    }

    /// Replaces the value even with no receiver, and returns the old one.
    pub fn send_replace(&self, mut value: T) -> T {
        self.send_modify(|v| std::mem::swap(v, &mut value));
        value
    }

    /// Modifies the value in place and notifies the receivers (even with no receiver).
    pub fn send_modify(&self, modify: impl FnOnce(&mut T)) {
        self.send_if_modified(|v| {
            modify(v);
            true
        });
    }

    /// Modifies the value in place; notifies the receivers only if `modify` returns `true`.
    pub fn send_if_modified(&self, modify: impl FnOnce(&mut T) -> bool) -> bool {
        let changed = {
            let mut guard = self
                .shared
                .value
                .write()
                .unwrap_or_else(PoisonError::into_inner);
            let changed = modify(&mut guard);
            if changed {
                // Invariant 1: bumped under the write lock.
                self.shared.version.fetch_add(2, Ordering::SeqCst);
            }
            changed
        };
        if changed {
            self.shared.changed.notify_waiters();
        }
        changed
    }

    /// Borrows the current value (`has_changed` is `false`).
    pub fn borrow(&self) -> Ref<'_, T> {
        Ref {
            inner: self.shared.read(),
            has_changed: false,
        }
    }

    /// A new receiver that has seen the current value.
    pub fn subscribe(&self) -> Receiver<T> {
        self.shared.receivers.fetch_add(1, Ordering::AcqRel);
        let seen = self.shared.version.load(Ordering::SeqCst) & !CLOSED;
        Receiver {
            shared: self.shared.clone(),
            seen,
        }
    }

    /// Receivers alive now.
    pub fn receiver_count(&self) -> usize {
        self.shared.receivers.load(Ordering::Acquire)
    }

    /// Senders alive now.
    pub fn sender_count(&self) -> usize {
        self.shared.senders.load(Ordering::Acquire)
    }

    /// Whether every receiver is gone.
    pub fn is_closed(&self) -> bool {
        self.receiver_count() == 0
    }

    /// Completes when every receiver is gone.
    pub async fn closed(&self) {
        // A budgeted resource, as tokio's: a loop over a closed channel still yields.
        crate::coop::cooperative(async {
            loop {
                let notified = pin!(self.shared.no_receivers.notified());
                if self.is_closed() {
                    return;
                }
                notified.await;
            }
        })
        .await
    }

    /// Whether both senders belong to the same channel.
    pub fn same_channel(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        self.shared.senders.fetch_add(1, Ordering::Relaxed);
        Sender {
            shared: self.shared.clone(),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        if self.shared.senders.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.shared.version.fetch_or(CLOSED, Ordering::SeqCst);
            self.shared.changed.notify_waiters();
        }
    }
}

impl<T: fmt::Debug> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("value", &*self.borrow())
            .finish()
    }
}

/// The receiving half: `Send + Sync + Clone` when `T: Send + Sync`.
pub struct Receiver<T> {
    shared: Arc<Shared<T>>,
    /// The version last seen (even), or [`UNSEEN`].
    seen: usize,
}

/// Waits for a version other than `*seen`; marks it seen. A free function so that
/// `wait_for` can hold a borrow of the value's lock while it updates `seen`.
async fn changed_impl<T>(shared: &Shared<T>, seen: &mut usize) -> Result<(), RecvError> {
    loop {
        // Invariant 2: the `Notified` exists before the comparison.
        let notified = pin!(shared.changed.notified());
        let version = shared.version.load(Ordering::SeqCst);
        if version & !CLOSED != *seen {
            *seen = version & !CLOSED;
            return Ok(());
        }
        if version & CLOSED != 0 {
            return Err(RecvError(()));
        }
        notified.await;
    }
}

impl<T> Receiver<T> {
    /// Borrows the current value without marking it seen.
    pub fn borrow(&self) -> Ref<'_, T> {
        let inner = self.shared.read();
        let version = self.shared.version.load(Ordering::SeqCst) & !CLOSED;
        Ref {
            inner,
            has_changed: version != self.seen,
        }
    }

    /// Borrows the current value and marks it seen (invariant 1).
    pub fn borrow_and_update(&mut self) -> Ref<'_, T> {
        let inner = self.shared.read();
        let version = self.shared.version.load(Ordering::SeqCst) & !CLOSED;
        let has_changed = version != self.seen;
        self.seen = version;
        Ref { inner, has_changed }
    }

    /// Whether a value unseen by this receiver is there; `Err` once every sender is gone.
    pub fn has_changed(&self) -> Result<bool, RecvError> {
        let version = self.shared.version.load(Ordering::SeqCst);
        if version & CLOSED != 0 {
            return Err(RecvError(()));
        }
        Ok(version != self.seen)
    }

    /// Whether every sender is gone, as tokio's `watch::Receiver::is_closed` (the last value
    /// stays readable with `borrow`).
    pub fn is_closed(&self) -> bool {
        self.shared.version.load(Ordering::SeqCst) & CLOSED != 0
    }

    /// Makes the current value count as unseen.
    pub fn mark_changed(&mut self) {
        self.seen = UNSEEN;
    }

    /// Makes the current value count as seen.
    pub fn mark_unchanged(&mut self) {
        self.seen = self.shared.version.load(Ordering::SeqCst) & !CLOSED;
    }

    /// Waits for a value this receiver has not seen, and marks it seen. `Err` once every
    /// sender is gone and no unseen value is left. Cancel-safe.
    pub async fn changed(&mut self) -> Result<(), RecvError> {
        // A budgeted resource, as tokio's: a loop over a closed channel still yields.
        crate::coop::cooperative(changed_impl(&self.shared, &mut self.seen)).await
    }

    /// Waits until `f` holds for the value (the current one is checked first), marks it
    /// seen and returns a borrow of it. `Err` once every sender is gone.
    pub async fn wait_for(
        &mut self,
        mut f: impl FnMut(&T) -> bool,
    ) -> Result<Ref<'_, T>, RecvError> {
        let shared = &*self.shared;
        let seen = &mut self.seen;
        crate::coop::cooperative(async move {
            loop {
                {
                    let inner = shared.read();
                    let version = shared.version.load(Ordering::SeqCst);
                    let has_changed = version & !CLOSED != *seen;
                    *seen = version & !CLOSED;
                    if f(&inner) {
                        return Ok(Ref { inner, has_changed });
                    }
                    if version & CLOSED != 0 {
                        return Err(RecvError(()));
                    }
                }
                changed_impl(shared, seen).await?;
            }
        })
        .await
    }

    /// Whether both receivers belong to the same channel.
    pub fn same_channel(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }
}

impl<T> Clone for Receiver<T> {
    fn clone(&self) -> Self {
        self.shared.receivers.fetch_add(1, Ordering::AcqRel);
        Receiver {
            shared: self.shared.clone(),
            seen: self.seen,
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        if self.shared.receivers.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.shared.no_receivers.notify_waiters();
        }
    }
}

impl<T: fmt::Debug> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver")
            .field("value", &*self.borrow())
            .finish()
    }
}
