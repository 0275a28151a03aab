//! tokio's `BufMut` socket calls (`recv_buf`, `recv_buf_from`, `try_read_buf`, ...): the
//! system call reads into a per-thread scratch buffer, and what it read is appended to the
//! caller's `BufMut`.
//!
//! A `BufMut` hands out uninitialized memory (`chunk_mut`), which a safe `&mut [u8]` cannot
//! name: rather than add unsafe code, these calls pay one copy of the bytes read. The
//! scratch buffer (64 KiB: the largest datagram) is allocated once per thread, at its first
//! use, and reused. Invariant: it is only borrowed around one system call, which runs no
//! user code, so the borrow never nests.
//!
//! As in tokio, at most `chunk_mut().len()` bytes are read (a `Vec` that is full reserves
//! 64 more there), so a datagram longer than the chunk is truncated.

use std::cell::RefCell;
use std::io;

use bytes::BufMut;

/// The largest read: a datagram of 65,507 bytes fits.
const SCRATCH: usize = 64 * 1024;

thread_local! {
    static BUF: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Runs `read` on up to `buf.chunk_mut().len()` bytes of scratch, and appends the bytes it
/// reports to `buf`.
pub(crate) fn read_into<B: BufMut + ?Sized, T>(
    buf: &mut B,
    read: impl FnOnce(&mut [u8]) -> io::Result<(usize, T)>,
) -> io::Result<(usize, T)> {
    let want = buf.chunk_mut().len().min(SCRATCH);
    BUF.with_borrow_mut(|scratch| {
        if scratch.is_empty() {
            scratch.resize(SCRATCH, 0);
        }
        let (n, extra) = read(&mut scratch[..want])?;
        buf.put_slice(&scratch[..n]);
        Ok((n, extra))
    })
}
