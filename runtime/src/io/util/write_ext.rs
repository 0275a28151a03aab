//! [`AsyncWriteExt`]: tokio's `async` write helpers over any [`AsyncWrite`].

use std::future::{Future, poll_fn};
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Buf;

use super::write::{Write, WriteAll, write, write_all};
use crate::io::AsyncWrite;

/// At most this many `IoSlice`s are gathered from a `Buf` per vectored write (on the
/// stack), as tokio does.
const MAX_VECTOR: usize = 64;

/// Writes some of `buf`'s remaining bytes once, vectored when the writer gathers.
fn poll_write_buf<W: AsyncWrite + Unpin + ?Sized, B: Buf + ?Sized>(
    writer: &mut W,
    buf: &mut B,
    cx: &mut Context<'_>,
) -> Poll<io::Result<usize>> {
    if !buf.has_remaining() {
        return Poll::Ready(Ok(0));
    }
    let n = if writer.is_write_vectored() {
        let mut slices = [IoSlice::new(&[]); MAX_VECTOR];
        let cnt = buf.chunks_vectored(&mut slices);
        ready!(Pin::new(&mut *writer).poll_write_vectored(cx, &slices[..cnt]))?
    } else {
        ready!(Pin::new(&mut *writer).poll_write(cx, buf.chunk()))?
    };
    buf.advance(n.min(buf.remaining()));
    Poll::Ready(Ok(n))
}

macro_rules! write_number {
    ($($(#[$doc:meta])* $name:ident($ty:ty), $to:ident;)*) => {$(
        $(#[$doc])*
        ///
        /// A write that fails with `Interrupted` is retried (as tokio's). Not cancel safe: a
        /// dropped call may have written part of the number.
        fn $name(&mut self, n: $ty) -> impl Future<Output = io::Result<()>> + '_
        where
            Self: Unpin,
        {
            async move { self.write_all(&n.$to()).await }
        }
    )*};
}

/// `async` helpers for every [`AsyncWrite`], as tokio's `AsyncWriteExt`. None allocates.
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

    /// Writes all of `buf`; `WriteZero` if the writer takes no more. A write that fails
    /// with `Interrupted` is retried (as tokio's); any other error is returned.
    ///
    /// Not cancel safe: a dropped `write_all` may have written part of `buf`.
    fn write_all<'a>(&'a mut self, buf: &'a [u8]) -> WriteAll<'a, Self>
    where
        Self: Unpin,
    {
        write_all(self, buf)
    }

    /// Writes some bytes from several buffers in order, returning how many were taken.
    ///
    /// Cancel safe: a dropped `write_vectored` has written nothing.
    fn write_vectored<'a, 'b>(
        &'a mut self,
        bufs: &'a [IoSlice<'b>],
    ) -> impl Future<Output = io::Result<usize>> + 'a
    where
        Self: Unpin,
    {
        poll_fn(move |cx| Pin::new(&mut *self).poll_write_vectored(cx, bufs))
    }

    /// Writes some of `buf`'s remaining bytes (a `bytes::Buf`), advancing it; returns how
    /// many were written.
    ///
    /// Cancel safe: a dropped `write_buf` has written nothing.
    fn write_buf<'a, B: Buf + ?Sized>(
        &'a mut self,
        buf: &'a mut B,
    ) -> impl Future<Output = io::Result<usize>> + 'a
    where
        Self: Unpin,
    {
        poll_fn(move |cx| poll_write_buf(self, buf, cx))
    }

    /// Writes all of `buf`'s remaining bytes, advancing it as they go (vectored when the
    /// writer gathers); `WriteZero` if the writer takes no more. A write that fails with
    /// `Interrupted` is retried (as tokio's).
    ///
    /// Cancel safe in tokio's sense: `buf` is advanced past what was written, so a call
    /// again goes on where the dropped one stopped.
    fn write_all_buf<'a, B: Buf + ?Sized>(
        &'a mut self,
        buf: &'a mut B,
    ) -> impl Future<Output = io::Result<()>> + 'a
    where
        Self: Unpin,
    {
        poll_fn(move |cx| {
            while buf.has_remaining() {
                let n = match ready!(poll_write_buf(self, buf, cx)) {
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    res => res?,
                };
                if n == 0 {
                    return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
                }
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

    write_number! {
        /// Writes a `u8`.
        write_u8(u8), to_be_bytes;
        /// Writes an `i8`.
        write_i8(i8), to_be_bytes;
        /// Writes a big-endian `u16`.
        write_u16(u16), to_be_bytes;
        /// Writes a big-endian `i16`.
        write_i16(i16), to_be_bytes;
        /// Writes a big-endian `u32`.
        write_u32(u32), to_be_bytes;
        /// Writes a big-endian `i32`.
        write_i32(i32), to_be_bytes;
        /// Writes a big-endian `u64`.
        write_u64(u64), to_be_bytes;
        /// Writes a big-endian `i64`.
        write_i64(i64), to_be_bytes;
        /// Writes a big-endian `u128`.
        write_u128(u128), to_be_bytes;
        /// Writes a big-endian `i128`.
        write_i128(i128), to_be_bytes;
        /// Writes a big-endian IEEE 754 `f32`.
        write_f32(f32), to_be_bytes;
        /// Writes a big-endian IEEE 754 `f64`.
        write_f64(f64), to_be_bytes;
        /// Writes a little-endian `u16`.
        write_u16_le(u16), to_le_bytes;
        /// Writes a little-endian `i16`.
        write_i16_le(i16), to_le_bytes;
        /// Writes a little-endian `u32`.
        write_u32_le(u32), to_le_bytes;
        /// Writes a little-endian `i32`.
        write_i32_le(i32), to_le_bytes;
        /// Writes a little-endian `u64`.
        write_u64_le(u64), to_le_bytes;
        /// Writes a little-endian `i64`.
        write_i64_le(i64), to_le_bytes;
        /// Writes a little-endian `u128`.
        write_u128_le(u128), to_le_bytes;
        /// Writes a little-endian `i128`.
        write_i128_le(i128), to_le_bytes;
        /// Writes a little-endian IEEE 754 `f32`.
        write_f32_le(f32), to_le_bytes;
        /// Writes a little-endian IEEE 754 `f64`.
        write_f64_le(f64), to_le_bytes;
    }
}

impl<W: AsyncWrite + ?Sized> AsyncWriteExt for W {}
