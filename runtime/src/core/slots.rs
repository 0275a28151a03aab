//! Where task blocks come from and go back to: a slab slot or a heap block, slab claims,
//! and the waiters for a free slot.
//!
//! Invariants: `allocated` counts every task block not yet freed and every outstanding
//! claim; it is what shutdown hands to the orphan record. A slot is freed only on the
//! runtime thread of a live core (here) or under the orphans lock (`orphans.rs`).

use std::future::Future;
use std::ptr::NonNull;
use std::task::Waker;

use tickslab_alloc::slab::RawSlot;

use super::Core;
use super::orphans::{Freed, orphan_free};
use super::task::{
    JoinHandle, SlotMisfit, Storage, TaskRef, dealloc_box, fits_slot, flags, place_in_slot,
    task_layout,
};

/// Why a slab spawn did not happen (the public `SpawnErrorKind` says it to users).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SlabRefusal {
    NoSlab,
    Full { capacity: usize },
    Misfit(SlotMisfit),
}

impl Core {
    fn assert_alive(&self) {
        assert!(
            !self.is_shut_down(),
            "tickslab: cannot spawn: the runtime has shut down"
        );
    }

    /// Spawns `future` in a fresh heap block.
    ///
    /// # Panics
    /// If the runtime is dead.
    pub(crate) fn spawn_boxed<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
    {
        self.assert_alive();
        let mem = self.alloc_boxed_block::<F>();
        // SAFETY: `mem` is a fresh block with the task's layout, freed by `dealloc_box`.
        unsafe { self.spawn_at(mem, Storage::Boxed, 0, 0, future, 0) }
    }

    /// A fresh heap block for a task running `F`, counted in `allocated`.
    fn alloc_boxed_block<F: Future>(&self) -> NonNull<u8> {
        let layout = task_layout::<F>();
        // SAFETY: the layout is never zero-sized (it holds a header).
        let mem = unsafe { std::alloc::alloc(layout) };
        let Some(mem) = NonNull::new(mem) else {
            std::alloc::handle_alloc_error(layout)
        };
        self.local.allocated.set(self.local.allocated.get() + 1);
        mem
    }

    /// Spawns `future` in a free slab slot, or hands it back with the reason.
    pub(crate) fn try_spawn_slab<F>(
        &self,
        future: F,
    ) -> Result<JoinHandle<F::Output>, (SlabRefusal, F)>
    where
        F: Future + 'static,
    {
        let Some(slab) = self.slab() else {
            return Err((SlabRefusal::NoSlab, future));
        };
        if let Err(misfit) = fits_slot::<F>(slab.slot_size()) {
            return Err((SlabRefusal::Misfit(misfit), future));
        }
        match self.try_claim_slot() {
            // SAFETY: the slot is fresh from this core's slab and the task fits it.
            Some(slot) => Ok(unsafe { self.spawn_in_slot(slot, future) }),
            None => Err((
                SlabRefusal::Full {
                    capacity: slab.capacity().unwrap_or(0),
                },
                future,
            )),
        }
    }

    /// Spawns `future` in a slab slot this core handed out (counted in `allocated` already).
    ///
    /// # Safety
    /// `slot` was claimed from this live core's slab and the task fits it (`fits_slot`).
    pub(crate) unsafe fn spawn_in_slot<F>(&self, slot: RawSlot, future: F) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
    {
        let (mem, offset) = place_in_slot::<F>(slot);
        // SAFETY: guaranteed by the caller; `place_in_slot` aligned the block inside the slot.
        unsafe { self.spawn_at(mem, Storage::Slab, slot.chunk, offset, future, 0) }
    }

    /// Spawns a task whose future may borrow data of a frame (not `'static`), in a slab
    /// slot if one is free and fits, else in a heap block. The task carries the `FRAME`
    /// hold until `release_frame_task`.
    ///
    /// # Safety
    /// The caller guarantees the future is dropped (completed or cancelled through
    /// `cancel_frame_task`) before anything it borrows goes away.
    pub(crate) unsafe fn spawn_frame_task<F: Future>(&self, future: F) -> JoinHandle<F::Output> {
        self.assert_alive();
        let fits = self
            .slab()
            .is_some_and(|s| fits_slot::<F>(s.slot_size()).is_ok());
        match fits.then(|| self.try_claim_slot()).flatten() {
            Some(slot) => {
                let (mem, offset) = place_in_slot::<F>(slot);
                // SAFETY: `mem` fits the task inside a slot of this core's slab; the caller
                // guarantees the future's borrows outlive it.
                unsafe {
                    self.spawn_at(mem, Storage::Slab, slot.chunk, offset, future, flags::FRAME)
                }
            }
            None => {
                let mem = self.alloc_boxed_block::<F>();
                // SAFETY: a fresh heap block with the task's layout; borrows as above.
                unsafe { self.spawn_at(mem, Storage::Boxed, 0, 0, future, flags::FRAME) }
            }
        }
    }

    /// Claims a slab slot, counting it as allocated. `None` without a slab, when a bounded
    /// one is full, or once the runtime is dead.
    pub(crate) fn try_claim_slot(&self) -> Option<RawSlot> {
        let slot = self.slab()?.try_claim()?;
        self.local.allocated.set(self.local.allocated.get() + 1);
        Some(slot)
    }

    /// Returns a claimed, never-used slot.
    ///
    /// # Safety
    /// `slot` came from `try_claim_slot` on this core and was not used or freed.
    pub(crate) unsafe fn free_claimed_slot(core: NonNull<Core>, slot: RawSlot) {
        // SAFETY: the outstanding claim keeps the core alive (as a live runtime or an orphan).
        let c = unsafe { core.as_ref() };
        if c.is_owner_thread() && !c.is_shut_down() {
            // SAFETY: runtime thread; the slot is ours.
            unsafe { c.slab().expect("a claim implies a slab").free(slot) };
            c.local.allocated.set(c.local.allocated.get() - 1);
            c.slot_freed();
        } else {
            // SAFETY: the runtime is gone; the slot is an outstanding orphan.
            unsafe { orphan_free(core, Freed::Slot(slot)) }
        }
    }

    /// The slot waiters' epoch: a waiter registered in the current epoch will be woken by
    /// the next free slot and need not register again.
    pub(crate) fn slot_epoch(&self) -> u64 {
        self.local.slot_waiters_epoch.get()
    }

    /// Registers a waker (already cloned by the caller: cloning is user code) to be woken
    /// when a slab slot frees up.
    pub(crate) fn add_slot_waiter(&self, waker: Waker) {
        let mut waiters = self.local.slot_waiters.take();
        waiters.push(waker);
        self.local.slot_waiters.set(waiters);
        self.local.has_slot_waiters.set(true);
    }

    /// A slot came back: wake everyone waiting for one (they race to claim it; the losers
    /// register again).
    #[inline]
    fn slot_freed(&self) {
        if !self.local.has_slot_waiters.get() || self.local.shutting_down.get() {
            return;
        }
        self.wake_slot_waiters();
    }

    #[inline(never)]
    fn wake_slot_waiters(&self) {
        self.local.has_slot_waiters.set(false);
        let mut waiters = self.local.slot_waiters.take();
        self.local
            .slot_waiters_epoch
            .set(self.local.slot_waiters_epoch.get() + 1);
        for waker in waiters.drain(..) {
            self.contain(|| waker.wake());
        }
        // Keep the allocation for next time (waking never registers, but stay correct if a
        // waker somehow did).
        let newer = self.local.slot_waiters.take();
        if !newer.is_empty() {
            waiters.extend(newer);
            self.local.has_slot_waiters.set(true);
        }
        self.local.slot_waiters.set(waiters);
    }

    /// Drops every slot waiter (shutdown: no slot will come back).
    pub(super) fn drop_slot_waiters(&self) {
        self.local.has_slot_waiters.set(false);
        let waiters = self.local.slot_waiters.take();
        for waker in waiters {
            self.contain(|| drop(waker));
        }
    }

    /// Frees a block whose last reference is gone.
    ///
    /// # Safety
    /// Runtime thread of a live (not dead) core; `task` belongs to this core, its stage is
    /// empty and nothing references it.
    pub(super) unsafe fn free_local(&self, task: TaskRef) {
        // SAFETY: guaranteed by the caller.
        unsafe {
            match task.storage() {
                Storage::Boxed => dealloc_box(task),
                Storage::Slab => {
                    self.slab()
                        .expect("a slab task implies a slab")
                        .free(task.slab_slot());
                    self.slot_freed();
                }
            }
        }
        self.local.allocated.set(self.local.allocated.get() - 1);
    }
}
