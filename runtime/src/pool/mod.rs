//! Pools for what tasks hold across `.await`: typed pools, buffer pools, task-scoped memory.
//!
//! The runtime allocates nothing for its own work once warm; these make the program's data
//! (datagram buffers, decoded messages, asset chunks, per-task scratch) just as cheap.
//!
//! | type | threads | memory | when full |
//! |---|---|---|---|
//! | [`Pool<T>`] → [`PoolBox<T>`] | same thread, no atomics | chunks of `T` slots | `try_alloc` hands the value back ([`PoolFull`]); `alloc(v).await` waits (FIFO) |
//! | [`SyncPool<T>`] → [`SyncPoolBox<T>`] | any: allocate on one thread, drop on another | chunks + lock-free free stack | same; a drop on any thread wakes the waiter |
//! | [`BufPool`] / [`SyncBufPool`] → [`PoolBuf`] / [`SyncPoolBuf`] | as above | fixed-size byte buffers, allocated once | `try_alloc` → `None`; `alloc().await` waits |
//! | [`TaskArenas`] → [`TaskArena`] | same thread | one [`FrameArena`](tickslab_alloc::arena::FrameArena) per live scope | `try_scope` → `None`; `scope().await` waits |
//!
//! ```
//! use tickslab_runtime::{Runtime, spawn_slab};
//! use tickslab_runtime::pool::{Pool, PoolBox};
//!
//! struct Packet { bytes: [u8; 1200], len: usize }
//!
//! let rt = Runtime::builder().slab_bounded::<256>(64).build();
//! let packets: Pool<Packet> = Pool::bounded(32);            // allocated once
//! rt.block_on(async move {
//!     for i in 0..100 {
//!         let mut p: PoolBox<Packet> = packets.alloc(Packet { bytes: [0; 1200], len: 0 }).await;
//!         p.len = i;
//!         drop(spawn_slab(async move { assert!(p.len < 100) })); // `p` goes back when it drops
//!     }
//! });
//! ```
//!
//! # Sizing and growth
//!
//! [`PoolConfig::bounded`] allocates every slot when the pool is made; a full pool refuses
//! or makes `alloc().await` wait. [`PoolConfig::growing`] adds chunks ([`Growth::Linear`] or
//! [`Growth::Exponential`]) when every slot is in use, up to
//! [`max_capacity`](PoolConfig::max_capacity); chunks are never moved nor freed while the
//! pool lives, so a live value never moves. Slots are aligned to the type's alignment or
//! [`PoolConfig::align`], whichever is larger, up to [`MAX_POOL_ALIGN`] (4 KiB).
//! [`PoolStats`] reports length, capacity, peak and counters.
//!
//! # Recycling: the reset hook
//!
//! [`Pool::recycling`] (and `recycling_with`, `SyncPool::recycling*`) make a pool that keeps
//! a dropped box's value in its slot, after calling [`Recycle::on_release`] on it, and
//! hands it out again from [`take`](Pool::take): a `Vec` or `String` keeps its capacity, an
//! arena its chunks. `alloc(value)` on such a pool still works (the kept value is dropped).
//!
//! # Safety: what happens when
//!
//! - **The pool is dropped while boxes are alive**: the storage stays until the last box is
//!   dropped (handles and boxes are counted), then it is freed by that drop, on whatever
//!   thread. Nothing dangles; values kept by a recycling pool are dropped then.
//! - **A box is leaked** (`mem::forget`): its value and slot are never released, so the
//!   storage is leaked too (never freed under a live pointer). No destructor runs twice.
//! - **A `SyncPoolBox` is dropped on another thread while the pool's thread exits**: the
//!   reference count decides who frees the storage; loom checks that path
//!   (`pool/loom_tests.rs`).
//! - **A reset hook panics**: that value is dropped instead of kept (its destructor runs),
//!   the slot goes back empty, [`PoolStats::hook_panics`] counts it, and the panic goes on.
//!   A destructor that panics still gives its slot back.
//!
//! Every `unsafe` block names its invariant; the files open with them (`local/mod.rs`,
//! `local/raw.rs`, `shared/mod.rs`, `shared/raw.rs`), and `UNSAFE.md` maps them to tests.
//!
//! # Why here, in the runtime crate
//!
//! The pools need no executor (any waker works), but `alloc().await` needs the intrusive
//! waiter list of `sync/waiters.rs` with its three soundness rules, and `SyncPool` the
//! cross-thread wake protocol of `sync/cross.rs` and the loom build of this crate. Keeping
//! the pools next to them reuses that code instead of copying the most delicate `unsafe`
//! of the tree into `tickslab-alloc`, or making it public API there.

mod buf;
mod config;
mod local;
mod shared;
mod task;

#[cfg(all(test, loom))]
mod loom_tests;

pub use buf::{Buf, BufPool, PoolBuf, SyncBufPool, SyncPoolBuf};
pub use config::{Growth, MAX_POOL_ALIGN, PoolConfig, PoolFull, PoolStats, Recycle};
pub use local::{Alloc, Pool, PoolBox};
pub use shared::{SyncAlloc, SyncPool, SyncPoolBox};
pub use task::{TaskArena, TaskArenas};
