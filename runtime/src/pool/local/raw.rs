//! The untyped storage of a same-thread pool: chunks of slots, a stack of free slots, the
//! counters and the list of waiting allocations. No atomics: everything is a `Cell`.
//!
//! # Invariants
//!
//! 1. **Chunks never move nor shrink.** A chunk is allocated once with the pool's
//!    [`SlotLayout`] and freed only when the `RawPool` is dropped, which the typed owner
//!    does only when no box and no handle is left (`local/mod.rs`). So a slot pointer stays
//!    valid for as long as anybody may hold it.
//! 2. **Every slot is in exactly one place**: held by one box (or one allocation in
//!    progress), or on the free stack once. The free stack is one array of `capacity`
//!    pointers used from both ends: *vacant* slots (no value) at `[0, vacant)`, *retained*
//!    slots (holding a value kept by a recycling pool) at `[capacity - retained, capacity)`.
//!    Since free slots never outnumber the slots, the two ends never meet.
//! 3. **`reserved <= vacant + retained`.** A slot freed while allocations wait is promised
//!    to the first of them (`reserved += 1`); [`take`](RawPool::take) leaves promised slots
//!    alone, and the woken waiter takes its slot with `reserved = true`.
//! 4. **No user code runs inside this file**, and no `RefCell` borrow is held when a method
//!    returns: wakers are handed back to the caller, which wakes them after the pool's
//!    state is consistent. So a destructor, hook or waker that re-enters the pool finds it
//!    whole.

use std::alloc::{self, Layout};
use std::cell::{Cell, RefCell};
use std::ptr::NonNull;
use std::task::Waker;

use super::super::config::{PoolConfig, PoolStats, SlotLayout};
use crate::sync::waiters::{WaitState, WaiterList};

/// One chunk of slots, as allocated.
struct Chunk {
    ptr: NonNull<u8>,
    layout: Layout,
}

/// See the module docs for the invariants.
pub(crate) struct RawPool {
    slot: SlotLayout,
    config: PoolConfig,
    chunks: RefCell<Vec<Chunk>>,
    /// The free stack: `capacity` entries (dangling while `capacity == 0`).
    stack: Cell<NonNull<NonNull<u8>>>,
    capacity: Cell<usize>,
    vacant: Cell<usize>,
    retained: Cell<usize>,
    /// Free slots promised to notified waiters (invariant 3).
    reserved: Cell<usize>,
    live: Cell<usize>,
    peak: Cell<usize>,
    allocs: Cell<u64>,
    full: Cell<u64>,
    grows: Cell<u64>,
    hook_panics: Cell<u64>,
    /// Allocations waiting for a slot (`local/wait.rs` keeps the rules of `sync::waiters`).
    pub(crate) waiters: RefCell<WaiterList>,
    /// `waiters.len()`, readable without a borrow.
    waiting: Cell<usize>,
}

impl RawPool {
    /// A pool with its first chunk allocated.
    pub(crate) fn new(config: PoolConfig, slot: SlotLayout) -> RawPool {
        let pool = RawPool {
            slot,
            config,
            chunks: RefCell::new(Vec::with_capacity(1)),
            stack: Cell::new(NonNull::dangling()),
            capacity: Cell::new(0),
            vacant: Cell::new(0),
            retained: Cell::new(0),
            reserved: Cell::new(0),
            live: Cell::new(0),
            peak: Cell::new(0),
            allocs: Cell::new(0),
            full: Cell::new(0),
            grows: Cell::new(0),
            hook_panics: Cell::new(0),
            waiters: RefCell::new(WaiterList::new()),
            waiting: Cell::new(0),
        };
        let first = pool.add_chunk();
        debug_assert!(first, "a validated config has a first chunk");
        pool
    }

    /// Takes a free slot: a retained one first if `prefer_retained`, else a vacant one
    /// first. Returns it and whether it holds a value. `reserved` consumes a promise made to
    /// a notified waiter (invariant 3) instead of checking for room. Grows the pool if it
    /// may and must; `None` when full.
    #[inline]
    pub(crate) fn take(
        &self,
        prefer_retained: bool,
        reserved: bool,
    ) -> Option<(NonNull<u8>, bool)> {
        let (v, r) = (self.vacant.get(), self.retained.get());
        if reserved {
            debug_assert!(self.reserved.get() > 0);
            self.reserved.set(self.reserved.get() - 1);
        } else if v + r <= self.reserved.get() {
            return self.take_after_growing(prefer_retained);
        }
        // Invariant 3: at least one free slot, so one of the ends is not empty.
        let taken = if r > 0 && (prefer_retained || v == 0) {
            self.retained.set(r - 1);
            // SAFETY: `capacity - r` is the top of the retained end (invariant 2).
            (
                unsafe { *self.stack.get().as_ptr().add(self.capacity.get() - r) },
                true,
            )
        } else {
            debug_assert!(v > 0);
            self.vacant.set(v - 1);
            // SAFETY: `v - 1 < vacant <= capacity`: the top of the vacant end (invariant 2).
            (unsafe { *self.stack.get().as_ptr().add(v - 1) }, false)
        };
        let live = self.live.get() + 1;
        self.live.set(live);
        if live > self.peak.get() {
            self.peak.set(live);
        }
        self.allocs.set(self.allocs.get() + 1);
        Some(taken)
    }

    /// The pool has no unpromised free slot: grow if it may, then take; else count a refusal.
    #[cold]
    /// Free slots (vacant or holding a kept value), promised or not: a cheap fingerprint of
    /// whether anything was given back meanwhile.
    #[inline]
    pub(crate) fn free_slots(&self) -> usize {
        self.vacant.get() + self.retained.get()
    }

    fn take_after_growing(&self, prefer_retained: bool) -> Option<(NonNull<u8>, bool)> {
        if self.grow() {
            self.take(prefer_retained, false)
        } else {
            self.full.set(self.full.get() + 1);
            None
        }
    }

    /// Gives back a slot taken by [`take`](Self::take): `initialized` says whether it holds
    /// a value to keep (recycling pools). Returns the waker of the waiter the slot was
    /// promised to, for the caller to wake once it no longer touches the pool.
    #[inline]
    pub(crate) fn release(&self, slot: NonNull<u8>, initialized: bool) -> Option<Waker> {
        if initialized {
            self.push_retained(slot);
        } else {
            self.push_vacant(slot);
        }
        self.live.set(self.live.get() - 1);
        if self.waiting.get() == 0 {
            return None;
        }
        self.promise_to_next()
    }

    /// A notified waiter gave up its promised slot: promise it to the next waiter, if any.
    pub(crate) fn pass_on(&self) -> Option<Waker> {
        self.reserved.set(self.reserved.get() - 1);
        self.promise_to_next()
    }

    fn promise_to_next(&self) -> Option<Waker> {
        let mut list = self.waiters.borrow_mut();
        let waker = list.pop_front(WaitState::Notified);
        self.waiting.set(list.len());
        if waker.is_some() {
            self.reserved.set(self.reserved.get() + 1);
        }
        waker
    }

    /// Records the waiters' count after the caller changed the list.
    pub(crate) fn set_waiting(&self, n: usize) {
        self.waiting.set(n);
    }

    /// Pops a vacant slot without counting an allocation (for prefilling).
    pub(crate) fn pop_vacant(&self) -> Option<NonNull<u8>> {
        let v = self.vacant.get().checked_sub(1)?;
        self.vacant.set(v);
        // SAFETY: `v < vacant <= capacity` indexes the stack's live vacant end (invariant 2).
        Some(unsafe { *self.stack.get().as_ptr().add(v) })
    }

    /// Pushes a slot now holding a value onto the retained end (prefilling, teardown).
    pub(crate) fn push_retained(&self, slot: NonNull<u8>) {
        let r = self.retained.get() + 1;
        debug_assert!(self.vacant.get() + r <= self.capacity.get());
        self.retained.set(r);
        // SAFETY: `capacity - r` is inside the stack and beyond the vacant end (invariant 2:
        // free slots never outnumber the slots).
        unsafe { *self.stack.get().as_ptr().add(self.capacity.get() - r) = slot };
    }

    /// Pops a retained slot (its value is the caller's).
    pub(crate) fn pop_retained(&self) -> Option<NonNull<u8>> {
        let r = self.retained.get().checked_sub(1)?;
        // SAFETY: `capacity - r - 1` is the top of the retained end (invariant 2).
        let slot = unsafe { *self.stack.get().as_ptr().add(self.capacity.get() - r - 1) };
        self.retained.set(r);
        Some(slot)
    }

    pub(crate) fn push_vacant(&self, slot: NonNull<u8>) {
        let v = self.vacant.get();
        debug_assert!(v + self.retained.get() < self.capacity.get());
        // SAFETY: `v` is inside the stack and below the retained end (invariant 2).
        unsafe { *self.stack.get().as_ptr().add(v) = slot };
        self.vacant.set(v + 1);
    }

    /// Adds a chunk if the config allows one.
    fn grow(&self) -> bool {
        let grown = self.add_chunk();
        if grown {
            self.grows.set(self.grows.get() + 1);
        }
        grown
    }

    /// Allocates the next chunk and a larger free stack, and pushes the new slots as vacant.
    fn add_chunk(&self) -> bool {
        let mut chunks = self.chunks.borrow_mut();
        let old_cap = self.capacity.get();
        let n = self.config.next_chunk(chunks.len(), old_cap);
        if n == 0 {
            return false;
        }
        let bytes = self.slot.stride.checked_mul(n);
        let layout = bytes
            .and_then(|b| Layout::from_size_align(b, self.slot.align).ok())
            .unwrap_or_else(|| panic!("tickslab pool: a chunk of {n} slots is too large"));
        // SAFETY: `layout` has a non-zero size (`stride >= 1`, `n >= 1`).
        let ptr = NonNull::new(unsafe { alloc::alloc(layout) })
            .unwrap_or_else(|| alloc::handle_alloc_error(layout));
        let new_cap = old_cap + n;
        let stack_layout = Layout::array::<NonNull<u8>>(new_cap)
            .unwrap_or_else(|_| panic!("tickslab pool: {new_cap} slots are too many"));
        // SAFETY: non-zero size (`new_cap >= 1`).
        let stack = NonNull::new(unsafe { alloc::alloc(stack_layout) }.cast::<NonNull<u8>>())
            .unwrap_or_else(|| alloc::handle_alloc_error(stack_layout));
        let (old, v, r) = (self.stack.get(), self.vacant.get(), self.retained.get());
        // SAFETY: the old stack holds `v` vacant entries at its start and `r` retained ones
        // at its end (invariant 2); the new one has room for both ends plus `n`. Distinct
        // allocations, so the copies do not overlap.
        unsafe {
            std::ptr::copy_nonoverlapping(old.as_ptr(), stack.as_ptr(), v);
            std::ptr::copy_nonoverlapping(
                old.as_ptr().add(old_cap - r),
                stack.as_ptr().add(new_cap - r),
                r,
            );
            if old_cap > 0 {
                alloc::dealloc(
                    old.as_ptr().cast(),
                    Layout::array::<NonNull<u8>>(old_cap).expect("was allocated"),
                );
            }
            // New slots go on the vacant end, the lowest address on top.
            for i in 0..n {
                let slot = ptr.add((n - 1 - i) * self.slot.stride);
                *stack.as_ptr().add(v + i) = slot;
            }
        }
        self.stack.set(stack);
        self.capacity.set(new_cap);
        self.vacant.set(v + n);
        chunks.push(Chunk { ptr, layout });
        true
    }

    /// Boxes alive.
    pub(crate) fn live(&self) -> usize {
        self.live.get()
    }

    /// Slots in all chunks.
    pub(crate) fn capacity(&self) -> usize {
        self.capacity.get()
    }

    /// Free slots not promised to a waiter, plus what growing could add now.
    pub(crate) fn available(&self) -> usize {
        let free = self.vacant.get() + self.retained.get() - self.reserved.get();
        let room = if self.config.may_grow() {
            self.config.max_capacity.saturating_sub(self.capacity.get())
        } else {
            0
        };
        free.saturating_add(room)
    }

    /// Counts a reset hook that panicked.
    pub(crate) fn note_hook_panic(&self) {
        self.hook_panics.set(self.hook_panics.get() + 1);
    }

    /// The counters now.
    pub(crate) fn stats(&self) -> PoolStats {
        PoolStats {
            len: self.live.get(),
            capacity: self.capacity.get(),
            peak: self.peak.get(),
            chunks: self.chunks.borrow().len(),
            allocs: self.allocs.get(),
            full: self.full.get(),
            grows: self.grows.get(),
            hook_panics: self.hook_panics.get(),
        }
    }
}

impl Drop for RawPool {
    fn drop(&mut self) {
        // The typed owner dropped every retained value and no box is left (invariant 1).
        for chunk in self.chunks.get_mut().drain(..) {
            // SAFETY: allocated in `add_chunk` with exactly this layout, freed once here.
            unsafe { alloc::dealloc(chunk.ptr.as_ptr(), chunk.layout) };
        }
        let cap = *self.capacity.get_mut();
        if cap > 0 {
            // SAFETY: the stack was allocated for `cap` entries in the last `add_chunk`.
            unsafe {
                alloc::dealloc(
                    self.stack.get_mut().as_ptr().cast(),
                    Layout::array::<NonNull<u8>>(cap).expect("was allocated"),
                );
            }
        }
    }
}
