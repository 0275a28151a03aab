//! Blocking work off the runtime's thread: [`spawn_blocking`] and the pool of threads that
//! runs it (and the thread-pool backend of `crate::fs`).
//!
//! - `pool.rs`: the bounded, lazily started pool and its shutdown rule;
//! - `job.rs`: `spawn_blocking`'s job cell and [`BlockingJoinHandle`].
//!
//! The pool belongs to a runtime; like the reactor, this module keeps its own "current on
//! this thread" slot, which the runtime's context guard (`crate::context`) fills and clears.

mod job;
#[cfg(all(test, loom))]
mod loom_tests;
mod pool;

use std::cell::RefCell;
use std::sync::Arc;

pub(crate) use job::spawn_blocking_on;
pub use job::{BlockingJoinHandle, spawn_blocking};
pub(crate) use pool::{BlockingPool, PoolCounts, RawOp, Work};
pub use pool::{DEFAULT_MAX_BLOCKING_THREADS, DEFAULT_THREAD_KEEP_ALIVE};

thread_local! {
    /// The blocking pool of the runtime current on this thread (owned: a guard that
    /// outlives its runtime leaves a shut-down pool, which refuses work, never a dangling one).
    static CURRENT: RefCell<Option<Arc<BlockingPool>>> = const { RefCell::new(None) };
}

/// Installs `pool` as this thread's current one; returns what was there.
pub(crate) fn set_current(pool: Option<Arc<BlockingPool>>) -> Option<Arc<BlockingPool>> {
    CURRENT
        .try_with(|c| std::mem::replace(&mut *c.borrow_mut(), pool))
        .unwrap_or(None)
}

/// The current runtime's blocking pool, if a runtime is entered.
pub(crate) fn current_pool() -> Option<Arc<BlockingPool>> {
    CURRENT.try_with(|c| c.borrow().clone()).unwrap_or(None)
}
