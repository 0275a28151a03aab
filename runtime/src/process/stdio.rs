//! The parent's ends of a child's piped standard streams, as tokio's `ChildStdin`,
//! `ChildStdout`, `ChildStderr`: tickslab's unix pipe ends ([`pipe::Sender`] and
//! [`pipe::Receiver`], non-blocking and registered with the reactor of the runtime that
//! spawned the child), speaking tickslab's `AsyncWrite` / `AsyncRead` and futures-io's.
//!
//! Invariants: each wraps one pipe end that only this process's side holds (std made it
//! `O_CLOEXEC`); `into_owned_fd` and `TryFrom<_> for Stdio` give the descriptor back out of
//! the reactor in blocking mode (what another child expects to inherit), as tokio's.

use std::io::{self, IoSlice};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::pin::Pin;
use std::process::Stdio;
use std::task::{Context, Poll};

use crate::io::{AsyncRead, AsyncWrite, ReadBuf};
use crate::net::unix::pipe;

/// The child's standard input, for the parent to write: [`AsyncWrite`].
pub struct ChildStdin {
    inner: pipe::Sender,
}

/// The child's standard output, for the parent to read: [`AsyncRead`].
pub struct ChildStdout {
    inner: pipe::Receiver,
}

/// The child's standard error, for the parent to read: [`AsyncRead`].
pub struct ChildStderr {
    inner: pipe::Receiver,
}

impl ChildStdin {
    /// Takes over std's handle (made non-blocking and registered with the current runtime).
    ///
    /// # Errors
    /// As registering a pipe.
    ///
    /// # Panics
    /// Outside a runtime, as every socket.
    #[track_caller]
    pub fn from_std(inner: std::process::ChildStdin) -> io::Result<Self> {
        Ok(ChildStdin {
            inner: pipe::Sender::from_owned_fd_unchecked(OwnedFd::from(inner))?,
        })
    }

    /// The descriptor, out of the runtime and in blocking mode.
    ///
    /// # Errors
    /// As `dup(2)` and `fcntl(2)`.
    pub fn into_owned_fd(self) -> io::Result<OwnedFd> {
        self.inner.into_blocking_fd()
    }
}

macro_rules! reader {
    ($ty:ident, $std:ty) => {
        impl $ty {
            /// Takes over std's handle (made non-blocking and registered with the current
            /// runtime).
            ///
            /// # Errors
            /// As registering a pipe.
            ///
            /// # Panics
            /// Outside a runtime, as every socket.
            #[track_caller]
            pub fn from_std(inner: $std) -> io::Result<Self> {
                Ok($ty {
                    inner: pipe::Receiver::from_owned_fd_unchecked(OwnedFd::from(inner))?,
                })
            }

            /// The descriptor, out of the runtime and in blocking mode.
            ///
            /// # Errors
            /// As `dup(2)` and `fcntl(2)`.
            pub fn into_owned_fd(self) -> io::Result<OwnedFd> {
                self.inner.into_blocking_fd()
            }
        }

        impl AsyncRead for $ty {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut ReadBuf<'_>,
            ) -> Poll<io::Result<()>> {
                Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
            }
        }

        impl futures_io::AsyncRead for $ty {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut [u8],
            ) -> Poll<io::Result<usize>> {
                let mut buf = ReadBuf::new(buf);
                std::task::ready!(AsyncRead::poll_read(self, cx, &mut buf))?;
                Poll::Ready(Ok(buf.filled().len()))
            }
        }
    };
}

reader!(ChildStdout, std::process::ChildStdout);
reader!(ChildStderr, std::process::ChildStderr);

impl AsyncWrite for ChildStdin {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl futures_io::AsyncWrite for ChildStdin {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        AsyncWrite::poll_write(self, cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        AsyncWrite::poll_write_vectored(self, cx, bufs)
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    /// As tokio's `poll_shutdown`: nothing (drop the handle to close the pipe).
    fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

macro_rules! common {
    ($($ty:ident),*) => {$(
        impl AsRawFd for $ty {
            fn as_raw_fd(&self) -> RawFd {
                self.inner.as_raw_fd()
            }
        }

        impl AsFd for $ty {
            fn as_fd(&self) -> BorrowedFd<'_> {
                self.inner.as_fd()
            }
        }

        /// The descriptor as another child's standard stream (out of the runtime, blocking),
        /// as tokio's `TryInto<Stdio>`: pipes one child into the next.
        impl TryFrom<$ty> for Stdio {
            type Error = io::Error;

            fn try_from(io: $ty) -> io::Result<Stdio> {
                io.into_owned_fd().map(Stdio::from)
            }
        }

        impl std::fmt::Debug for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($ty))
                    .field("fd", &self.as_raw_fd())
                    .finish()
            }
        }
    )*};
}

common!(ChildStdin, ChildStdout, ChildStderr);
