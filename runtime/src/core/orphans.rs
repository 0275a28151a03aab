//! Blocks and claims that outlive their runtime.
//!
//! When the runtime is dropped while a `JoinHandle`, a `Waker` or a `SlabClaim` still
//! references a block, shutdown moves the slab into an [`Orphans`] record, with the count
//! of what is outstanding and a strong reference to the core. Each later release frees its
//! block under the core's `orphans` lock, on whichever thread it happens; the last one drops
//! the slab and the core reference. Nothing leaks and nothing touches freed memory.
//!
//! Invariant: while the record exists, `outstanding` equals the blocks and claims of this
//! core not yet freed, and no user code runs under the lock (frees and atomics only).

use std::ptr::NonNull;
use std::sync::Arc;

use tickslab_alloc::slab::{ErasedSlab, RawSlot};

use super::Core;
use super::remote::{Entry, lock};
use super::task::{Storage, TaskRef, dealloc_box};

/// A slab whose runtime has been dropped while some of its blocks were still referenced.
pub(super) struct Orphans {
    pub(super) slab: Option<ErasedSlab>,
    pub(super) outstanding: usize,
    /// A strong reference to the core, from `Arc::into_raw`, released with the last block.
    pub(super) core: *const Core,
}

// SAFETY: `ErasedSlab` is `Send`; the raw pointer is a strong `Arc<Core>` reference, and
// `Core` is `Send + Sync`.
unsafe impl Send for Orphans {}

pub(super) enum Freed {
    Task(TaskRef),
    Slot(RawSlot),
}

impl Orphans {
    /// # Safety
    /// `what` is an unreferenced block or claim of this slab (or a boxed task of this core).
    unsafe fn free(&mut self, what: Freed) {
        // SAFETY: guaranteed by the caller; the lock makes us the slab's only user.
        unsafe {
            match what {
                Freed::Task(task) => match task.storage() {
                    Storage::Boxed => dealloc_box(task),
                    Storage::Slab => self.slab().free(task.slab_slot()),
                },
                Freed::Slot(slot) => self.slab().free(slot),
            }
        }
        self.outstanding -= 1;
    }

    fn slab(&self) -> &ErasedSlab {
        self.slab
            .as_ref()
            .expect("an orphaned slab task implies a slab")
    }

    /// Drops the slab and the core reference once nothing is outstanding. Call with the lock
    /// released: this may drop the last reference to the core that holds the lock.
    fn finish(done: Option<Orphans>) {
        if let Some(o) = done {
            debug_assert_eq!(o.outstanding, 0);
            drop(o.slab);
            // SAFETY: `o.core` is the strong reference taken with `Arc::into_raw` at shutdown.
            unsafe { Arc::decrement_strong_count(o.core) };
        }
    }
}

/// Frees an orphaned block or claim under the lock; the last one retires slab and core.
///
/// # Safety
/// The core is dead and `what` is one of its outstanding orphans, unreferenced.
pub(super) unsafe fn orphan_free(core: NonNull<Core>, what: Freed) {
    let done = {
        // SAFETY: the orphan record holds a strong reference until `finish`.
        let c = unsafe { core.as_ref() };
        let mut guard = lock(&c.orphans);
        let orphans = guard
            .as_mut()
            .expect("a dead runtime with outstanding blocks has orphans");
        // SAFETY: guaranteed by the caller.
        unsafe { orphans.free(what) };
        if orphans.outstanding == 0 {
            guard.take()
        } else {
            None
        }
    };
    Orphans::finish(done);
}

/// Processes remote entries that arrived after the runtime died.
///
/// # Safety
/// The core is alive for the call (see `push_remote`) and dead.
pub(super) unsafe fn drain_orphans(core: NonNull<Core>) {
    let done = {
        // SAFETY: guaranteed by the caller.
        let c = unsafe { core.as_ref() };
        let mut guard = lock(&c.orphans);
        let Some(orphans) = guard.as_mut() else {
            // Shutdown has not published the record yet; it drains the queue itself after.
            return;
        };
        while let Some(raw) = c.pop_remote() {
            // SAFETY: entries hold a reference (wakes) or are unreferenced blocks (releases),
            // all counted as outstanding orphans.
            unsafe {
                if let Some(task) = Entry::decode(raw).into_unreferenced() {
                    orphans.free(Freed::Task(task));
                }
            }
        }
        if orphans.outstanding == 0 {
            guard.take()
        } else {
            None
        }
    };
    Orphans::finish(done);
}
