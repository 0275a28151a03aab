//! A positional file operation in flight, and who owns what while it is.
//!
//! An operation is an [`OpCell`] in a slot of the driver's [`SyncPool`]: the pool is
//! allocated once (the in-flight depth), gives backpressure (`alloc().await` waits for a
//! free slot) and takes slots back from any thread, lock-free. Invariants:
//!
//! 1. **Two references while in flight.** Once submitted, the cell is referenced by the
//!    operation's future ([`InFlight`]) and by the executor (the kernel's completion, or a
//!    blocking-pool worker), counted in `refs` (2). Each side gives its reference back once:
//!    the executor after it stored the result and woke the future ([`complete`]), the future
//!    when it took the result or was dropped. Whoever gives back the last one drops the cell's
//!    own [`SyncPoolBox`] (kept in `this`), which drops the buffer and the file and frees
//!    the slot. So the buffer lives until the kernel or the worker is done with it, however
//!    early the future is dropped: **no completion can write into freed memory**.
//! 2. **Fixed before submission.** `kind`, `fd`, `offset`, `io_ptr` and `io_len` are written
//!    before the cell is shared and only read afterwards (the executor reads them).
//! 3. **`buf` and `this` are touched by one side at a time.** The future takes `buf` back
//!    only after it saw `done` (acquire), after which the executor touches nothing but the
//!    waker and `refs`; `this` is touched by the side that gave back the last reference.
//! 4. **The file stays open.** The cell holds an `Arc` of the file, so its descriptor
//!    cannot be closed (and its number reused by another file) before the operation ends.

use std::future::poll_fn;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::ptr::NonNull;
use std::sync::Arc;
use std::task::Poll;

// loom's under `--cfg loom`: `loom_tests.rs` checks this protocol under every interleaving.
#[cfg(loom)]
use loom::sync::atomic::{AtomicBool, AtomicI64, AtomicU8, Ordering};
#[cfg(not(loom))]
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU8, Ordering};

use super::buf::RawBuf;
use super::driver::FsDriver;
use crate::pool::SyncPoolBox;
use crate::sync::atomic_waker::AtomicWaker;
use crate::sync::loom_cell::UnsafeCell;

/// What an operation does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OpKind {
    /// `pread`: fill `io_ptr[..io_len]` from `offset`.
    Read,
    /// `pwrite`: write `io_ptr[..io_len]` at `offset`.
    Write,
    /// `fsync`.
    SyncAll,
    /// `fdatasync`.
    SyncData,
    /// `openat(AT_FDCWD, io_ptr, flags, mode)`: `io_ptr` is the parked, NUL-terminated path;
    /// `offset` holds the flags (low 32 bits) and the mode (high 32 bits). The result is
    /// the new descriptor, which the future takes, or which the cell closes if the future
    /// was dropped first (no descriptor leaks from a cancelled open).
    OpenAt,
}

/// The result code of an operation the runtime refused because it was shutting down.
pub(crate) const SHUT_DOWN: i64 = i64::MIN;

/// One operation's state, in a slot of the driver's pool.
pub(crate) struct OpCell {
    refs: AtomicU8,
    done: AtomicBool,
    /// Bytes transferred (>= 0), or `-errno`, or [`SHUT_DOWN`].
    result: AtomicI64,
    waker: AtomicWaker,
    /// The future took the result (an opened descriptor is then its to close).
    taken: AtomicBool,
    pub(crate) kind: OpKind,
    pub(crate) fd: RawFd,
    pub(crate) offset: u64,
    pub(crate) io_ptr: *mut u8,
    pub(crate) io_len: usize,
    buf: UnsafeCell<Option<RawBuf>>,
    _file: Option<Arc<std::fs::File>>,
    this: UnsafeCell<Option<SyncPoolBox<OpCell>>>,
}

// SAFETY: the cell is shared between the runtime thread and one executor (a worker thread)
// under the invariants of this module: the plain fields are fixed before sharing (2), the
// `UnsafeCell`s are owned by one side at a time (3), the rest are atomics. `RawBuf`, the
// file's `Arc` and the pool box are `Send`.
unsafe impl Send for OpCell {}
// SAFETY: as above.
unsafe impl Sync for OpCell {}

impl OpCell {
    pub(crate) fn new(
        kind: OpKind,
        file: &Arc<std::fs::File>,
        buf: Option<RawBuf>,
        offset: u64,
    ) -> OpCell {
        let mut cell = OpCell::raw(kind, buf, offset);
        cell.fd = file.as_raw_fd();
        cell._file = Some(Arc::clone(file));
        cell
    }

    /// An `openat` of `path` (NUL-terminated, parked in the cell until the completion).
    pub(crate) fn open_at(path: RawBuf, flags: i32, mode: u32) -> OpCell {
        let packed = (flags as u32 as u64) | ((mode as u64) << 32);
        OpCell::raw(OpKind::OpenAt, Some(path), packed)
    }

    pub(crate) fn raw(kind: OpKind, buf: Option<RawBuf>, offset: u64) -> OpCell {
        let (io_ptr, io_len) = match (&buf, kind) {
            (Some(b), OpKind::Read) => (b.ptr.as_ptr(), b.cap),
            (Some(b), OpKind::Write | OpKind::OpenAt) => (b.ptr.as_ptr(), b.len),
            _ => (std::ptr::null_mut(), 0),
        };
        OpCell {
            refs: AtomicU8::new(2),
            done: AtomicBool::new(false),
            result: AtomicI64::new(0),
            waker: AtomicWaker::new(),
            taken: AtomicBool::new(false),
            kind,
            fd: -1,
            offset,
            io_ptr,
            io_len,
            buf: UnsafeCell::new(buf),
            _file: None,
            this: UnsafeCell::new(None),
        }
    }
}

impl Drop for OpCell {
    fn drop(&mut self) {
        // A cancelled open that succeeded: nobody else will ever close this descriptor.
        // Relaxed: `&mut self` comes after the last reference's `AcqRel` release.
        let result = self.result.load(Ordering::Relaxed);
        if self.kind == OpKind::OpenAt
            && self.done.load(Ordering::Relaxed)
            && !self.taken.load(Ordering::Relaxed)
            && result >= 0
        {
            // SAFETY: the kernel (or `openat`) gave us this descriptor and nothing else
            // knows it: the future that would have owned it is gone.
            unsafe { libc::close(result as RawFd) };
        }
    }
}

impl OpCell {
    /// The flags and mode of an `OpenAt`.
    pub(crate) fn open_flags(&self) -> (i32, u32) {
        (self.offset as u32 as i32, (self.offset >> 32) as u32)
    }

    /// An operation on the part of `buf` from byte `start` on (a loop over short reads or
    /// writes): reads fill `start..cap`, writes send `start..len`.
    pub(crate) fn new_at(
        kind: OpKind,
        file: &Arc<std::fs::File>,
        buf: RawBuf,
        start: usize,
        offset: u64,
    ) -> OpCell {
        let mut cell = OpCell::new(kind, file, Some(buf), offset);
        let end = cell.io_len;
        let start = start.min(end);
        // `start` is within the buffer: the pointer stays in its allocation.
        cell.io_ptr = cell.io_ptr.wrapping_add(start);
        cell.io_len = end - start;
        cell
    }
}

/// Stores the result, wakes the future, and gives back the executor's reference
/// (invariant 1). Any thread.
///
/// # Safety
/// `cell` is a submitted operation and the executor's reference is still held (this is
/// called once per submission).
pub(crate) unsafe fn complete(cell: NonNull<OpCell>, result: i64) {
    {
        // SAFETY: the executor's reference keeps the cell alive until `release` below.
        let c = unsafe { cell.as_ref() };
        c.result.store(result, Ordering::Relaxed);
        c.done.store(true, Ordering::Release);
        c.waker.wake();
    }
    // SAFETY: the executor's reference, given back once.
    unsafe { release(cell) };
}

/// Gives back one reference; the last one drops the cell's box (invariant 1).
///
/// # Safety
/// The caller holds a reference to `cell` and does not use the cell afterwards.
unsafe fn release(cell: NonNull<OpCell>) {
    // SAFETY: the caller's reference keeps the cell alive for this access.
    let last = unsafe { cell.as_ref() }.refs.fetch_sub(1, Ordering::AcqRel) == 1;
    if last {
        // SAFETY: invariant 3: the last reference owns `this`; the box is taken out first,
        // then dropped (dropping the cell with it), and the cell is not touched after.
        let boxed = unsafe { cell.as_ref().this.with_mut(|this| (*this).take()) };
        drop(boxed);
    }
}

/// Runs `cell` (a boxed, unsubmitted operation) through `driver` and waits for its result,
/// handing the buffer back. Dropping the returned future mid-flight leaves the buffer with
/// the operation until it completes (invariant 1).
pub(crate) async fn run(driver: &FsDriver, cell: OpCell) -> (io::Result<usize>, Option<RawBuf>) {
    let boxed = driver.ops().alloc(cell).await;
    submit_and_wait(driver, boxed).await
}

/// [`run`], building the operation (and so its buffer) only once a slot is free: a task
/// waiting for a slot holds no buffer.
pub(crate) async fn run_with(
    driver: &FsDriver,
    make: impl FnOnce() -> OpCell,
) -> (io::Result<usize>, Option<RawBuf>) {
    let mut boxed = driver
        .ops()
        .alloc(OpCell::raw(OpKind::SyncAll, None, 0))
        .await;
    // Not shared yet: the placeholder (no buffer, no file) is replaced before submission.
    *boxed = make();
    submit_and_wait(driver, boxed).await
}

async fn submit_and_wait(
    driver: &FsDriver,
    boxed: SyncPoolBox<OpCell>,
) -> (io::Result<usize>, Option<RawBuf>) {
    let (ptr, mut in_flight) = share(boxed);
    driver.submit(ptr);
    poll_fn(|cx| in_flight.poll(cx)).await
}

/// Shares a boxed, unsubmitted operation: the pointer that carries the executor's
/// reference (to hand to the backend, which ends it with [`complete`]), and the future's.
pub(crate) fn share(boxed: SyncPoolBox<OpCell>) -> (NonNull<OpCell>, InFlight) {
    let ptr = NonNull::from(&*boxed);
    // SAFETY: not shared yet: the box moves into its own cell's `this` (the slot does not
    // move; invariant 3: `this` is written once, here, before submission).
    unsafe { ptr.as_ref().this.with_mut(|this| *this = Some(boxed)) };
    let in_flight = InFlight {
        cell: ptr,
        finished: false,
    };
    (ptr, in_flight)
}

/// The future's reference to a submitted operation; dropping it before the result came
/// gives the reference back and leaves the buffer to the executor's completion.
pub(crate) struct InFlight {
    cell: NonNull<OpCell>,
    finished: bool,
}

impl InFlight {
    pub(crate) fn poll(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> Poll<(io::Result<usize>, Option<RawBuf>)> {
        assert!(!self.finished, "file operation polled after it completed");
        // SAFETY: our reference keeps the cell alive.
        let c = unsafe { self.cell.as_ref() };
        if !c.done.load(Ordering::Acquire) {
            c.waker.register(cx.waker());
            if !c.done.load(Ordering::Acquire) {
                return Poll::Pending;
            }
        }
        let result = c.result.load(Ordering::Relaxed);
        c.taken.store(true, Ordering::Relaxed);
        // SAFETY: invariant 3: after `done`, the buffer is the future's.
        let buf = unsafe { c.buf.with_mut(|buf| (*buf).take()) };
        self.finished = true;
        // SAFETY: our reference, given back once (`finished` keeps `drop` from doing it
        // again); the cell is not touched after.
        unsafe { release(self.cell) };
        let result = if result == SHUT_DOWN {
            Err(super::shut_down_error())
        } else if result < 0 {
            Err(io::Error::from_raw_os_error(-result as i32))
        } else {
            Ok(result as usize)
        };
        Poll::Ready((result, buf))
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if !self.finished {
            // SAFETY: our reference, given back once; the buffer stays in the cell until the
            // executor gives back the other one.
            unsafe { release(self.cell) };
        }
    }
}

/// Runs the operation on this (blocking-pool) thread and completes it.
///
/// # Safety
/// `ptr` is a submitted `OpCell` whose executor reference the caller holds.
pub(crate) unsafe fn run_blocking(ptr: NonNull<()>) {
    let cell = ptr.cast::<OpCell>();
    let result = {
        // SAFETY: the executor's reference keeps it alive; invariant 2: fixed fields.
        let c = unsafe { cell.as_ref() };
        let ret: i64 = loop {
            let r = syscall(c);
            if r < 0 && io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            break r;
        };
        if ret < 0 {
            -(io::Error::last_os_error()
                .raw_os_error()
                .unwrap_or(libc::EIO) as i64)
        } else {
            ret
        }
    };
    // SAFETY: the executor's reference, once.
    unsafe { complete(cell, result) };
}

/// The operation's system call (`-1` and `errno` on failure).
///
/// A stream (a pipe, a FIFO, a terminal) has no offsets: `pread` refuses it (`ESPIPE`), and
/// the transfer is then done at the stream's position, as io_uring does for such files (so
/// `fs::read` of a FIFO works on both backends, as `std::fs::read` does).
fn syscall(c: &OpCell) -> i64 {
    let espipe = |r: i64| r < 0 && io::Error::last_os_error().raw_os_error() == Some(libc::ESPIPE);
    match c.kind {
        OpKind::Read => {
            // SAFETY: `io_ptr[..io_len]` is the parked buffer's memory (invariant 1 keeps it
            // alive until `complete`), writable for reads (an `IoBufMut`).
            let r = unsafe {
                libc::pread64(c.fd, c.io_ptr.cast(), c.io_len, c.offset as libc::off64_t) as i64
            };
            if !espipe(r) {
                return r;
            }
            // SAFETY: as above.
            unsafe { libc::read(c.fd, c.io_ptr.cast(), c.io_len) as i64 }
        }
        OpKind::Write => {
            // SAFETY: as above, readable for writes.
            let r = unsafe {
                libc::pwrite64(c.fd, c.io_ptr.cast(), c.io_len, c.offset as libc::off64_t) as i64
            };
            if !espipe(r) {
                return r;
            }
            // SAFETY: as above.
            unsafe { libc::write(c.fd, c.io_ptr.cast(), c.io_len) as i64 }
        }
        // SAFETY: a descriptor kept open by the cell (invariant 4).
        OpKind::SyncAll => unsafe { libc::fsync(c.fd) as i64 },
        // SAFETY: as above.
        OpKind::SyncData => unsafe { libc::fdatasync(c.fd) as i64 },
        OpKind::OpenAt => {
            let (flags, mode) = c.open_flags();
            // SAFETY: `io_ptr` is the parked, NUL-terminated path (invariant 1).
            unsafe { libc::openat(libc::AT_FDCWD, c.io_ptr.cast(), flags, mode) as i64 }
        }
    }
}
