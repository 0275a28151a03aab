//! The task block, its header, its vtable and the task waker. This file and `core.rs` hold
//! the runtime's unsafe core; see the module docs in `task/mod.rs` for the rules.

use std::alloc::Layout;
use std::cell::{Cell, UnsafeCell};
use std::future::Future;
use std::mem::ManuallyDrop;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::ptr::{self, NonNull};
use std::sync::atomic::{AtomicUsize, Ordering, fence};
use std::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};

use tickslab_alloc::slab::RawSlot;

use super::JoinError;
use crate::core::{self as rt_core, Core};

/// Runtime-thread bookkeeping bits in [`Header::flags`].
pub(crate) mod flags {
    /// Owned by the executor: linked in its owned list, not complete.
    pub const LIVE: u16 = 1 << 0;
    /// A `JoinHandle` exists.
    pub const HANDLE: u16 = 1 << 1;
    /// In the local run queue.
    pub const LOCAL_QUEUED: u16 = 1 << 2;
    /// `abort()` was called: cancel instead of polling.
    pub const CANCEL: u16 = 1 << 3;
    /// The stage holds the future.
    pub const FUTURE: u16 = 1 << 4;
    /// The stage holds the output.
    pub const OUTPUT: u16 = 1 << 5;
    /// Being polled right now.
    pub const RUNNING: u16 = 1 << 6;
    /// Finished: returned `Ready`, panicked, or was cancelled.
    pub const COMPLETE: u16 = 1 << 7;
    /// Spawned by a frame that has not ended yet (see `crate::frame`).
    pub const FRAME: u16 = 1 << 8;
    /// While any of these is set the runtime thread keeps its local reference.
    pub const LOCAL_HOLDS: u16 = LIVE | HANDLE | LOCAL_QUEUED | FRAME;
}

/// `state` bit: the task sits in the runtime's remote queue (holding one reference).
const REMOTE_QUEUED: usize = 1;
/// `state` unit of one reference.
const REF_ONE: usize = 2;
/// Reference counts beyond this mean leaked wakers: abort rather than overflow.
const MAX_REFS: usize = isize::MAX as usize;

/// Where a task's block lives, and so how it is freed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Storage {
    /// A `std::alloc` allocation with the layout of `Task<F>`.
    Boxed,
    /// A slot of the runtime's byte slab.
    Slab,
}

/// The functions that need the future's type.
pub(crate) struct TaskVTable {
    /// Polls the future (inside a no-allocation region if the flag says so). On `Ready` or
    /// a panic, drops the future and stores the output; returns whether it did.
    poll: unsafe fn(TaskRef, &mut Context<'_>, bool) -> bool,
    /// Drops the future and stores `Err(cancelled)` (or the panic its destructor raised).
    cancel: unsafe fn(TaskRef),
    /// Moves the output into `*mut Result<F::Output, JoinError>`.
    take_output: unsafe fn(TaskRef, *mut ()),
    /// Drops the output in place.
    drop_output: unsafe fn(TaskRef),
    /// Frees a `Storage::Boxed` block.
    dealloc_box: unsafe fn(TaskRef),
}

/// The first bytes of every task block.
#[repr(C)]
pub(crate) struct Header {
    /// The only field touched off the runtime thread: `REMOTE_QUEUED` + references.
    state: AtomicUsize,
    vtable: &'static TaskVTable,
    /// The runtime this task belongs to. Outlives the task (see `core.rs`).
    core: NonNull<Core>,
    storage: Storage,
    flags: Cell<u16>,
    /// The slab chunk of the slot (unbounded slabs), for an O(1) free.
    slab_chunk: u32,
    /// Next task in the local run queue.
    pub(crate) run_next: Cell<Option<TaskRef>>,
    /// Neighbours in the executor's list of live tasks.
    pub(crate) owned_prev: Cell<Option<TaskRef>>,
    pub(crate) owned_next: Cell<Option<TaskRef>>,
    /// Woken when the task completes.
    join_waker: Cell<Option<Waker>>,
}

#[repr(C)]
pub(crate) struct Task<F: Future> {
    header: Header,
    stage: UnsafeCell<Stage<F>>,
}

/// The future, then (once it has finished) its output. `flags` says which is there.
union Stage<F: Future> {
    future: ManuallyDrop<F>,
    output: ManuallyDrop<Result<F::Output, JoinError>>,
}

/// The memory a task block for `F` needs.
pub(crate) fn task_layout<F: Future>() -> Layout {
    Layout::new::<Task<F>>()
}

/// A header as it stands right after spawn.
pub(crate) fn new_task_header_for<F: Future>(
    core: NonNull<Core>,
    storage: Storage,
    slab_chunk: u32,
    initial_flags: u16,
) -> Header {
    Header {
        state: AtomicUsize::new(REF_ONE),
        vtable: Task::<F>::VTABLE,
        core,
        storage,
        flags: Cell::new(initial_flags | flags::FUTURE),
        slab_chunk,
        run_next: Cell::new(None),
        owned_prev: Cell::new(None),
        owned_next: Cell::new(None),
        join_waker: Cell::new(None),
    }
}

/// Writes a task block into `mem`.
///
/// # Safety
/// `mem` is valid for writes of `task_layout::<F>()` and stays allocated, unmoved, until the
/// task is freed through its header's storage.
pub(crate) unsafe fn write_task<F: Future>(mem: NonNull<u8>, header: Header, future: F) -> TaskRef {
    let task = mem.cast::<Task<F>>();
    // SAFETY: the caller guarantees `mem` is valid and aligned for a `Task<F>`.
    unsafe {
        task.as_ptr().write(Task {
            header,
            stage: UnsafeCell::new(Stage {
                future: ManuallyDrop::new(future),
            }),
        });
    }
    TaskRef(task.cast())
}

/// Frees the block of a `Storage::Boxed` task.
///
/// # Safety
/// `task` is `Storage::Boxed`, its stage is empty, and nothing references it any more.
pub(crate) unsafe fn dealloc_box(task: TaskRef) {
    // SAFETY: the vtable belongs to this block; the caller guarantees exclusivity.
    unsafe { (task.header().vtable.dealloc_box)(task) }
}

impl<F: Future> Task<F> {
    const VTABLE: &'static TaskVTable = &TaskVTable {
        poll: Self::poll,
        cancel: Self::cancel,
        take_output: Self::take_output,
        drop_output: Self::drop_output,
        dealloc_box: Self::dealloc_box,
    };

    /// # Safety
    /// `task` is a live block written by `write_task::<F>`.
    unsafe fn stage(task: TaskRef) -> *mut Stage<F> {
        // SAFETY: the header is the first field of the `repr(C)` `Task<F>` this pointer was
        // derived from, so it can be cast back, and `stage` is in bounds.
        unsafe { UnsafeCell::raw_get(ptr::addr_of!((*task.0.cast::<Task<F>>().as_ptr()).stage)) }
    }

    unsafe fn poll(task: TaskRef, cx: &mut Context<'_>, forbid_alloc: bool) -> bool {
        // SAFETY: vtable contract; the executor calls this only while `FUTURE` is set, on the
        // runtime thread, never re-entrantly for one task (`RUNNING` guards it).
        let stage = unsafe { Self::stage(task) };
        // SAFETY: the future lives in the block until dropped in place: it never moves.
        let future = unsafe { Pin::new_unchecked(&mut *(*stage).future) };
        let output = match catch_unwind(AssertUnwindSafe(|| {
            // An allocation inside makes the guard panic when it drops, here, inside the
            // catch: the task reports it as its panic.
            let _guard = forbid_alloc.then(tickslab_alloc::counting::no_alloc_guard);
            future.poll(cx)
        })) {
            Ok(Poll::Pending) => return false,
            Ok(Poll::Ready(value)) => Ok(value),
            Err(payload) => Err(JoinError::panicked(payload)),
        };
        // A destructor that panics after `Ready` loses that second panic: the output stands.
        // SAFETY: the future is present and is dropped exactly once, here.
        let _ = catch_unwind(AssertUnwindSafe(|| unsafe {
            ManuallyDrop::drop(&mut (*stage).future)
        }));
        // SAFETY: the future is gone; the union now takes the output.
        unsafe { ptr::addr_of_mut!((*stage).output).write(ManuallyDrop::new(output)) };
        true
    }

    unsafe fn cancel(task: TaskRef) {
        // SAFETY: vtable contract; called only while `FUTURE` is set, on the runtime thread.
        let stage = unsafe { Self::stage(task) };
        // SAFETY: the future is present and is dropped exactly once, here.
        let dropped = catch_unwind(AssertUnwindSafe(|| unsafe {
            ManuallyDrop::drop(&mut (*stage).future)
        }));
        let output = match dropped {
            Ok(()) => Err(JoinError::cancelled()),
            Err(payload) => Err(JoinError::panicked(payload)),
        };
        // SAFETY: the future is gone; the union now takes the output.
        unsafe { ptr::addr_of_mut!((*stage).output).write(ManuallyDrop::new(output)) };
    }

    unsafe fn take_output(task: TaskRef, dst: *mut ()) {
        // SAFETY: vtable contract: `OUTPUT` is set, and `dst` points to a
        // `MaybeUninit<Result<F::Output, JoinError>>` (the `JoinHandle<F::Output>` made it).
        unsafe {
            let stage = Self::stage(task);
            let output = ManuallyDrop::take(&mut (*stage).output);
            dst.cast::<Result<F::Output, JoinError>>().write(output);
        }
    }

    unsafe fn drop_output(task: TaskRef) {
        // SAFETY: vtable contract: `OUTPUT` is set and is dropped exactly once, here.
        unsafe { ManuallyDrop::drop(&mut (*Self::stage(task)).output) }
    }

    unsafe fn dealloc_box(task: TaskRef) {
        // SAFETY: vtable contract: a `Storage::Boxed` block allocated with this layout.
        unsafe { std::alloc::dealloc(task.0.as_ptr().cast(), Layout::new::<Self>()) }
    }
}

/// A pointer to a task's header. Copyable and thread-agnostic; every method is `unsafe`
/// because the pointer must still be live, and most also require the runtime thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TaskRef(NonNull<Header>);

impl TaskRef {
    /// The header, briefly. Never hold this across a call that may free the task.
    ///
    /// # Safety
    /// The task is live.
    #[inline]
    pub(crate) unsafe fn header<'a>(self) -> &'a Header {
        // SAFETY: guaranteed by the caller.
        unsafe { self.0.as_ref() }
    }

    /// # Safety
    /// `ptr` came from `TaskRef::as_ptr` of a live task.
    #[inline]
    pub(crate) unsafe fn from_ptr(ptr: *const ()) -> Self {
        // SAFETY: guaranteed by the caller: non-null.
        TaskRef(unsafe { NonNull::new_unchecked(ptr as *mut Header) })
    }

    #[inline]
    pub(crate) fn as_ptr(self) -> *const () {
        self.0.as_ptr() as *const ()
    }

    /// # Safety
    /// The task is live.
    #[inline]
    pub(crate) unsafe fn core(self) -> NonNull<Core> {
        // SAFETY: guaranteed by the caller.
        unsafe { self.header().core }
    }

    /// # Safety
    /// The task is live (or exclusively ours to free).
    #[inline]
    pub(crate) unsafe fn storage(self) -> Storage {
        // SAFETY: guaranteed by the caller; `storage` never changes after spawn.
        unsafe { self.header().storage }
    }

    /// The slab slot this task occupies.
    ///
    /// # Safety
    /// The task is live and `Storage::Slab`.
    #[inline]
    pub(crate) unsafe fn slab_slot(self) -> RawSlot {
        RawSlot {
            ptr: self.0.cast(),
            // SAFETY: guaranteed by the caller; `slab_chunk` never changes after spawn.
            chunk: unsafe { self.header().slab_chunk },
        }
    }

    // ---- runtime-thread-only bookkeeping -------------------------------------------------

    /// # Safety
    /// The task is live and this is its runtime's thread.
    #[inline]
    pub(crate) unsafe fn flags(self) -> u16 {
        // SAFETY: guaranteed by the caller.
        unsafe { self.header().flags.get() }
    }

    /// # Safety
    /// As [`flags`](Self::flags).
    #[inline]
    pub(crate) unsafe fn set_flags(self, value: u16) {
        // SAFETY: guaranteed by the caller.
        unsafe { self.header().flags.set(value) }
    }

    /// # Safety
    /// As [`flags`](Self::flags).
    #[inline]
    pub(crate) unsafe fn take_join_waker(self) -> Option<Waker> {
        // SAFETY: guaranteed by the caller.
        unsafe { self.header().join_waker.take() }
    }

    /// Stores `waker` to be woken at completion, unless an equivalent one is there.
    ///
    /// # Safety
    /// As [`flags`](Self::flags).
    #[inline]
    pub(crate) unsafe fn register_join_waker(self, waker: &Waker) {
        // SAFETY: guaranteed by the caller.
        let slot = unsafe { &self.header().join_waker };
        match slot.take() {
            Some(old) if old.will_wake(waker) => slot.set(Some(old)),
            _ => slot.set(Some(waker.clone())),
        }
    }

    /// # Safety
    /// As [`flags`](Self::flags), and `FUTURE` is set and the task is not running.
    #[inline]
    pub(crate) unsafe fn poll_future(self, cx: &mut Context<'_>, forbid_alloc: bool) -> bool {
        // SAFETY: guaranteed by the caller.
        unsafe { (self.header().vtable.poll)(self, cx, forbid_alloc) }
    }

    /// # Safety
    /// As [`poll_future`](Self::poll_future).
    #[inline]
    pub(crate) unsafe fn cancel_future(self) {
        // SAFETY: guaranteed by the caller.
        unsafe { (self.header().vtable.cancel)(self) }
    }

    /// # Safety
    /// As [`flags`](Self::flags), `OUTPUT` is set, and `T` is the task's output type.
    #[inline]
    pub(crate) unsafe fn take_output<T>(self) -> Result<T, JoinError> {
        let mut out = std::mem::MaybeUninit::<Result<T, JoinError>>::uninit();
        // SAFETY: guaranteed by the caller; `take_output` initializes `out`.
        unsafe {
            (self.header().vtable.take_output)(self, out.as_mut_ptr().cast());
            out.assume_init()
        }
    }

    /// # Safety
    /// As [`flags`](Self::flags) and `OUTPUT` is set.
    #[inline]
    pub(crate) unsafe fn drop_output(self) {
        // SAFETY: guaranteed by the caller.
        unsafe { (self.header().vtable.drop_output)(self) }
    }

    // ---- atomic references: any thread ---------------------------------------------------

    /// Adds one reference (a waker clone or a remote-queue entry).
    ///
    /// # Safety
    /// The caller already holds a reference.
    #[inline]
    pub(crate) unsafe fn ref_inc(self) {
        // SAFETY: guaranteed by the caller. Relaxed: a new reference is made from an existing
        // one, which already orders everything it needs (as `Arc::clone`).
        let prev = unsafe { self.header() }
            .state
            .fetch_add(REF_ONE, Ordering::Relaxed);
        if prev > MAX_REFS {
            std::process::abort();
        }
    }

    /// Drops one reference; returns `true` if it was the last (the caller must free).
    ///
    /// # Safety
    /// The caller holds the reference it drops.
    #[inline]
    pub(crate) unsafe fn ref_dec(self) -> bool {
        // SAFETY: guaranteed by the caller. Release/Acquire as `Arc::drop`: everything done
        // through any reference happens before the free.
        let prev = unsafe { self.header() }
            .state
            .fetch_sub(REF_ONE, Ordering::Release);
        if prev & !REMOTE_QUEUED == REF_ONE {
            fence(Ordering::Acquire);
            true
        } else {
            false
        }
    }

    /// Drops the runtime thread's local reference; returns `true` if it was the last.
    ///
    /// # Safety
    /// Runtime thread, and the local reference is still held.
    #[inline]
    pub(crate) unsafe fn release_local_ref(self) -> bool {
        // Fast path: with only the local reference left, nobody can add one (a new reference
        // is only ever made from an existing one), so no read-modify-write is needed.
        // SAFETY: guaranteed by the caller.
        if unsafe { self.header() }.state.load(Ordering::Acquire) == REF_ONE {
            return true;
        }
        // SAFETY: guaranteed by the caller.
        unsafe { self.ref_dec() }
    }

    /// Sets `REMOTE_QUEUED`; returns `true` if this call set it (the caller must enqueue).
    ///
    /// # Safety
    /// The caller holds a reference.
    #[inline]
    pub(crate) unsafe fn mark_remote_queued(self) -> bool {
        // SAFETY: guaranteed by the caller.
        let prev = unsafe { self.header() }
            .state
            .fetch_or(REMOTE_QUEUED, Ordering::AcqRel);
        prev & REMOTE_QUEUED == 0
    }

    /// Clears `REMOTE_QUEUED` when its queue entry is taken out.
    ///
    /// # Safety
    /// The caller owns the queue entry (and its reference).
    #[inline]
    pub(crate) unsafe fn clear_remote_queued(self) {
        // SAFETY: guaranteed by the caller.
        unsafe { self.header() }
            .state
            .fetch_and(!REMOTE_QUEUED, Ordering::AcqRel);
    }
}

// ---- the task waker ----------------------------------------------------------------------

/// Wakers carry the task pointer: no allocation. Clone and drop count references;
/// wake schedules the task, locally or through the remote queue (see `core.rs`).
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
    unsafe { TaskRef::from_ptr(ptr).ref_inc() };
    RawWaker::new(ptr, &TASK_WAKER_VTABLE)
}

unsafe fn waker_wake(ptr: *const ()) {
    // SAFETY: this owned waker holds a reference, given back by `drop_ref`.
    unsafe {
        let task = TaskRef::from_ptr(ptr);
        rt_core::schedule_from_waker(task);
        rt_core::drop_ref(task);
    }
}

unsafe fn waker_wake_by_ref(ptr: *const ()) {
    // SAFETY: the waker keeps the task live for the call.
    unsafe { rt_core::schedule_from_waker(TaskRef::from_ptr(ptr)) }
}

unsafe fn waker_drop(ptr: *const ()) {
    // SAFETY: this owned waker holds a reference, given back here.
    unsafe { rt_core::drop_ref(TaskRef::from_ptr(ptr)) }
}
