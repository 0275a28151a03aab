//! The TCP listener.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::task::{Context, Poll};

use super::super::evented::Evented;
use super::super::{TcpSocket, TcpStream, ToSocketAddrs, no_addresses};
use crate::io::Direction;

/// The listen backlog of [`TcpListener::bind`]: connections the kernel queues before they
/// are accepted (tokio's value until mio moved to std's 128, which resets a burst of
/// connects that arrives faster than the accept loop; Linux caps it at `somaxconn`).
pub const BACKLOG: u32 = 1024;

/// A TCP socket listening for connections, as tokio's `TcpListener`.
///
/// ```no_run
/// # use tickslab_runtime::{Runtime, spawn};
/// use tickslab_runtime::io::{AsyncReadExt, AsyncWriteExt};
/// use tickslab_runtime::net::TcpListener;
/// # let rt = Runtime::builder().build();
/// rt.block_on(async {
///     let listener = TcpListener::bind("127.0.0.1:0").await?;
///     loop {
///         let (mut stream, _peer) = listener.accept().await?;
///         spawn(async move {
///             let mut buf = [0; 64];
///             while let Ok(n @ 1..) = stream.read(&mut buf).await {
///                 if stream.write_all(&buf[..n]).await.is_err() {
///                     break;
///                 }
///             }
///         });
///     }
/// #   #[allow(unreachable_code)]
/// #   Ok::<(), std::io::Error>(())
/// })
/// # .unwrap();
/// ```
pub struct TcpListener {
    io: Evented<mio::net::TcpListener>,
}

impl TcpListener {
    /// Binds to `addr` and listens, trying each address it resolves to until one works
    /// (`SO_REUSEADDR` is set, as by mio and tokio), with a backlog of [`BACKLOG`]
    /// connections not yet accepted (a [`TcpSocket`](super::super::TcpSocket) chooses
    /// another). A port in use fails with [`AddrInUse`](io::ErrorKind::AddrInUse); outside
    /// a runtime, it panics with tokio's message.
    pub async fn bind(addr: impl ToSocketAddrs) -> io::Result<TcpListener> {
        let mut last = None;
        for addr in super::super::addr::resolve(addr).await? {
            match TcpListener::bind_addr(addr) {
                Ok(l) => return Ok(l),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(no_addresses))
    }

    fn bind_addr(addr: SocketAddr) -> io::Result<TcpListener> {
        let socket = TcpSocket::new_for_addr(addr)?;
        #[cfg(unix)]
        socket.set_reuseaddr(true)?;
        socket.bind(addr)?;
        socket.listen(BACKLOG)
    }

    #[track_caller]
    pub(crate) fn from_mio(listener: mio::net::TcpListener) -> io::Result<TcpListener> {
        Ok(TcpListener {
            io: Evented::new(listener)?,
        })
    }

    /// Wraps a bound and listening std listener (made non-blocking here), registering it
    /// with the current runtime (panics outside one, with tokio's message, at the caller).
    #[track_caller]
    pub fn from_std(listener: std::net::TcpListener) -> io::Result<TcpListener> {
        listener.set_nonblocking(true)?;
        TcpListener::from_mio(mio::net::TcpListener::from_std(listener))
    }

    /// Waits for a connection: the stream and the peer's address. Several tasks may wait at
    /// once; dropping the future while it waits removes its waker.
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let (stream, addr) = self.io.io(Direction::Read, |l| l.accept()).await?;
        TcpStream::from_accepted(stream).map(|s| (s, addr))
    }

    /// Polls for a connection; `Pending` stores the waker in the one poll-style slot (the
    /// next `poll_accept` replaces it, as in tokio).
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(TcpStream, SocketAddr)>> {
        let (stream, addr) =
            std::task::ready!(self.io.poll_io(cx, Direction::Read, |l| l.accept()))?;
        Poll::Ready(TcpStream::from_accepted(stream).map(|s| (s, addr)))
    }

    /// The listener as a std one (still non-blocking), out of the runtime. The descriptor
    /// is duplicated first (one `dup`, no unsafe code), then this one is deregistered and
    /// closed.
    pub fn into_std(self) -> io::Result<std::net::TcpListener> {
        let dup = socket2::SockRef::from(self.io.get()).try_clone()?;
        Ok(dup.into())
    }

    /// The address this listener is bound to (with the actual port when bound to port 0).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get().local_addr()
    }

    /// Sets the IP time-to-live of accepted sockets.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.io.get().set_ttl(ttl)
    }

    /// The IP time-to-live.
    pub fn ttl(&self) -> io::Result<u32> {
        self.io.get().ttl()
    }
}

/// The socket's descriptor, for socket options tickslab does not wrap (and for crates such
/// as quinn-udp that speak to the socket directly). Reading or writing through it is
/// allowed (tickslab's next call sees `WouldBlock` and waits again); closing it, or taking
/// it out of non-blocking mode, is not.
#[cfg(unix)]
impl std::os::fd::AsRawFd for TcpListener {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.io.get().as_raw_fd()
    }
}

/// The socket's descriptor, borrowed: see [`AsRawFd`](std::os::fd::AsRawFd).
#[cfg(unix)]
impl std::os::fd::AsFd for TcpListener {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.io.get().as_fd()
    }
}

impl fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpListener")
            .field("local_addr", &self.local_addr().ok())
            .finish()
    }
}
