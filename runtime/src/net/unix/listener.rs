//! The Unix listener.

use std::fmt;
use std::io;
use std::path::Path;
use std::task::{Context, Poll};

use super::{SocketAddr, UnixStream};
use crate::io::Direction;
use crate::net::evented::Evented;

/// A Unix socket listening for connections, as tokio's `UnixListener`.
///
/// ```
/// use tickslab_runtime::net::{UnixListener, UnixStream};
/// # tickslab_runtime::Runtime::new().unwrap().block_on(async {
/// let path = std::env::temp_dir().join(format!("tickslab-doc-{}.sock", std::process::id()));
/// let _ = std::fs::remove_file(&path);
/// let listener = UnixListener::bind(&path)?;
/// let client = UnixStream::connect(&path).await?;
/// let (server, _addr) = listener.accept().await?;
/// assert_eq!(client.peer_addr()?.as_pathname(), Some(path.as_path()));
/// # drop(server);
/// std::fs::remove_file(&path)?;
/// # Ok::<(), std::io::Error>(())
/// # }).unwrap();
/// ```
pub struct UnixListener {
    io: Evented<mio::net::UnixListener>,
}

impl UnixListener {
    /// Creates the socket file at `path` and listens on it (not `async`, as in tokio). A
    /// file already there: [`AddrInUse`](io::ErrorKind::AddrInUse); outside a runtime, it
    /// panics with tokio's message, at the caller.
    #[track_caller]
    pub fn bind(path: impl AsRef<Path>) -> io::Result<UnixListener> {
        UnixListener::bind_addr(&super::path_addr(path.as_ref())?)
    }

    /// Binds to `addr` and listens (a path, or on Linux an abstract name, which leaves no
    /// file behind).
    #[track_caller]
    pub fn bind_addr(addr: &std::os::unix::net::SocketAddr) -> io::Result<UnixListener> {
        UnixListener::from_mio(mio::net::UnixListener::bind_addr(addr)?)
    }

    #[track_caller]
    fn from_mio(listener: mio::net::UnixListener) -> io::Result<UnixListener> {
        Ok(UnixListener {
            io: Evented::new(listener)?,
        })
    }

    /// Wraps a listening std listener (made non-blocking here), registering it with the
    /// current runtime.
    #[track_caller]
    pub fn from_std(listener: std::os::unix::net::UnixListener) -> io::Result<UnixListener> {
        listener.set_nonblocking(true)?;
        UnixListener::from_mio(mio::net::UnixListener::from_std(listener))
    }

    /// The listener as a std one (still non-blocking), out of the runtime: the descriptor
    /// is duplicated, then this one deregistered and closed.
    pub fn into_std(self) -> io::Result<std::os::unix::net::UnixListener> {
        let dup = socket2::SockRef::from(self.io.get()).try_clone()?;
        Ok(dup.into())
    }

    /// Waits for a connection. Several tasks may wait at once; dropping the future while
    /// it waits removes its waker.
    pub async fn accept(&self) -> io::Result<(UnixStream, SocketAddr)> {
        let (stream, addr) = self.io.io(Direction::Read, |l| l.accept()).await?;
        UnixStream::from_accepted(stream).map(|s| (s, SocketAddr(addr)))
    }

    /// Polls for a connection (one poll-style waker slot, as in tokio).
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(UnixStream, SocketAddr)>> {
        let (stream, addr) =
            std::task::ready!(self.io.poll_io(cx, Direction::Read, |l| l.accept()))?;
        Poll::Ready(UnixStream::from_accepted(stream).map(|s| (s, SocketAddr(addr))))
    }

    /// The address this listener is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get().local_addr().map(SocketAddr)
    }

    /// Takes the socket's pending error (`SO_ERROR`), if any.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.io.get().take_error()
    }
}

impl std::os::fd::AsRawFd for UnixListener {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.io.get().as_raw_fd()
    }
}

impl std::os::fd::AsFd for UnixListener {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.io.get().as_fd()
    }
}

impl fmt::Debug for UnixListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixListener")
            .field("local_addr", &self.local_addr().ok())
            .finish()
    }
}
