//! Every change of a task's `flags` happens here, and nowhere else: spawn, poll, complete,
//! cancel, abort, join, detach, frame holds. The state machine these functions implement is
//! drawn in `task/mod.rs`; each function names the transition it makes.
//!
//! Everything here runs on the runtime's thread (the `Runtime`, `JoinHandle`, `SlabClaim`
//! and frames are `!Send`; wakers reach these functions only through `core/remote.rs`,
//! which checks the thread). User code called from here (the future's `poll` and `drop`,
//! the output's `drop`, the join waker's `wake` and `drop`) may panic: each call is made
//! after the flags already describe the task correctly, and panics that are not the task's
//! own are contained and handed to [`Core::defer_panic`].

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr::NonNull;
use std::task::{Context, Poll, Waker};

use super::raw::{new_task_header_for, write_task};
use super::waker::borrowed_task_waker;
use super::{Id, JoinError, JoinHandle, Storage, TaskRef, flags};
use crate::core::Core;
use crate::core::remote::release_final;

impl Core {
    /// Transition 1, *spawn*: writes a task block into `mem` as `LIVE | HANDLE |
    /// LOCAL_QUEUED | FUTURE` (plus `extra_flags`), links it in the owned list and queues
    /// its first poll.
    ///
    /// # Safety
    /// Runtime thread. `mem` is valid and aligned for the task block of `F` and stays put
    /// until freed per `storage` (`chunk` and `slot_offset` locate a slab slot); the
    /// future's borrows outlive the task (they are `'static`, or a frame guarantees it).
    pub(crate) unsafe fn spawn_at<F: Future>(
        &self,
        mem: NonNull<u8>,
        storage: Storage,
        chunk: u32,
        slot_offset: u8,
        future: F,
        extra_flags: u16,
    ) -> JoinHandle<F::Output> {
        let header = new_task_header_for::<F>(
            self.ptr(),
            storage,
            chunk,
            slot_offset,
            flags::LIVE | flags::HANDLE | flags::LOCAL_QUEUED | extra_flags,
        );
        // SAFETY: guaranteed by the caller.
        let task = unsafe { write_task(mem, header, future) };
        self.count_spawn();
        // SAFETY: the task was just written; we are on the runtime thread.
        unsafe {
            self.owned().link(task);
            self.run_queue().push(task);
            JoinHandle::from_task(task)
        }
    }

    /// Transition 2, *poll*: a task popped from the run queue loses `LOCAL_QUEUED`; a live
    /// one is polled under `RUNNING` (or cancelled, if `CANCEL` is set), and completes if
    /// its future is done.
    ///
    /// # Safety
    /// Runtime thread; `task` was just popped from this core's run queue.
    pub(crate) unsafe fn poll_task(&self, task: TaskRef) {
        // SAFETY: guaranteed by the caller; the queue's hold keeps the task live until the
        // flags below drop it.
        unsafe {
            let f = task.flags() & !flags::LOCAL_QUEUED;
            task.set_flags(f);
            if f & flags::LIVE == 0 {
                // Finished while it sat in the queue (aborted): the queue may have been its
                // last local hold.
                release_local_if_idle(task);
                return;
            }
            if f & flags::CANCEL != 0 {
                self.cancel(task);
                return;
            }
            task.set_flags(f | flags::RUNNING);
            let waker = borrowed_task_waker(task);
            let mut cx = Context::from_waker(&waker);
            let forbid_alloc = self.forbid_alloc_in_slab_polls() && task.storage() == Storage::Slab;
            // Catches the future's own panic (it becomes the task's output). Each poll gets a
            // fresh cooperative budget (`crate::coop`).
            // `task::id()` reads which task runs; the poll catches the future's panic, so
            // the previous value is always put back.
            let outer = self.set_current_task(Some(task));
            let ready = crate::coop::with_fresh_budget(|| task.poll_future(&mut cx, forbid_alloc));
            self.set_current_task(outer);
            self.count_poll();
            let f = task.flags() & !flags::RUNNING;
            if ready {
                task.set_flags((f & !flags::FUTURE) | flags::OUTPUT);
                self.complete(task);
            } else {
                task.set_flags(f);
                if f & flags::CANCEL != 0 {
                    self.cancel(task);
                }
            }
        }
    }

    /// Transition 3, *cancel*: drops a live task's future (its panic, if any, becomes the
    /// output) and completes it with `Err(cancelled)`.
    ///
    /// # Safety
    /// Runtime thread; `task` is `LIVE` and not `RUNNING`.
    pub(crate) unsafe fn cancel(&self, task: TaskRef) {
        // SAFETY: guaranteed by the caller.
        unsafe {
            task.cancel_future();
            let f = task.flags();
            task.set_flags((f & !flags::FUTURE) | flags::OUTPUT);
            self.complete(task);
        }
    }

    /// Transition 4, *complete*: the output is stored; the task leaves the owned list
    /// (`LIVE` → `COMPLETE`), a detached task's output is dropped, the local reference goes
    /// if nothing holds it, and the join waker is woken last.
    ///
    /// # Safety
    /// Runtime thread; `task` is `LIVE` and `OUTPUT` is set.
    unsafe fn complete(&self, task: TaskRef) {
        // SAFETY: guaranteed by the caller. The task stays live until `release_local_if_idle`
        // and is not touched after it.
        let join_waker = unsafe {
            self.owned().unlink(task);
            self.count_complete();
            let f = (task.flags() & !(flags::LIVE | flags::CANCEL)) | flags::COMPLETE;
            let join_waker = if f & flags::HANDLE != 0 {
                task.set_flags(f);
                task.take_join_waker()
            } else {
                // Detached: nobody will read the output. A panic from its destructor is
                // nobody's to receive: it is dropped (as tokio does).
                task.set_flags(f & !flags::OUTPUT);
                // `task::id()` in the output's destructor names this task, as in tokio.
                let _ = catch_unwind(AssertUnwindSafe(|| {
                    super::id::with_id(Id::of(task), || task.drop_output())
                }));
                None
            };
            release_local_if_idle(task);
            join_waker
        };
        if let Some(waker) = join_waker {
            self.contain(|| waker.wake());
        }
    }

    /// Transition 5, *schedule*: queues a `LIVE` task that is not queued yet.
    ///
    /// # Safety
    /// Runtime thread; `task` is live.
    #[inline]
    pub(crate) unsafe fn schedule_local(&self, task: TaskRef) {
        // SAFETY: guaranteed by the caller.
        unsafe {
            let f = task.flags();
            if f & (flags::LIVE | flags::LOCAL_QUEUED) == flags::LIVE {
                task.set_flags(f | flags::LOCAL_QUEUED);
                self.run_queue().push(task);
                self.count_local_wake();
            }
        }
    }

    /// Shutdown's drain of the run queue: `LOCAL_QUEUED` goes without a poll.
    ///
    /// # Safety
    /// Runtime thread; `task` was just popped from this core's run queue.
    pub(crate) unsafe fn unqueue_without_poll(&self, task: TaskRef) {
        // SAFETY: guaranteed by the caller; the queue's hold kept it live until now.
        unsafe {
            task.set_flags(task.flags() & !flags::LOCAL_QUEUED);
            release_local_if_idle(task);
        }
    }

    /// Cancels a frame task if it is still live (its frame is unwinding).
    ///
    /// # Safety
    /// Runtime thread; `task` carries the `FRAME` hold and is not running.
    pub(crate) unsafe fn cancel_frame_task(&self, task: TaskRef) {
        // SAFETY: guaranteed by the caller; the hold keeps it live.
        unsafe {
            if task.flags() & flags::LIVE != 0 {
                self.cancel(task);
            }
        }
    }

    /// Transition 6, *frame end*: drops a frame task's `FRAME` hold.
    ///
    /// # Safety
    /// Runtime thread; `task` carries the `FRAME` hold; called once per task.
    pub(crate) unsafe fn release_frame_task(&self, task: TaskRef) {
        // SAFETY: guaranteed by the caller.
        unsafe {
            task.set_flags(task.flags() & !flags::FRAME);
            release_local_if_idle(task);
        }
    }
}

/// Transition 7, *abort*: sets `CANCEL` on a live task; one that is neither queued nor
/// running is queued, so that the next pass cancels it.
///
/// # Safety
/// Runtime thread; the caller holds `HANDLE` on `task` or a reference to it (an
/// `AbortHandle`): either keeps the block readable, and a `LIVE` task's core is alive.
pub(crate) unsafe fn abort_task(task: TaskRef) {
    // SAFETY: guaranteed by the caller; a `LIVE` task's core is alive and not dead.
    unsafe {
        let f = task.flags();
        if f & flags::LIVE == 0 || f & flags::CANCEL != 0 {
            return;
        }
        if f & (flags::RUNNING | flags::LOCAL_QUEUED) == 0 {
            task.set_flags(f | flags::CANCEL | flags::LOCAL_QUEUED);
            task.core().as_ref().run_queue().push(task);
        } else {
            task.set_flags(f | flags::CANCEL);
        }
    }
}

/// Transition 8, *join*: takes the output once it is there (`OUTPUT` goes), else registers
/// the join waker.
///
/// # Safety
/// Runtime thread; the caller holds `HANDLE` on `task`, whose output type is `T`.
#[inline]
pub(crate) unsafe fn poll_join<T>(
    task: TaskRef,
    cx: &mut Context<'_>,
) -> Poll<Result<T, JoinError>> {
    // SAFETY: guaranteed by the caller.
    unsafe {
        let f = task.flags();
        if f & flags::OUTPUT != 0 {
            task.set_flags(f & !flags::OUTPUT);
            return Poll::Ready(task.take_output::<T>());
        }
        assert!(
            f & flags::COMPLETE == 0,
            "JoinHandle polled after it returned Ready"
        );
        task.register_join_waker(cx.waker());
    }
    Poll::Pending
}

/// [`poll_join`] under the cooperative budget (`crate::coop`): a completed join spends one
/// unit, and a spent budget makes the joiner yield first.
///
/// # Safety
/// As [`poll_join`].
#[inline]
pub(crate) unsafe fn poll_join_budgeted<T>(
    task: TaskRef,
    cx: &mut Context<'_>,
) -> Poll<Result<T, JoinError>> {
    // SAFETY: guaranteed by the caller.
    crate::coop::poll_budgeted(cx, |cx| unsafe { poll_join(task, cx) })
}

/// Transition 9, *detach*: the handle goes (`HANDLE` and any unread `OUTPUT` with it), the
/// local reference is released if nothing else holds it. Returns the panic of the output's
/// (or the join waker's) destructor, if one panicked, for the dropper to re-raise.
///
/// # Safety
/// Runtime thread; the caller holds `HANDLE` on `task` and gives it up here, once.
#[inline]
pub(crate) unsafe fn drop_join_handle(task: TaskRef) -> Option<Box<dyn std::any::Any + Send>> {
    // SAFETY: guaranteed by the caller. Flags are final before any user code runs.
    unsafe {
        let f = task.flags();
        task.set_flags(f & !(flags::HANDLE | flags::OUTPUT));
        let join_waker = task.take_join_waker();
        if f & flags::OUTPUT == 0 && join_waker.is_none() {
            // The common case (the output was taken): nothing of the user's to drop.
            release_local_if_idle(task);
            return None;
        }
        drop_join_handle_slow(task, f & flags::OUTPUT != 0, join_waker)
    }
}

/// `drop_join_handle` with user code to run: an unread output, a join waker.
///
/// # Safety
/// As `drop_join_handle`, after its flag change; `output` says whether the stage still
/// holds the output.
#[cold]
#[inline(never)]
unsafe fn drop_join_handle_slow(
    task: TaskRef,
    output: bool,
    join_waker: Option<Waker>,
) -> Option<Box<dyn std::any::Any + Send>> {
    let dropped = output
        .then(|| {
            // `task::id()` in the output's destructor names this task, as in tokio.
            let id = Id::of(task);
            catch_unwind(AssertUnwindSafe(|| {
                // SAFETY: guaranteed by the caller; the output is dropped once, here.
                super::id::with_id(id, || unsafe { task.drop_output() })
            }))
            .err()
        })
        .flatten();
    // SAFETY: as above; the handle's hold goes, the task may be freed after this.
    unsafe { release_local_if_idle(task) };
    // A foreign waker's destructor is user code too: the task is already released.
    let waker_dropped = join_waker.and_then(|w| catch_unwind(AssertUnwindSafe(|| drop(w))).err());
    dropped.or(waker_dropped)
}

/// Whether the task has finished.
///
/// # Safety
/// Runtime thread; the caller holds a local hold (`HANDLE` or `FRAME`) on `task`, or a
/// reference to it (an `AbortHandle`).
pub(crate) unsafe fn is_complete(task: TaskRef) -> bool {
    // SAFETY: guaranteed by the caller.
    unsafe { task.flags() & flags::COMPLETE != 0 }
}

/// Whether the join handle already returned the output (`COMPLETE` without `OUTPUT`: the
/// output is always stored when a task completes, and only `poll_join` takes it).
///
/// # Safety
/// Runtime thread of a live core; the caller holds `HANDLE` on `task`.
pub(crate) unsafe fn join_taken(task: TaskRef) -> bool {
    // SAFETY: guaranteed by the caller.
    unsafe { task.flags() & (flags::COMPLETE | flags::OUTPUT) == flags::COMPLETE }
}

/// Whether a task taken from the remote queue should be scheduled (it is still `LIVE`).
///
/// # Safety
/// Runtime thread of a live core; the caller holds a reference to `task`.
pub(crate) unsafe fn is_live(task: TaskRef) -> bool {
    // SAFETY: guaranteed by the caller.
    unsafe { task.flags() & flags::LIVE != 0 }
}

/// Drops the runtime thread's local reference if no local hold (`LIVE`, `HANDLE`,
/// `LOCAL_QUEUED`, `FRAME`) is left; frees the block if that was the last reference.
/// Called exactly where a hold was just removed.
///
/// # Safety
/// Runtime thread; the local reference is still held.
pub(crate) unsafe fn release_local_if_idle(task: TaskRef) {
    // SAFETY: guaranteed by the caller.
    unsafe {
        if task.flags() & flags::LOCAL_HOLDS == 0 && task.state().release_local_ref() {
            debug_assert_eq!(task.flags() & (flags::FUTURE | flags::OUTPUT), 0);
            release_final(task);
        }
    }
}
