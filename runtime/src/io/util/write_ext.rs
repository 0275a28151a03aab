//! [`AsyncWriteExt`]: tokio's `async` write helpers over any [`AsyncWrite`].

use std::future::{Future, poll_fn};
use std::io;
use std::pin::Pin;

use super::write::{Write, WriteAll, write, write_all};
use crate::io::AsyncWrite;

/// `async` helpers for every [`AsyncWrite`], as tokio's `AsyncWriteExt`.
pub trait AsyncWriteExt: AsyncWrite {
    /// Writes some bytes from `buf`, returning how many were taken.
    ///
    /// Cancel safe: a dropped `write` has written nothing.
    fn write<'a>(&'a mut self, buf: &'a [u8]) -> Write<'a, Self>
    where
        Self: Unpin,
    {
        write(self, buf)
    }

    /// Writes all of `buf`; `WriteZero` if the writer takes no more.
    ///
    /// Not cancel safe: a dropped `write_all` may have written part of `buf`.
    fn write_all<'a>(&'a mut self, buf: &'a [u8]) -> WriteAll<'a, Self>
    where
        Self: Unpin,
    {
        write_all(self, buf)
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
