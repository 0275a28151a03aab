//! The root future's waker (the future given to `block_on`): it points at the core, and an
//! owned clone holds a strong `Arc` reference, so it may outlive the runtime on any thread.

use std::mem::ManuallyDrop;
use std::sync::Arc;
use std::task::{RawWaker, RawWakerVTable, Waker};

use super::Core;
use super::sync::Ordering;

static ROOT_WAKER_VTABLE: RawWakerVTable =
    RawWakerVTable::new(root_clone, root_wake, root_wake_by_ref, root_drop);

impl Core {
    /// A waker for the root future that holds no reference, for the duration of `block_on`.
    pub(crate) fn borrowed_root_waker(&self) -> ManuallyDrop<Waker> {
        // SAFETY: the vtable upholds the `RawWaker` contract for a `self_ptr` (the core's
        // `Arc` allocation), which the runtime keeps alive through `block_on`; the borrowed
        // waker is never dropped, so it never gives back a reference it does not hold.
        ManuallyDrop::new(unsafe {
            Waker::from_raw(RawWaker::new(self.self_ptr.cast(), &ROOT_WAKER_VTABLE))
        })
    }

    /// Marks the root as woken (before its first poll).
    pub(crate) fn wake_root(&self) {
        self.root_woken.store(true, Ordering::Relaxed);
    }

    /// Takes the root's wake flag.
    #[inline]
    pub(crate) fn take_root_woken(&self) -> bool {
        self.root_woken.load(Ordering::Relaxed) && self.root_woken.swap(false, Ordering::Acquire)
    }
}

unsafe fn root_clone(ptr: *const ()) -> RawWaker {
    // SAFETY: `ptr` is a `self_ptr` (from the core's `Arc`), alive while this waker exists.
    unsafe { Arc::increment_strong_count(ptr.cast::<Core>()) };
    RawWaker::new(ptr, &ROOT_WAKER_VTABLE)
}

unsafe fn root_wake(ptr: *const ()) {
    // SAFETY: this owned waker holds a strong reference, given back by `root_drop`.
    unsafe {
        root_wake_by_ref(ptr);
        root_drop(ptr);
    }
}

unsafe fn root_wake_by_ref(ptr: *const ()) {
    // SAFETY: the waker keeps the core alive for the call.
    let c = unsafe { &*ptr.cast::<Core>() };
    c.root_woken.store(true, Ordering::Release);
    if !c.is_owner_thread() {
        c.unpark();
    }
}

unsafe fn root_drop(ptr: *const ()) {
    // SAFETY: this owned waker holds a strong reference.
    unsafe { Arc::decrement_strong_count(ptr.cast::<Core>()) };
}
