//! `Id`: a task's identity, as tokio's `task::Id`.
//!
//! It is the address of the task's block. A block is not freed while anything refers to the
//! task (its `JoinHandle`, an `AbortHandle`, a waker), so two tasks alive at once never share
//! an id; once a task is finished and forgotten, a later task may reuse its id, which is
//! what tokio promises too ("unique relative to other currently running tasks").
//!
//! Outside a task poll, some user code still runs *for* a task, and tokio's `task::id()`
//! names that task there: a task's output destructor (dropped with its `JoinHandle`, or at
//! completion when detached) and a `spawn_blocking` closure (whose id is the address of its
//! job cell, a heap block distinct from every task block while the job exists). [`with_id`]
//! installs such an id on the thread for the duration of that call; it takes precedence
//! over the task being polled.

use std::cell::Cell;
use std::fmt;
use std::num::NonZeroU64;

use super::TaskRef;

/// A task's identity: unique among the tasks that currently exist (see
/// [`task::id`](crate::task::id), [`JoinHandle::id`](crate::JoinHandle::id)).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Id(NonZeroU64);

impl Id {
    pub(crate) fn of(task: TaskRef) -> Id {
        Id::from_addr(task.as_ptr().addr())
    }

    /// The id of whatever lives at `addr` (a task block, a blocking job's cell).
    pub(crate) fn from_addr(addr: usize) -> Id {
        Id(NonZeroU64::new(addr as u64).expect("no block is at address 0"))
    }
}

thread_local! {
    /// The id installed by [`with_id`], if any.
    static RUNNING_FOR: Cell<Option<Id>> = const { Cell::new(None) };
}

/// Runs `f` with `id` as this thread's task id; puts the previous one back after, also
/// when `f` unwinds.
pub(crate) fn with_id<R>(id: Id, f: impl FnOnce() -> R) -> R {
    struct Restore(Option<Id>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let _ = RUNNING_FOR.try_with(|c| c.set(self.0));
        }
    }
    let _restore = Restore(RUNNING_FOR.try_with(|c| c.replace(Some(id))).ok().flatten());
    f()
}

/// The id installed by [`with_id`] on this thread, if any.
pub(crate) fn running_for() -> Option<Id> {
    RUNNING_FOR.try_with(Cell::get).ok().flatten()
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}
