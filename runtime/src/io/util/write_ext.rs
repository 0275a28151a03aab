//! [`AsyncWriteExt`]: tokio's `async` write helpers over any [`AsyncWrite`].

use std::future::{Future, poll_fn};
use std::io;
use std::pin::Pin;
use std::task::{Poll, ready};

use crate::io::AsyncWrite;

/// `async` helpers for every [`AsyncWrite`], as tokio's `AsyncWriteExt`.
pub trait AsyncWriteExt: AsyncWrite {
    /// Writes some bytes from `buf`, returning how many were taken.
    ///
    /// Cancel safe: a dropped `write` has written nothing.
    fn write<'a>(&'a mut self, buf: &'a [u8]) -> impl Future<Output = io::Result<usize>> + 'a
    where
        Self: Unpin,
    {
        poll_fn(move |cx| Pin::new(&mut *self).poll_write(cx, buf))
    }

    /// Writes all of `buf`; `WriteZero` if the writer takes no more.
    ///
    /// Not cancel safe: a dropped `write_all` may have written part of `buf`.
    fn write_all<'a>(&'a mut self, buf: &'a [u8]) -> impl Future<Output = io::Result<()>> + 'a
    where
        Self: Unpin,
    {
        let mut written = 0;
        poll_fn(move |cx| {
            while written < buf.len() {
                let n = ready!(Pin::new(&mut *self).poll_write(cx, &buf[written..]))?;
                if n == 0 {
                    return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
                }
                written += n;
            }
            Poll::Ready(Ok(()))
        })
    }

    /// Flushes what the writer buffers.
    fn flush(&mut self) -> impl Future<Output = io::Result<()>> + '_
    where
        Self: Unpin,
    {
        poll_fn(move |cx| Pin::new(&mut *self).poll_flush(cx))
    }

    /// Flushes, then shuts the writer down (for TCP: sends FIN).
    fn shutdown(&mut self) -> impl Future<Output = io::Result<()>> + '_
    where
        Self: Unpin,
    {
        poll_fn(move |cx| Pin::new(&mut *self).poll_shutdown(cx))
    }
}

impl<W: AsyncWrite + ?Sized> AsyncWriteExt for W {}
