//! The sockets' hot system calls, made directly: `recv(2)` and `send(2)` on the fd.
//!
//! A receive through `mio` goes through two wrapper layers (mio's, then std's) before
//! `recv(2)`; every socket operation of a round trip pays them, drained receives included.
//! These functions make the same calls with the same flags as std (`MSG_NOSIGNAL` on sends
//! where the platform has it; mio sets `SO_NOSIGPIPE` where it does not), and also read into
//! uninitialized memory, for the read buffers of tokio's and hyper's traits
//! (`tokio::io::ReadBuf`, `hyper::rt::ReadBufCursor`), with no zeroing and no bounce buffer.
//!
//! Invariant (the `unsafe` blocks below): the kernel is handed only the pointer and length
//! of the slice each function is lent, for the duration of the call. `recv(2)` writes at most
//! that many bytes and reads none; `send(2)` reads them. The count returned is exactly what
//! the kernel reports, so a caller of `recv_uninit` may mark that many bytes initialized;
//! no `&[u8]` is ever formed over uninitialized bytes.

use std::io;
use std::mem::MaybeUninit;

#[cfg(unix)]
use std::os::fd::AsRawFd;

/// `send(2)` flags: no `SIGPIPE` on a closed peer (std's choice too).
#[cfg(any(target_os = "linux", target_os = "android"))]
const SEND_FLAGS: libc::c_int = libc::MSG_NOSIGNAL;
#[cfg(all(unix, not(any(target_os = "linux", target_os = "android"))))]
const SEND_FLAGS: libc::c_int = 0;

/// Converts a syscall's return into a byte count or the thread's `errno`.
#[cfg(unix)]
#[inline]
fn count(n: libc::ssize_t) -> io::Result<usize> {
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        // Non-negative, and at most the length of a slice: a `usize`.
        Ok(n.unsigned_abs())
    }
}

/// `recv(2)` into `buf`: how many bytes arrived (`Ok(0)`: end of stream, or an empty
/// datagram).
#[cfg(unix)]
#[inline]
pub(crate) fn recv(sock: &impl AsRawFd, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: the module's invariant: `buf` is live and exclusively borrowed for the call;
    // the kernel writes at most `buf.len()` bytes into it.
    count(unsafe { libc::recv(sock.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) })
}

/// `recv(2)` into `buf`; the count of bytes now initialized at its start.
#[cfg(unix)]
#[inline]
pub(crate) fn recv_uninit(sock: &impl AsRawFd, buf: &mut [MaybeUninit<u8>]) -> io::Result<usize> {
    // SAFETY: the module's invariant: `buf` is a live, exclusively borrowed region of
    // `buf.len()` bytes for the whole call; `recv` writes at most that many bytes into it
    // and reads none (`MaybeUninit<u8>` may hold anything, including the bytes written).
    count(unsafe { libc::recv(sock.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) })
}

/// `send(2)` of `buf`: how many bytes the kernel took.
#[cfg(unix)]
#[inline]
pub(crate) fn send(sock: &impl AsRawFd, buf: &[u8]) -> io::Result<usize> {
    // SAFETY: the module's invariant: `buf` is live and borrowed for the call; the kernel
    // reads at most `buf.len()` bytes of it.
    count(unsafe { libc::send(sock.as_raw_fd(), buf.as_ptr().cast(), buf.len(), SEND_FLAGS) })
}

/// Elsewhere: through the socket's own methods (no unsafe code; unix has the direct path).
#[cfg(not(unix))]
pub(crate) use portable::{recv, recv_uninit, send};

#[cfg(not(unix))]
mod portable {
    use super::*;

    /// A socket that receives and sends through its own methods.
    pub(crate) trait Sock {
        fn recv_into(&self, buf: &mut [u8]) -> io::Result<usize>;
        fn send_from(&self, buf: &[u8]) -> io::Result<usize>;
    }

    impl Sock for mio::net::TcpStream {
        fn recv_into(&self, buf: &mut [u8]) -> io::Result<usize> {
            std::io::Read::read(&mut &*self, buf)
        }
        fn send_from(&self, buf: &[u8]) -> io::Result<usize> {
            std::io::Write::write(&mut &*self, buf)
        }
    }

    impl Sock for mio::net::UdpSocket {
        fn recv_into(&self, buf: &mut [u8]) -> io::Result<usize> {
            self.recv(buf)
        }
        fn send_from(&self, buf: &[u8]) -> io::Result<usize> {
            self.send(buf)
        }
    }

    pub(crate) fn recv(sock: &impl Sock, buf: &mut [u8]) -> io::Result<usize> {
        sock.recv_into(buf)
    }

    pub(crate) fn send(sock: &impl Sock, buf: &[u8]) -> io::Result<usize> {
        sock.send_from(buf)
    }

    /// Through a stack buffer and a copy.
    pub(crate) fn recv_uninit(sock: &impl Sock, buf: &mut [MaybeUninit<u8>]) -> io::Result<usize> {
        let mut tmp = [0u8; 4096];
        let len = buf.len().min(tmp.len());
        let n = sock.recv_into(&mut tmp[..len])?;
        for (d, s) in buf.iter_mut().zip(&tmp[..n]) {
            d.write(*s);
        }
        Ok(n)
    }
}
