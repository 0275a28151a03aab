//! [`FrameArena`]: per-frame scratch memory, bump-allocated in reusable chunks.
//!
//! Allocation takes `&self`, so any number of allocations coexist, each borrowing the arena.
//! [`FrameArena::reset`] takes `&mut self`, so it cannot happen while any of them is alive:
//! the borrow checker, not a convention, ends the frame. Reset keeps the chunks, so once a
//! frame of a given shape has run, the next frame of that shape makes **zero** system
//! allocations.
//!
//! ```
//! use tickslab_alloc::arena::FrameArena;
//!
//! let mut arena = FrameArena::new();
//! for frame in 0..3u32 {
//!     let pos = arena.alloc([1.0f32, 2.0, 3.0]);
//!     let name = arena.alloc_str("player");
//!     let mut hits = arena.vec();
//!     hits.extend(0..frame);
//!     pos[0] += 1.0;
//!     assert_eq!((&*name, hits.len()), ("player", frame as usize));
//!     arena.reset(); // every reference above is dead here, or this would not compile
//! }
//! ```
//!
//! # Values with destructors are refused at compile time
//!
//! Reset does not run destructors, and a drop list would need memory of its own. Instead,
//! [`alloc`](FrameArena::alloc), [`alloc_slice_fill_with`](FrameArena::alloc_slice_fill_with),
//! [`FrameVec`] and their `try_` forms only accept types without drop glue
//! (`!core::mem::needs_drop::<T>()`), checked by a `const` assertion when the function is
//! instantiated. Plain data, `Copy` types, references and structs of those are fine:
//!
//! ```compile_fail,E0080
//! let arena = tickslab_alloc::arena::FrameArena::new();
//! let s = arena.alloc(String::from("owns heap memory")); // error: has a destructor
//! ```
//!
//! (Being a post-monomorphization error, it shows up in `cargo build`/`cargo test`, not in
//! `cargo check`.) The runtime places values with destructors through
//! [`alloc_raw`](FrameArena::alloc_raw) and drops them itself before the reset.
//!
//! # What the borrow checker refuses
//!
//! A reference from the arena cannot outlive a reset:
//!
//! ```compile_fail,E0502
//! let mut arena = tickslab_alloc::arena::FrameArena::new();
//! let x = arena.alloc(1u32);
//! arena.reset(); // error: `arena` is borrowed by `x`
//! *x += 1;
//! ```
//!
//! nor a growable frame vector:
//!
//! ```compile_fail,E0502
//! let mut arena = tickslab_alloc::arena::FrameArena::new();
//! let mut v = arena.vec::<u32>();
//! v.push(1);
//! arena.reset(); // error: `arena` is borrowed by `v`
//! v.push(2);
//! ```
//!
//! nor reach another thread through `std::thread::spawn` (which needs `'static`):
//!
//! ```compile_fail,E0597
//! let arena = tickslab_alloc::arena::FrameArena::new();
//! let x = arena.alloc(1u32);
//! std::thread::spawn(move || *x += 1); // error: `arena` does not live long enough
//! ```
//!
//! and the arena itself cannot be shared between threads (it is `Send` but not `Sync`):
//!
//! ```compile_fail,E0277
//! let arena = tickslab_alloc::arena::FrameArena::new();
//! std::thread::scope(|s| {
//!     s.spawn(|| arena.alloc(1u32)); // error: `Cell<..>` cannot be shared between threads
//! });
//! ```
//!
//! # Chunks
//!
//! Memory comes from the global allocator in chunks of [`ArenaConfig::chunk_size`] bytes. A
//! request that does not fit the rest of the current chunk moves on to the next chunk: a
//! retained one that fits (after a reset), else a new one of `max(chunk_size, request)` bytes,
//! aligned for the request; the tail of the previous chunk is left unused until the reset.
//! So a request bigger than a chunk gets a chunk of its own. Chunks are reused in the order
//! they were first used, which is why a frame of the same shape finds every chunk it needs.
//! [`FrameArena::trim`] gives unused chunks back.
//!
//! [`ArenaConfig::byte_limit`] bounds the chunk memory the arena may hold. A request that
//! would need more fails with [`ArenaFull`] (`try_` methods) or panics with its message.

use core::alloc::Layout;
use core::cell::{Cell, RefCell};
use core::fmt;
use core::mem::{self, MaybeUninit};
use core::ops::{Deref, DerefMut};
use core::ptr::{self, NonNull};

/// Default [`ArenaConfig::chunk_size`]: 64 KiB.
pub const DEFAULT_CHUNK_SIZE: usize = 64 * 1024;

/// Minimum alignment of every chunk.
const CHUNK_ALIGN: usize = 16;

/// Sizing of a [`FrameArena`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ArenaConfig {
    /// Size in bytes of a regular chunk (a larger request gets a chunk of its own size).
    /// Must not be zero.
    pub chunk_size: usize,
    /// Upper bound on the chunk memory the arena holds, in bytes; `None` for no bound.
    /// Near the bound, the last chunk is made smaller so the bound can be used fully.
    pub byte_limit: Option<usize>,
}

impl ArenaConfig {
    /// [`DEFAULT_CHUNK_SIZE`] chunks, no limit.
    pub const DEFAULT: Self = Self {
        chunk_size: DEFAULT_CHUNK_SIZE,
        byte_limit: None,
    };
}

impl Default for ArenaConfig {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// An arena request could not be served: it would take the arena's chunk memory past its
/// [`byte_limit`](ArenaConfig::byte_limit), or (with no limit, or for a size that cannot be
/// computed) the memory could not be obtained at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ArenaFull {
    /// Size in bytes of the refused request (`usize::MAX` when computing it overflowed).
    pub requested: usize,
    /// The configured limit, `None` if the arena has none.
    pub limit: Option<usize>,
    /// Chunk memory the arena already held, in bytes (what the limit bounds).
    pub used: usize,
}

impl fmt::Display for ArenaFull {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.limit {
            Some(limit) => write!(
                f,
                "frame arena full: a request of {} bytes does not fit under the byte limit of \
                 {limit} bytes ({} bytes of chunks already held)",
                self.requested, self.used
            ),
            None => write!(
                f,
                "frame arena: no memory for a request of {} bytes ({} bytes of chunks already \
                 held, no byte limit)",
                self.requested, self.used
            ),
        }
    }
}

impl std::error::Error for ArenaFull {}

/// Counters of a [`FrameArena`], see [`FrameArena::stats`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ArenaStats {
    /// Bytes handed out since the last reset, alignment padding included (chunk tails left
    /// behind when moving to the next chunk are not counted).
    pub bytes_used: usize,
    /// Highest `bytes_used` seen in any frame.
    pub peak_bytes: usize,
    /// Chunks held (in use or kept for reuse).
    pub chunks: usize,
    /// Bytes of all chunks held.
    pub chunk_bytes: usize,
    /// Number of resets so far.
    pub resets: u64,
}

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

/// A bump allocator for per-frame scratch memory: see the [module docs](self).
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

/// Panics with the message of `e` (kept out of line: the callers' fast paths stay small).
#[cold]
#[inline(never)]
#[track_caller]
fn full(e: ArenaFull) -> ! {
    panic!("{e}")
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
    /// [module docs](self)). Zero-sized values take no memory.
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

    fn overflow_error(&self) -> ArenaFull {
        ArenaFull {
            requested: usize::MAX,
            limit: self.config.byte_limit,
            used: self.chunk_bytes.get(),
        }
    }

    /// The allocation path shared by every method.
    #[inline]
    fn alloc_layout(&self, layout: Layout) -> Result<NonNull<u8>, ArenaFull> {
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
    fn grow_in_place(&self, ptr: NonNull<u8>, old_size: usize, new_size: usize) -> bool {
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

/// Compile-time refusal of values with destructors (see the module docs).
const fn assert_no_drop<T>() {
    assert!(
        !mem::needs_drop::<T>(),
        "tickslab FrameArena: this type has a destructor (drop glue); the arena never runs \
         destructors, so it only accepts types without one (plain data, Copy types, references)"
    );
}

/// A growable vector whose storage lives in a [`FrameArena`], valid until the arena's reset.
///
/// Growth takes a new, larger block from the arena and copies the elements over (the old
/// block is abandoned until the reset), or extends the block in place when it is the last
/// thing allocated. `T` must not need dropping (checked at compile time).
pub struct FrameVec<'a, T> {
    arena: &'a FrameArena,
    ptr: NonNull<T>,
    len: usize,
    cap: usize,
}

impl<'a, T> FrameVec<'a, T> {
    /// An empty vector in `arena`; allocates nothing yet.
    pub const fn new_in(arena: &'a FrameArena) -> Self {
        const { assert_no_drop::<T>() };
        Self {
            arena,
            ptr: NonNull::dangling(),
            len: 0,
            cap: if mem::size_of::<T>() == 0 {
                usize::MAX
            } else {
                0
            },
        }
    }

    /// An empty vector in `arena` with room for `capacity` values.
    ///
    /// # Panics
    /// If the arena cannot provide the memory.
    #[track_caller]
    pub fn with_capacity_in(capacity: usize, arena: &'a FrameArena) -> Self {
        let mut v = Self::new_in(arena);
        v.reserve(capacity);
        v
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no elements.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Number of elements the current block can hold.
    pub fn capacity(&self) -> usize {
        self.cap
    }

    /// The elements.
    pub fn as_slice(&self) -> &[T] {
        // SAFETY: `ptr` is aligned, non-null and valid for `len` initialized elements (they were
        // written by `push`/`extend` into a block of `cap >= len` owned by this vector).
        unsafe { &*ptr::slice_from_raw_parts(self.ptr.as_ptr(), self.len) }
    }

    /// The elements, mutably.
    pub fn as_mut_slice(&mut self) -> &mut [T] {
        // SAFETY: as in `as_slice`; `&mut self` makes the access exclusive.
        unsafe { &mut *ptr::slice_from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }

    /// Turns the vector into a slice that lives as long as the arena borrow.
    pub fn into_slice(self) -> &'a mut [T] {
        // SAFETY: the block is owned by this vector alone (consumed here) and stays valid until
        // the arena is reset, which cannot happen while `'a` borrows it.
        unsafe { &mut *ptr::slice_from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }

    /// Appends `value`.
    ///
    /// # Panics
    /// If the vector must grow and the arena cannot provide the memory.
    #[inline]
    #[track_caller]
    pub fn push(&mut self, value: T) {
        if let Err(e) = self.try_push(value) {
            full(e)
        }
    }

    /// Appends `value`, or returns [`ArenaFull`] if the vector had to grow and could not.
    #[inline]
    pub fn try_push(&mut self, value: T) -> Result<(), ArenaFull> {
        if self.len == self.cap {
            self.try_reserve(1)?;
        }
        // SAFETY: `len < cap`, so slot `len` is inside the block (or a ZST write).
        unsafe { self.ptr.as_ptr().add(self.len).write(value) };
        self.len += 1;
        Ok(())
    }

    /// Removes and returns the last element.
    pub fn pop(&mut self) -> Option<T> {
        if self.len == 0 {
            return None;
        }
        self.len -= 1;
        // SAFETY: slot `len` was initialized and is now outside the vector, so it is read once.
        Some(unsafe { self.ptr.as_ptr().add(self.len).read() })
    }

    /// Removes every element (keeps the capacity).
    pub fn clear(&mut self) {
        self.len = 0;
    }

    /// Shortens the vector to `len` elements (no-op if it is not longer).
    pub fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
    }

    /// Makes room for at least `additional` more elements.
    ///
    /// # Panics
    /// If the arena cannot provide the memory.
    #[track_caller]
    pub fn reserve(&mut self, additional: usize) {
        if let Err(e) = self.try_reserve(additional) {
            full(e)
        }
    }

    /// Makes room for at least `additional` more elements, or returns [`ArenaFull`].
    pub fn try_reserve(&mut self, additional: usize) -> Result<(), ArenaFull> {
        if self.cap - self.len >= additional {
            return Ok(());
        }
        if mem::size_of::<T>() == 0 {
            // Capacity is already `usize::MAX`: more elements cannot be counted.
            return Err(self.arena.overflow_error());
        }
        let need = self
            .len
            .checked_add(additional)
            .ok_or_else(|| self.arena.overflow_error())?;
        let new_cap = need.max(self.cap.saturating_mul(2)).max(4);
        let new_layout = Layout::array::<T>(new_cap)
            .or_else(|_| Layout::array::<T>(need))
            .map_err(|_| self.arena.overflow_error())?;
        let elem = mem::size_of::<T>();
        // `new_layout` may have been computed for `need` rather than `new_cap`.
        let new_cap = new_layout.size() / elem;
        if self
            .arena
            .grow_in_place(self.ptr.cast(), self.cap * elem, new_layout.size())
        {
            self.cap = new_cap;
            return Ok(());
        }
        let new = self.arena.alloc_layout(new_layout)?.cast::<T>();
        // SAFETY: the old block holds `len` initialized elements; the new block is fresh (so
        // disjoint from the old one) and holds `new_cap >= len` elements, aligned.
        unsafe { ptr::copy_nonoverlapping(self.ptr.as_ptr(), new.as_ptr(), self.len) };
        self.ptr = new;
        self.cap = new_cap;
        Ok(())
    }

    /// Appends copies of every element of `src`.
    ///
    /// # Panics
    /// If the arena cannot provide the memory.
    #[track_caller]
    pub fn extend_from_slice(&mut self, src: &[T])
    where
        T: Copy,
    {
        self.reserve(src.len());
        // SAFETY: after `reserve`, slots `len..len + src.len()` are inside the block, which
        // belongs to this vector and so cannot overlap `src` (a shared borrow held elsewhere).
        unsafe {
            ptr::copy_nonoverlapping(src.as_ptr(), self.ptr.as_ptr().add(self.len), src.len())
        };
        self.len += src.len();
    }

    /// The spare capacity, for writing elements before [`set_len`](Self::set_len).
    pub fn spare_capacity_mut(&mut self) -> &mut [MaybeUninit<T>] {
        // SAFETY: slots `len..cap` are inside the block owned by this vector; `MaybeUninit`
        // needs no initialization.
        unsafe {
            &mut *ptr::slice_from_raw_parts_mut(
                self.ptr.as_ptr().add(self.len).cast::<MaybeUninit<T>>(),
                self.cap - self.len,
            )
        }
    }

    /// Sets the length.
    ///
    /// # Safety
    /// `new_len <= capacity()`, and elements `..new_len` must be initialized.
    pub unsafe fn set_len(&mut self, new_len: usize) {
        self.len = new_len;
    }
}

impl<T> Deref for FrameVec<'_, T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        self.as_slice()
    }
}

impl<T> DerefMut for FrameVec<'_, T> {
    fn deref_mut(&mut self) -> &mut [T] {
        self.as_mut_slice()
    }
}

impl<T> Extend<T> for FrameVec<'_, T> {
    #[track_caller]
    fn extend<I: IntoIterator<Item = T>>(&mut self, iter: I) {
        let iter = iter.into_iter();
        self.reserve(iter.size_hint().0);
        for v in iter {
            self.push(v);
        }
    }
}

impl<'v, T: Copy + 'v> Extend<&'v T> for FrameVec<'_, T> {
    #[track_caller]
    fn extend<I: IntoIterator<Item = &'v T>>(&mut self, iter: I) {
        self.extend(iter.into_iter().copied());
    }
}

impl<T: fmt::Debug> fmt::Debug for FrameVec<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_slice(), f)
    }
}

impl<T: PartialEq> PartialEq<[T]> for FrameVec<'_, T> {
    fn eq(&self, other: &[T]) -> bool {
        self.as_slice() == other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small(chunk_size: usize) -> FrameArena {
        FrameArena::with_config(ArenaConfig {
            chunk_size,
            byte_limit: None,
        })
    }

    fn panic_message(e: Box<dyn std::any::Any + Send>) -> String {
        match e.downcast::<String>() {
            Ok(s) => *s,
            Err(e) => e
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .unwrap_or_default(),
        }
    }

    #[test]
    fn values_are_distinct_and_writable() {
        let arena = FrameArena::new();
        let a = arena.alloc(1u64);
        let b = arena.alloc(2u8);
        let c = arena.alloc([3u16; 5]);
        *a += 10;
        *b += 10;
        c[4] = 9;
        assert_eq!((*a, *b, *c), (11, 12, [3, 3, 3, 3, 9]));
        assert_eq!(arena.stats().chunks, 1);
    }

    #[test]
    fn nothing_allocated_until_used() {
        let arena = FrameArena::new();
        assert_eq!(arena.stats(), ArenaStats::default());
    }

    #[test]
    fn many_small_allocations_cross_chunk_boundaries() {
        let arena = small(256);
        let refs: Vec<&mut u64> = (0..1000u64).map(|i| arena.alloc(i)).collect();
        for (i, r) in refs.iter().enumerate() {
            assert_eq!(**r, i as u64);
        }
        let s = arena.stats();
        // 32 u64 per 256-byte chunk (chunks are 16-aligned, so no padding).
        assert_eq!(s.chunks, 1000usize.div_ceil(32));
        assert_eq!(s.bytes_used, 8000);
        assert_eq!(s.chunk_bytes, s.chunks * 256);
    }

    #[test]
    fn alignment_is_respected() {
        #[repr(align(64))]
        #[derive(Clone, Copy)]
        struct A64(#[allow(dead_code)] u8);
        #[repr(align(4096))]
        #[derive(Clone, Copy)]
        struct A4096(#[allow(dead_code)] u8);

        let arena = small(1024);
        for round in 0..3 {
            let _ = arena.alloc(1u8); // knock the cursor off alignment
            arena.alloc(1u8);
            let r2 = arena.alloc(2u16) as *const u16;
            let r8 = arena.alloc(8u64) as *const u64;
            let r16 = arena.alloc(16u128) as *const u128;
            let r64 = arena.alloc(A64(64)) as *const A64;
            let r4k = arena.alloc(A4096(round)) as *const A4096;
            assert_eq!(r2.addr() % 2, 0);
            assert_eq!(r8.addr() % 8, 0);
            assert_eq!(r16.addr() % 16, 0);
            assert_eq!(r64.addr() % 64, 0);
            assert_eq!(r4k.addr() % 4096, 0);
        }
        // Raw layouts too.
        for align in [1, 2, 8, 16, 64, 4096] {
            let layout = Layout::from_size_align(3, align).unwrap();
            // SAFETY: the pointer is only inspected, never dereferenced.
            let p = unsafe { arena.alloc_raw(layout) }.unwrap();
            assert_eq!(p.as_ptr().addr() % align, 0, "align {align}");
        }
    }

    #[test]
    fn zero_sized_types_take_no_memory() {
        #[repr(align(256))]
        struct BigAlignZst;
        let arena = FrameArena::new();
        let _a = arena.alloc(());
        let z = arena.alloc(BigAlignZst) as *const BigAlignZst;
        assert_eq!(z.addr() % 256, 0);
        let e: &mut [u32] = arena.alloc_slice_copy(&[]);
        assert!(e.is_empty());
        assert_eq!(arena.alloc_str(""), "");
        let units = arena.alloc_slice_fill_with(1_000_000, |_| ());
        assert_eq!(units.len(), 1_000_000);
        let mut v = arena.vec::<()>();
        for _ in 0..100 {
            v.push(());
        }
        assert_eq!(v.len(), 100);
        assert_eq!(v.capacity(), usize::MAX);
        assert!(v.try_reserve(usize::MAX).is_err());
        assert_eq!(arena.stats().chunks, 0);
        assert_eq!(arena.stats().bytes_used, 0);
    }

    #[test]
    fn large_allocation_gets_its_own_chunk() {
        let arena = small(1024);
        let a = arena.alloc(7u32);
        let big = arena.alloc_slice_fill_with(5000, |i| i as u8);
        assert_eq!(big.len(), 5000);
        assert!(big.iter().enumerate().all(|(i, b)| *b == i as u8));
        let s = arena.stats();
        assert_eq!(s.chunks, 2);
        assert_eq!(s.chunk_bytes, 1024 + 5000);
        assert_eq!(*a, 7);
    }

    #[test]
    fn slices_and_strings() {
        let arena = FrameArena::new();
        let s = arena.alloc_slice_copy(&[1u32, 2, 3]);
        s[0] = 10;
        assert_eq!(s, &[10, 2, 3]);
        let t = arena.alloc_str("héllo");
        t.make_ascii_uppercase();
        assert_eq!(t, "HéLLO");
        let sq = arena.alloc_slice_fill_with(4, |i| (i * i) as u16);
        assert_eq!(sq, &[0, 1, 4, 9]);
    }

    #[test]
    fn fill_with_may_allocate_from_the_arena() {
        let arena = small(64);
        let refs = arena.alloc_slice_fill_with(20, |i| &*arena.alloc(i as u32));
        assert!(refs.iter().enumerate().all(|(i, r)| **r == i as u32));
    }

    #[test]
    fn reset_reuses_chunks_and_tracks_peak() {
        let mut arena = small(128);
        for _ in 0..3 {
            for i in 0..100u32 {
                arena.alloc(i);
            }
            arena.reset();
        }
        let s = arena.stats();
        assert_eq!(s.chunks, 4); // 400 bytes in 128-byte chunks
        assert_eq!(s.bytes_used, 0);
        assert_eq!(s.peak_bytes, 400);
        assert_eq!(s.resets, 3);
    }

    #[test]
    fn same_shape_frames_reuse_the_same_chunks() {
        let mut arena = small(256);
        let frame = |arena: &FrameArena| {
            let mut addrs = Vec::new();
            for i in 0..50u64 {
                addrs.push((arena.alloc(i) as *const u64).addr());
                if i % 10 == 0 {
                    let big = arena.alloc_slice_fill_with(300, |j| j as u8);
                    addrs.push(big.as_ptr().addr());
                }
                #[repr(align(128))]
                struct A(#[allow(dead_code)] u8);
                addrs.push((arena.alloc(A(1)) as *const A).addr());
            }
            addrs
        };
        let first = frame(&arena);
        let chunks = arena.stats().chunks;
        arena.reset();
        let second = frame(&arena);
        assert_eq!(first, second);
        assert_eq!(arena.stats().chunks, chunks);
    }

    #[test]
    fn limit_is_enforced() {
        let arena = FrameArena::with_config(ArenaConfig {
            chunk_size: 100,
            byte_limit: Some(250),
        });
        for _ in 0..25 {
            arena.alloc(0u64);
        }
        // 3 chunks: 100 + 100 + 50 (the last sized to the limit), 8-byte values: 12 + 12 + 6.
        let s = arena.stats();
        assert_eq!((s.chunks, s.chunk_bytes), (3, 250));
        for _ in 25..30 {
            arena.alloc(0u64);
        }
        let err = arena.try_alloc(0u64).unwrap_err();
        assert_eq!(
            err,
            ArenaFull {
                requested: 8,
                limit: Some(250),
                used: 250
            }
        );
        let msg = err.to_string();
        assert!(msg.contains("limit of 250 bytes"), "{msg}");
        let p = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            arena.alloc(0u64);
        }));
        let msg = panic_message(p.unwrap_err());
        assert!(msg.contains("byte limit of 250 bytes"), "{msg}");
        assert!(msg.contains("request of 8 bytes"), "{msg}");
        // A request bigger than the limit fails without touching anything.
        assert!(arena.try_alloc_slice_copy(&[0u8; 300]).is_err());
        assert_eq!(arena.stats().chunk_bytes, 250);
    }

    #[test]
    fn limit_smaller_than_a_chunk() {
        let arena = FrameArena::with_config(ArenaConfig {
            chunk_size: DEFAULT_CHUNK_SIZE,
            byte_limit: Some(64),
        });
        assert!(arena.try_alloc_slice_copy(&[1u8; 64]).is_ok());
        assert_eq!(arena.stats().chunk_bytes, 64);
        assert!(arena.try_alloc(1u8).is_err());
    }

    #[test]
    fn overflowing_requests_are_errors_not_ub() {
        let arena = FrameArena::with_config(ArenaConfig {
            chunk_size: 64,
            byte_limit: Some(1 << 20),
        });
        let e = arena
            .try_alloc_slice_fill_with(usize::MAX / 2, |_| 0u64)
            .unwrap_err();
        assert_eq!(e.requested, usize::MAX);
        let layout = Layout::from_size_align(isize::MAX as usize - 4095, 4096).unwrap();
        // SAFETY: only the error is inspected.
        let e = unsafe { arena.alloc_raw(layout) }.unwrap_err();
        assert_eq!(e.requested, layout.size());
        let mut v = arena.vec::<u64>();
        v.push(1);
        assert!(v.try_reserve(usize::MAX).is_err());
        assert!(v.try_reserve(usize::MAX / 16).is_err());
        assert_eq!(v.as_slice(), &[1]);
    }

    #[test]
    #[cfg_attr(miri, ignore)] // Miri reports huge allocations as resource exhaustion
    fn huge_request_without_limit_is_an_error() {
        let arena = FrameArena::new();
        let layout = Layout::from_size_align(isize::MAX as usize - 4095, 4096).unwrap();
        // SAFETY: only the error is inspected.
        let e = unsafe { arena.alloc_raw(layout) }.unwrap_err();
        assert_eq!(e.limit, None);
        assert!(e.to_string().contains("no byte limit"));
    }

    #[test]
    #[should_panic(expected = "chunk_size must not be zero")]
    fn zero_chunk_size_is_refused() {
        let _ = FrameArena::with_config(ArenaConfig {
            chunk_size: 0,
            byte_limit: None,
        });
    }

    #[test]
    fn frame_vec_grows_and_keeps_contents() {
        let arena = small(256);
        let other = arena.alloc(0xAAu8);
        let mut v = arena.vec::<u32>();
        for i in 0..1000 {
            v.push(i);
            // Interleave allocations so growth sometimes cannot happen in place.
            if i % 100 == 0 {
                arena.alloc(i as u8);
            }
        }
        assert_eq!(v.len(), 1000);
        assert!(v.iter().copied().eq(0..1000));
        assert_eq!(v.pop(), Some(999));
        v.truncate(10);
        v.extend_from_slice(&[7, 8]);
        v.extend([9u32, 10].iter());
        assert_eq!(&v[8..], &[8, 9, 7, 8, 9, 10]);
        let s = v.into_slice();
        s[0] = 42;
        assert_eq!(s.len(), 14);
        assert_eq!(*other, 0xAA);
    }

    #[test]
    fn frame_vec_grows_in_place_when_last() {
        let arena = small(1024);
        let mut v = arena.vec_with_capacity::<u64>(4);
        let p = v.as_ptr();
        for i in 0..64 {
            v.push(i);
        }
        assert_eq!(v.as_ptr(), p, "grew in place");
        assert_eq!(arena.stats().bytes_used, 64 * 8);
        let blocker = arena.alloc(1u8);
        v.push(64);
        assert_ne!(v.as_ptr(), p, "moved once something was allocated after it");
        assert!(v.iter().copied().eq(0..65));
        assert_eq!(*blocker, 1);
    }

    #[test]
    fn frame_vec_spare_capacity() {
        let arena = FrameArena::new();
        let mut v = arena.vec_with_capacity::<u8>(8);
        for (i, slot) in v.spare_capacity_mut().iter_mut().take(3).enumerate() {
            slot.write(i as u8);
        }
        // SAFETY: the first three slots were written above.
        unsafe { v.set_len(3) };
        assert_eq!(*v, [0u8, 1, 2][..]);
    }

    #[test]
    fn trim_returns_unused_chunks() {
        let mut arena = small(64);
        for i in 0..64u64 {
            arena.alloc(i);
        }
        assert_eq!(arena.stats().chunks, 8);
        arena.trim(0); // the 8 chunks are in use: nothing to free
        assert_eq!(arena.stats().chunks, 8);
        arena.reset();
        arena.alloc(1u8);
        arena.trim(3);
        assert_eq!(arena.stats().chunks, 3);
        assert_eq!(arena.stats().chunk_bytes, 3 * 64);
        arena.reset();
        arena.trim(0);
        assert_eq!(arena.stats().chunks, 0);
        assert_eq!(*arena.alloc(5u16), 5);
        assert_eq!(arena.stats().chunks, 1);
    }

    #[test]
    fn arena_can_move_to_another_thread() {
        let mut arena = small(64);
        arena.alloc(1u32);
        arena.reset();
        let arena = std::thread::spawn(move || {
            assert_eq!(*arena.alloc(2u32), 2);
            arena
        })
        .join()
        .unwrap();
        assert_eq!(arena.stats().chunks, 1);
    }

    #[test]
    fn references_from_a_frame_can_go_to_scoped_threads() {
        let arena = FrameArena::new();
        let x = arena.alloc(1u32);
        let y = arena.alloc_slice_copy(&[1u8, 2]);
        std::thread::scope(|s| {
            s.spawn(|| *x += 1);
            s.spawn(|| y[1] = 5);
        });
        assert_eq!((*x, &*y), (2, &[1u8, 5][..]));
    }

    #[test]
    fn raw_allocations_hold_values_with_destructors_managed_by_the_caller() {
        let mut arena = FrameArena::new();
        let layout = Layout::new::<String>();
        // SAFETY: the block is used only within this frame, and the `String` placed in it is
        // dropped before the reset.
        unsafe {
            let p = arena.alloc_raw(layout).unwrap().cast::<String>();
            p.as_ptr().write(String::from("task"));
            assert_eq!(*p.as_ptr(), "task");
            p.as_ptr().drop_in_place();
        }
        arena.reset();
    }
}
