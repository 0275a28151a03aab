//! What a pool is told ([`PoolConfig`], [`Growth`]), what it reports ([`PoolStats`]), how an
//! allocation fails ([`PoolFull`]), and the reset hook ([`Recycle`]). Shared by
//! [`Pool`](super::Pool) and [`SyncPool`](super::SyncPool).
//!
//! Invariants every constructor checks ([`PoolConfig::validate`]): a pool has at least one
//! slot, its alignment is a power of two no larger than [`MAX_POOL_ALIGN`], and a growing
//! pool's chunk is non-zero. Chunk sizes follow from the config alone
//! ([`PoolConfig::chunk_slots`]), so a pool can recompute where each chunk starts.

use std::fmt;
use std::marker::PhantomData;

/// The largest slot alignment a pool accepts (`PoolConfig::align`, or the type's own).
pub const MAX_POOL_ALIGN: usize = 4096;

/// How a growing pool adds slots when every slot is in use. Chunks are never moved nor
/// freed before the pool's storage goes, so growing never moves a live object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Growth {
    /// Each new chunk has as many slots as the first one.
    Linear,
    /// Each new chunk has as many slots as the pool already has: capacity doubles.
    Exponential,
}

/// How many slots a pool has, how it grows, and how its slots are aligned.
///
/// ```
/// use tickslab_runtime::pool::{Growth, PoolConfig};
///
/// let fixed = PoolConfig::bounded(4096);                       // allocated once, never grows
/// let grows = PoolConfig::growing(256, Growth::Exponential)    // 256, 512, 1024, ...
///     .max_capacity(16 * 1024)                                 // ... then behaves as full
///     .align(128);                                             // each slot on its own 128 bytes
/// assert_eq!(grows.chunk_slots(1), 256);
/// assert_eq!(grows.chunk_slots(2), 512);
/// # let _ = fixed;
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PoolConfig {
    pub(crate) first_chunk: usize,
    pub(crate) growth: Option<Growth>,
    pub(crate) max_capacity: usize,
    pub(crate) align: usize,
}

impl PoolConfig {
    /// `capacity` slots, allocated when the pool is made; the pool never grows.
    pub const fn bounded(capacity: usize) -> Self {
        PoolConfig {
            first_chunk: capacity,
            growth: None,
            max_capacity: capacity,
            align: 1,
        }
    }

    /// A first chunk of `chunk` slots (allocated when the pool is made), then more chunks
    /// as `growth` says whenever every slot is in use, without limit unless
    /// [`max_capacity`](Self::max_capacity) sets one.
    pub const fn growing(chunk: usize, growth: Growth) -> Self {
        PoolConfig {
            first_chunk: chunk,
            growth: Some(growth),
            max_capacity: usize::MAX,
            align: 1,
        }
    }

    /// Stops growing at `max` slots (the last chunk is cut to fit). A pool at its maximum
    /// behaves like a full bounded pool: `try_alloc` fails, `alloc().await` waits.
    pub const fn max_capacity(mut self, max: usize) -> Self {
        self.max_capacity = max;
        if self.first_chunk > max {
            self.first_chunk = max;
        }
        self
    }

    /// Aligns every slot to at least `align` bytes (a power of two, at most
    /// [`MAX_POOL_ALIGN`]): 64 or 128 keeps objects used by different threads off each
    /// other's cache lines. The type's own alignment always applies too.
    pub const fn align(mut self, align: usize) -> Self {
        self.align = align;
        self
    }

    /// Slots in the `index`-th chunk (0 is the first), before `max_capacity` cuts it.
    pub fn chunk_slots(&self, index: usize) -> usize {
        match (index, self.growth) {
            (0, _) | (_, Some(Growth::Linear)) => self.first_chunk,
            (_, None) => 0,
            (k, Some(Growth::Exponential)) => self
                .first_chunk
                .saturating_mul(1usize.checked_shl(k as u32 - 1).unwrap_or(0)),
        }
    }

    /// The size of the chunk to add to a pool of `capacity` slots made of `chunks` chunks:
    /// zero when it may not grow.
    pub(crate) fn next_chunk(&self, chunks: usize, capacity: usize) -> usize {
        if chunks > 0 && self.growth.is_none() {
            return 0;
        }
        self.chunk_slots(chunks)
            .min(self.max_capacity.saturating_sub(capacity))
    }

    /// Whether this pool may ever grow past its first chunk.
    pub(crate) fn may_grow(&self) -> bool {
        self.growth.is_some() && self.max_capacity > self.first_chunk
    }

    /// Panics, naming the problem, if the config cannot make a pool.
    #[track_caller]
    pub(crate) fn validate(&self, type_align: usize) {
        assert!(
            self.first_chunk > 0,
            "tickslab pool: a pool needs at least one slot (capacity or chunk of 0)"
        );
        assert!(
            self.align.is_power_of_two() && self.align <= MAX_POOL_ALIGN,
            "tickslab pool: alignment {} is not a power of two up to {MAX_POOL_ALIGN}",
            self.align
        );
        assert!(
            type_align <= MAX_POOL_ALIGN,
            "tickslab pool: the type needs alignment {type_align}, more than the \
             {MAX_POOL_ALIGN} a pool supports"
        );
    }
}

/// A snapshot of a pool's counters. Plain reads; a [`SyncPool`](super::SyncPool)'s are
/// each exact but may be taken while other threads move them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct PoolStats {
    /// Boxes alive now.
    pub len: usize,
    /// Slots the pool has now (all chunks).
    pub capacity: usize,
    /// The most boxes alive at once.
    pub peak: usize,
    /// Chunks allocated (1 for a bounded pool).
    pub chunks: usize,
    /// Successful allocations since the pool was made.
    pub allocs: u64,
    /// Allocations refused because the pool was full (`try_*` errors, and each time an
    /// `alloc().await` found no slot and began or went on waiting).
    pub full: u64,
    /// Times a chunk was added.
    pub grows: u64,
    /// Reset hooks ([`Recycle::on_release`]) that panicked; each such value was dropped.
    pub hook_panics: u64,
}

/// A bounded (or maxed-out) pool had no free slot: the value comes back.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PoolFull<T> {
    pub(crate) value: T,
    pub(crate) capacity: usize,
}

impl<T> PoolFull<T> {
    /// The value that was not placed.
    pub fn into_inner(self) -> T {
        self.value
    }

    /// The pool's capacity when it refused.
    pub fn capacity(&self) -> usize {
        self.capacity
    }
}

impl<T> fmt::Debug for PoolFull<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PoolFull")
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

impl<T> fmt::Display for PoolFull<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the pool is full (all {} slots in use; `alloc(v).await` waits for one)",
            self.capacity
        )
    }
}

impl<T> std::error::Error for PoolFull<T> {}

/// The reset hook of a recycling pool ([`Pool::recycling`](super::Pool::recycling)): a
/// value whose box is dropped stays in its slot, reset by [`on_release`](Self::on_release),
/// and the next `take` hands it out again with its inner buffers, so the pool's steady
/// state allocates nothing even for values that own heap memory.
///
/// If `on_release` panics, the value is dropped instead of kept (its destructor runs, the
/// slot becomes empty, [`PoolStats::hook_panics`] counts it) and the panic goes on.
pub trait Recycle {
    /// Makes the value ready for its next user: clear contents, keep capacity.
    fn on_release(&mut self);
}

impl<T> Recycle for Vec<T> {
    fn on_release(&mut self) {
        self.clear();
    }
}

impl Recycle for String {
    fn on_release(&mut self) {
        self.clear();
    }
}

impl<T> Recycle for std::collections::VecDeque<T> {
    fn on_release(&mut self) {
        self.clear();
    }
}

impl Recycle for tickslab_alloc::arena::FrameArena {
    /// Ends the arena's frame: the chunks stay for the next user.
    fn on_release(&mut self) {
        self.reset();
    }
}

/// Where the slots of a chunk sit: `stride` bytes apart, each aligned to `align`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SlotLayout {
    /// Bytes of the value.
    pub(crate) size: usize,
    /// Alignment of every slot: the type's and the config's, whichever is larger.
    pub(crate) align: usize,
    /// Distance between two slots: `size` rounded up to `align` (at least 1 byte, so that
    /// slots of zero-sized types still have distinct addresses).
    pub(crate) stride: usize,
}

impl SlotLayout {
    /// The layout of slots holding values of `size` bytes aligned to `type_align`.
    pub(crate) fn new(size: usize, type_align: usize, config: &PoolConfig) -> SlotLayout {
        let align = type_align.max(config.align);
        let stride = size.max(1).div_ceil(align) * align;
        SlotLayout {
            size,
            align,
            stride,
        }
    }
}

/// The marker of the thread-safe pool types: they own `T` values (for the drop check) and
/// are invariant in `T`, since a recycling pool hands a kept value to the next user.
pub(crate) type Invariant<T> = PhantomData<(T, fn(T) -> T)>;

/// As [`Invariant`], and also neither `Send` nor `Sync` (the same-thread pool types).
pub(crate) type InvariantLocal<T> = PhantomData<(T, *const (), fn(T) -> T)>;
