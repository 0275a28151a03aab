//! Integrations with the crates a game's networking code uses, each behind an optional,
//! off-by-default feature (the modules are also at the crate's root: `tickslab::hyper`,
//! `tickslab::quinn`, `tickslab::tokio_io`). The README's table lists every crate that works
//! on tickslab, these and those that need no feature (futures-util, futures-io codecs,
//! tokio-util through `compat()`, async-tungstenite, tracing).
//!
//! - `tokio-io` (module `tokio_io`): tokio's `AsyncRead` / `AsyncWrite` on [`TcpStream`] and its
//!   halves, so tokio-util's `Framed`, tokio-tungstenite, tokio-rustls and hyper-util's
//!   `TokioIo` take a tickslab socket as it is. Reads go straight into tokio's `ReadBuf`.
//! - `hyper` (module `hyper`): `hyper::rt::Read` / `Write` on [`TcpStream`] (reads straight into
//!   hyper's cursor) and an `Executor` and a `Timer` for
//!   hyper's client and server builders.
//! - `quinn` (module `quinn`): a `quinn::Runtime` that runs endpoints on the
//!   tickslab thread, with quinn-udp's GSO, GRO and ECN.
//!
//! # The thread rule (`hyper`, `quinn`)
//! hyper's `Timer` and quinn's `Runtime` want timers and sockets that are `Send + Sync`;
//! tickslab's are `!Send`, because they belong to the runtime thread that created them. The
//! handles these integrations give out are *thread-affine*: `Send + Sync` as the traits
//! require, but every use checks that it happens on the thread that created the handle:
//! - a timer polled, reset or dropped on another thread panics, saying so (a drop on the
//!   wrong thread leaks the timer rather than touch the runtime's state from there);
//! - a socket operation on another thread fails with an `io::Error` saying so (a socket
//!   whose last reference is dropped there panics and leaks, as a timer does).
//!
//! hyper and quinn only use these handles from the connection and endpoint futures, which
//! run on the tickslab thread, so the rule holds by itself; it only bites code that moves a
//! handle out to another thread by hand. The check is a thread-id comparison (no
//! allocation); the wrapper is the `send_wrapper` crate, so no unsafe code of ours is
//! involved.
//!
//! [`TcpStream`]: crate::net::TcpStream

#[cfg(feature = "hyper")]
#[cfg_attr(docsrs, doc(cfg(feature = "hyper")))]
pub mod hyper;
#[cfg(feature = "quinn")]
#[cfg_attr(docsrs, doc(cfg(feature = "quinn")))]
pub mod quinn;
#[cfg(feature = "tokio-io")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio-io")))]
pub mod tokio_io;

#[cfg(any(feature = "hyper", feature = "quinn"))]
mod thread_bound;

#[cfg(feature = "tokio-io")]
use crate::net::TcpStream;

/// The stream behind a TCP handle (the stream itself, or one of its halves), so that one
/// generic impl per trait serves them all.
#[cfg(feature = "tokio-io")]
pub(crate) trait AsTcp {
    fn tcp(&self) -> &TcpStream;
}

#[cfg(feature = "tokio-io")]
impl AsTcp for TcpStream {
    fn tcp(&self) -> &TcpStream {
        self
    }
}
