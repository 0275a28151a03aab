//! [`BufReader`]: a reader with a buffer, allocated once when it is made.
//!
//! Invariant: `pos <= cap <= buf.len()`; `buf[pos..cap]` is what was read from the inner
//! reader and not yet consumed. Both indices change only after the inner reader returned,
//! so a reader that panics (or a future dropped mid-read) leaves the state as it was.

use std::io::{self, IoSlice, SeekFrom};
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use pin_project_lite::pin_project;

use super::read::poll_read_slice;
use crate::io::{AsyncBufRead, AsyncRead, AsyncSeek, AsyncWrite, ReadBuf};

/// tokio's default buffer size (8 KiB).
pub(crate) const DEFAULT_BUF_SIZE: usize = 8 * 1024;

pin_project! {
    /// Adds a buffer to a reader, as tokio's `BufReader`: many small reads (`read_u8`,
    /// `read_line`) become few large ones. The buffer (8 KiB by default) is allocated once,
    /// here; reading allocates nothing.
    ///
    /// Reads as large as the buffer skip it when it is empty. Also implements
    /// futures-io's `AsyncRead` / `AsyncBufRead`, and passes writes and seeks through.
    #[derive(Debug)]
    pub struct BufReader<R> {
        #[pin]
        inner: R,
        buf: Box<[u8]>,
        pos: usize,
        cap: usize,
        seek: Seek,
    }
}

impl<R: AsyncRead> BufReader<R> {
    /// A `BufReader` with an 8 KiB buffer.
    pub fn new(inner: R) -> Self {
        Self::with_capacity(DEFAULT_BUF_SIZE, inner)
    }

    /// A `BufReader` with a buffer of `capacity` bytes (one allocation, zeroed).
    ///
    /// # Panics
    /// If `capacity` is 0 (as tokio's), at the caller.
    #[track_caller]
    pub fn with_capacity(capacity: usize, inner: R) -> Self {
        assert!(capacity > 0, "capacity must be greater than zero");
        BufReader {
            inner,
            buf: vec![0; capacity].into_boxed_slice(),
            pos: 0,
            cap: 0,
            seek: Seek::Idle,
        }
    }
}

impl<R> BufReader<R> {
    /// The inner reader.
    pub fn get_ref(&self) -> &R {
        &self.inner
    }

    /// The inner reader, mutably (reading it directly skips what is buffered).
    pub fn get_mut(&mut self) -> &mut R {
        &mut self.inner
    }

    /// The inner reader, pinned.
    pub fn get_pin_mut(self: Pin<&mut Self>) -> Pin<&mut R> {
        self.project().inner
    }

    /// The inner reader; what was buffered is lost.
    pub fn into_inner(self) -> R {
        self.inner
    }

    /// What is buffered and not yet consumed.
    pub fn buffer(&self) -> &[u8] {
        &self.buf[self.pos..self.cap]
    }
}

impl<R: AsyncRead> AsyncRead for BufReader<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        // Nothing buffered and a large read: skip the buffer.
        if self.pos == self.cap && buf.remaining() >= self.buf.len() {
            let me = self.project();
            *me.pos = 0;
            *me.cap = 0;
            return me.inner.poll_read(cx, buf);
        }
        let rem = ready!(self.as_mut().poll_fill_buf(cx))?;
        let n = rem.len().min(buf.remaining());
        buf.put_slice(&rem[..n]);
        self.consume(n);
        Poll::Ready(Ok(()))
    }
}

impl<R: AsyncRead> AsyncBufRead for BufReader<R> {
    fn poll_fill_buf(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
        let me = self.project();
        if *me.pos >= *me.cap {
            let n = ready!(poll_read_slice(me.inner, cx, me.buf))?;
            *me.pos = 0;
            *me.cap = n;
        }
        Poll::Ready(Ok(&me.buf[*me.pos..*me.cap]))
    }

    fn consume(self: Pin<&mut Self>, amt: usize) {
        let me = self.project();
        *me.pos = (*me.pos + amt).min(*me.cap);
    }
}

/// Seeks the inner reader and empties the buffer. `SeekFrom::Current(n)` counts from the
/// position the user sees (the inner position minus what is buffered), as tokio.
impl<R: AsyncRead + AsyncSeek> AsyncSeek for BufReader<R> {
    fn start_seek(self: Pin<&mut Self>, pos: SeekFrom) -> io::Result<()> {
        let me = self.project();
        match pos {
            SeekFrom::Current(n) => {
                let buffered = (*me.cap - *me.pos) as i64;
                match n.checked_sub(buffered) {
                    Some(offset) => {
                        me.inner.start_seek(SeekFrom::Current(offset))?;
                        *me.seek = Seek::Pending;
                    }
                    // `n - buffered` underflows (`n` near `i64::MIN`): step back over what is
                    // buffered first, then by `n` (two inner seeks, as tokio's).
                    None => {
                        me.inner.start_seek(SeekFrom::Current(-buffered))?;
                        *me.seek = Seek::ThenBy(n);
                    }
                }
            }
            other => {
                me.inner.start_seek(other)?;
                *me.seek = Seek::Pending;
            }
        }
        Ok(())
    }

    fn poll_complete(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<u64>> {
        let mut me = self.project();
        loop {
            match *me.seek {
                Seek::Idle => {
                    // The position the user sees: the inner one minus what is buffered.
                    let inner = ready!(me.inner.poll_complete(cx))?;
                    return Poll::Ready(Ok(inner.saturating_sub((*me.cap - *me.pos) as u64)));
                }
                Seek::ThenBy(n) => {
                    let first = ready!(me.inner.as_mut().poll_complete(cx));
                    (*me.pos, *me.cap) = (0, 0);
                    *me.seek = Seek::Idle;
                    first?;
                    me.inner.as_mut().start_seek(SeekFrom::Current(n))?;
                    *me.seek = Seek::Pending;
                }
                Seek::Pending => {
                    let res = ready!(me.inner.poll_complete(cx));
                    *me.seek = Seek::Idle;
                    (*me.pos, *me.cap) = (0, 0);
                    return Poll::Ready(res);
                }
            }
        }
    }
}

/// Where a seek stands.
#[derive(Debug, Clone, Copy)]
enum Seek {
    /// None started.
    Idle,
    /// The inner seek was started; its completion empties the buffer.
    Pending,
    /// The inner seek back over the buffer was started; then seek by this much.
    ThenBy(i64),
}

/// Writes go straight to the inner stream.
impl<R: AsyncRead + AsyncWrite> AsyncWrite for BufReader<R> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.project().inner.poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.project().inner.poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().inner.poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().inner.poll_shutdown(cx)
    }
}

impl<R: AsyncRead> futures_io::AsyncRead for BufReader<R> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        poll_read_slice(self, cx, buf)
    }
}

impl<R: AsyncRead> futures_io::AsyncBufRead for BufReader<R> {
    fn poll_fill_buf(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
        AsyncBufRead::poll_fill_buf(self, cx)
    }

    fn consume(self: Pin<&mut Self>, amt: usize) {
        AsyncBufRead::consume(self, amt)
    }
}
