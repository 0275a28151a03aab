//! [`split`]: a read half and a write half over any one stream.
//!
//! The halves share the stream behind a small lock (`lock.rs`) in an `Arc`, as tokio's do,
//! so they are `Send + Sync` when the stream is `Send` (a read half may go to another task or
//! thread than the write half); a `!Send` stream gives `!Send` halves. One allocation per
//! split, as with the `Rc<RefCell>` this replaced; `split` is not a hot path, each poll
//! takes one uncontended lock. Each poll locks the stream only for its own duration; a
//! stream whose `poll_*` reaches the other half of itself (re-entrantly) gets a panic,
//! never two `&mut` nor a deadlock. The stream must be `Unpin` (every tickslab stream is;
//! pin a `!Unpin` one in a `Box` first).

use std::fmt;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use super::lock::Lock;

use crate::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The read half of a [`split`] stream.
pub struct ReadHalf<T> {
    inner: Arc<Lock<T>>,
}

/// The write half of a [`split`] stream.
pub struct WriteHalf<T> {
    inner: Arc<Lock<T>>,
}

/// Splits a stream into a read half and a write half, as tokio's `io::split`, so that one
/// task can read while another writes. One allocation (the shared `Arc`); the halves are
/// `Send + Sync` when `T` is `Send` (see the module docs). [`ReadHalf::unsplit`] puts the stream back.
pub fn split<T: AsyncRead + AsyncWrite + Unpin>(stream: T) -> (ReadHalf<T>, WriteHalf<T>) {
    let inner = Arc::new(Lock::new(stream));
    (
        ReadHalf {
            inner: inner.clone(),
        },
        WriteHalf { inner },
    )
}

impl<T> ReadHalf<T> {
    /// Whether `other` is the write half of the same stream.
    pub fn is_pair_of(&self, other: &WriteHalf<T>) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// Puts the stream back together.
    ///
    /// # Panics
    ///
    /// If `wr` is not this half's pair (as tokio).
    #[track_caller]
    pub fn unsplit(self, wr: WriteHalf<T>) -> T {
        assert!(
            self.is_pair_of(&wr),
            "tickslab: unsplit of halves from different streams"
        );
        drop(wr);
        match Arc::try_unwrap(self.inner) {
            Ok(lock) => lock.into_inner(),
            // The two halves are the only holders and the other one was just dropped.
            Err(_) => unreachable!("tickslab: an io::split half outlived its pair"),
        }
    }
}

impl<T> WriteHalf<T> {
    /// Whether `other` is the read half of the same stream.
    pub fn is_pair_of(&self, other: &ReadHalf<T>) -> bool {
        other.is_pair_of(self)
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for ReadHalf<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.inner.lock()).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for WriteHalf<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut *self.inner.lock()).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut *self.inner.lock()).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.lock().is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.inner.lock()).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.inner.lock()).poll_shutdown(cx)
    }
}

impl<T: AsyncRead + Unpin> futures_io::AsyncRead for ReadHalf<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        super::read::poll_read_slice(self, cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> futures_io::AsyncWrite for WriteHalf<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        AsyncWrite::poll_write(self, cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        AsyncWrite::poll_flush(self, cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        AsyncWrite::poll_shutdown(self, cx)
    }
}

impl<T> fmt::Debug for ReadHalf<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadHalf").finish_non_exhaustive()
    }
}

impl<T> fmt::Debug for WriteHalf<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WriteHalf").finish_non_exhaustive()
    }
}
