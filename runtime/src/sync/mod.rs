//! Synchronisation for tasks: tokio's `sync` module, plus tickslab's same-thread channels.
//!
//! Everything at this level is thread-safe (`Send + Sync` where tokio's is) and speaks
//! tokio's names, so a renamed tokio program compiles; [`local`] keeps the same-thread
//! channels (no atomics, `!Send`) for ends that never leave the runtime's thread, and
//! [`cross`] the game-thread channel with a `drain()`.
//!
//! **No allocation per wait.** Every primitive that makes a task wait links a node that
//! lives inside the waiting future into one intrusive FIFO list behind the primitive's lock
//! (`waiters.rs`, one list and one set of rules for all of them), so waiting, waking and
//! cancelling allocate nothing. A waiting future dropped after it was picked passes its
//! wakeup (or permit) on: no lost wakeup. Locks are not poisoned by a panic (as tokio's).
//! The `blocking_*` methods park a plain thread (the game thread); called from a task they
//! panic, as tokio's do.
//!
//! | tokio | tickslab | threads | allocation |
//! |---|---|---|---|
//! | `mpsc::channel` | [`mpsc::channel`] | `Send + Sync` | ring at creation; 0 per message and per wait |
//! | `mpsc::unbounded_channel` | [`mpsc::unbounded_channel`] | `Send + Sync` | 32-slot blocks, recycled; 0 per message below the high-water mark |
//! | `oneshot::channel` | [`oneshot::channel`] | `Send + Sync` | 1 per channel (as tokio) |
//! | `Notify` | [`Notify`] | `Send + Sync` | 0 |
//! | `Semaphore` | [`Semaphore`] | `Send + Sync` | 0 |
//! | `Mutex` | [`Mutex`] | `Send + Sync` | 0 |
//! | `RwLock` | [`RwLock`] (fair, write-preferring) | `Send + Sync` | 0 |
//! | `watch` | [`watch`] | `Send + Sync` | 1 per channel; 0 per send and per wait |
//! | `broadcast` | [`broadcast`] | `Send + Sync` | ring at creation; 0 per send and per wait |
//! | `Barrier` | [`Barrier`] | `Send + Sync` | 0 |
//! | `OnceCell`, `SetOnce` | [`OnceCell`], [`SetOnce`] | `Send + Sync` | 0 |
//! | tokio-util's `CancellationToken` | [`CancellationToken`] | `Send + Sync` | 1 per token; 0 per wait |
//! | — | [`local::mpsc`], [`local::oneshot`] | same thread | as above, no atomics |
//! | — | [`cross`] | `Send` | ring at creation; 0 per message |
//!
//! Names and semantics follow `tokio::sync`, so switching is mostly an import change:
//!
//! ```
//! use tickslab_runtime::{Runtime, spawn, sync::{mpsc, oneshot}};
//!
//! let rt = Runtime::new().unwrap();
//! let reply = rt.block_on(async {
//!     let (tx, mut rx) = mpsc::channel::<(u32, oneshot::Sender<u32>)>(16);
//!     spawn(async move {
//!         while let Some((n, reply)) = rx.recv().await {
//!             let _ = reply.send(n + 1);
//!         }
//!     });
//!     let (reply_tx, reply_rx) = oneshot::channel();
//!     tx.send((41, reply_tx)).await.unwrap();
//!     reply_rx.await.unwrap()
//! });
//! assert_eq!(reply, 42);
//! ```

pub(crate) mod atomic_waker;
mod barrier;
pub(crate) mod batch_semaphore;
mod blocking;
pub mod broadcast;
mod cancel;
pub mod cross;
pub mod local;
pub(crate) mod loom_cell;
pub mod mpsc;
#[cfg(not(loom))]
mod mutex;
mod notify;
#[cfg(not(loom))]
mod once_cell;
pub mod oneshot;
#[cfg(not(loom))]
mod rwlock;
#[cfg(not(loom))]
mod semaphore;
mod sink;
mod streams;
pub(crate) mod waiters;
// Under loom the semaphore's types have no `const` constructors, so the types built on it
// with `const fn new` (`Semaphore`, `Mutex`, `RwLock`, `OnceCell`) are left out of that
// build; the model checks the semaphore itself (`loom_tests.rs`).
#[cfg(all(test, loom))]
mod loom_tests;
mod wake_list;
pub mod watch;

pub use barrier::{Barrier, BarrierWaitResult};
pub use cancel::{CancellationToken, DropGuard, WaitForCancellationFuture};
#[cfg(not(loom))]
pub use mutex::{MappedMutexGuard, Mutex, MutexGuard, OwnedMutexGuard, TryLockError};
pub use notify::{Notified, Notify, OwnedNotified};

/// Named futures of this module, at tokio's path (`tokio::sync::futures::{Notified,
/// OwnedNotified}`).
pub mod futures {
    pub use super::notify::{Notified, OwnedNotified};
}
#[cfg(not(loom))]
pub use once_cell::{OnceCell, SetError, SetOnce, SetOnceError};
#[cfg(not(loom))]
pub use rwlock::{
    OwnedRwLockReadGuard, OwnedRwLockWriteGuard, RwLock, RwLockReadGuard, RwLockWriteGuard,
};
#[cfg(not(loom))]
pub use semaphore::{
    AcquireError, OwnedSemaphorePermit, Semaphore, SemaphorePermit, TryAcquireError,
};
