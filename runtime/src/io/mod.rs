//! I/O: the reactor behind the sockets, and small poll-based `AsyncRead` / `AsyncWrite`
//! traits (like tokio's, over plain byte slices) with `async` helpers.

pub(crate) mod reactor;
mod scheduled_io;

pub(crate) use scheduled_io::Direction;

use std::future::{Future, poll_fn};
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Reads bytes asynchronously.
pub trait AsyncRead {
    /// Reads into `buf`, returning how many bytes were read; `Ok(0)` means end of stream
    /// (or an empty `buf`). `Pending` registers the task to be woken when readable.
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>>;
}

/// Writes bytes asynchronously.
pub trait AsyncWrite {
    /// Writes from `buf`, returning how many bytes were written.
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>>;

    /// Flushes buffered data (sockets have none: ready at once).
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>>;

    /// Shuts down the write side (for TCP: sends FIN).
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>>;
}

impl<T: AsyncRead + Unpin + ?Sized> AsyncRead for &mut T {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut **self).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin + ?Sized> AsyncWrite for &mut T {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut **self).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut **self).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut **self).poll_shutdown(cx)
    }
}

/// `async` helpers for every [`AsyncRead`] (as tokio's `AsyncReadExt`).
pub trait AsyncReadExt: AsyncRead + Unpin {
    /// Reads some bytes into `buf`; `Ok(0)` at end of stream.
    fn read<'a>(&'a mut self, buf: &'a mut [u8]) -> impl Future<Output = io::Result<usize>> + 'a {
        poll_fn(move |cx| Pin::new(&mut *self).poll_read(cx, buf))
    }

    /// Reads exactly `buf.len()` bytes; `UnexpectedEof` if the stream ends first.
    fn read_exact<'a>(
        &'a mut self,
        buf: &'a mut [u8],
    ) -> impl Future<Output = io::Result<()>> + 'a {
        let mut filled = 0;
        poll_fn(move |cx| {
            while filled < buf.len() {
                let n = std::task::ready!(Pin::new(&mut *self).poll_read(cx, &mut buf[filled..]))?;
                if n == 0 {
                    return Poll::Ready(Err(io::ErrorKind::UnexpectedEof.into()));
                }
                filled += n;
            }
            Poll::Ready(Ok(()))
        })
    }
}

impl<T: AsyncRead + Unpin + ?Sized> AsyncReadExt for T {}

/// `async` helpers for every [`AsyncWrite`] (as tokio's `AsyncWriteExt`).
pub trait AsyncWriteExt: AsyncWrite + Unpin {
    /// Writes some bytes from `buf`.
    fn write<'a>(&'a mut self, buf: &'a [u8]) -> impl Future<Output = io::Result<usize>> + 'a {
        poll_fn(move |cx| Pin::new(&mut *self).poll_write(cx, buf))
    }

    /// Writes all of `buf`; `WriteZero` if the stream accepts no more.
    fn write_all<'a>(&'a mut self, buf: &'a [u8]) -> impl Future<Output = io::Result<()>> + 'a {
        let mut written = 0;
        poll_fn(move |cx| {
            while written < buf.len() {
                let n = std::task::ready!(Pin::new(&mut *self).poll_write(cx, &buf[written..]))?;
                if n == 0 {
                    return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
                }
                written += n;
            }
            Poll::Ready(Ok(()))
        })
    }

    /// Flushes.
    fn flush(&mut self) -> impl Future<Output = io::Result<()>> + '_ {
        poll_fn(move |cx| Pin::new(&mut *self).poll_flush(cx))
    }

    /// Shuts down the write side.
    fn shutdown(&mut self) -> impl Future<Output = io::Result<()>> + '_ {
        poll_fn(move |cx| Pin::new(&mut *self).poll_shutdown(cx))
    }
}

impl<T: AsyncWrite + Unpin + ?Sized> AsyncWriteExt for T {}
