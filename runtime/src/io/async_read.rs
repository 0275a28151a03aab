//! [`AsyncRead`] in tokio's shape, and its impls for std's types and for pointers to
//! readers (`&mut T`, `Box<T>`, `Pin<P>`), as tokio has them.
//!
//! The contract, as in tokio: `Ready(Ok(()))` with bytes added to the `ReadBuf`'s filled
//! part is a read; `Ready(Ok(()))` with nothing added (and room left) is the end of the
//! stream; `Pending` means the task will be woken when reading can go on. A reader only
//! ever appends to the filled part.

use std::io;
use std::ops::DerefMut;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::ReadBuf;

/// Reads bytes from a source, asynchronously: tokio's `AsyncRead`, with the same signature.
///
/// Use it through [`AsyncReadExt`](super::AsyncReadExt) (`read`, `read_exact`,
/// `read_u32`, ...). Implementing it is implementing
/// [`poll_read`](AsyncRead::poll_read).
pub trait AsyncRead {
    /// Reads into `buf`'s unfilled part, advancing its filled part by what was read.
    /// `Ready(Ok(()))` with nothing read means end of stream (unless `buf` had no room);
    /// `Pending` registers `cx`'s waker to be woken when there may be data.
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>>;
}

macro_rules! deref_async_read {
    () => {
        fn poll_read(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            Pin::new(&mut **self).poll_read(cx, buf)
        }
    };
}

impl<T: ?Sized + AsyncRead + Unpin> AsyncRead for Box<T> {
    deref_async_read!();
}

impl<T: ?Sized + AsyncRead + Unpin> AsyncRead for &mut T {
    deref_async_read!();
}

impl<P> AsyncRead for Pin<P>
where
    P: DerefMut,
    P::Target: AsyncRead,
{
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.as_deref_mut().poll_read(cx, buf)
    }
}

/// Reads from the front of the slice, which shrinks by what was read.
impl AsyncRead for &[u8] {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let n = self.len().min(buf.remaining());
        let (head, tail) = self.split_at(n);
        buf.put_slice(head);
        *self = tail;
        Poll::Ready(Ok(()))
    }
}

/// Reads from the cursor's position, which moves by what was read.
impl<T: AsRef<[u8]> + Unpin> AsyncRead for io::Cursor<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let pos = self.position();
        let data = self.get_ref().as_ref();
        // A position past the end (or past usize) reads as end of stream, as in std.
        let start = usize::try_from(pos).unwrap_or(usize::MAX).min(data.len());
        let n = (data.len() - start).min(buf.remaining());
        buf.put_slice(&data[start..start + n]);
        self.set_position(pos + n as u64);
        Poll::Ready(Ok(()))
    }
}
