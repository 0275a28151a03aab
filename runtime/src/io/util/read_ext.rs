//! [`AsyncReadExt`]: tokio's `async` read helpers over any [`AsyncRead`].

use super::read::{Read, ReadExact, read, read_exact};
use crate::io::AsyncRead;

/// `async` helpers for every [`AsyncRead`], as tokio's `AsyncReadExt`.
///
/// Each returns a future that borrows the reader; dropping it before it is done loses no
/// data unless its doc says otherwise (*cancel safety*, as tokio documents it).
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
}

impl<R: AsyncRead + ?Sized> AsyncReadExt for R {}
