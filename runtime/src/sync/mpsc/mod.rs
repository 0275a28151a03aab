//! Thread-safe multi-producer, single-consumer channels: tokio's `sync::mpsc`.
//!
//! Every half is `Send` (and `Sync`) when `T: Send`: an end may live on the game thread,
//! the other on the runtime's thread, or both on one. For two ends that never leave one
//! runtime thread, [`local::mpsc`](crate::sync::local::mpsc) does the same without atomics.
//!
//! | | allocation | waiting |
//! |---|---|---|
//! | [`channel`]`(n)` | shared state + a ring of `n` slots, once | `send`/`reserve` wait FIFO for room, no allocation per wait |
//! | [`unbounded_channel`] | shared state once; a 32-slot block per 32 messages of backlog *beyond the high-water mark* (blocks are recycled) | `send` never waits |
//!
//! Receiving, sending and waiting allocate nothing in steady state; a receiver's waker
//! sits in a lock-free slot, so a message sent from the game thread wakes a parked runtime.
//! The game thread can use the `try_*` methods (never block) or the `blocking_*` ones
//! (park the thread).
//!
//! ```
//! use tickslab_runtime::{Runtime, spawn, sync::mpsc};
//!
//! let (tx, mut rx) = mpsc::channel::<u32>(8);
//! // The game thread sends; the runtime's task receives.
//! let game = std::thread::spawn(move || {
//!     for i in 0..100 {
//!         tx.blocking_send(i).unwrap(); // parks while the 8 slots are full
//!     }
//! });
//! let rt = Runtime::new().unwrap();
//! let sum = rt.block_on(async move {
//!     let mut sum = 0;
//!     while let Some(i) = rx.recv().await {
//!         sum += i;
//!     }
//!     sum
//! });
//! game.join().unwrap();
//! assert_eq!(sum, 4950);
//! ```

mod block;
mod bounded;
mod chan;
pub mod error;
mod permit;
mod unbounded;

pub use bounded::{Receiver, Sender, WeakSender, channel};
pub use permit::{OwnedPermit, Permit, PermitIterator};
pub use unbounded::{UnboundedReceiver, UnboundedSender, WeakUnboundedSender, unbounded_channel};
