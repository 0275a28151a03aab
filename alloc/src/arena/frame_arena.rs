//! [`FrameArena`]: the chunk list and the bump pointer.
//!
//! Invariants of the fields (every `SAFETY` comment in this file and in `frame_vec.rs` rests
//! on them):
//!
//! - While there is a current chunk, `chunks[..=current]` belong to this frame, in order of
//!   first use (a chunk's tail may be left unused); the chunks after them are free, kept for
//!   reuse. Each one is a live block from the global allocator, allocated with its `layout`
//!   and freed only by [`trim`](FrameArena::trim) (chunks not in use) or by dropping the
//!   arena.
//! - `base` is null exactly when there is no current chunk, and then `cap` is 0. Otherwise
//!   `base` and `cap` are the start and size of `chunks[current]`, `cursor <= cap`, and the
//!   bytes `base[cursor..cap]` have not been handed out this frame.
//! - A block handed out (by `bump`, or extended by `grow_in_place`) lies in one chunk and is
//!   never handed out again before the next [`reset`](FrameArena::reset). Reset, trim and drop
//!   take `&mut self` or `self`, so no reference from an allocation method (each borrows the
//!   arena) is alive when they run; only [`alloc_raw`](FrameArena::alloc_raw) hands out a
//!   pointer without that borrow, and its contract moves the duty to the caller.
//! - `chunks` is borrowed only inside the arena's own methods, never across a call into user
//!   code, so its `RefCell` never reports a conflict.
//! - `chunk_bytes` is the sum of the chunk sizes; `used` counts the bytes bumped since the
//!   last reset.

use core::alloc::Layout;
use core::cell::{Cell, RefCell};
use core::fmt;
use core::ptr::{self, NonNull};

use super::{ArenaConfig, ArenaFull, ArenaStats, FrameVec, assert_no_drop, full};

/// Minimum alignment of every chunk.
const CHUNK_ALIGN: usize = 16;

/// One block of memory from the global allocator.
struct Chunk {
    ptr: NonNull<u8>,
    layout: Layout,
}

impl Chunk {
    /// Whether `layout` fits in this chunk from its start.
    fn fits(&self, layout: Layout) -> bool {
        let pad = self.ptr.as_ptr().addr().wrapping_neg() & (layout.align() - 1);
        pad.checked_add(layout.size())
            .is_some_and(|end| end <= self.layout.size())
    }
}

/// A bump allocator for per-frame scratch memory: see the [module docs](super).
///
/// `Send` (it owns its chunks) but not `Sync`: allocation mutates it through `&self`.
pub struct FrameArena {
    config: ArenaConfig,
    /// Chunks `[0, current]` are in use this frame (in order of use), the rest are free.
    /// Only touched on the slow path, never while user code runs.
    chunks: RefCell<Vec<Chunk>>,
    /// Index of the current chunk; meaningless while `base` is null.
    current: Cell<usize>,
    /// Start of the current chunk, null when there is none.
    base: Cell<*mut u8>,
    /// Bytes of the current chunk in use.
    cursor: Cell<usize>,
    /// Size of the current chunk (0 when there is none).
    cap: Cell<usize>,
    used: Cell<usize>,
    peak: Cell<usize>,
    chunk_bytes: Cell<usize>,
    resets: Cell<u64>,
}

// SAFETY: the arena exclusively owns its chunks (plain heap blocks from the global allocator,
// which may be freed from any thread) and holds no thread-affine state. Values placed in it
// have no drop glue (or, via `alloc_raw`, are the caller's responsibility), and every reference
// into it borrows the arena, so the arena cannot move to another thread while one is alive.
unsafe impl Send for FrameArena {}

impl Default for FrameArena {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for FrameArena {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FrameArena")
            .field("config", &self.config)
            .field("stats", &self.stats())
            .finish()
    }
}

/// A well-aligned, non-null pointer for zero-sized requests.
fn dangling(align: usize) -> NonNull<u8> {
    // `align` is a power of two, hence non-zero.
    NonNull::new(ptr::without_provenance_mut(align)).unwrap_or(NonNull::dangling())
}

impl FrameArena {
    /// An empty arena with [`ArenaConfig::DEFAULT`]. Allocates nothing until first used.
    pub const fn new() -> Self {
        Self::with_config(ArenaConfig::DEFAULT)
    }

    /// An empty arena with the given sizing. Allocates nothing until first used.
    ///
    /// # Panics
    /// If `config.chunk_size` is zero.
    pub const fn with_config(config: ArenaConfig) -> Self {
        assert!(
            config.chunk_size > 0,
            "ArenaConfig::chunk_size must not be zero"
        );
        Self {
            config,
            chunks: RefCell::new(Vec::new()),
            current: Cell::new(0),
            base: Cell::new(ptr::null_mut()),
            cursor: Cell::new(0),
            cap: Cell::new(0),
            used: Cell::new(0),
            peak: Cell::new(0),
            chunk_bytes: Cell::new(0),
            resets: Cell::new(0),
        }
    }

    /// The sizing this arena was built with.
    pub fn config(&self) -> ArenaConfig {
        self.config
    }

    /// Moves `v` into the arena and returns a reference to it, valid until the next
    /// [`reset`](Self::reset).
    ///
    /// `T` must not need dropping: a type with drop glue is a compile-time error (see the
    /// [module docs](super)). Zero-sized values take no memory.
    ///
    /// # Panics
    /// If the arena is at its byte limit (the message names the limit), or the global allocator
    /// has no memory.
    #[inline]
    #[track_caller]
    #[allow(clippy::mut_from_ref)] // each call returns a distinct, fresh block
    pub fn alloc<T>(&self, v: T) -> &mut T {
        match self.try_alloc(v) {
            Ok(r) => r,
            Err(e) => full(e),
        }
    }

    /// Like [`alloc`](Self::alloc), but returns [`ArenaFull`] instead of panicking (`v` is
    /// dropped, which does nothing since `T` has no drop glue).
    #[inline]
    #[allow(clippy::mut_from_ref)] // each call returns a distinct, fresh block
    pub fn try_alloc<T>(&self, v: T) -> Result<&mut T, ArenaFull> {
        const { assert_no_drop::<T>() };
        let p = self.alloc_layout(Layout::new::<T>())?.cast::<T>();
        // `p` is valid and aligned for a `T` (`alloc_layout` with `T`'s layout; dangling but
        // aligned for a ZST), and fresh, so nothing aliases it.
        // SAFETY: it stays valid until `reset`/drop, which need `&mut self` and so cannot
        // happen while the returned borrow of `self` lives.
        unsafe {
            p.as_ptr().write(v);
            Ok(&mut *p.as_ptr())
        }
    }

    /// Copies `src` into the arena.
    ///
    /// # Panics
    /// As [`alloc`](Self::alloc).
    #[inline]
    #[track_caller]
    #[allow(clippy::mut_from_ref)] // each call returns a distinct, fresh block
    pub fn alloc_slice_copy<T: Copy>(&self, src: &[T]) -> &mut [T] {
        match self.try_alloc_slice_copy(src) {
            Ok(r) => r,
            Err(e) => full(e),
        }
    }

    /// Like [`alloc_slice_copy`](Self::alloc_slice_copy), returning [`ArenaFull`] on failure.
    #[inline]
    #[allow(clippy::mut_from_ref)] // each call returns a distinct, fresh block
    pub fn try_alloc_slice_copy<T: Copy>(&self, src: &[T]) -> Result<&mut [T], ArenaFull> {
        let p = self.alloc_layout(Layout::for_value(src))?.cast::<T>();
        // SAFETY: `p` is a fresh block valid for `src.len()` `T`s and aligned for `T` (or
        // dangling-aligned when the slice takes no bytes), so it cannot overlap `src`; after
        // the copy all elements are initialized. Validity until reset: as in `try_alloc`.
        unsafe {
            ptr::copy_nonoverlapping(src.as_ptr(), p.as_ptr(), src.len());
            Ok(&mut *ptr::slice_from_raw_parts_mut(p.as_ptr(), src.len()))
        }
    }

    /// Copies `s` into the arena.
    ///
    /// # Panics
    /// As [`alloc`](Self::alloc).
    #[inline]
    #[track_caller]
    #[allow(clippy::mut_from_ref)] // each call returns a distinct, fresh block
    pub fn alloc_str(&self, s: &str) -> &mut str {
        match self.try_alloc_str(s) {
            Ok(r) => r,
            Err(e) => full(e),
        }
    }

    /// Like [`alloc_str`](Self::alloc_str), returning [`ArenaFull`] on failure.
    #[inline]
    #[allow(clippy::mut_from_ref)] // each call returns a distinct, fresh block
    pub fn try_alloc_str(&self, s: &str) -> Result<&mut str, ArenaFull> {
        let bytes = self.try_alloc_slice_copy(s.as_bytes())?;
        // SAFETY: `bytes` is a copy of the bytes of a `str`, hence valid UTF-8.
        Ok(unsafe { core::str::from_utf8_unchecked_mut(bytes) })
    }

    /// Allocates `len` values, the `i`-th being `f(i)`.
    ///
    /// `f` may itself allocate from the arena. If `f` panics, the block stays allocated (and
    /// unreachable) until the reset. `T` must not need dropping.
    ///
    /// # Panics
    /// As [`alloc`](Self::alloc), also when `len` values of `T` would exceed `isize::MAX` bytes.
    #[inline]
    #[track_caller]
    #[allow(clippy::mut_from_ref)] // each call returns a distinct, fresh block
    pub fn alloc_slice_fill_with<T>(&self, len: usize, f: impl FnMut(usize) -> T) -> &mut [T] {
        match self.try_alloc_slice_fill_with(len, f) {
            Ok(r) => r,
            Err(e) => full(e),
        }
    }

    /// Like [`alloc_slice_fill_with`](Self::alloc_slice_fill_with), returning [`ArenaFull`]
    /// on failure (with `requested: usize::MAX` if the size overflows).
    #[allow(clippy::mut_from_ref)] // each call returns a distinct, fresh block
    pub fn try_alloc_slice_fill_with<T>(
        &self,
        len: usize,
        mut f: impl FnMut(usize) -> T,
    ) -> Result<&mut [T], ArenaFull> {
        const { assert_no_drop::<T>() };
        let layout = Layout::array::<T>(len).map_err(|_| self.overflow_error())?;
        let p = self.alloc_layout(layout)?.cast::<T>();
        for i in 0..len {
            // SAFETY: `i < len` and the block holds `len` `T`s, aligned. No reference to the
            // block exists yet, so `f` (which only has `&self`) cannot observe it.
            unsafe { p.as_ptr().add(i).write(f(i)) };
        }
        // SAFETY: all `len` elements were initialized above; the block is fresh and valid until
        // reset (as in `try_alloc`).
        Ok(unsafe { &mut *ptr::slice_from_raw_parts_mut(p.as_ptr(), len) })
    }

    /// An empty growable vector in this arena (allocates on first push).
    ///
    /// `T` must not need dropping.
    pub fn vec<T>(&self) -> FrameVec<'_, T> {
        FrameVec::new_in(self)
    }

    /// A growable vector in this arena with room for `capacity` values.
    ///
    /// # Panics
    /// As [`alloc`](Self::alloc).
    #[track_caller]
    pub fn vec_with_capacity<T>(&self, capacity: usize) -> FrameVec<'_, T> {
        FrameVec::with_capacity_in(capacity, self)
    }

    /// Raw allocation of `layout.size()` bytes aligned to `layout.align()`, for values the
    /// caller manages itself (the runtime places frame tasks this way). A zero-size layout
    /// gets a dangling, aligned pointer. The memory is uninitialized.
    ///
    /// # Safety
    ///
    /// Allocating is harmless in itself; the function is `unsafe` because the result is not
    /// tied to a borrow of the arena, so the borrow checker no longer enforces the frame:
    ///
    /// - the memory is valid for reads and writes of `layout.size()` bytes only **until the
    ///   arena is next reset, trimmed or dropped** (all of which take `&mut self` or `self`);
    ///   the caller must not access it, or anything derived from it, after that;
    /// - the arena never drops what is stored there: a value with a destructor must be dropped
    ///   (or deliberately leaked) by the caller before that point;
    /// - the block is exclusively the caller's: the arena will not hand it out again before
    ///   the reset, and the caller must not access outside it.
    #[inline]
    pub unsafe fn alloc_raw(&self, layout: Layout) -> Result<NonNull<u8>, ArenaFull> {
        self.alloc_layout(layout)
    }

    /// Ends the frame: every allocation becomes invalid (the `&mut self` guarantees none is
    /// still borrowed) and the chunks are kept for the next frame. Runs no destructors.
    pub fn reset(&mut self) {
        let used = self.used.replace(0);
        let peak = self.peak.get_mut();
        *peak = (*peak).max(used);
        *self.resets.get_mut() += 1;
        self.activate(0);
    }

    /// Gives unused chunks back to the global allocator, keeping at most `retain_chunks` of
    /// them in all (never the chunks in use this frame). Call right after
    /// [`reset`](Self::reset) to bound the memory kept between frames; `trim(0)` after a reset
    /// frees everything.
    pub fn trim(&mut self, retain_chunks: usize) {
        // Chunks holding allocations of this frame (the current one counts once bumped into).
        let in_use = if self.base.get_mut().is_null() {
            0
        } else if *self.cursor.get_mut() == 0 {
            *self.current.get_mut()
        } else {
            *self.current.get_mut() + 1
        };
        let keep = retain_chunks.max(in_use);
        let chunks = self.chunks.get_mut();
        if keep >= chunks.len() {
            return;
        }
        for chunk in chunks.drain(keep..) {
            *self.chunk_bytes.get_mut() -= chunk.layout.size();
            // SAFETY: the chunk was allocated by the global allocator with `chunk.layout`; it is
            // not in use this frame, and references from earlier frames died with the `&mut`
            // borrow taken by the reset that freed it.
            unsafe { std::alloc::dealloc(chunk.ptr.as_ptr(), chunk.layout) };
        }
        if in_use == 0 {
            self.activate(0);
        }
    }

    /// Current counters.
    pub fn stats(&self) -> ArenaStats {
        let used = self.used.get();
        ArenaStats {
            bytes_used: used,
            peak_bytes: self.peak.get().max(used),
            chunks: self.chunks.borrow().len(),
            chunk_bytes: self.chunk_bytes.get(),
            resets: self.resets.get(),
        }
    }

    /// Makes chunk `index` current with nothing used in it, or none current if there is no such
    /// chunk. Only with `&mut self`: it makes the chunk's memory available again.
    fn activate(&mut self, index: usize) {
        let chunks = self.chunks.get_mut();
        let (base, cap) = match chunks.get(index) {
            Some(c) => (c.ptr.as_ptr(), c.layout.size()),
            None => (ptr::null_mut(), 0),
        };
        *self.current.get_mut() = index;
        *self.base.get_mut() = base;
        *self.cap.get_mut() = cap;
        *self.cursor.get_mut() = 0;
    }

    pub(super) fn overflow_error(&self) -> ArenaFull {
        ArenaFull {
            requested: usize::MAX,
            limit: self.config.byte_limit,
            used: self.chunk_bytes.get(),
        }
    }

    /// The allocation path shared by every method.
    #[inline]
    pub(super) fn alloc_layout(&self, layout: Layout) -> Result<NonNull<u8>, ArenaFull> {
        if layout.size() == 0 {
            return Ok(dangling(layout.align()));
        }
        match self.bump(layout) {
            Some(p) => Ok(p),
            None => self.alloc_slow(layout),
        }
    }

    /// Bump-allocates `layout` (non-zero size) in the current chunk, if it fits.
    #[inline]
    fn bump(&self, layout: Layout) -> Option<NonNull<u8>> {
        let base = self.base.get();
        let cursor = self.cursor.get();
        let pad = base.addr().wrapping_add(cursor).wrapping_neg() & (layout.align() - 1);
        let start = cursor.checked_add(pad)?;
        let end = start.checked_add(layout.size())?;
        // With no current chunk `cap` is 0, and `end >= layout.size() > 0`.
        if end > self.cap.get() {
            return None;
        }
        self.cursor.set(end);
        self.used.set(self.used.get() + (end - cursor));
        // SAFETY: `base` is the start of the current chunk, a live allocation of `cap` bytes,
        // and `start < end <= cap`, so `base + start` is in bounds (and non-null).
        Some(unsafe { NonNull::new_unchecked(base.add(start)) })
    }

    /// Moves to the next chunk that can hold `layout`: a free one, else a new one.
    #[cold]
    #[inline(never)]
    fn alloc_slow(&self, layout: Layout) -> Result<NonNull<u8>, ArenaFull> {
        let mut chunks = self.chunks.borrow_mut();
        let next = if self.base.get().is_null() {
            0
        } else {
            self.current.get() + 1
        };
        // Reuse a free chunk. After a reset, a frame of the same shape finds its next chunk
        // right at `next`.
        if let Some(j) = (next..chunks.len()).find(|&j| chunks[j].fits(layout)) {
            chunks.swap(next, j);
        } else {
            let chunk = self.new_chunk(layout)?;
            if chunks.try_reserve(1).is_err() {
                // SAFETY: just allocated with this layout, never handed out.
                unsafe { std::alloc::dealloc(chunk.ptr.as_ptr(), chunk.layout) };
                return Err(self.error(layout.size()));
            }
            self.chunk_bytes
                .set(self.chunk_bytes.get() + chunk.layout.size());
            chunks.insert(next, chunk);
        }
        let chunk = &chunks[next];
        self.current.set(next);
        self.base.set(chunk.ptr.as_ptr());
        self.cap.set(chunk.layout.size());
        self.cursor.set(0);
        drop(chunks);
        match self.bump(layout) {
            Some(p) => Ok(p),
            None => unreachable!("a chunk chosen to fit a request must fit it"),
        }
    }

    fn error(&self, requested: usize) -> ArenaFull {
        ArenaFull {
            requested,
            limit: self.config.byte_limit,
            used: self.chunk_bytes.get(),
        }
    }

    /// A new chunk of `max(chunk_size, layout.size())` bytes (smaller near the byte limit),
    /// aligned for `layout`, so that `layout` fits at its start.
    fn new_chunk(&self, layout: Layout) -> Result<Chunk, ArenaFull> {
        let held = self.chunk_bytes.get();
        let size = match self.config.byte_limit {
            Some(limit) => {
                let room = limit.saturating_sub(held);
                if layout.size() > room {
                    return Err(self.error(layout.size()));
                }
                layout.size().max(self.config.chunk_size.min(room))
            }
            None => layout.size().max(self.config.chunk_size),
        };
        let chunk_layout = Layout::from_size_align(size, layout.align().max(CHUNK_ALIGN))
            .map_err(|_| self.error(layout.size()))?;
        // SAFETY: `chunk_layout` has a non-zero size (`size >= layout.size() > 0`).
        let ptr = unsafe { std::alloc::alloc(chunk_layout) };
        match NonNull::new(ptr) {
            Some(ptr) => Ok(Chunk {
                ptr,
                layout: chunk_layout,
            }),
            None => Err(self.error(layout.size())),
        }
    }

    /// If `[ptr, ptr + old_size)` is the last block bumped in the current chunk and the chunk
    /// has room, extends it to `new_size` bytes in place.
    pub(super) fn grow_in_place(&self, ptr: NonNull<u8>, old_size: usize, new_size: usize) -> bool {
        let cursor = self.cursor.get();
        let base = self.base.get();
        // `old_size <= cursor` keeps the block inside the current chunk: another chunk cannot
        // have a block ending at an address inside this one.
        if base.is_null()
            || old_size == 0
            || old_size > cursor
            || ptr.as_ptr().addr().wrapping_add(old_size) != base.addr().wrapping_add(cursor)
        {
            return false;
        }
        let Some(end) = (new_size - old_size).checked_add(cursor) else {
            return false;
        };
        if end > self.cap.get() {
            return false;
        }
        self.used.set(self.used.get() + (end - cursor));
        self.cursor.set(end);
        true
    }
}

impl Drop for FrameArena {
    fn drop(&mut self) {
        for chunk in self.chunks.get_mut().drain(..) {
            // SAFETY: allocated by the global allocator with `chunk.layout`; dropping the arena
            // needs ownership, so no reference into the chunk is alive.
            unsafe { std::alloc::dealloc(chunk.ptr.as_ptr(), chunk.layout) };
        }
    }
}
