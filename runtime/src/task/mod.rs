//! Tasks, under tokio's path: spawning, join handles, blocking work, yielding, and the
//! cooperative budget.

pub use crate::coop;

pub use crate::blocking::{BlockingJoinHandle, spawn_blocking};
pub use crate::core::task::{JoinError, JoinHandle};
pub use crate::spawn::{spawn, spawn_slab, try_spawn_slab};
pub use crate::yield_now::{YieldNow, yield_now};
