//! [`UnixSocket`]: a Unix socket configured before it listens, connects or becomes a
//! datagram socket, as tokio's.
//!
//! A plain non-blocking `socket2::Socket` until one of the consuming calls registers it with
//! the current runtime. Invariant: its type (stream or datagram) is fixed at creation, and
//! the calls that need the other type fail (tokio's error: kind `Other`, "`call` cannot be
//! called on a `type` socket") before touching it.

use std::fmt;
use std::io;
use std::path::Path;

use socket2::{Domain, SockAddr, Socket, Type};

use super::{UnixDatagram, UnixListener, UnixStream};

/// A Unix socket not yet listening, connected or used for datagrams, for binding a path
/// before connecting or choosing the listen backlog. As tokio's `UnixSocket`.
///
/// ```
/// use tickslab_runtime::net::UnixSocket;
/// # tickslab_runtime::Runtime::new().unwrap().block_on(async {
/// let dir = std::env::temp_dir().join(format!("tickslab-doc-us-{}", std::process::id()));
/// let _ = std::fs::remove_dir_all(&dir);
/// std::fs::create_dir_all(&dir)?;
/// let socket = UnixSocket::new_stream()?;
/// socket.bind(dir.join("l.sock"))?;
/// let listener = socket.listen(1024)?;
/// let client = UnixSocket::new_stream()?.connect(dir.join("l.sock")).await?;
/// let (_server, _) = listener.accept().await?;
/// # drop(client);
/// std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), std::io::Error>(())
/// # }).unwrap();
/// ```
pub struct UnixSocket {
    inner: Socket,
}

impl UnixSocket {
    /// A new stream socket (non-blocking, close-on-exec).
    pub fn new_stream() -> io::Result<UnixSocket> {
        UnixSocket::new(Type::STREAM)
    }

    /// A new datagram socket (non-blocking, close-on-exec).
    pub fn new_datagram() -> io::Result<UnixSocket> {
        UnixSocket::new(Type::DGRAM)
    }

    fn new(ty: Type) -> io::Result<UnixSocket> {
        let inner = Socket::new(Domain::UNIX, ty, None)?;
        inner.set_nonblocking(true)?;
        Ok(UnixSocket { inner })
    }

    fn ty(&self) -> io::Result<Type> {
        self.inner.r#type()
    }

    /// tokio's error (kind and message) for a call on the wrong type of socket.
    fn expect(&self, ty: Type, what: &'static str) -> io::Result<()> {
        if self.ty()? == ty {
            Ok(())
        } else {
            Err(io::Error::other(what))
        }
    }

    /// Binds to `path` (a file already there: [`AddrInUse`](io::ErrorKind::AddrInUse)).
    pub fn bind(&self, path: impl AsRef<Path>) -> io::Result<()> {
        self.inner.bind(&SockAddr::unix(path)?)
    }

    /// Listens with a queue of up to `backlog` connections not yet accepted, registering
    /// the listener with the current runtime. A datagram socket: an error.
    pub fn listen(self, backlog: u32) -> io::Result<UnixListener> {
        self.expect(Type::STREAM, "listen cannot be called on a datagram socket")?;
        self.inner
            .listen(i32::try_from(backlog).unwrap_or(i32::MAX))?;
        let std: std::os::unix::net::UnixListener = self.inner.into();
        UnixListener::from_std(std)
    }

    /// Connects to the socket at `path` and waits for it, registering the stream with the
    /// current runtime. A datagram socket: an error.
    pub async fn connect(self, path: impl AsRef<Path>) -> io::Result<UnixStream> {
        self.expect(
            Type::STREAM,
            "connect cannot be called on a datagram socket",
        )?;
        match self.inner.connect(&SockAddr::unix(path)?) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
        let std: std::os::unix::net::UnixStream = self.inner.into();
        UnixStream::connecting(mio::net::UnixStream::from_std(std)).await
    }

    /// The socket as a [`UnixDatagram`], registered with the current runtime. A stream
    /// socket: an error.
    pub fn datagram(self) -> io::Result<UnixDatagram> {
        self.expect(Type::DGRAM, "datagram cannot be called on a stream socket")?;
        let std: std::os::unix::net::UnixDatagram = self.inner.into();
        UnixDatagram::from_std(std)
    }

    /// Takes the socket's pending error (`SO_ERROR`), if any.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.inner.take_error()
    }
}

impl std::os::fd::AsRawFd for UnixSocket {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.inner.as_raw_fd()
    }
}

impl std::os::fd::AsFd for UnixSocket {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.inner.as_fd()
    }
}

impl std::os::fd::IntoRawFd for UnixSocket {
    fn into_raw_fd(self) -> std::os::fd::RawFd {
        self.inner.into_raw_fd()
    }
}

impl fmt::Debug for UnixSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixSocket")
            .field("type", &self.ty().ok())
            .finish()
    }
}
