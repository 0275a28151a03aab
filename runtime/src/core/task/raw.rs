//! The task block: its header, its stage (future, then output), its vtable, and where it
//! sits in a slab slot. `TaskRef` is the untyped pointer every other file passes around.
//!
//! Invariants this file relies on (argued in `task/mod.rs`):
//! - a block is written once by `write_task` and never moves until freed;
//! - the stage holds the future while `FUTURE` is set, the output while `OUTPUT` is set,
//!   nothing otherwise; the vtable functions are called only in the matching state;
//! - every field but `state` is touched only on the runtime's thread.

use std::alloc::Layout;
use std::cell::{Cell, UnsafeCell};
use std::future::Future;
use std::mem::ManuallyDrop;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::ptr::{self, NonNull};
use std::task::{Context, Poll, Waker};

use tickslab_alloc::slab::{RawSlot, SLOT_ALIGN};

use super::state::{State, flags};
use super::{Id, JoinError};
use crate::core::Core;

/// The largest alignment a slab task may have. A block aligned above the slab's 8 bytes
/// is placed at an aligned offset inside its slot, and [`task_size`](crate::task_size)
/// counts the padding.
pub const MAX_SLAB_TASK_ALIGN: usize = 128;

/// Why a task block cannot live in a slab slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SlotMisfit {
    /// The block (with its worst-case alignment padding) is larger than a slot.
    TooLarge { task_size: usize, slot_size: usize },
    /// The block needs more than [`MAX_SLAB_TASK_ALIGN`].
    OverAligned { align: usize },
}

/// Bytes of a slab slot a task running `F` needs: the block, plus the padding that places
/// an over-aligned block on its alignment inside an 8-aligned slot.
pub const fn slab_block_size<F: Future>() -> usize {
    let size = std::mem::size_of::<Task<F>>();
    let align = std::mem::align_of::<Task<F>>();
    if align > SLOT_ALIGN {
        size + (align - SLOT_ALIGN)
    } else {
        size
    }
}

/// The alignment of a task block running `F`.
pub const fn slab_block_align<F: Future>() -> usize {
    std::mem::align_of::<Task<F>>()
}

/// Checks that a task block running `F` fits a slot of `slot_size` bytes.
pub(crate) fn fits_slot<F: Future>(slot_size: usize) -> Result<(), SlotMisfit> {
    let align = std::mem::align_of::<Task<F>>();
    if align > MAX_SLAB_TASK_ALIGN {
        return Err(SlotMisfit::OverAligned { align });
    }
    let task_size = slab_block_size::<F>();
    if task_size > slot_size {
        return Err(SlotMisfit::TooLarge {
            task_size,
            slot_size,
        });
    }
    Ok(())
}

/// Where in `slot` a block for `F` starts: the first address aligned for it.
///
/// Returns the block's address and its offset from the slot's start.
pub(crate) fn place_in_slot<F: Future>(slot: RawSlot) -> (NonNull<u8>, u8) {
    let align = std::mem::align_of::<Task<F>>();
    if align <= SLOT_ALIGN {
        return (slot.ptr, 0); // the common case, decided at compile time
    }
    let offset = slot.ptr.as_ptr().align_offset(align);
    debug_assert!(offset <= MAX_SLAB_TASK_ALIGN - SLOT_ALIGN);
    // SAFETY: `fits_slot` checked that the block plus up to `align - 8` bytes of padding fit
    // the slot, and an 8-aligned address is at most `align - 8` bytes below the next
    // `align`-aligned one, so the offset pointer stays inside the slot's allocation.
    let ptr = unsafe { slot.ptr.add(offset) };
    (ptr, offset as u8)
}

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
    state: State,
    vtable: &'static TaskVTable,
    /// The runtime this task belongs to. Outlives the task: a live runtime owns it, and a
    /// dead one's orphan record keeps it while any block is outstanding (`core/orphans.rs`).
    core: NonNull<Core>,
    storage: Storage,
    /// Bytes between the slab slot's start and this header (over-aligned blocks).
    slot_offset: u8,
    /// Written only by `harness.rs`.
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

/// The memory a task block for `F` needs (boxed; see [`slab_block_size`] for a slot).
pub(crate) fn task_layout<F: Future>() -> Layout {
    Layout::new::<Task<F>>()
}

/// A header as it stands right after spawn.
pub(super) fn new_task_header_for<F: Future>(
    core: NonNull<Core>,
    storage: Storage,
    slab_chunk: u32,
    slot_offset: u8,
    initial_flags: u16,
) -> Header {
    Header {
        state: State::new(),
        vtable: Task::<F>::VTABLE,
        core,
        storage,
        slot_offset,
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
pub(super) unsafe fn write_task<F: Future>(mem: NonNull<u8>, header: Header, future: F) -> TaskRef {
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
            Err(payload) => Err(JoinError::panicked(payload).of(Id::of(task))),
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
            Ok(()) => Err(JoinError::cancelled().of(Id::of(task))),
            Err(payload) => Err(JoinError::panicked(payload).of(Id::of(task))),
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
        // SAFETY: guaranteed by the caller; `slot_offset` and `slab_chunk` never change after
        // spawn, and the header sits `slot_offset` bytes into the slot it was placed in
        // (`place_in_slot`), so stepping back stays inside that slot.
        unsafe {
            let h = self.header();
            RawSlot {
                ptr: self.0.cast::<u8>().sub(usize::from(h.slot_offset)),
                chunk: h.slab_chunk,
            }
        }
    }

    /// The atomic half of the task's state (any thread).
    ///
    /// # Safety
    /// The caller holds a reference to the task.
    #[inline]
    pub(crate) unsafe fn state<'a>(self) -> &'a State {
        // SAFETY: guaranteed by the caller.
        unsafe { &self.header().state }
    }

    // ---- runtime-thread-only bookkeeping -------------------------------------------------

    /// # Safety
    /// The task is live and this is its runtime's thread.
    #[inline]
    pub(crate) unsafe fn flags(self) -> u16 {
        // SAFETY: guaranteed by the caller.
        unsafe { self.header().flags.get() }
    }

    /// Only `harness.rs` calls this: it is the one writer of task flags.
    ///
    /// # Safety
    /// As [`flags`](Self::flags).
    #[inline]
    pub(super) unsafe fn set_flags(self, value: u16) {
        // SAFETY: guaranteed by the caller.
        unsafe { self.header().flags.set(value) }
    }

    /// # Safety
    /// As [`flags`](Self::flags).
    #[inline]
    pub(super) unsafe fn take_join_waker(self) -> Option<Waker> {
        // SAFETY: guaranteed by the caller.
        unsafe { self.header().join_waker.take() }
    }

    /// Stores `waker` to be woken at completion, unless an equivalent one is there.
    ///
    /// # Safety
    /// As [`flags`](Self::flags).
    #[inline]
    pub(super) unsafe fn register_join_waker(self, waker: &Waker) {
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
    pub(super) unsafe fn poll_future(self, cx: &mut Context<'_>, forbid_alloc: bool) -> bool {
        // SAFETY: guaranteed by the caller.
        unsafe { (self.header().vtable.poll)(self, cx, forbid_alloc) }
    }

    /// # Safety
    /// As [`poll_future`](Self::poll_future).
    #[inline]
    pub(super) unsafe fn cancel_future(self) {
        // SAFETY: guaranteed by the caller.
        unsafe { (self.header().vtable.cancel)(self) }
    }

    /// # Safety
    /// As [`flags`](Self::flags), `OUTPUT` is set, and `T` is the task's output type.
    #[inline]
    pub(super) unsafe fn take_output<T>(self) -> Result<T, JoinError> {
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
    pub(super) unsafe fn drop_output(self) {
        // SAFETY: guaranteed by the caller.
        unsafe { (self.header().vtable.drop_output)(self) }
    }
}
