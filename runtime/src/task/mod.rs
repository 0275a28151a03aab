//! Tasks: memory layout, reference counting, wakers and join handles.
//!
//! # Layout
//!
//! A task is one block of memory, `Task<F>`: a [`Header`] followed by a *stage*, a union
//! that holds first the future and then its output (`Result<F::Output, JoinError>`). The
//! block lives in a slot of the runtime's byte slab ([`Storage::Slab`]) or in a `Box`
//! ([`Storage::Boxed`]); the header says which, so the runtime never needs to know.
//! The header's `vtable` holds the few functions that need the future's type (poll, drop
//! the future, move the output out, drop the output, free a boxed block).
//!
//! # Who may touch what
//!
//! The runtime is single-threaded, but `Waker` is `Send + Sync`, so a waker may be cloned,
//! woken or dropped on any thread. The header is split accordingly:
//!
//! - `state` is atomic and is the **only** field other threads touch: one bit says "queued
//!   on the runtime's remote queue", the rest counts references held through wakers.
//! - everything else (`flags`, the queue links, the join waker, the stage) is touched only
//!   on the runtime's own thread. `JoinHandle` and `SlabClaim` are `!Send`, so they stay
//!   on that thread too.
//!
//! # Reference counting
//!
//! `state` counts atomic references: one per `Waker` clone, one per remote-queue entry, and
//! one for the runtime thread as a whole (the *local* reference). The runtime thread keeps
//! its own bookkeeping in plain `flags`: the task is `LIVE` (owned by the executor, not yet
//! complete), has a `JoinHandle`, or sits in the local run queue. When none of those holds
//! any more, the local reference is dropped. When the count reaches zero the block is freed,
//! and freeing a slab slot only ever happens on the runtime's thread (a last reference
//! dropped elsewhere is sent home through the remote queue) or, once the runtime is gone,
//! under the lock of the orphaned slab (see `crate::core`).
//!
//! The hot path (spawn, poll with a borrowed waker, wake from inside the runtime, complete,
//! join, free) touches no atomic read-modify-write at all: it checks that the count is
//! exactly the local reference and frees the block.

mod join;
mod raw;

pub use join::{JoinError, JoinHandle};
pub(crate) use raw::Task as TaskBlockProbe;
pub(crate) use raw::{Storage, TaskRef, flags};
pub(crate) use raw::{borrowed_task_waker, dealloc_box};
pub(crate) use raw::{new_task_header_for, task_layout, write_task};
