//! `AbortHandle`: cancels a task without owning its output, as tokio's.
//!
//! It holds a *reference* to the task (one count in `state`, as a waker clone does), not a
//! local hold: the block stays readable while the handle lives, but the handle keeps neither
//! the future nor the output alive. Aborting reads and writes `flags` through
//! `harness::abort_task`, on the runtime's thread (`AbortHandle` is `!Send`); once the task
//! has finished (or its runtime is gone, which finishes every task), aborting does nothing.

use std::fmt;
use std::marker::PhantomData;

use super::harness::{abort_task, is_complete};
use super::{Id, TaskRef};
use crate::core::remote::drop_ref;

/// Cancels a task, from [`JoinHandle::abort_handle`](crate::JoinHandle::abort_handle) or
/// [`JoinSet::spawn`](crate::task::JoinSet::spawn). Cloneable; dropping it does nothing to
/// the task. Stays on the runtime's thread:
///
/// ```compile_fail,E0277
/// # use tickslab_runtime::*;
/// let rt = Runtime::new().unwrap();
/// let abort = rt.block_on(async { spawn(async {}).abort_handle() });
/// std::thread::spawn(move || drop(abort)); // error: `AbortHandle` cannot be sent
/// ```
pub struct AbortHandle {
    task: TaskRef,
    _not_send: PhantomData<*const ()>,
}

impl AbortHandle {
    /// # Safety
    /// Runtime thread; the caller holds a local hold on `task` or a reference to it.
    pub(crate) unsafe fn new(task: TaskRef) -> AbortHandle {
        // SAFETY: guaranteed by the caller: the block is live; this count is given back in
        // `drop`.
        unsafe { task.state().ref_inc() };
        AbortHandle {
            task,
            _not_send: PhantomData,
        }
    }

    /// Cancels the task, as [`JoinHandle::abort`](crate::JoinHandle::abort): no effect on a
    /// finished one.
    pub fn abort(&self) {
        // SAFETY: our reference keeps the block readable; `!Send` keeps us on its thread.
        unsafe { abort_task(self.task) }
    }

    /// Whether the task has finished (completed, panicked or been cancelled).
    pub fn is_finished(&self) -> bool {
        // SAFETY: as in `abort`.
        unsafe { is_complete(self.task) }
    }

    /// The task's id.
    pub fn id(&self) -> Id {
        Id::of(self.task)
    }
}

impl Clone for AbortHandle {
    fn clone(&self) -> Self {
        // SAFETY: our reference keeps the block live, on its thread.
        unsafe { AbortHandle::new(self.task) }
    }
}

impl Drop for AbortHandle {
    fn drop(&mut self) {
        // SAFETY: this handle's reference, given back once; `drop_ref` frees the block where
        // it may be freed if this was the last one (a dead runtime's orphan record included).
        unsafe { drop_ref(self.task) }
    }
}

impl fmt::Debug for AbortHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AbortHandle")
            .field("id", &self.id())
            .field("finished", &self.is_finished())
            .finish()
    }
}
