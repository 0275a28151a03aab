//! futures-io's `AsyncRead` / `AsyncWrite` for the Unix stream and its halves, natively
//! (no adapter): what smol-ecosystem crates, async-tungstenite and futures codecs take.
//!
//! Both trait families read and write the same socket the same way: a read goes straight
//! into the caller's `&mut [u8]`; `poll_close` is tokio's `poll_shutdown` (the peer reads end of stream); flushing
//! has nothing to do. Where both traits are in scope, call through the one meant
//! (`AsyncReadExt::read` of tickslab or of futures-util) or use the fully qualified path.

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_io::{AsyncRead, AsyncWrite};

use super::UnixStream;
use super::{OwnedReadHalf, OwnedWriteHalf, ReadHalf, WriteHalf};

macro_rules! futures_read {
    ($ty:ty, |$s:ident| $stream:expr) => {
        impl AsyncRead for $ty {
            #[inline]
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut [u8],
            ) -> Poll<io::Result<usize>> {
                let $s = self;
                $stream.poll_read_priv(cx, buf)
            }
        }
    };
}

macro_rules! futures_write {
    ($ty:ty, |$s:ident| $stream:expr, close: |$c:ident| $close:expr) => {
        impl AsyncWrite for $ty {
            #[inline]
            fn poll_write(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<io::Result<usize>> {
                let $s = self;
                $stream.poll_write_priv(cx, buf)
            }

            fn poll_write_vectored(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                bufs: &[IoSlice<'_>],
            ) -> Poll<io::Result<usize>> {
                let $s = self;
                $stream.poll_write_vectored_priv(cx, bufs)
            }

            fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                Poll::Ready(Ok(()))
            }

            /// Shuts the write side down , as tokio's `poll_shutdown`.
            fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                let $c = self;
                let _ = cx;
                Poll::Ready($close)
            }
        }
    };
}

futures_read!(UnixStream, |s| s);
futures_read!(ReadHalf<'_>, |s| s.stream());
futures_read!(OwnedReadHalf, |s| s.stream());
futures_write!(UnixStream, |s| s, close: |s| s.shutdown_write());
futures_write!(WriteHalf<'_>, |s| s.stream(), close: |s| s.stream().shutdown_write());
futures_write!(OwnedWriteHalf, |s| s.stream(), close: |s| s.get_mut().close_write());
