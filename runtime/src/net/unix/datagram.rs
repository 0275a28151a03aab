//! The Unix datagram socket.

use std::fmt;
use std::future::Future;
use std::io;
use std::net::Shutdown;
use std::path::Path;
use std::task::{Context, Poll};

use super::SocketAddr;
use crate::io::{Direction, Interest, ReadBuf, Ready};
use crate::net::buf_mut::read_into;
use crate::net::evented::{Evented, direction_of};

/// A Unix datagram socket, as tokio's `UnixDatagram`. Every method takes `&self`.
///
/// Like a [`UdpSocket`](crate::net::UdpSocket) it is registered for reading first and adds
/// writable interest when a send first finds the socket full.
///
/// ```
/// use tickslab_runtime::net::UnixDatagram;
/// # tickslab_runtime::Runtime::new().unwrap().block_on(async {
/// let (a, b) = UnixDatagram::pair()?;
/// a.send(b"hello").await?;
/// let mut buf = [0; 16];
/// let n = b.recv(&mut buf).await?;
/// assert_eq!(&buf[..n], b"hello");
/// # Ok::<(), std::io::Error>(())
/// # }).unwrap();
/// ```
pub struct UnixDatagram {
    io: Evented<mio::net::UnixDatagram>,
}

impl UnixDatagram {
    /// Creates the socket file at `path` and binds to it (a file already there:
    /// [`AddrInUse`](io::ErrorKind::AddrInUse)).
    #[track_caller]
    pub fn bind(path: impl AsRef<Path>) -> io::Result<UnixDatagram> {
        UnixDatagram::bind_addr(&super::path_addr(path.as_ref())?)
    }

    /// Binds to `addr` (a path, or on Linux an abstract name).
    #[track_caller]
    pub fn bind_addr(addr: &std::os::unix::net::SocketAddr) -> io::Result<UnixDatagram> {
        UnixDatagram::from_mio(mio::net::UnixDatagram::bind_addr(addr)?)
    }

    /// A connected pair of sockets (`socketpair`).
    #[track_caller]
    pub fn pair() -> io::Result<(UnixDatagram, UnixDatagram)> {
        let (a, b) = mio::net::UnixDatagram::pair()?;
        Ok((UnixDatagram::from_mio(a)?, UnixDatagram::from_mio(b)?))
    }

    /// A socket bound to no address: it can send, and receive replies only if connected.
    #[track_caller]
    pub fn unbound() -> io::Result<UnixDatagram> {
        UnixDatagram::from_mio(mio::net::UnixDatagram::unbound()?)
    }

    #[track_caller]
    fn from_mio(socket: mio::net::UnixDatagram) -> io::Result<UnixDatagram> {
        Ok(UnixDatagram {
            io: Evented::new_read_first(socket)?,
        })
    }

    /// Wraps a std socket (made non-blocking here), registering it with the current
    /// runtime.
    #[track_caller]
    pub fn from_std(socket: std::os::unix::net::UnixDatagram) -> io::Result<UnixDatagram> {
        socket.set_nonblocking(true)?;
        UnixDatagram::from_mio(mio::net::UnixDatagram::from_std(socket))
    }

    /// The socket as a std one (still non-blocking), out of the runtime: the descriptor is
    /// duplicated, then this one deregistered and closed.
    pub fn into_std(self) -> io::Result<std::os::unix::net::UnixDatagram> {
        let dup = socket2::SockRef::from(self.io.get()).try_clone()?;
        Ok(dup.into())
    }

    /// Connects to the socket at `path` (not `async`, as in tokio): from now on
    /// [`send`](Self::send) goes there and only its datagrams are received.
    pub fn connect(&self, path: impl AsRef<Path>) -> io::Result<()> {
        self.io.get().connect(path)
    }

    /// Sends a datagram to the socket at `path`, waiting for room.
    pub async fn send_to(&self, buf: &[u8], path: impl AsRef<Path>) -> io::Result<usize> {
        let path = path.as_ref();
        self.io.io(Direction::Write, |s| s.send_to(buf, path)).await
    }

    /// Receives a datagram: its length (truncated to `buf`'s) and sender.
    pub fn recv_from<'a>(
        &'a self,
        buf: &'a mut [u8],
    ) -> impl Future<Output = io::Result<(usize, SocketAddr)>> + 'a {
        self.io.io(Direction::Read, move |s| {
            s.recv_from(buf).map(|(n, a)| (n, SocketAddr(a)))
        })
    }

    /// Sends a datagram to the connected peer.
    pub fn send<'a>(&'a self, buf: &'a [u8]) -> impl Future<Output = io::Result<usize>> + 'a {
        self.io.io(Direction::Write, move |s| s.send(buf))
    }

    /// Receives a datagram from the connected peer.
    pub fn recv<'a>(&'a self, buf: &'a mut [u8]) -> impl Future<Output = io::Result<usize>> + 'a {
        self.io.io(Direction::Read, move |s| s.recv(buf))
    }

    /// Polls a [`send_to`](Self::send_to).
    pub fn poll_send_to(
        &self,
        cx: &mut Context<'_>,
        buf: &[u8],
        path: impl AsRef<Path>,
    ) -> Poll<io::Result<usize>> {
        let path = path.as_ref();
        self.io
            .poll_io(cx, Direction::Write, |s| s.send_to(buf, path))
    }

    /// Polls a [`recv_from`](Self::recv_from) into `buf`'s unfilled part (tokio's
    /// signature).
    pub fn poll_recv_from(
        &self,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<SocketAddr>> {
        let (n, addr) = std::task::ready!(self.io.poll_io(cx, Direction::Read, |s| {
            s.recv_from(buf.initialize_unfilled())
        }))?;
        buf.advance(n);
        Poll::Ready(Ok(SocketAddr(addr)))
    }

    /// Polls a [`send`](Self::send).
    pub fn poll_send(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.io.poll_io(cx, Direction::Write, |s| s.send(buf))
    }

    /// Polls a [`recv`](Self::recv) into `buf`'s unfilled part (tokio's signature).
    pub fn poll_recv(&self, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let n = std::task::ready!(
            self.io
                .poll_io(cx, Direction::Read, |s| s.recv(buf.initialize_unfilled()))
        )?;
        buf.advance(n);
        Poll::Ready(Ok(()))
    }

    /// Receives a datagram into `buf`'s spare capacity (tokio's `recv_buf_from`): its
    /// length (at most `buf.chunk_mut().len()`) and sender. Copies once through a
    /// per-thread scratch buffer; [`recv_from`](Self::recv_from) into a slice does not.
    pub async fn recv_buf_from<B: bytes::BufMut>(
        &self,
        buf: &mut B,
    ) -> io::Result<(usize, SocketAddr)> {
        self.io
            .io(Direction::Read, |s| {
                read_into(buf, |b| s.recv_from(b).map(|(n, a)| (n, SocketAddr(a))))
            })
            .await
    }

    /// Receives a datagram from the connected peer into `buf`'s spare capacity (tokio's
    /// `recv_buf`).
    pub async fn recv_buf<B: bytes::BufMut>(&self, buf: &mut B) -> io::Result<usize> {
        self.io
            .io(Direction::Read, |s| {
                read_into(buf, |b| s.recv(b).map(|n| (n, ())))
            })
            .await
            .map(|(n, ())| n)
    }

    /// A [`recv_buf_from`](Self::recv_buf_from) now, without waiting: `WouldBlock` if no
    /// datagram is queued.
    pub fn try_recv_buf_from<B: bytes::BufMut>(
        &self,
        buf: &mut B,
    ) -> io::Result<(usize, SocketAddr)> {
        self.io.try_io(Direction::Read, |s| {
            read_into(buf, |b| s.recv_from(b).map(|(n, a)| (n, SocketAddr(a))))
        })
    }

    /// A [`recv_buf`](Self::recv_buf) now, without waiting.
    pub fn try_recv_buf<B: bytes::BufMut>(&self, buf: &mut B) -> io::Result<usize> {
        self.io
            .try_io(Direction::Read, |s| {
                read_into(buf, |b| s.recv(b).map(|n| (n, ())))
            })
            .map(|(n, ())| n)
    }

    /// Sends to `path` now, without waiting: `WouldBlock` if there is no room.
    pub fn try_send_to(&self, buf: &[u8], path: impl AsRef<Path>) -> io::Result<usize> {
        self.io
            .try_io(Direction::Write, |s| s.send_to(buf, path.as_ref()))
    }

    /// Receives a queued datagram now: `WouldBlock` if none.
    pub fn try_recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.io.try_io(Direction::Read, |s| {
            s.recv_from(buf).map(|(n, a)| (n, SocketAddr(a)))
        })
    }

    /// Sends to the connected peer now, without waiting.
    pub fn try_send(&self, buf: &[u8]) -> io::Result<usize> {
        self.io.try_io(Direction::Write, |s| s.send(buf))
    }

    /// Receives from the connected peer now, without waiting.
    pub fn try_recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io.try_io(Direction::Read, |s| s.recv(buf))
    }

    /// Waits until `interest` finds the socket ready, and says what is (tokio's `ready`).
    pub async fn ready(&self, interest: Interest) -> io::Result<Ready> {
        self.io.ready_for(interest).await
    }

    /// Waits until a datagram may be there to receive (it may wake spuriously).
    pub async fn readable(&self) -> io::Result<()> {
        self.io.ready(Direction::Read).await
    }

    /// Waits until a datagram may be sent.
    pub async fn writable(&self) -> io::Result<()> {
        self.io.ready(Direction::Write).await
    }

    /// Polls for receive readiness; `Pending` stores the waker.
    pub fn poll_recv_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.io.poll_ready(cx, Direction::Read)
    }

    /// Polls for send readiness; `Pending` stores the waker.
    pub fn poll_send_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.io.poll_ready(cx, Direction::Write)
    }

    /// Runs `f` if `interest` looks ready; `WouldBlock` otherwise or when `f` says so
    /// (which clears the readiness). As tokio's `try_io`.
    pub fn try_io<R>(
        &self,
        interest: Interest,
        f: impl FnOnce() -> io::Result<R>,
    ) -> io::Result<R> {
        self.io.try_io(direction_of(interest), |_| f())
    }

    /// Waits for `interest`, runs `f`, and again while it says `WouldBlock`. As tokio's
    /// `async_io`.
    pub async fn async_io<R>(
        &self,
        interest: Interest,
        mut f: impl FnMut() -> io::Result<R>,
    ) -> io::Result<R> {
        self.io.io(direction_of(interest), |_| f()).await
    }

    /// The local address (unnamed for [`unbound`](Self::unbound) and pairs).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get().local_addr().map(SocketAddr)
    }

    /// The connected peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get().peer_addr().map(SocketAddr)
    }

    /// Takes the socket's pending error (`SO_ERROR`), if any.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.io.get().take_error()
    }

    /// Shuts down reading, writing or both.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.io.get().shutdown(how)
    }
}

impl std::os::fd::AsRawFd for UnixDatagram {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.io.get().as_raw_fd()
    }
}

impl std::os::fd::AsFd for UnixDatagram {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.io.get().as_fd()
    }
}

impl fmt::Debug for UnixDatagram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixDatagram")
            .field("local_addr", &self.local_addr().ok())
            .finish()
    }
}
