//! The tickslab executor: a single-threaded async runtime whose tasks live in a slab.
//!
//! Start with [`Runtime`]. Inside [`Runtime::block_on`]:
//! - [`spawn_slab`] puts a task in a slot of the runtime's pre-allocated byte slab: no heap
//!   allocation. [`try_spawn_slab`] hands the future back when a bounded slab is full;
//!   [`claim_slab`]`().await` waits for a slot; [`try_claim_slab`] reserves one now.
//! - [`spawn`] puts a task in its own heap block, for futures of any size.
//! - Every spawn returns a [`JoinHandle`], a future of `Result<T, JoinError>` as in tokio.
//!
//! The code is laid out as:
//! - `task/`: the task block, its header, wakers and join handles (the unsafe core),
//! - `core.rs`: run queues, the remote queue, shutdown (the rest of the unsafe core),
//! - `spawn.rs`, `runtime.rs`, `yield_now.rs`: the public surface.
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

mod core;
pub mod frame;
mod handle;
pub mod io;
pub mod net;
mod runtime;
mod spawn;
pub mod sync;
mod task;
pub mod time;
mod yield_now;

pub use frame::{Frame, FrameJoinHandle, FrameStats};
pub use handle::{Handle, RemoteJoinHandle, RemoteSpawnError};
pub use runtime::{
    Builder, DEFAULT_IO_INTERVAL, DEFAULT_REMOTE_QUEUE_CAPACITY, DEFAULT_TASK_BUDGET, EnterGuard,
    Runtime, RuntimeStats, TickReport,
};
pub use spawn::{
    ClaimSlab, SlabClaim, SlabSpawner, SpawnError, SpawnErrorKind, claim_slab, spawn, spawn_slab,
    task_size, try_claim_slab, try_spawn_slab,
};
pub use task::{JoinError, JoinHandle};
pub use time::{sleep, sleep_until, timeout};
pub use yield_now::{YieldNow, yield_now};
