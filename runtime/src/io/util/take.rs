//! [`Take`]: a reader limited to a number of bytes, then at end of stream.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use pin_project_lite::pin_project;

use crate::io::{AsyncBufRead, AsyncRead, ReadBuf};

pin_project! {
    /// A reader that reads at most `limit` bytes of its inner one:
    /// [`AsyncReadExt::take`](super::AsyncReadExt::take).
    #[derive(Debug)]
    #[must_use = "readers do nothing unless read"]
    pub struct Take<R> {
        #[pin]
        inner: R,
        limit: u64,
    }
}

pub(super) fn take<R: AsyncRead>(inner: R, limit: u64) -> Take<R> {
    Take { inner, limit }
}

impl<R: AsyncRead> Take<R> {
    /// How many bytes may still be read.
    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// Sets how many bytes may still be read.
    pub fn set_limit(&mut self, limit: u64) {
        self.limit = limit;
    }

    /// The inner reader.
    pub fn get_ref(&self) -> &R {
        &self.inner
    }

    /// The inner reader, mutably (reading it directly bypasses the limit).
    pub fn get_mut(&mut self) -> &mut R {
        &mut self.inner
    }

    /// The inner reader, pinned.
    pub fn get_pin_mut(self: Pin<&mut Self>) -> Pin<&mut R> {
        self.project().inner
    }

    /// The inner reader.
    pub fn into_inner(self) -> R {
        self.inner
    }
}

impl<R: AsyncRead> AsyncRead for Take<R> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let me = self.project();
        if *me.limit == 0 {
            return Poll::Ready(Ok(()));
        }
        let max = usize::try_from(*me.limit).unwrap_or(usize::MAX);
        let before = buf.filled().len();
        ready!(buf.with_take(max, |sub| me.inner.poll_read(cx, sub)))?;
        *me.limit -= (buf.filled().len() - before) as u64;
        Poll::Ready(Ok(()))
    }
}

impl<R: AsyncBufRead> AsyncBufRead for Take<R> {
    fn poll_fill_buf(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
        let me = self.project();
        if *me.limit == 0 {
            return Poll::Ready(Ok(&[]));
        }
        let buf = ready!(me.inner.poll_fill_buf(cx))?;
        let n = buf
            .len()
            .min(usize::try_from(*me.limit).unwrap_or(usize::MAX));
        Poll::Ready(Ok(&buf[..n]))
    }

    fn consume(self: Pin<&mut Self>, amt: usize) {
        let me = self.project();
        let amt = (amt as u64).min(*me.limit);
        *me.limit -= amt;
        me.inner.consume(amt as usize);
    }
}
