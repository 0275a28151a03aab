//! `Id`: a task's identity, as tokio's `task::Id`.
//!
//! It is the address of the task's block. A block is not freed while anything refers to the
//! task (its `JoinHandle`, an `AbortHandle`, a waker), so two tasks alive at once never share
//! an id; once a task is finished and forgotten, a later task may reuse its id, which is
//! what tokio promises too ("unique relative to other currently running tasks").

use std::fmt;
use std::num::NonZeroU64;

use super::TaskRef;

/// A task's identity: unique among the tasks that currently exist (see
/// [`task::id`](crate::task::id), [`JoinHandle::id`](crate::JoinHandle::id)).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Id(NonZeroU64);

impl Id {
    pub(crate) fn of(task: TaskRef) -> Id {
        let addr = task.as_ptr().addr() as u64;
        Id(NonZeroU64::new(addr).expect("a task block is never at address 0"))
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}
