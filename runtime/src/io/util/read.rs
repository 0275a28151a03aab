//! The futures of [`AsyncReadExt::read`](super::AsyncReadExt::read) and
//! [`read_exact`](super::AsyncReadExt::read_exact): named types with `#[inline]` polls, so
//! that a socket's read path inlines into the task that awaits it. Both are `Unpin` (they
//! hold only borrows).

use std::future::Future;
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
#[inline]
pub(crate) fn poll_read_slice<R: AsyncRead + ?Sized>(
    reader: Pin<&mut R>,
    cx: &mut Context<'_>,
    buf: &mut [u8],
) -> Poll<io::Result<usize>> {
    let ptr = buf.as_ptr();
    let mut rb = ReadBuf::new(buf);
    ready!(reader.poll_read(cx, &mut rb))?;
    if rb.filled().as_ptr() != ptr {
        swapped();
    }
    Poll::Ready(Ok(rb.filled().len()))
}

#[cold]
#[inline(never)]
pub(crate) fn swapped() -> ! {
    panic!("tickslab: an AsyncRead impl swapped the ReadBuf it was given");
}

/// The future of [`AsyncReadExt::read`](super::AsyncReadExt::read).
#[derive(Debug)]
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct Read<'a, R: ?Sized> {
    reader: &'a mut R,
    buf: &'a mut [u8],
}

pub(super) fn read<'a, R: AsyncRead + Unpin + ?Sized>(
    reader: &'a mut R,
    buf: &'a mut [u8],
) -> Read<'a, R> {
    Read { reader, buf }
}

impl<R: AsyncRead + Unpin + ?Sized> Future for Read<'_, R> {
    type Output = io::Result<usize>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        let me = self.get_mut();
        poll_read_slice(Pin::new(&mut *me.reader), cx, me.buf)
    }
}

/// The future of [`AsyncReadExt::read_exact`](super::AsyncReadExt::read_exact).
#[derive(Debug)]
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct ReadExact<'a, R: ?Sized> {
    reader: &'a mut R,
    buf: &'a mut [u8],
    filled: usize,
}

pub(super) fn read_exact<'a, R: AsyncRead + Unpin + ?Sized>(
    reader: &'a mut R,
    buf: &'a mut [u8],
) -> ReadExact<'a, R> {
    ReadExact {
        reader,
        buf,
        filled: 0,
    }
}

pub(super) fn early_eof() -> io::Error {
    io::Error::new(io::ErrorKind::UnexpectedEof, "early eof")
}

impl<R: AsyncRead + Unpin + ?Sized> Future for ReadExact<'_, R> {
    type Output = io::Result<usize>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        let me = self.get_mut();
        while me.filled < me.buf.len() {
            let n = match ready!(poll_read_slice(
                Pin::new(&mut *me.reader),
                cx,
                &mut me.buf[me.filled..]
            )) {
                // Retried, as tokio's and std's `read_exact` do.
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => other?,
            };
            if n == 0 {
                return Poll::Ready(Err(early_eof()));
            }
            me.filled += n;
        }
        Poll::Ready(Ok(me.buf.len()))
    }
}
