//! The task waker: the task's address plus a static vtable, so creating, cloning and waking
//! one allocates nothing. Clone and drop count references in the task's atomic `State`;
//! wake schedules the task, straight into the local run queue on the runtime's thread, or
//! through the remote queue from anywhere else (`core/remote.rs`).

use std::mem::ManuallyDrop;
use std::task::{RawWaker, RawWakerVTable, Waker};

use super::TaskRef;
use crate::core::remote::{drop_ref, schedule_from_waker};

static TASK_WAKER_VTABLE: RawWakerVTable =
    RawWakerVTable::new(waker_clone, waker_wake, waker_wake_by_ref, waker_drop);

/// A waker for `task` that holds no reference of its own, for the duration of one poll.
///
/// # Safety
/// The task stays live while the returned waker is used; it must not be dropped (it is in a
/// `ManuallyDrop`), only cloned, woken by reference, or forgotten.
#[inline]
pub(crate) unsafe fn borrowed_task_waker(task: TaskRef) -> ManuallyDrop<Waker> {
    // SAFETY: the vtable functions uphold the `RawWaker` contract for a task pointer; the
    // borrowed waker never runs `waker_drop`, so it never gives back a reference it lacks.
    ManuallyDrop::new(unsafe { Waker::from_raw(RawWaker::new(task.as_ptr(), &TASK_WAKER_VTABLE)) })
}

unsafe fn waker_clone(ptr: *const ()) -> RawWaker {
    // SAFETY: a waker (owned or borrowed during a poll) keeps the task live while it exists.
    unsafe { TaskRef::from_ptr(ptr).state().ref_inc() };
    RawWaker::new(ptr, &TASK_WAKER_VTABLE)
}

unsafe fn waker_wake(ptr: *const ()) {
    // SAFETY: this owned waker holds a reference, given back by `drop_ref`.
    unsafe {
        let task = TaskRef::from_ptr(ptr);
        schedule_from_waker(task);
        drop_ref(task);
    }
}

unsafe fn waker_wake_by_ref(ptr: *const ()) {
    // SAFETY: the waker keeps the task live for the call.
    unsafe { schedule_from_waker(TaskRef::from_ptr(ptr)) }
}

unsafe fn waker_drop(ptr: *const ()) {
    // SAFETY: this owned waker holds a reference, given back here.
    unsafe { drop_ref(TaskRef::from_ptr(ptr)) }
}
