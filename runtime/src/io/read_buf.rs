//! [`ReadBuf`]: a byte buffer that is filled progressively and may start uninitialized, with
//! tokio's API (so code written against `tokio::io::ReadBuf` compiles against it).
//!
//! # Invariants
//!
//! The buffer is three regions, in order:
//!
//! ```text
//! [             capacity                     ]
//! [ filled |         unfilled                ]
//! [    initialized    | uninitialized        ]
//! ```
//!
//! 1. `filled <= initialized <= buf.len()` at every step (each method that moves them checks
//!    or clamps).
//! 2. Every byte of `buf[..initialized]` is initialized. Safe methods only ever *write*
//!    initialized bytes into `buf`, and only [`unfilled_mut`](ReadBuf::unfilled_mut) and
//!    [`inner_mut`](ReadBuf::inner_mut) (both `unsafe fn`, as in tokio) hand out the
//!    `MaybeUninit` slice whose writer could break this; their contract forbids writing an
//!    uninitialized byte.
//! 3. A `ReadBuf` made by [`new`](ReadBuf::new) from an `&mut [u8]` starts with every byte
//!    initialized (and rule 2 keeps it so for the slice's owner after the `ReadBuf` is gone).
//!
//! The `unsafe` blocks below are the two conversions between `[u8]` and `[MaybeUninit<u8>]`
//! that these rules make sound; `UNSAFE.md` lists them.

use std::fmt;
use std::mem::MaybeUninit;

/// A wrapper around a byte buffer that is filled bit by bit and may be partly
/// uninitialized, as tokio's `ReadBuf`: what [`AsyncRead::poll_read`](super::AsyncRead)
/// writes into.
///
/// ```
/// use tickslab_runtime::io::ReadBuf;
///
/// let mut storage = [0u8; 8];
/// let mut buf = ReadBuf::new(&mut storage);
/// buf.put_slice(b"abc");
/// assert_eq!(buf.filled(), b"abc");
/// assert_eq!(buf.remaining(), 5);
/// ```
pub struct ReadBuf<'a> {
    buf: &'a mut [MaybeUninit<u8>],
    filled: usize,
    initialized: usize,
}

impl<'a> ReadBuf<'a> {
    /// A `ReadBuf` over a fully initialized buffer, with nothing filled yet.
    #[inline]
    pub fn new(buf: &'a mut [u8]) -> ReadBuf<'a> {
        let initialized = buf.len();
        // SAFETY: `MaybeUninit<u8>` has the layout of `u8`, and the slice's bytes are all
        // initialized. Through this `ReadBuf` they can only be overwritten by initialized
        // bytes (rule 2 of the module docs; the `unsafe fn`s that could do otherwise forbid
        // it), so the caller's `&mut [u8]` is still fully initialized when the borrow ends.
        let buf = unsafe { &mut *(buf as *mut [u8] as *mut [MaybeUninit<u8>]) };
        ReadBuf {
            buf,
            filled: 0,
            initialized,
        }
    }

    /// A `ReadBuf` over a possibly uninitialized buffer, with nothing filled or
    /// initialized yet.
    #[inline]
    pub fn uninit(buf: &'a mut [MaybeUninit<u8>]) -> ReadBuf<'a> {
        ReadBuf {
            buf,
            filled: 0,
            initialized: 0,
        }
    }

    /// The total length of the buffer.
    #[inline]
    pub fn capacity(&self) -> usize {
        self.buf.len()
    }

    /// The filled part of the buffer.
    #[inline]
    pub fn filled(&self) -> &[u8] {
        // SAFETY: `filled <= initialized` (rule 1) and `buf[..initialized]` is initialized
        // (rule 2).
        unsafe { self.buf[..self.filled].assume_init_ref() }
    }

    /// The filled part of the buffer, mutably.
    #[inline]
    pub fn filled_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `filled`; the returned `&mut [u8]` can only write initialized bytes.
        unsafe { self.buf[..self.filled].assume_init_mut() }
    }

    /// A new `ReadBuf` over at most `n` bytes of this one's unfilled part (what it fills
    /// is not counted here: [`advance`](Self::advance) by its `filled().len()`).
    #[inline]
    pub fn take(&mut self, n: usize) -> ReadBuf<'_> {
        let max = n.min(self.remaining());
        let initialized = (self.initialized - self.filled).min(max);
        ReadBuf {
            buf: &mut self.buf[self.filled..self.filled + max],
            filled: 0,
            // `buf[filled..initialized]` is initialized here (rule 2), so the first
            // `initialized` bytes of the new buffer are.
            initialized,
        }
    }

    /// Runs `f` on a [`take`](Self::take) of `n` bytes, then counts what it filled and
    /// initialized there as this buffer's own: how a wrapper (`Take`) lends part of a
    /// buffer to an inner reader without `unsafe`.
    ///
    /// # Panics
    ///
    /// If `f` replaced the lent `ReadBuf` by another one (its bytes would not be here).
    pub(crate) fn with_take<T>(&mut self, n: usize, f: impl FnOnce(&mut ReadBuf<'_>) -> T) -> T {
        let start = self.filled;
        let ptr = self.buf[start..].as_ptr();
        let (out, init, filled) = {
            let mut sub = self.take(n);
            let max = sub.capacity();
            let out = f(&mut sub);
            // The lent buffer is still `buf[start..start + max]`: its invariant (rule 2)
            // then says `buf[start..start + sub.initialized]` is initialized.
            if sub.buf.as_ptr() != ptr || sub.capacity() != max {
                crate::io::util::swapped();
            }
            (out, sub.initialized, sub.filled)
        };
        if self.initialized < start + init {
            self.initialized = start + init;
        }
        self.filled = start + filled;
        out
    }

    /// The initialized part of the buffer (the filled part and maybe more).
    #[inline]
    pub fn initialized(&self) -> &[u8] {
        // SAFETY: `buf[..initialized]` is initialized (rule 2).
        unsafe { self.buf[..self.initialized].assume_init_ref() }
    }

    /// The initialized part of the buffer, mutably.
    #[inline]
    pub fn initialized_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `initialized`; the `&mut [u8]` can only write initialized bytes.
        unsafe { self.buf[..self.initialized].assume_init_mut() }
    }

    /// The whole buffer, possibly uninitialized, filled part included.
    ///
    /// # Safety
    ///
    /// The caller must not de-initialize any byte that was initialized (write
    /// `MaybeUninit::uninit()` into it): the buffer may come from an `&mut [u8]`.
    #[inline]
    pub unsafe fn inner_mut(&mut self) -> &mut [MaybeUninit<u8>] {
        self.buf
    }

    /// The unfilled part of the buffer, possibly uninitialized.
    ///
    /// # Safety
    ///
    /// The caller must not de-initialize any byte that was initialized (write
    /// `MaybeUninit::uninit()` into it): the buffer may come from an `&mut [u8]`.
    #[inline]
    pub unsafe fn unfilled_mut(&mut self) -> &mut [MaybeUninit<u8>] {
        &mut self.buf[self.filled..]
    }

    /// The unfilled part, initialized first (with zeros where it was not) so that it can be
    /// written as a plain `&mut [u8]`: what a reader that takes `&mut [u8]` reads into.
    /// Zeroes each byte at most once over the `ReadBuf`'s life.
    #[inline]
    pub fn initialize_unfilled(&mut self) -> &mut [u8] {
        self.initialize_unfilled_to(self.remaining())
    }

    /// The first `n` bytes of the unfilled part, initialized first.
    ///
    /// # Panics
    ///
    /// If `n` is more than [`remaining`](Self::remaining).
    #[inline]
    #[track_caller]
    pub fn initialize_unfilled_to(&mut self, n: usize) -> &mut [u8] {
        if n > self.remaining() {
            too_long("ReadBuf::initialize_unfilled_to", n, self.remaining());
        }
        let end = self.filled + n;
        if self.initialized < end {
            self.zero_to(end);
        }
        // SAFETY: `buf[..initialized]` is initialized (rule 2) and `end <= initialized`
        // now; the `&mut [u8]` can only write initialized bytes.
        unsafe { self.buf[self.filled..end].assume_init_mut() }
    }

    /// Zeroes `buf[initialized..end]` and counts it initialized (out of line: the hot
    /// path reads into buffers that are initialized already).
    #[inline(never)]
    fn zero_to(&mut self, end: usize) {
        for b in &mut self.buf[self.initialized..end] {
            b.write(0);
        }
        self.initialized = end;
    }

    /// How many bytes are left to fill.
    #[inline]
    pub fn remaining(&self) -> usize {
        self.capacity() - self.filled
    }

    /// Empties the filled part (the bytes stay initialized).
    #[inline]
    pub fn clear(&mut self) {
        self.filled = 0;
    }

    /// Counts `n` more bytes of the unfilled part as filled.
    ///
    /// # Panics
    ///
    /// If the filled part would then reach past the initialized part.
    #[inline]
    #[track_caller]
    pub fn advance(&mut self, n: usize) {
        // No overflow: `filled <= initialized` (rule 1).
        if n > self.initialized - self.filled {
            past_initialized(self.filled.saturating_add(n), self.initialized);
        }
        self.filled += n;
    }

    /// Sets how many bytes are filled (shrinking it leaves the bytes initialized).
    ///
    /// # Panics
    ///
    /// If `n` is more than the initialized part.
    #[inline]
    #[track_caller]
    pub fn set_filled(&mut self, n: usize) {
        if n > self.initialized {
            past_initialized(n, self.initialized);
        }
        self.filled = n;
    }

    /// Asserts that the first `n` bytes of the unfilled part are initialized (a no-op for
    /// those already known to be).
    ///
    /// # Safety
    ///
    /// The caller must have initialized `unfilled_mut()[..n]`.
    #[inline]
    pub unsafe fn assume_init(&mut self, n: usize) {
        let new = self.filled + n;
        if new > self.initialized {
            self.initialized = new;
        }
    }

    /// Copies `src` into the unfilled part and counts it filled.
    ///
    /// # Panics
    ///
    /// If `src` is longer than [`remaining`](Self::remaining).
    #[inline]
    #[track_caller]
    pub fn put_slice(&mut self, src: &[u8]) {
        if src.len() > self.remaining() {
            too_long("ReadBuf::put_slice", src.len(), self.remaining());
        }
        let end = self.filled + src.len();
        self.buf[self.filled..end].write_copy_of_slice(src);
        if self.initialized < end {
            self.initialized = end;
        }
        self.filled = end;
    }
}

#[cold]
#[inline(never)]
#[track_caller]
fn too_long(what: &str, n: usize, remaining: usize) -> ! {
    panic!("{what}: {n} bytes do not fit in the {remaining} remaining");
}

#[cold]
#[inline(never)]
#[track_caller]
fn past_initialized(filled: usize, initialized: usize) -> ! {
    panic!("ReadBuf: filled ({filled}) must not pass the initialized part ({initialized})");
}

// SAFETY: `bytes::BufMut`'s contract: `chunk_mut` is the unfilled part, whose length is
// `remaining_mut`, and `advance_mut(n)` moves exactly `n` bytes of it into the filled part.
// The chunk is lent as an `UninitSlice`, through which safe code writes only initialized
// bytes (rule 2 holds); `advance_mut` checks `n` against `remaining` before counting the
// bytes initialized, so `filled <= initialized <= capacity` (rule 1) holds even when a
// caller breaks `advance_mut`'s contract (it panics instead).
unsafe impl bytes::BufMut for ReadBuf<'_> {
    /// [`ReadBuf::remaining`].
    fn remaining_mut(&self) -> usize {
        self.remaining()
    }

    /// Counts the first `cnt` bytes of the unfilled part initialized and filled.
    ///
    /// # Panics
    /// If `cnt` is more than `remaining_mut()` (as `bytes` asks of its implementations).
    ///
    /// # Safety
    /// As `BufMut::advance_mut`: the caller wrote those `cnt` bytes through `chunk_mut`.
    #[track_caller]
    unsafe fn advance_mut(&mut self, cnt: usize) {
        if cnt > self.remaining() {
            too_long("ReadBuf::advance_mut", cnt, self.remaining());
        }
        // SAFETY: the caller initialized `unfilled_mut()[..cnt]` (this fn's contract), and
        // `cnt <= remaining` keeps `initialized <= capacity`.
        unsafe { self.assume_init(cnt) };
        self.advance(cnt);
    }

    /// The unfilled part, as `bytes`' `UninitSlice`.
    fn chunk_mut(&mut self) -> &mut bytes::buf::UninitSlice {
        bytes::buf::UninitSlice::uninit(&mut self.buf[self.filled..])
    }
}

impl fmt::Debug for ReadBuf<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadBuf")
            .field("filled", &self.filled)
            .field("initialized", &self.initialized)
            .field("capacity", &self.capacity())
            .finish()
    }
}
