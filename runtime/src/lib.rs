//! The tickslab executor: a single-threaded async runtime whose tasks live in a slab.
//!
//! Start with [`Runtime`]. Inside [`Runtime::block_on`]:
//! - [`spawn_slab`] puts a task in a slot of the runtime's pre-allocated byte slab: no heap
//!   allocation. [`try_spawn_slab`] hands the future back when a bounded slab is full;
//!   [`claim_slab`]`().await` waits for a slot; [`try_claim_slab`] reserves one now.
//! - [`spawn`] puts a task in its own heap block, for futures of any size.
//! - Every spawn returns a [`JoinHandle`], a future of `Result<T, JoinError>` as in tokio.
//! - [`fs`] reads and writes files (io_uring, or a blocking pool), and
//!   [`task::spawn_blocking`] runs blocking work off the runtime's thread.
//!
//! The code is laid out in layers, each importing only from those below it:
//! - `core/`: the executor core and the unsafe heart of the crate: the task block and its
//!   state machine (`core/task/`), run queue, remote queue, orphans, shutdown;
//! - `time/`, `io/`, `sync/`, `blocking/`, `fs/`: timers, the reactor, tokio's `sync`
//!   (channels, `Notify`, `Semaphore`, `Mutex`, ...) and the same-thread channels, the
//!   blocking pool, files (each owns its own "current on this thread" slot where it needs
//!   one; `sync/` uses `time/` for `send_timeout` only);
//! - `context.rs`: the runtime current on this thread (installs core, timers, reactor);
//!   `home.rs`: the runtimes that live on this thread, for `Handle::block_on` to drive;
//! - `spawn.rs`, `handle.rs`, `frame.rs`, `net/`: spawning, other threads, frames, sockets;
//! - `signal/`: Unix signals, over `net/`'s sockets (a self-pipe in each runtime's reactor);
//! - `process/`: child processes (tokio's `process`), over `net/`'s pipes, `signal/` and
//!   `spawn.rs` (pidfds in the reactor, or `SIGCHLD`; a reaper task for dropped children);
//! - `pool/`: pools for what tasks hold across `.await` (below `sync/`'s waiter lists, above
//!   nothing else: any executor's wakers work);
//! - `driver.rs`, `builder.rs`, `runtime.rs`, `stats.rs`: what the runtime waits on and its
//!   scheduler pass, then the `Runtime`, its builder and its driving loops;
//! - `unwind_safe.rs`: tokio's `UnwindSafe` markers on types of every layer;
//! - `ecosystem/`: the optional integrations (features `tokio-io`, `hyper`, `quinn`), on top
//!   of `net/`, `time/` and `spawn.rs`.
//!
//! `UNSAFE.md` at the repository's root maps every kind of `unsafe` to its invariant.
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod blocking;
mod builder;
mod context;
pub mod coop;
mod core;
mod driver;
pub mod ecosystem;
pub mod frame;
pub mod fs;
mod handle;
mod home;
pub mod io;
pub mod net;
pub mod pool;
#[cfg(unix)]
pub mod process;
mod runtime;
#[cfg(unix)]
pub mod signal;
mod spawn;
mod stats;
pub mod sync;
pub mod task;
pub mod time;
mod unwind_safe;
mod yield_now;

pub use blocking::{DEFAULT_MAX_BLOCKING_THREADS, DEFAULT_THREAD_KEEP_ALIVE};
pub use builder::{
    Builder, DEFAULT_IO_INTERVAL, DEFAULT_PARK_SPIN, DEFAULT_REMOTE_QUEUE_CAPACITY,
    DEFAULT_TASK_BUDGET,
};
pub use core::task::{AbortHandle, JoinError, JoinHandle, MAX_SLAB_TASK_ALIGN};
pub use frame::{Frame, FrameJoinHandle, FrameStats};
pub use handle::{
    Handle, HandleEnterGuard, RemoteJoinHandle, RemoteSpawnError, RuntimeFlavor, RuntimeId,
    TryCurrentError,
};
pub use runtime::{EnterGuard, Runtime};
pub use spawn::{
    ClaimSlab, SlabClaim, SlabSpawner, SpawnError, SpawnErrorKind, claim_slab, spawn, spawn_slab,
    task_size, try_claim_slab, try_spawn_slab,
};
pub use stats::{RuntimeStats, TickReport};
pub use time::{sleep, sleep_until, timeout};
pub use yield_now::{YieldNow, yield_now};

#[cfg(feature = "hyper")]
#[cfg_attr(docsrs, doc(cfg(feature = "hyper")))]
pub use ecosystem::hyper;
#[cfg(feature = "quinn")]
#[cfg_attr(docsrs, doc(cfg(feature = "quinn")))]
pub use ecosystem::quinn;
#[cfg(feature = "tokio-io")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio-io")))]
pub use ecosystem::tokio_io;
