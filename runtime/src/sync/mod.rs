//! Channels: same-thread (`oneshot`, `mpsc`) and cross-thread (game thread <-> runtime).
//!
//! | module | ends | threads | storage | waiting |
//! |---|---|---|---|---|
//! | [`oneshot`] | 1 → 1, one value | same thread (`!Send`) | one `Rc` cell | receiver awaits |
//! | [`mpsc`] | N → 1, bounded | same thread (`!Send`) | ring allocated at creation | `send` and `recv` await |
//! | [`cross`] | N → 1, bounded | any (`Send`) | lock-free ring allocated at creation | async side awaits, other side `try_*` |
//!
//! Every channel allocates once, when it is made; after that, sending, receiving and
//! waiting allocate nothing. Waiting senders link a node that lives inside their own
//! `send` future into an intrusive list, so any number of them can wait without an
//! allocation per wait. Wakers are stored, not runtime internals: the channels work with
//! any executor, and a tickslab waker woken from another thread unparks its runtime.
//!
//! Names and semantics follow `tokio::sync`, so switching is mostly an import change:
//!
//! ```
//! use tickslab_runtime::{Runtime, spawn, sync::{mpsc, oneshot}};
//!
//! let rt = Runtime::new();
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

mod atomic_waker;
pub mod cross;
mod futures;
pub mod mpsc;
pub mod oneshot;
mod sink;
pub(crate) mod waiters;
