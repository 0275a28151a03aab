//! [`AsyncReadExt`]: tokio's `async` read helpers over any [`AsyncRead`].

use std::future::{Future, poll_fn};
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use crate::io::{AsyncRead, ReadBuf};

/// Polls one read of `reader` into `buf`, returning how many bytes came (`0`: end of
/// stream, or an empty `buf`).
///
/// # Panics
///
/// If the reader replaced the `ReadBuf` it was given by another one (its bytes would not
/// be in `buf`), as tokio does.
pub(crate) fn poll_read_slice<R: AsyncRead + ?Sized>(
    reader: Pin<&mut R>,
    cx: &mut Context<'_>,
    buf: &mut [u8],
) -> Poll<io::Result<usize>> {
    let ptr = buf.as_ptr();
    let mut rb = ReadBuf::new(buf);
    ready!(reader.poll_read(cx, &mut rb))?;
    assert_eq!(
        rb.filled().as_ptr(),
        ptr,
        "tickslab: an AsyncRead impl swapped the ReadBuf it was given"
    );
    Poll::Ready(Ok(rb.filled().len()))
}

/// `async` helpers for every [`AsyncRead`], as tokio's `AsyncReadExt`.
///
/// Each returns a future that borrows the reader; dropping it before it is done loses no
/// data unless its doc says otherwise (*cancel safety*, as tokio documents it).
pub trait AsyncReadExt: AsyncRead {
    /// Reads some bytes into `buf`, returning how many; `Ok(0)` at end of stream (or when
    /// `buf` is empty).
    ///
    /// Cancel safe: a dropped `read` has read nothing.
    fn read<'a>(&'a mut self, buf: &'a mut [u8]) -> impl Future<Output = io::Result<usize>> + 'a
    where
        Self: Unpin,
    {
        poll_fn(move |cx| poll_read_slice(Pin::new(&mut *self), cx, buf))
    }

    /// Reads exactly `buf.len()` bytes, returning that length; `UnexpectedEof` if the
    /// stream ends first (what came is in `buf`, lost to the caller).
    ///
    /// Not cancel safe: a dropped `read_exact` may have read part of `buf`.
    fn read_exact<'a>(
        &'a mut self,
        buf: &'a mut [u8],
    ) -> impl Future<Output = io::Result<usize>> + 'a
    where
        Self: Unpin,
    {
        let mut filled = 0;
        poll_fn(move |cx| {
            while filled < buf.len() {
                let n = ready!(poll_read_slice(
                    Pin::new(&mut *self),
                    cx,
                    &mut buf[filled..]
                ))?;
                if n == 0 {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "early eof",
                    )));
                }
                filled += n;
            }
            Poll::Ready(Ok(buf.len()))
        })
    }
}

impl<R: AsyncRead + ?Sized> AsyncReadExt for R {}
