//! Owned buffers for positional file I/O: [`IoBuf`] (what a write reads from) and
//! [`IoBufMut`] (what a read fills).
//!
//! An operation takes its buffer **by value** and gives it back with the result, because on
//! io_uring the kernel reads or writes the buffer after submission: if the operation's
//! future is dropped mid-flight, the buffer stays parked with the operation until the
//! completion arrives, and is freed only then. The traits are sealed: the buffer types are
//! ones whose memory does not move when the value moves and that may be freed on any thread
//! (`Vec<u8>`, `Box<[u8]>`, `'static` slices), so no safe code can hand the kernel a pointer
//! that goes stale.
//!
//! Inside the operation a buffer is a [`RawBuf`]: its pointer, length, capacity and a
//! function that rebuilds (and so frees) it.

use std::ptr::NonNull;

mod sealed {
    pub trait Sealed {}
}

/// A buffer a positional write takes by value: its initialised bytes are written. Implemented
/// for `Vec<u8>`, `Box<[u8]>`, `&'static [u8]` and `&'static str`, whose bytes do not move
/// when the value moves.
pub trait IoBuf: sealed::Sealed + Send + 'static {
    /// The initialised bytes (what a write sends).
    fn bytes_init(&self) -> usize;
    /// Bytes of memory the buffer owns (what a read may fill).
    fn bytes_total(&self) -> usize;
    #[doc(hidden)]
    fn into_raw(self) -> RawBuf;
    /// # Safety
    /// `raw` came from `into_raw` of this same type (its `len` at most its `cap`, the first
    /// `len` bytes initialised).
    #[doc(hidden)]
    unsafe fn from_raw(raw: RawBuf) -> Self;
}

/// A buffer a positional read fills: up to [`bytes_total`](IoBuf::bytes_total) bytes from
/// its start; afterwards its initialised length is at least what was read (`Vec`'s length
/// grows to `n` if it was shorter, as in tokio-uring).
pub trait IoBufMut: IoBuf {}

/// A buffer inside an operation. Dropping it drops the buffer it came from.
pub struct RawBuf {
    pub(crate) ptr: NonNull<u8>,
    pub(crate) len: usize,
    pub(crate) cap: usize,
    rebuild: unsafe fn(NonNull<u8>, usize, usize),
}

// SAFETY: a `RawBuf` is an `IoBuf` (which is `Send`) in pieces.
unsafe impl Send for RawBuf {}

impl RawBuf {
    /// Records that the first `n` bytes are initialised now (after a read of `n` bytes).
    pub(crate) fn set_init(&mut self, n: usize) {
        debug_assert!(n <= self.cap);
        self.len = self.len.max(n.min(self.cap));
    }

    /// A raw buffer from its parts, for the loom model (`fs/loom_tests.rs`), whose
    /// `rebuild` records the free instead of freeing.
    ///
    /// # Safety
    /// Dropping the result calls `rebuild(ptr, len, cap)` once: it must be sound then.
    #[cfg(all(test, loom))]
    pub(crate) unsafe fn from_parts(
        ptr: NonNull<u8>,
        len: usize,
        cap: usize,
        rebuild: unsafe fn(NonNull<u8>, usize, usize),
    ) -> RawBuf {
        RawBuf {
            ptr,
            len,
            cap,
            rebuild,
        }
    }

    /// Forgets the raw form without freeing (the caller rebuilt the buffer).
    fn defuse(self) {
        std::mem::forget(self);
    }
}

impl Drop for RawBuf {
    fn drop(&mut self) {
        // SAFETY: `rebuild` belongs to the type `ptr/len/cap` came from, and a `RawBuf` is
        // either rebuilt by `from_raw` (which `defuse`s it) or dropped here, once.
        unsafe { (self.rebuild)(self.ptr, self.len, self.cap) }
    }
}

impl std::fmt::Debug for RawBuf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawBuf")
            .field("len", &self.len)
            .field("cap", &self.cap)
            .finish()
    }
}

impl sealed::Sealed for Vec<u8> {}
impl IoBuf for Vec<u8> {
    fn bytes_init(&self) -> usize {
        self.len()
    }
    fn bytes_total(&self) -> usize {
        self.capacity()
    }
    fn into_raw(self) -> RawBuf {
        let mut v = std::mem::ManuallyDrop::new(self);
        /// # Safety
        /// From a `Vec<u8>`'s raw parts.
        unsafe fn rebuild(ptr: NonNull<u8>, len: usize, cap: usize) {
            // SAFETY: the parts of a `Vec<u8>` taken apart in `into_raw`, put back once.
            drop(unsafe { Vec::from_raw_parts(ptr.as_ptr(), len, cap) });
        }
        RawBuf {
            // A `Vec`'s pointer is never null (dangling when it has no capacity).
            ptr: NonNull::new(v.as_mut_ptr()).expect("Vec pointers are non-null"),
            len: v.len(),
            cap: v.capacity(),
            rebuild,
        }
    }
    unsafe fn from_raw(raw: RawBuf) -> Self {
        let (ptr, len, cap) = (raw.ptr, raw.len, raw.cap);
        raw.defuse();
        // SAFETY: the caller's contract: the parts of a `Vec<u8>`, with `len` initialised.
        unsafe { Vec::from_raw_parts(ptr.as_ptr(), len, cap) }
    }
}
impl IoBufMut for Vec<u8> {}

impl sealed::Sealed for Box<[u8]> {}
impl IoBuf for Box<[u8]> {
    fn bytes_init(&self) -> usize {
        self.len()
    }
    fn bytes_total(&self) -> usize {
        self.len()
    }
    fn into_raw(self) -> RawBuf {
        let len = self.len();
        let ptr = Box::into_raw(self).cast::<u8>();
        /// # Safety
        /// From a `Box<[u8]>`'s raw parts.
        unsafe fn rebuild(ptr: NonNull<u8>, _len: usize, cap: usize) {
            let slice = std::ptr::slice_from_raw_parts_mut(ptr.as_ptr(), cap);
            // SAFETY: the box taken apart in `into_raw`, put back once.
            drop(unsafe { Box::from_raw(slice) });
        }
        RawBuf {
            ptr: NonNull::new(ptr).expect("Box pointers are non-null"),
            len,
            cap: len,
            rebuild,
        }
    }
    unsafe fn from_raw(raw: RawBuf) -> Self {
        let (ptr, cap) = (raw.ptr, raw.cap);
        raw.defuse();
        let slice = std::ptr::slice_from_raw_parts_mut(ptr.as_ptr(), cap);
        // SAFETY: the caller's contract: the box taken apart in `into_raw`.
        unsafe { Box::from_raw(slice) }
    }
}
impl IoBufMut for Box<[u8]> {}

/// # Safety
/// Nothing to free: a `'static` borrow.
unsafe fn forget_static(_: NonNull<u8>, _: usize, _: usize) {}

impl sealed::Sealed for &'static [u8] {}
impl IoBuf for &'static [u8] {
    fn bytes_init(&self) -> usize {
        self.len()
    }
    fn bytes_total(&self) -> usize {
        self.len()
    }
    fn into_raw(self) -> RawBuf {
        RawBuf {
            ptr: NonNull::from(self).cast::<u8>(),
            len: self.len(),
            cap: self.len(),
            rebuild: forget_static,
        }
    }
    unsafe fn from_raw(raw: RawBuf) -> Self {
        let (ptr, len) = (raw.ptr, raw.len);
        raw.defuse();
        // SAFETY: the caller's contract: a `'static` slice taken apart in `into_raw`; writes
        // only ever read it.
        unsafe { std::slice::from_raw_parts(ptr.as_ptr(), len) }
    }
}

impl sealed::Sealed for &'static str {}
impl IoBuf for &'static str {
    fn bytes_init(&self) -> usize {
        self.len()
    }
    fn bytes_total(&self) -> usize {
        self.len()
    }
    fn into_raw(self) -> RawBuf {
        self.as_bytes().into_raw()
    }
    unsafe fn from_raw(raw: RawBuf) -> Self {
        // SAFETY: the caller's contract, via `&[u8]`'s.
        let bytes = unsafe { <&'static [u8]>::from_raw(raw) };
        // SAFETY: these bytes were a `str`, and writes never change them.
        unsafe { std::str::from_utf8_unchecked(bytes) }
    }
}
