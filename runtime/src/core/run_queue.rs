//! The two intrusive lists of the runtime thread, threaded through task headers so that
//! queuing allocates nothing: the FIFO run queue, and the list of live (owned) tasks that
//! shutdown walks to cancel what is left.
//!
//! Invariants: a task is in the run queue iff `LOCAL_QUEUED` is set, and in the owned list
//! iff `LIVE` is set (both flags keep the task's local reference, so linked tasks are live
//! blocks). Runtime thread only: the cells are plain.

use std::cell::Cell;

use super::task::TaskRef;

/// FIFO of tasks to poll, linked through `Header::run_next`.
pub(crate) struct RunQueue {
    head: Cell<Option<TaskRef>>,
    tail: Cell<Option<TaskRef>>,
    len: Cell<usize>,
}

impl RunQueue {
    pub(crate) fn new() -> Self {
        RunQueue {
            head: Cell::new(None),
            tail: Cell::new(None),
            len: Cell::new(0),
        }
    }

    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.len.get()
    }

    /// # Safety
    /// Runtime thread; `task` is live and not in the queue (its `LOCAL_QUEUED` was unset).
    #[inline]
    pub(crate) unsafe fn push(&self, task: TaskRef) {
        // SAFETY: guaranteed by the caller; the tail is a live queued task.
        unsafe {
            task.header().run_next.set(None);
            match self.tail.replace(Some(task)) {
                Some(tail) => tail.header().run_next.set(Some(task)),
                None => self.head.set(Some(task)),
            }
        }
        self.len.set(self.len.get() + 1);
    }

    /// The next task; it still carries `LOCAL_QUEUED`, which the caller clears.
    #[inline]
    pub(crate) fn pop(&self) -> Option<TaskRef> {
        let task = self.head.get()?;
        // SAFETY: queued tasks are live (the queue is one of their local holds).
        let next = unsafe { task.header().run_next.take() };
        self.head.set(next);
        if next.is_none() {
            self.tail.set(None);
        }
        self.len.set(self.len.get() - 1);
        Some(task)
    }
}

/// Doubly linked list of `LIVE` tasks, through `Header::owned_prev` / `owned_next`.
pub(crate) struct OwnedList {
    head: Cell<Option<TaskRef>>,
}

impl OwnedList {
    pub(crate) fn new() -> Self {
        OwnedList {
            head: Cell::new(None),
        }
    }

    /// The most recently linked live task.
    pub(crate) fn first(&self) -> Option<TaskRef> {
        self.head.get()
    }

    /// # Safety
    /// Runtime thread; `task` is live and not linked.
    pub(crate) unsafe fn link(&self, task: TaskRef) {
        let head = self.head.replace(Some(task));
        // SAFETY: guaranteed by the caller; `head` is a live linked task.
        unsafe {
            let h = task.header();
            h.owned_prev.set(None);
            h.owned_next.set(head);
            if let Some(head) = head {
                head.header().owned_prev.set(Some(task));
            }
        }
    }

    /// # Safety
    /// Runtime thread; `task` is live and linked in this list.
    pub(crate) unsafe fn unlink(&self, task: TaskRef) {
        // SAFETY: guaranteed by the caller; neighbours of a linked task are linked and live.
        unsafe {
            let h = task.header();
            let (prev, next) = (h.owned_prev.take(), h.owned_next.take());
            match prev {
                Some(p) => p.header().owned_next.set(next),
                None => self.head.set(next),
            }
            if let Some(n) = next {
                n.header().owned_prev.set(prev);
            }
        }
    }
}
