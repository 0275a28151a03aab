//! futures-io's `AsyncRead` / `AsyncWrite` for the stream sockets and their halves (TCP in
//! `tcp/futures_io.rs`, Unix in `unix/futures_io.rs`), natively (no adapter): what
//! smol-ecosystem crates, async-tungstenite and futures codecs take.
//!
//! Both trait families read and write the same socket the same way: a read goes straight
//! into the caller's `&mut [u8]`; `poll_close` is tokio's `poll_shutdown`; flushing has
//! nothing to do. Where both traits are in scope, call through the one meant
//! (`AsyncReadExt::read` of tickslab or of futures-util) or use the fully qualified path.
//!
//! `futures_read!(Type, |s| stream)` and `futures_write!(Type, |s| stream, close: |s| expr)`
//! implement them for `Type`, whose `stream` expression (from `s: Pin<&mut Type>`) has the
//! crate's `poll_read_priv` / `poll_write_priv` / `poll_write_vectored_priv`.

macro_rules! futures_read {
    ($ty:ty, |$s:ident| $stream:expr) => {
        impl ::futures_io::AsyncRead for $ty {
            #[inline]
            fn poll_read(
                self: ::std::pin::Pin<&mut Self>,
                cx: &mut ::std::task::Context<'_>,
                buf: &mut [u8],
            ) -> ::std::task::Poll<::std::io::Result<usize>> {
                let $s = self;
                $stream.poll_read_priv(cx, buf)
            }
        }
    };
}

macro_rules! futures_write {
    ($ty:ty, |$s:ident| $stream:expr, close: |$c:ident| $close:expr) => {
        impl ::futures_io::AsyncWrite for $ty {
            #[inline]
            fn poll_write(
                self: ::std::pin::Pin<&mut Self>,
                cx: &mut ::std::task::Context<'_>,
                buf: &[u8],
            ) -> ::std::task::Poll<::std::io::Result<usize>> {
                let $s = self;
                $stream.poll_write_priv(cx, buf)
            }

            fn poll_write_vectored(
                self: ::std::pin::Pin<&mut Self>,
                cx: &mut ::std::task::Context<'_>,
                bufs: &[::std::io::IoSlice<'_>],
            ) -> ::std::task::Poll<::std::io::Result<usize>> {
                let $s = self;
                $stream.poll_write_vectored_priv(cx, bufs)
            }

            fn poll_flush(
                self: ::std::pin::Pin<&mut Self>,
                _cx: &mut ::std::task::Context<'_>,
            ) -> ::std::task::Poll<::std::io::Result<()>> {
                ::std::task::Poll::Ready(Ok(()))
            }

            /// Shuts the write side down, as tokio's `poll_shutdown`.
            fn poll_close(
                self: ::std::pin::Pin<&mut Self>,
                cx: &mut ::std::task::Context<'_>,
            ) -> ::std::task::Poll<::std::io::Result<()>> {
                let $c = self;
                let _ = cx;
                ::std::task::Poll::Ready($close)
            }
        }
    };
}

pub(crate) use {futures_read, futures_write};
