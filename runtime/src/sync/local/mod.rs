//! Same-thread channels: `!Send`, no atomics, no lock.
//!
//! The fast variants of [`crate::sync::mpsc`] and [`crate::sync::oneshot`] for tasks that
//! talk on one runtime thread: the same names and semantics as tokio's, but both halves are
//! `!Send` and the shared state is an `Rc` with `Cell`s / `RefCell`s. Reach for them when
//! both ends live on the I/O thread; use the thread-safe ones when an end crosses threads.
//!
//! | module | ends | storage | allocation |
//! |---|---|---|---|
//! | [`oneshot`] | 1 → 1, one value | one `Rc` cell | one per channel |
//! | [`mpsc`] | N → 1, bounded | ring allocated at creation | one per channel (+ the ring) |
//!
//! Waiting senders link a node that lives inside their own `send` future into an intrusive
//! list (`sync/waiters.rs`), so any number of them can wait without an allocation per wait.

pub mod mpsc;
pub mod oneshot;
