//! TCP, UDP and Unix sockets on the runtime's reactor, with tokio's names and semantics.
//!
//! - [`TcpListener`]: `bind(addr).await` (backlog [`BACKLOG`]), `accept().await`.
//! - [`TcpSocket`]: a TCP socket configured before it listens or connects (reuse flags,
//!   buffer sizes, backlog, a client's local address).
//! - [`TcpStream`]: `connect(addr).await`, reads and writes through
//!   [`AsyncRead`](crate::io::AsyncRead) / [`AsyncWrite`](crate::io::AsyncWrite) (so
//!   [`AsyncReadExt`](crate::io::AsyncReadExt) / [`AsyncWriteExt`](crate::io::AsyncWriteExt)
//!   give `read`, `read_exact`, `write_all`, `shutdown`), `peek`, `readable`/`try_read`,
//!   [`ready`](TcpStream::ready) with an [`Interest`](crate::io::Interest), borrowed
//!   [`split`](TcpStream::split) and owned [`into_split`](TcpStream::into_split) halves (in
//!   [`tcp`]).
//! - [`UdpSocket`]: `bind`, `connect`, `send_to`/`recv_from`, `send`/`recv`, `peek_from`,
//!   `peek_sender`, multicast, and the `try_*` variants; many datagrams per system call with
//!   `recv_many`, `send_many_to` and `send_many` through a reusable [`RecvBatch`] /
//!   [`SendBatch`].
//! - [`unix`]: [`UnixStream`], [`UnixListener`], [`UnixDatagram`] (Unix only).
//! - [`lookup_host`] and [`ToSocketAddrs`]: addresses, with host names looked up off the
//!   runtime's thread.
//!
//! # The runtime thread
//! A socket registers with the reactor of the runtime current when it is created (inside
//! [`Runtime::block_on`](crate::Runtime::block_on) or a task), and stays on that thread:
//! sockets are `!Send`. Created outside a runtime (or in one built by tokio's builder without `enable_io`), they
//! panic with tokio's message, at the caller (`#[track_caller]`); after their runtime shut
//! down, they fail with an `io::Error` saying so.
//! Once their runtime is dropped, every operation fails with an error (nothing hangs).
//! Dropping a socket removes it from epoll, then closes it.
//!
//! ```compile_fail
//! fn assert_send<T: Send>() {}
//! assert_send::<tickslab_runtime::net::TcpStream>();
//! ```
//! ```compile_fail
//! fn assert_send<T: Send>() {}
//! assert_send::<tickslab_runtime::net::UdpSocket>();
//! ```
//! ```compile_fail
//! fn assert_send<T: Send>() {}
//! assert_send::<tickslab_runtime::net::UnixStream>();
//! ```
//!
//! # Allocation
//! Nothing is allocated per operation: one reference-counted registration per socket, and
//! every operation is a `poll` on it (a waiting task stores a clone of its waker, which for
//! tickslab tasks is a pointer copy). Addresses go through [`ToSocketAddrs`]: a
//! [`SocketAddr`](std::net::SocketAddr), an `(IpAddr, u16)` or a `&str` that parses as an
//! address resolves without allocating. A host name is looked up by the system resolver
//! on a helper thread (see [`lookup_host`]): the runtime's thread never blocks on DNS.
//! The batched UDP calls keep their system-call headers in the caller's [`RecvBatch`] /
//! [`SendBatch`], so they allocate nothing either.
//!
//! # Several waiters per direction
//! Each socket keeps a list of wakers for reading and one for writing (their capacity is
//! kept, so waiting allocates nothing once warm). One task may wait to read while another
//! waits to write (that is what [`split`](TcpStream::split) and
//! [`into_split`](TcpStream::into_split) are for), and several tasks may wait on the same
//! direction of one socket (two receivers sharing a `&UdpSocket`): all are woken when it is
//! ready and race for the data; none is lost.

mod addr;
mod buf_mut;
mod convert;
pub(crate) mod evented;
mod futures_io;
mod lookup;
mod sys;
pub mod tcp;
mod udp;
#[cfg(unix)]
pub mod unix;

use std::io;

pub use addr::ToSocketAddrs;
pub use lookup::lookup_host;
pub use tcp::listener::{BACKLOG, TcpListener};
pub use tcp::socket::TcpSocket;
pub use tcp::stream::TcpStream;
pub use udp::{RecvBatch, RecvMeta, SendBatch, UdpSocket};
#[cfg(unix)]
pub use unix::{UnixDatagram, UnixListener, UnixSocket, UnixStream};

/// The error for an address that resolved to nothing.
fn no_addresses() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        "could not resolve to any address",
    )
}
