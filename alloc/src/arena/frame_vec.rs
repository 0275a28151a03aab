//! [`FrameVec`]: a growable vector whose storage is blocks of a [`FrameArena`].
//!
//! Invariants (the `SAFETY` comments below rest on them, and on those of `frame_arena.rs`):
//!
//! - `ptr` is aligned for `T` and valid for `cap` elements; the first `len` are initialized
//!   and `len <= cap`. With `cap == 0` it is dangling; for a zero-sized `T`, `cap` is
//!   `usize::MAX` from the start and `ptr` stays dangling.
//! - The block is this vector's alone: the arena handed it out fresh (or extended it in place
//!   while it was the last block) and will not hand it out again before its reset, which the
//!   `'a` borrow of the arena keeps from happening while the vector lives.
//! - `T` has no drop glue (checked at compile time by [`FrameVec::new_in`]), so abandoning a
//!   block on growth, or elements on `truncate`/`clear`, drops nothing that needed dropping.

use core::alloc::Layout;
use core::fmt;
use core::mem::{self, MaybeUninit};
use core::ops::{Deref, DerefMut};
use core::ptr::{self, NonNull};

use super::{ArenaFull, FrameArena, assert_no_drop, full};

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
