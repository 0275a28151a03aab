//! Tasks, under tokio's path: spawning, join handles and sets, abort handles, ids, local
//! sets, task-local values, blocking work ([`spawn_blocking`]), yielding, and the cooperative
//! budget.
//!
//! Every tickslab task is "local" in tokio's sense (it runs on the runtime's one thread and
//! need not be `Send`), so [`spawn`] and [`spawn_local`] are the same boxed spawn, and a
//! [`LocalSet`] is a group of such tasks rather than a separate executor.

mod join_set;
mod local_set;
mod task_local;

pub use crate::coop;
/// tokio's `task::{consume_budget, unconstrained, Unconstrained}`: the [`coop`] budget's.
pub use crate::coop::{Unconstrained, consume_budget, unconstrained};

pub use crate::blocking::{BlockingJoinHandle, spawn_blocking};
pub use crate::core::task::{AbortHandle, Id, JoinError, JoinHandle};
pub use crate::spawn::{spawn, spawn_slab, try_spawn_slab};
pub use crate::yield_now::{YieldNow, yield_now};
pub use join_set::JoinSet;
pub use local_set::{LocalEnterGuard, LocalSet, RunUntil};
pub use task_local::{AccessError, LocalKey, TaskLocalFuture};

use std::future::Future;

/// Spawns a `!Send` future on the current runtime, as tokio's `task::spawn_local`: one heap
/// block, as [`spawn`] ([`spawn_slab`] allocates nothing). Inside a [`LocalSet`]'s
/// `run_until`/`block_on` or one of its tasks, the task joins that set, as in tokio.
///
/// # Panics
/// Outside a tickslab runtime, or once it has been dropped (with tokio's message).
#[track_caller]
pub fn spawn_local<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + 'static,
{
    match local_set::spawn_in_current(future) {
        Ok(handle) => handle,
        Err(future) => {
            // tokio's message, so that code (and tests) expecting it recognise it.
            // SAFETY: the closure only reads whether a runtime is current: no user code.
            let inside = unsafe { crate::context::with_core((), |_, ()| ()) }.is_ok();
            assert!(
                inside,
                "`spawn_local` called from outside of a `task::LocalSet` or \
                 `runtime::LocalRuntime`: no tickslab runtime is running on this thread \
                 (spawn from inside `Runtime::block_on`, a task, or under `Runtime::enter`)"
            );
            crate::spawn(future)
        }
    }
}

/// Runs `f`, a blocking closure, as tokio's `task::block_in_place`: outside a runtime it
/// just runs it; inside one it panics, as tokio's does on a current-thread runtime (the one
/// thread would stop running every other task). Move blocking work to a thread of its own.
///
/// # Panics
/// When called inside a tickslab runtime (`block_on`, a task, or an entered runtime).
#[track_caller]
pub fn block_in_place<F: FnOnce() -> R, R>(f: F) -> R {
    // SAFETY: the closure only reads whether a runtime is current: no user code.
    let inside = unsafe { crate::context::with_core((), |_, ()| ()) }.is_ok();
    assert!(
        !inside,
        "can call blocking only when running on the multi-threaded runtime: tickslab runs \
         on one thread, so `block_in_place` would stop every other task; run the blocking \
         work on a thread of its own and await its result"
    );
    f()
}

/// The id of the task being polled, as tokio's `task::id`.
///
/// # Panics
/// Outside a task (in `block_on`'s own future, or outside a runtime); see [`try_id`].
#[track_caller]
pub fn id() -> Id {
    try_id().expect(
        "tickslab::task::id() called outside a task (block_on's future is not a task): use \
         task::try_id()",
    )
}

/// The id of the task being polled, or `None` outside a task. As in tokio, a task's
/// output destructor and a [`spawn_blocking`] closure run under their task's id too.
pub fn try_id() -> Option<Id> {
    if let Some(id) = crate::core::task::running_for() {
        return Some(id);
    }
    // SAFETY: reading the core's current task runs no user code.
    unsafe { crate::context::with_core((), |core, ()| core.current_task_id()) }
        .ok()
        .flatten()
}
