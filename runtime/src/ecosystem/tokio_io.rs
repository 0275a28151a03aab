//! tokio's [`AsyncRead`] / [`AsyncWrite`] on tickslab's TCP types (feature `tokio-io`):
//! [`TcpStream`], its borrowed halves [`ReadHalf`] / [`WriteHalf`] and its owned halves
//! [`OwnedReadHalf`] / [`OwnedWriteHalf`].
//!
//! With them, the crates written against tokio's traits take a tickslab socket as it is:
//! tokio-util's `Framed` and `FramedRead`/`FramedWrite`, tokio-tungstenite's
//! `accept_async` / `client_async`, tokio-rustls, hyper-util's `TokioIo`. tokio itself comes
//! in with its default features off: its traits only, no tokio runtime.
//!
//! ```
//! # #[cfg(feature = "tokio-io")]
//! fn takes_tokio_io<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(_: T) {}
//! # #[cfg(feature = "tokio-io")]
//! async fn demo(stream: tickslab_runtime::net::TcpStream) {
//!     takes_tokio_io(stream);
//! }
//! ```
//!
//! Without this feature, tokio-util's compat layer bridges tickslab's futures-io impls
//! (`tokio_util::compat::FuturesAsyncReadCompatExt::compat`), at the cost of the copy that
//! futures-io's initialized buffers need; see the README.
//!
//! Invariants: reads go straight into the unfilled part of tokio's `ReadBuf` through
//! `recv(2)` (no zeroing, no bounce buffer), and exactly the bytes the kernel wrote are
//! marked initialized and filled. Writes, `writev`, shutdown and the end of stream behave as
//! tickslab's own [`AsyncWrite`](crate::io::AsyncWrite) impls: flushing is a no-op (a socket
//! has no buffer of ours), shutting down sends FIN (and an [`OwnedWriteHalf`] shut down this
//! way does not shut down again when dropped).

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::AsTcp;
use crate::net::TcpStream;
use crate::net::tcp::{OwnedReadHalf, OwnedWriteHalf, ReadHalf, WriteHalf};

impl AsTcp for ReadHalf<'_> {
    fn tcp(&self) -> &TcpStream {
        self.stream()
    }
}

impl AsTcp for WriteHalf<'_> {
    fn tcp(&self) -> &TcpStream {
        self.stream()
    }
}

impl AsTcp for OwnedReadHalf {
    fn tcp(&self) -> &TcpStream {
        self.stream()
    }
}

impl AsTcp for OwnedWriteHalf {
    fn tcp(&self) -> &TcpStream {
        self.stream()
    }
}

/// Reads into `buf`'s unfilled part, straight from the socket.
#[inline]
fn poll_read_buf(
    stream: &TcpStream,
    cx: &mut Context<'_>,
    buf: &mut ReadBuf<'_>,
) -> Poll<io::Result<()>> {
    // SAFETY: `unfilled_mut` asks that no initialized byte be de-initialized through the
    // slice: `poll_read_uninit` only lets `recv(2)` write bytes into it (`net/sys.rs`).
    let unfilled = unsafe { buf.unfilled_mut() };
    let n = ready!(stream.poll_read_uninit(cx, unfilled))?;
    // SAFETY: `recv(2)` wrote the first `n` bytes of the unfilled part (the invariant of
    // `net/sys.rs`: `n` is exactly the count the kernel wrote).
    unsafe { buf.assume_init(n) };
    buf.advance(n);
    Poll::Ready(Ok(()))
}

macro_rules! tokio_read {
    ($($ty:ty),*) => {$(
        /// tokio's `AsyncRead` (feature `tokio-io`): reads straight into the `ReadBuf`;
        /// nothing added to the buffer means end of stream.
        #[cfg_attr(docsrs, doc(cfg(feature = "tokio-io")))]
        impl AsyncRead for $ty {
            #[inline]
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut ReadBuf<'_>,
            ) -> Poll<io::Result<()>> {
                poll_read_buf(self.into_ref().get_ref().tcp(), cx, buf)
            }
        }
    )*};
}

macro_rules! tokio_write {
    ($($ty:ty => $shutdown:expr),*) => {$(
        /// tokio's `AsyncWrite` (feature `tokio-io`): `write`/`writev` on the socket;
        /// flushing is a no-op; shutting down sends FIN.
        #[cfg_attr(docsrs, doc(cfg(feature = "tokio-io")))]
        impl AsyncWrite for $ty {
            #[inline]
            fn poll_write(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<io::Result<usize>> {
                self.into_ref().get_ref().tcp().poll_write_priv(cx, buf)
            }

            fn poll_write_vectored(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                bufs: &[IoSlice<'_>],
            ) -> Poll<io::Result<usize>> {
                self.into_ref().get_ref().tcp().poll_write_vectored_priv(cx, bufs)
            }

            fn is_write_vectored(&self) -> bool {
                true
            }

            fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                Poll::Ready(Ok(()))
            }

            fn poll_shutdown(
                self: Pin<&mut Self>,
                _cx: &mut Context<'_>,
            ) -> Poll<io::Result<()>> {
                let shutdown: fn(&mut $ty) -> io::Result<()> = $shutdown;
                Poll::Ready(shutdown(self.get_mut()))
            }
        }
    )*};
}

tokio_read!(TcpStream, ReadHalf<'_>, OwnedReadHalf);
tokio_write!(
    TcpStream => |s| s.shutdown_write(),
    WriteHalf<'_> => |s| s.tcp().shutdown_write(),
    OwnedWriteHalf => |s| s.close_write()
);
