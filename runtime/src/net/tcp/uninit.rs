//! Reading a socket into uninitialized memory, for the read buffers of tokio's and hyper's
//! traits (`tokio::io::ReadBuf`, `hyper::rt::ReadBufCursor`), which hand out
//! `&mut [MaybeUninit<u8>]`.
//!
//! Invariant: `recv_uninit` writes only through the raw pointer of the slice it is given,
//! at most `buf.len()` bytes, and reports exactly how many bytes the kernel wrote, so the
//! caller may mark that many as initialized. It never reads the slice, and never forms a
//! `&[u8]` over uninitialized bytes.

use std::io;
use std::mem::MaybeUninit;

/// `recv(2)` into `buf`; the count of bytes now initialized at its start.
#[cfg(unix)]
#[inline]
pub(crate) fn recv_uninit(
    sock: &impl std::os::fd::AsRawFd,
    buf: &mut [MaybeUninit<u8>],
) -> io::Result<usize> {
    // SAFETY: the module's invariant: `buf` is a live, exclusively borrowed region of
    // `buf.len()` bytes for the whole call; `recv` writes at most that many bytes into it
    // and reads none (`MaybeUninit<u8>` may hold anything, including the bytes written).
    let n = unsafe { libc::recv(sock.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        // `recv` returns at most `buf.len()`, a `usize`.
        Ok(n.unsigned_abs())
    }
}

/// Elsewhere: through a stack buffer and a copy (no unsafe code; unix has the direct path).
#[cfg(not(unix))]
pub(crate) fn recv_uninit(
    mut sock: &mio::net::TcpStream,
    buf: &mut [MaybeUninit<u8>],
) -> io::Result<usize> {
    use std::io::Read;
    let mut tmp = [0u8; 4096];
    let len = buf.len().min(tmp.len());
    let n = sock.read(&mut tmp[..len])?;
    for (d, s) in buf.iter_mut().zip(&tmp[..n]) {
        d.write(*s);
    }
    Ok(n)
}
