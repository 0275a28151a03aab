//! [`AsyncReadExt`]: tokio's `async` read helpers over any [`AsyncRead`].

use std::future::{Future, poll_fn};
use std::io;
use std::pin::Pin;
use std::task::{Poll, ready};

use bytes::BufMut;

use super::read::{Read, ReadExact, read, read_exact, swapped};
use super::read_to_end::{poll_read_to_end, poll_read_to_string};
use super::{Chain, Take, chain, take};
use crate::io::{AsyncRead, ReadBuf};

/// Reads exactly `N` bytes into an array (the number readers below).
async fn read_array<R: AsyncRead + Unpin + ?Sized, const N: usize>(
    r: &mut R,
) -> io::Result<[u8; N]> {
    let mut b = [0u8; N];
    r.read_exact(&mut b).await?;
    Ok(b)
}

macro_rules! read_number {
    ($($(#[$doc:meta])* $name:ident -> $ty:ty, $from:ident;)*) => {$(
        $(#[$doc])*
        ///
        /// Not cancel safe: a dropped call may have consumed part of the number.
        fn $name(&mut self) -> impl Future<Output = io::Result<$ty>> + '_
        where
            Self: Unpin,
        {
            async move {
                Ok(<$ty>::$from(read_array::<Self, { size_of::<$ty>() }>(self).await?))
            }
        }
    )*};
}

/// `async` helpers for every [`AsyncRead`], as tokio's `AsyncReadExt`.
///
/// Each returns a future that borrows the reader and allocates nothing (`read_to_end` /
/// `read_to_string` / `read_buf` grow the caller's buffer when it is full). Whether a
/// future dropped before it is done loses data is said in each method (*cancel safety*,
/// as tokio documents it).
pub trait AsyncReadExt: AsyncRead {
    /// Reads some bytes into `buf`, returning how many; `Ok(0)` at end of stream (or when
    /// `buf` is empty).
    ///
    /// Cancel safe: a dropped `read` has read nothing.
    fn read<'a>(&'a mut self, buf: &'a mut [u8]) -> Read<'a, Self>
    where
        Self: Unpin,
    {
        read(self, buf)
    }

    /// Reads exactly `buf.len()` bytes, returning that length; `UnexpectedEof` if the
    /// stream ends first (what came is in `buf`, lost to the caller).
    ///
    /// Not cancel safe: a dropped `read_exact` may have read part of `buf`.
    fn read_exact<'a>(&'a mut self, buf: &'a mut [u8]) -> ReadExact<'a, Self>
    where
        Self: Unpin,
    {
        read_exact(self, buf)
    }

    /// Reads some bytes into `buf`'s spare room (a `bytes::BufMut`: `Vec<u8>`,
    /// `BytesMut`, ...), advancing it; returns how many (`0`: end of stream, or no room
    /// left).
    ///
    /// Cancel safe: a dropped `read_buf` has read nothing.
    fn read_buf<'a, B: BufMut + ?Sized>(
        &'a mut self,
        buf: &'a mut B,
    ) -> impl Future<Output = io::Result<usize>> + 'a
    where
        Self: Unpin,
    {
        poll_fn(move |cx| {
            if !buf.has_remaining_mut() {
                return Poll::Ready(Ok(0));
            }
            let n = {
                let chunk = buf.chunk_mut();
                // SAFETY: `UninitSlice`'s contract: no uninitialized byte may be written
                // into it. The `ReadBuf` over it only ever writes initialized bytes (rule
                // 2 of `read_buf.rs`), and the reader gets only the `ReadBuf`.
                let mut rb = ReadBuf::uninit(unsafe { chunk.as_uninit_slice_mut() });
                let ptr = rb.filled().as_ptr();
                ready!(Pin::new(&mut *self).poll_read(cx, &mut rb))?;
                if rb.filled().as_ptr() != ptr {
                    swapped();
                }
                rb.filled().len()
            };
            // SAFETY: `advance_mut`'s contract: the first `n` bytes of `chunk_mut()` are
            // initialized. They are the `ReadBuf`'s filled part (initialized, rule 1 and 2
            // of `read_buf.rs`), which the pointer check above proves is that chunk.
            unsafe { buf.advance_mut(n) };
            Poll::Ready(Ok(n))
        })
    }

    /// Reads until end of stream, appending to `buf`; returns how many bytes were read.
    /// Grows `buf` only when it is full (first probing with a 32-byte stack read, so a
    /// reader at its end costs no allocation); uninitialized capacity is zeroed once.
    ///
    /// Not cancel safe: what a dropped `read_to_end` read stays in `buf`, the count is
    /// lost.
    fn read_to_end<'a>(
        &'a mut self,
        buf: &'a mut Vec<u8>,
    ) -> impl Future<Output = io::Result<usize>> + 'a
    where
        Self: Unpin,
    {
        poll_read_to_end(self, buf)
    }

    /// Reads until end of stream, appending to `buf`; returns how many bytes were read.
    /// If the bytes read are not UTF-8, `InvalidData` and `buf` is as it was (as in
    /// tokio); after an I/O error `buf` is as it was too.
    ///
    /// Not cancel safe: a dropped `read_to_string` leaves `buf` as it was, losing what it
    /// read.
    fn read_to_string<'a>(
        &'a mut self,
        buf: &'a mut String,
    ) -> impl Future<Output = io::Result<usize>> + 'a
    where
        Self: Unpin,
    {
        poll_read_to_string(self, buf)
    }

    /// A reader that reads at most `limit` bytes of this one, then ends.
    fn take(self, limit: u64) -> Take<Self>
    where
        Self: Sized,
    {
        take(self, limit)
    }

    /// A reader that reads this one to its end, then `next`.
    fn chain<R: AsyncRead>(self, next: R) -> Chain<Self, R>
    where
        Self: Sized,
    {
        chain(self, next)
    }

    read_number! {
        /// Reads a `u8`.
        read_u8 -> u8, from_be_bytes;
        /// Reads an `i8`.
        read_i8 -> i8, from_be_bytes;
        /// Reads a big-endian `u16`.
        read_u16 -> u16, from_be_bytes;
        /// Reads a big-endian `i16`.
        read_i16 -> i16, from_be_bytes;
        /// Reads a big-endian `u32`.
        read_u32 -> u32, from_be_bytes;
        /// Reads a big-endian `i32`.
        read_i32 -> i32, from_be_bytes;
        /// Reads a big-endian `u64`.
        read_u64 -> u64, from_be_bytes;
        /// Reads a big-endian `i64`.
        read_i64 -> i64, from_be_bytes;
        /// Reads a big-endian `u128`.
        read_u128 -> u128, from_be_bytes;
        /// Reads a big-endian `i128`.
        read_i128 -> i128, from_be_bytes;
        /// Reads a big-endian IEEE 754 `f32`.
        read_f32 -> f32, from_be_bytes;
        /// Reads a big-endian IEEE 754 `f64`.
        read_f64 -> f64, from_be_bytes;
        /// Reads a little-endian `u16`.
        read_u16_le -> u16, from_le_bytes;
        /// Reads a little-endian `i16`.
        read_i16_le -> i16, from_le_bytes;
        /// Reads a little-endian `u32`.
        read_u32_le -> u32, from_le_bytes;
        /// Reads a little-endian `i32`.
        read_i32_le -> i32, from_le_bytes;
        /// Reads a little-endian `u64`.
        read_u64_le -> u64, from_le_bytes;
        /// Reads a little-endian `i64`.
        read_i64_le -> i64, from_le_bytes;
        /// Reads a little-endian `u128`.
        read_u128_le -> u128, from_le_bytes;
        /// Reads a little-endian `i128`.
        read_i128_le -> i128, from_le_bytes;
        /// Reads a little-endian IEEE 754 `f32`.
        read_f32_le -> f32, from_le_bytes;
        /// Reads a little-endian IEEE 754 `f64`.
        read_f64_le -> f64, from_le_bytes;
    }
}

impl<R: AsyncRead + ?Sized> AsyncReadExt for R {}
