//! [`Empty`], [`Sink`], [`Repeat`]: the trivial readers and writers (tokio's `empty()`,
//! `sink()`, `repeat(byte)`). None allocates. Each call completes at once but spends a unit
//! of the task's budget (`crate::coop`), as tokio's do: a loop that reads `repeat` or writes
//! to `sink` forever returns `Pending` when the budget is spent, so the other tasks (and a
//! `select!`'s other branches) get to run.

use std::io::{self, IoSlice, SeekFrom};
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::coop::poll_budgeted;
use crate::io::{AsyncBufRead, AsyncRead, AsyncSeek, AsyncWrite, ReadBuf};

/// A reader at end of stream and a writer that takes everything: [`empty`].
#[derive(Debug, Clone, Copy, Default)]
pub struct Empty {
    _priv: (),
}

/// A reader at end of stream (and a writer that discards): as tokio's `io::empty()`.
pub fn empty() -> Empty {
    Empty { _priv: () }
}

/// A writer that discards everything: [`sink`].
#[derive(Debug, Clone, Copy, Default)]
pub struct Sink {
    _priv: (),
}

/// A writer that takes and discards everything: as tokio's `io::sink()`.
pub fn sink() -> Sink {
    Sink { _priv: () }
}

/// A reader of one byte over and over: [`repeat`].
#[derive(Debug, Clone, Copy)]
pub struct Repeat {
    byte: u8,
}

/// A reader that yields `byte` forever: as tokio's `io::repeat(byte)`.
pub fn repeat(byte: u8) -> Repeat {
    Repeat { byte }
}

impl AsyncRead for Empty {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        _buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        poll_budgeted(cx, |_| Poll::Ready(Ok(())))
    }
}

impl AsyncBufRead for Empty {
    fn poll_fill_buf(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
        poll_budgeted(cx, |_| Poll::Ready(Ok(&[][..])))
    }

    fn consume(self: Pin<&mut Self>, _amt: usize) {}
}

/// Every seek lands at 0, as tokio's `Empty`: there is nothing to seek in.
impl AsyncSeek for Empty {
    fn start_seek(self: Pin<&mut Self>, _position: SeekFrom) -> io::Result<()> {
        Ok(())
    }

    fn poll_complete(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<u64>> {
        poll_budgeted(cx, |_| Poll::Ready(Ok(0)))
    }
}

macro_rules! discarding_writer {
    ($ty:ty) => {
        impl AsyncWrite for $ty {
            fn poll_write(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<io::Result<usize>> {
                poll_budgeted(cx, |_| Poll::Ready(Ok(buf.len())))
            }

            fn poll_write_vectored(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                bufs: &[IoSlice<'_>],
            ) -> Poll<io::Result<usize>> {
                poll_budgeted(cx, |_| Poll::Ready(Ok(bufs.iter().map(|b| b.len()).sum())))
            }

            fn is_write_vectored(&self) -> bool {
                true
            }

            fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                poll_budgeted(cx, |_| Poll::Ready(Ok(())))
            }

            fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                poll_budgeted(cx, |_| Poll::Ready(Ok(())))
            }
        }
    };
}

discarding_writer!(Empty);
discarding_writer!(Sink);

impl AsyncRead for Repeat {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        poll_budgeted(cx, |_| {
            let n = buf.remaining();
            buf.initialize_unfilled().fill(self.byte);
            buf.advance(n);
            Poll::Ready(Ok(()))
        })
    }
}
