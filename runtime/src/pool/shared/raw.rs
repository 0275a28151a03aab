//! The untyped storage of a [`SyncPool`](super::SyncPool): chunks of slots, a lock-free
//! stack of free slot indices, the reference count, and the waiting allocations.
//!
//! # The free stack
//!
//! A Treiber stack of slot *indices*: `head` packs the top index (low 32 bits, [`NIL`] when
//! empty), the [`WAITING`] flag (bit 32: allocations wait for a slot) and a tag (high 31
//! bits) that every pop increments, so a pop whose view of `head` went stale (the top was
//! popped and pushed back meanwhile: ABA) fails its compare-exchange instead of installing a
//! stale `next`. The link of each slot sits in a
//! side array of [`Meta`] (never in the slot itself), as an atomic: a pop may read the link
//! of a slot another thread has just taken, and that read must not race with the new
//! owner's writes to the value. A pusher writes the link, then publishes the slot with a
//! `Release` compare-exchange; a popper loads `head` with `Acquire`, so it sees the link and
//! everything the previous owner did to the slot. Every pop and push is a read-modify-write
//! of `head`, so the release sequence carries that through any number of other operations.
//! (The tag wraps after 2^31 pops; a pop would have to stall across exactly a multiple of
//! that many to be fooled.)
//!
//! # Invariants
//!
//! 1. **Chunks never move.** Chunk `k` is allocated once (under `grow_lock`), its pointer
//!    published (`Release`) before any of its indices can reach the stack, and freed only by
//!    `Drop`, which runs when the reference count reaches zero.
//! 2. **Every slot is in exactly one place**: on the free stack once, or owned by one box
//!    (or one allocation in progress). Only the owner touches the value and the `init` flag
//!    of its [`Meta`]; ownership passes through the stack's `Release`/`Acquire` pair.
//! 3. **References.** `refs` is 1 for the [`SyncPool`](super::SyncPool) handle plus one
//!    per live box. A box's drop pushes its slot and wakes a waiter *before* giving up its
//!    reference (`Release`); whoever brings `refs` to zero takes an `Acquire` fence and
//!    frees everything. So the storage outlives every box, on whatever thread it is dropped.
//! 4. **No lost wakeup, no fence on the hot path.** `WAITING` is set exactly while the
//!    `waiters` list is non-empty: set (`fetch_or`) and cleared (`fetch_and`) only under the
//!    `waiters` lock, after the list changed. A waiting allocation links itself, sets the
//!    flag, then tries to pop again; a release's push is a read-modify-write of the same
//!    `head`, so it reads the latest flag. In `head`'s modification order either the push
//!    comes first (the retry, which reads `head` after its own `fetch_or`, sees the slot) or
//!    the flag does (the push sees it and wakes the first waiter). Pops and pushes keep the
//!    flag as they found it.

use std::alloc::{self, Layout};
use std::cell::UnsafeCell;
use std::ptr::NonNull;
use std::task::Waker;

use super::super::config::{Growth, PoolConfig, PoolStats, SlotLayout};
use super::atomics::{
    AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Mutex, MutexGuard, Ordering, fence,
};
use crate::sync::waiters::{WaitState, WaiterList};

/// The empty-stack index; also why a `SyncPool` holds fewer than `u32::MAX` slots.
pub(crate) const NIL: u32 = u32::MAX;
/// Chunks a `SyncPool` may have (growing stops there).
pub(crate) const MAX_CHUNKS: usize = 40;
const INDEX_MASK: u64 = (1 << 32) - 1;
/// In `head`: allocations are waiting for a slot (invariant 4).
pub(crate) const WAITING: u64 = 1 << 32;
const TAG_ONE: u64 = 1 << 33;
const TAG_MASK: u64 = !(INDEX_MASK | WAITING);

/// The side entry of one slot.
struct Meta {
    /// The next free index below this one on the stack (meaningful while free).
    next: AtomicU32,
    /// Whether the slot holds a value kept by a recycling pool; owner only (invariant 2).
    init: UnsafeCell<bool>,
}

/// See the module docs.
pub(crate) struct SyncRaw {
    head: AtomicU64,
    refs: AtomicUsize,
    peak: AtomicUsize,
    /// Times the pop tag (one per allocation) wrapped: allocations = wraps * 2^31 + tag.
    tag_wraps: AtomicU64,
    full: AtomicU64,
    grows: AtomicU64,
    hook_panics: AtomicU64,
    capacity: AtomicUsize,
    nchunks: AtomicUsize,
    chunks: [AtomicPtr<u8>; MAX_CHUNKS],
    /// Where each chunk's `Meta` array starts (published with `chunks`).
    metas: [AtomicPtr<Meta>; MAX_CHUNKS],
    /// `chunks[0]` and `metas[0]`, which never change: a bounded pool reads no atomic to
    /// find a slot.
    first: NonNull<u8>,
    first_metas: NonNull<Meta>,
    grow_lock: Mutex<()>,
    /// Allocations waiting for a slot (`shared/wait.rs` keeps the rules of `sync::waiters`);
    /// mirrored by the `WAITING` flag of `head`.
    pub(crate) waiters: Mutex<WaiterList>,
    slot: SlotLayout,
    config: PoolConfig,
    /// log2 of the first chunk of a growing pool (a power of two).
    shift: u32,
}

// SAFETY: the slots' values are reached only by their owner (invariant 2) and the typed
// layer requires `T: Send` for `SyncPool: Send + Sync`; everything else here is atomics and
// locks; `first` is a pointer into chunk memory that never moves (invariant 1).
unsafe impl Send for SyncRaw {}
// SAFETY: as above: shared access goes through atomics and locks only.
unsafe impl Sync for SyncRaw {}

impl SyncRaw {
    /// The storage with its first chunk, and `refs == 1` (the pool handle).
    pub(crate) fn new(mut config: PoolConfig, slot: SlotLayout) -> SyncRaw {
        if config.growth.is_some() {
            config.first_chunk = config.first_chunk.next_power_of_two();
        }
        config.max_capacity = config.max_capacity.min(NIL as usize);
        assert!(
            config.first_chunk < NIL as usize,
            "tickslab SyncPool: at most {} slots",
            NIL - 1
        );
        let n = config.first_chunk.min(config.max_capacity);
        let (first, first_metas) = Self::alloc_chunk(&slot, n, 0);
        SyncRaw {
            head: AtomicU64::new(0),
            refs: AtomicUsize::new(1),
            peak: AtomicUsize::new(0),
            tag_wraps: AtomicU64::new(0),
            full: AtomicU64::new(0),
            grows: AtomicU64::new(0),
            hook_panics: AtomicU64::new(0),
            capacity: AtomicUsize::new(n),
            nchunks: AtomicUsize::new(1),
            chunks: std::array::from_fn(|k| {
                AtomicPtr::new(if k == 0 {
                    first.as_ptr()
                } else {
                    std::ptr::null_mut()
                })
            }),
            metas: std::array::from_fn(|k| {
                AtomicPtr::new(if k == 0 {
                    first_metas.as_ptr()
                } else {
                    std::ptr::null_mut()
                })
            }),
            first,
            first_metas,
            grow_lock: Mutex::new(()),
            waiters: Mutex::new(WaiterList::new()),
            slot,
            config,
            shift: config.first_chunk.trailing_zeros(),
        }
    }

    /// The layout of a chunk of `n` slots, and where its `Meta` array starts.
    fn chunk_layout(slot: &SlotLayout, n: usize) -> (Layout, usize) {
        let metas = Layout::array::<Meta>(n).ok();
        let values = slot.stride.checked_mul(n);
        let laid = values
            .and_then(|v| Layout::from_size_align(v, slot.align).ok())
            .zip(metas)
            .and_then(|(v, m)| v.extend(m).ok());
        match laid {
            Some((layout, offset)) => (layout, offset),
            None => panic!("tickslab SyncPool: a chunk of {n} slots is too large"),
        }
    }

    /// Allocates a chunk of `n` slots whose indices start at `start`, each `Meta` linking
    /// to the next index (the last one to `NIL`, for the caller to fix).
    fn alloc_chunk(slot: &SlotLayout, n: usize, start: usize) -> (NonNull<u8>, NonNull<Meta>) {
        let (layout, offset) = Self::chunk_layout(slot, n);
        // SAFETY: non-zero size (`n >= 1` slots of `stride >= 1` bytes).
        let ptr = NonNull::new(unsafe { alloc::alloc(layout) })
            .unwrap_or_else(|| alloc::handle_alloc_error(layout));
        for i in 0..n {
            let next = if i + 1 < n {
                (start + i + 1) as u32
            } else {
                NIL
            };
            // SAFETY: `offset + i * size_of::<Meta>()` is inside the chunk and aligned for
            // `Meta` (`Layout::extend`); written once, before the chunk is published.
            unsafe {
                ptr.add(offset).cast::<Meta>().add(i).write(Meta {
                    next: AtomicU32::new(next),
                    init: UnsafeCell::new(false),
                })
            };
        }
        // SAFETY: `offset` is inside the chunk (`Layout::extend`).
        (ptr, unsafe { ptr.add(offset) }.cast())
    }

    /// The chunk holding index `idx`, and the slot's position in it.
    #[inline]
    fn locate(&self, idx: u32) -> (usize, usize) {
        let idx = idx as usize;
        match self.config.growth {
            None => (0, idx),
            Some(Growth::Linear) => (idx >> self.shift, idx & ((1 << self.shift) - 1)),
            Some(Growth::Exponential) => {
                let q = idx >> self.shift;
                if q == 0 {
                    return (0, idx);
                }
                let k = (usize::BITS - q.leading_zeros()) as usize;
                (k, idx - (1 << (self.shift + k as u32 - 1)))
            }
        }
    }

    /// Slots in chunk `k` (the last one may be cut by `max_capacity`).
    fn chunk_len(&self, k: usize) -> usize {
        let start = match (k, self.config.growth) {
            (0, _) => 0,
            (_, Some(Growth::Exponential)) => 1 << (self.shift + k as u32 - 1),
            _ => k << self.shift,
        };
        self.config
            .chunk_slots(k)
            .min(self.config.max_capacity - start)
    }

    #[inline]
    fn chunk(&self, k: usize) -> NonNull<u8> {
        if k == 0 {
            return self.first;
        }
        let p = self.chunks[k].load(Ordering::Acquire);
        // SAFETY: an index of chunk `k` reached us only after the chunk was published
        // (invariant 1), so the pointer is set.
        unsafe { NonNull::new_unchecked(p) }
    }

    /// The value slot of `idx`.
    #[inline]
    pub(crate) fn slot_ptr(&self, idx: u32) -> NonNull<u8> {
        let (k, i) = self.locate(idx);
        // SAFETY: `i` is inside chunk `k` (invariant 1), slots are `stride` bytes apart.
        unsafe { self.chunk(k).add(i * self.slot.stride) }
    }

    #[inline]
    fn meta(&self, idx: u32) -> &Meta {
        let (k, i) = self.locate(idx);
        let metas = if k == 0 {
            self.first_metas
        } else {
            // SAFETY: published with the chunk, before any of its indices (invariant 1).
            unsafe { NonNull::new_unchecked(self.metas[k].load(Ordering::Acquire)) }
        };
        // SAFETY: chunk `k` holds initialized `Meta`s for each of its slots (alloc_chunk),
        // alive until the storage is freed (invariant 1); `i` is one of them.
        unsafe { &*metas.as_ptr().add(i) }
    }

    /// Pops a free slot, growing the pool if it may and must. Returns its index and whether
    /// it holds a kept value, and takes a reference for the box-to-be.
    #[inline]
    pub(crate) fn take(&self) -> Option<(u32, bool)> {
        let idx = loop {
            if let Some(idx) = self.pop() {
                break idx;
            }
            if !self.grow() {
                self.full.fetch_add(1, Ordering::Relaxed);
                return None;
            }
        };
        // Relaxed, as `Arc::clone`: the caller's handle keeps `refs >= 1`.
        let live = self.refs.fetch_add(1, Ordering::Relaxed);
        if live > self.peak.load(Ordering::Relaxed) {
            self.peak.fetch_max(live, Ordering::Relaxed);
        }
        // SAFETY: the slot is ours now (invariant 2).
        Some((idx, unsafe { *self.meta(idx).init.get() }))
    }

    #[inline]
    fn pop(&self) -> Option<u32> {
        let mut head = self.head.load(Ordering::Acquire);
        loop {
            let idx = (head & INDEX_MASK) as u32;
            if idx == NIL {
                return None;
            }
            let next = self.meta(idx).next.load(Ordering::Relaxed);
            let tag = (head & TAG_MASK).wrapping_add(TAG_ONE);
            let new = tag | (head & WAITING) | u64::from(next);
            match self
                .head
                .compare_exchange_weak(head, new, Ordering::Acquire, Ordering::Acquire)
            {
                Ok(_) => {
                    // The tag counts allocations (every successful pop is one).
                    if tag == 0 {
                        self.tag_wraps.fetch_add(1, Ordering::Relaxed);
                    }
                    return Some(idx);
                }
                Err(now) => head = now,
            }
        }
    }

    /// Pushes the chain `first ..= last` (linked through their metas) onto the stack.
    /// Returns whether allocations were waiting (`WAITING` was set).
    #[inline]
    fn push_chain(&self, first: u32, last: u32) -> bool {
        let last_meta = self.meta(last);
        let mut head = self.head.load(Ordering::Relaxed);
        loop {
            last_meta
                .next
                .store((head & INDEX_MASK) as u32, Ordering::Relaxed);
            let new = (head & !INDEX_MASK) | u64::from(first);
            match self
                .head
                .compare_exchange_weak(head, new, Ordering::Release, Ordering::Relaxed)
            {
                Ok(_) => return head & WAITING != 0,
                Err(now) => head = now,
            }
        }
    }

    /// Adds a chunk if the config allows; `true` if the caller should pop again.
    #[cold]
    fn grow(&self) -> bool {
        if !self.config.may_grow() {
            return false;
        }
        let _guard = lock(&self.grow_lock);
        if self.head.load(Ordering::Acquire) & INDEX_MASK != u64::from(NIL) {
            return true; // freed or grown meanwhile
        }
        let k = self.nchunks.load(Ordering::Relaxed);
        let cap = self.capacity.load(Ordering::Relaxed);
        let n = self.config.next_chunk(k, cap);
        if k >= MAX_CHUNKS || n == 0 {
            return false;
        }
        debug_assert_eq!(n, self.chunk_len(k));
        let (ptr, metas) = Self::alloc_chunk(&self.slot, n, cap);
        self.metas[k].store(metas.as_ptr(), Ordering::Release);
        self.chunks[k].store(ptr.as_ptr(), Ordering::Release);
        self.nchunks.store(k + 1, Ordering::Relaxed);
        self.capacity.store(cap + n, Ordering::Relaxed);
        self.grows.fetch_add(1, Ordering::Relaxed);
        // Allocations wait only once the pool can no longer grow, so normally nobody does.
        if self.push_chain(cap as u32, (cap + n - 1) as u32) {
            self.wake_one_waiter();
        }
        true
    }

    /// Gives back slot `idx` (owned by the caller; `init`: it holds a value the pool keeps)
    /// and wakes a waiting allocation. Returns whether this dropped the last reference:
    /// then the caller frees the storage (invariant 3).
    ///
    /// # Safety
    /// The caller owns slot `idx` (taken and not given back) and gives it up here.
    #[inline]
    pub(crate) unsafe fn release(&self, idx: u32, init: bool) -> bool {
        let meta = self.meta(idx);
        // SAFETY: we own the slot (contract): nobody else touches its flag until the push.
        unsafe { *meta.init.get() = init };
        if self.push_chain(idx, idx) {
            self.wake_one_waiter();
        }
        self.release_ref()
    }

    /// After a slot was pushed while allocations wait (or a notified waiter gave up): wakes
    /// the first waiter, outside the lock.
    #[cold]
    pub(crate) fn wake_one_waiter(&self) {
        let waker: Option<Waker> = {
            let mut list = lock(&self.waiters);
            let waker = list.pop_front(WaitState::Notified);
            self.sync_waiting_flag(&list);
            waker
        };
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// Makes `WAITING` say whether `list` (this pool's, whose lock the caller holds) has
    /// waiters (invariant 4).
    pub(crate) fn sync_waiting_flag(&self, list: &WaiterList) {
        if list.len() > 0 {
            self.head.fetch_or(WAITING, Ordering::AcqRel);
        } else {
            self.head.fetch_and(!WAITING, Ordering::AcqRel);
        }
    }

    /// Drops one reference; `true` if it was the last (the caller frees the storage).
    pub(crate) fn release_ref(&self) -> bool {
        if self.refs.fetch_sub(1, Ordering::Release) != 1 {
            return false;
        }
        // Pairs with the `Release` decrements: every release happened before the teardown.
        fence(Ordering::Acquire);
        true
    }

    /// Boxes alive (a snapshot).
    pub(crate) fn live(&self) -> usize {
        self.refs.load(Ordering::Relaxed).saturating_sub(1)
    }

    /// Slots now (a snapshot).
    pub(crate) fn capacity(&self) -> usize {
        self.capacity.load(Ordering::Relaxed)
    }

    /// Counts a reset hook that panicked.
    pub(crate) fn note_hook_panic(&self) {
        self.hook_panics.fetch_add(1, Ordering::Relaxed);
    }

    /// Allocations so far: the pop tag and its wraps, read until they agree.
    fn allocs(&self) -> u64 {
        loop {
            let wraps = self.tag_wraps.load(Ordering::Acquire);
            let tag = (self.head.load(Ordering::Acquire) & TAG_MASK) >> 33;
            if self.tag_wraps.load(Ordering::Acquire) == wraps {
                return (wraps << 31) + tag;
            }
        }
    }

    /// The counters now.
    pub(crate) fn stats(&self) -> PoolStats {
        PoolStats {
            len: self.live(),
            capacity: self.capacity(),
            peak: self.peak.load(Ordering::Relaxed),
            chunks: self.nchunks.load(Ordering::Relaxed),
            allocs: self.allocs(),
            full: self.full.load(Ordering::Relaxed),
            grows: self.grows.load(Ordering::Relaxed),
            hook_panics: self.hook_panics.load(Ordering::Relaxed),
        }
    }

    /// Whether no box is alive; `Acquire`, so every box's release happened before.
    pub(crate) fn no_boxes(&self) -> bool {
        self.refs.load(Ordering::Acquire) == 1
    }

    /// Calls `f` on every slot with its `init` flag.
    ///
    /// # Safety
    /// No box is alive and nobody else can take a slot meanwhile (`&mut` on the pool handle
    /// with [`no_boxes`](Self::no_boxes) seen true, or the last reference): every slot is
    /// free and only we look at it.
    pub(crate) unsafe fn for_each_slot(&self, mut f: impl FnMut(NonNull<u8>, &mut bool)) {
        for idx in 0..self.capacity() as u32 {
            // SAFETY: exclusive access to every slot (caller's contract).
            let init = unsafe { &mut *self.meta(idx).init.get() };
            f(self.slot_ptr(idx), init);
        }
    }
}

/// Locks `m`; a panic never happens under these locks, so poisoning is ignored.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Drop for SyncRaw {
    fn drop(&mut self) {
        let nchunks = self.nchunks.load(Ordering::Relaxed);
        for k in 0..nchunks {
            let n = self.chunk_len(k);
            let (layout, offset) = Self::chunk_layout(&self.slot, n);
            let ptr = self.chunk(k);
            // SAFETY: the last reference is gone (invariant 3): nothing else touches the
            // chunk. Its `n` metas were written by `alloc_chunk` and are dropped once; the
            // chunk was allocated there with `layout` and is freed once.
            unsafe {
                std::ptr::drop_in_place(std::ptr::slice_from_raw_parts_mut(
                    ptr.add(offset).cast::<Meta>().as_ptr(),
                    n,
                ));
                alloc::dealloc(ptr.as_ptr(), layout);
            }
        }
    }
}
