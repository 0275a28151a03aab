//! The Unix stream socket.

use std::fmt;
use std::io::{self, IoSlice, IoSliceMut, Read, Write};
use std::net::Shutdown;
use std::path::Path;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use super::SocketAddr;
use super::split::{OwnedReadHalf, OwnedWriteHalf, ReadHalf, WriteHalf};
use crate::io::{AsyncRead, AsyncWrite, Direction, Interest, ReadBuf, Ready};
use crate::net::buf_mut::read_into;
use crate::net::evented::{Evented, direction_of};

/// A Unix stream socket, as tokio's `UnixStream`: read and write it through
/// [`AsyncReadExt`](crate::io::AsyncReadExt) / [`AsyncWriteExt`](crate::io::AsyncWriteExt).
pub struct UnixStream {
    io: Evented<mio::net::UnixStream>,
}

impl UnixStream {
    /// Connects to the socket at `path`. Nobody listening there:
    /// [`ConnectionRefused`](io::ErrorKind::ConnectionRefused); no such file:
    /// [`NotFound`](io::ErrorKind::NotFound).
    pub async fn connect(path: impl AsRef<Path>) -> io::Result<UnixStream> {
        let addr = super::path_addr(path.as_ref())?;
        UnixStream::connecting(mio::net::UnixStream::connect_addr(&addr)?).await
    }

    /// Connects to the socket at `addr` (a path, or on Linux an abstract name made with
    /// `std::os::linux::net::SocketAddrExt::from_abstract_name`).
    pub async fn connect_addr(addr: &std::os::unix::net::SocketAddr) -> io::Result<UnixStream> {
        UnixStream::connecting(mio::net::UnixStream::connect_addr(addr)?).await
    }

    /// Registers a socket whose connect has started and waits for it to end.
    pub(crate) async fn connecting(stream: mio::net::UnixStream) -> io::Result<UnixStream> {
        let stream = UnixStream::from_mio(stream)?;
        // A Unix connect usually completes at once; when the listener's queue is full it
        // completes later: writable, then `SO_ERROR` says how.
        stream.io.ready(Direction::Write).await?;
        match stream.io.get().take_error()? {
            Some(e) => Err(e),
            None => Ok(stream),
        }
    }

    /// A connected pair of streams (`socketpair`).
    #[track_caller]
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        let (a, b) = mio::net::UnixStream::pair()?;
        // A fresh pair has empty buffers: writable now (as tokio's), readable once the peer
        // writes.
        let a = Evented::new(a)?.assume_ready(false, true);
        let b = Evented::new(b)?.assume_ready(false, true);
        Ok((UnixStream { io: a }, UnixStream { io: b }))
    }

    /// A stream `accept` returned: assumed readable and writable, as tokio's.
    pub(crate) fn from_accepted(stream: mio::net::UnixStream) -> io::Result<UnixStream> {
        let io = Evented::new(stream)?.assume_ready(true, true);
        Ok(UnixStream { io })
    }

    #[track_caller]
    pub(crate) fn from_mio(stream: mio::net::UnixStream) -> io::Result<UnixStream> {
        Ok(UnixStream {
            io: Evented::new(stream)?,
        })
    }

    /// Wraps a connected std stream (made non-blocking here), registering it with the
    /// current runtime (panics outside one, with tokio's message, at the caller).
    #[track_caller]
    pub fn from_std(stream: std::os::unix::net::UnixStream) -> io::Result<UnixStream> {
        stream.set_nonblocking(true)?;
        UnixStream::from_mio(mio::net::UnixStream::from_std(stream))
    }

    /// The stream as a std one (still non-blocking), out of the runtime: the descriptor is
    /// duplicated, then this one deregistered and closed.
    pub fn into_std(self) -> io::Result<std::os::unix::net::UnixStream> {
        let dup = socket2::SockRef::from(self.io.get()).try_clone()?;
        Ok(dup.into())
    }

    /// The local address (unnamed for a connecting socket or a pair).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get().local_addr().map(SocketAddr)
    }

    /// The peer's credentials (user, group, process), as tokio's `peer_cred`
    /// (`SO_PEERCRED`; `Unsupported` on systems other than Linux and Android).
    pub fn peer_cred(&self) -> io::Result<super::UCred> {
        super::ucred::peer_cred(self.io.get())
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get().peer_addr().map(SocketAddr)
    }

    /// Takes the socket's pending error (`SO_ERROR`), if any.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.io.get().take_error()
    }

    /// Waits until `interest` finds the stream ready, and says what is (tokio's `ready`).
    pub async fn ready(&self, interest: Interest) -> io::Result<Ready> {
        self.io.ready_for(interest).await
    }

    /// Waits until the stream may be readable. It may wake spuriously: then
    /// [`try_read`](Self::try_read) says `WouldBlock`.
    pub async fn readable(&self) -> io::Result<()> {
        self.io.ready(Direction::Read).await
    }

    /// Waits until the stream may be writable.
    pub async fn writable(&self) -> io::Result<()> {
        self.io.ready(Direction::Write).await
    }

    /// Polls for read readiness; `Pending` stores the waker.
    pub fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.io.poll_ready(cx, Direction::Read)
    }

    /// Polls for write readiness; `Pending` stores the waker.
    pub fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.io.poll_ready(cx, Direction::Write)
    }

    /// Reads what is there now: `WouldBlock` if nothing is, `Ok(0)` at end of stream. As
    /// [`TcpStream::try_read`](crate::net::TcpStream::try_read), it answers `WouldBlock`
    /// after a short read until the runtime has seen the socket's next event.
    pub fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io.try_io(Direction::Read, |mut s| s.read(buf))
    }

    /// Reads what is there now into `buf`'s spare capacity, without waiting (tokio's
    /// `try_read_buf`): `WouldBlock` if nothing is, `Ok(0)` at end of stream. Copies once
    /// through a per-thread scratch buffer; [`try_read`](Self::try_read) does not.
    pub fn try_read_buf<B: bytes::BufMut>(&self, buf: &mut B) -> io::Result<usize> {
        self.io
            .try_io(Direction::Read, |mut s| {
                read_into(buf, |b| s.read(b).map(|n| (n, ())))
            })
            .map(|(n, ())| n)
    }

    /// As [`try_read`](Self::try_read), into several buffers.
    pub fn try_read_vectored(&self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        self.io
            .try_io(Direction::Read, |mut s| s.read_vectored(bufs))
    }

    /// Writes what fits now: `WouldBlock` if nothing does.
    pub fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
        self.io.try_io(Direction::Write, |mut s| s.write(buf))
    }

    /// As [`try_write`](Self::try_write), from several buffers.
    pub fn try_write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.io
            .try_io(Direction::Write, |mut s| s.write_vectored(bufs))
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

    /// Splits into halves borrowing the stream (no allocation).
    pub fn split(&mut self) -> (ReadHalf<'_>, WriteHalf<'_>) {
        (ReadHalf::new(self), WriteHalf::new(self))
    }

    /// Splits into owned halves sharing the stream (one `Rc`, allocated here). Dropping the
    /// [`OwnedWriteHalf`] shuts the write side down, as in tokio.
    pub fn into_split(self) -> (OwnedReadHalf, OwnedWriteHalf) {
        let shared = Rc::new(self);
        (
            OwnedReadHalf::new(shared.clone()),
            OwnedWriteHalf::new(shared),
        )
    }

    pub(crate) fn poll_read_priv(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let len = buf.len();
        self.io
            .poll_stream_io(cx, Direction::Read, len, |mut s| s.read(buf))
    }

    pub(crate) fn poll_read_buf(
        &self,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let n = std::task::ready!(self.poll_read_priv(cx, buf.initialize_unfilled()))?;
        buf.advance(n);
        Poll::Ready(Ok(()))
    }

    pub(crate) fn poll_write_priv(
        &self,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let len = buf.len();
        self.io
            .poll_stream_io(cx, Direction::Write, len, |mut s| s.write(buf))
    }

    pub(crate) fn poll_write_vectored_priv(
        &self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let len = bufs.iter().map(|b| b.len()).sum();
        if len == 0 {
            return Poll::Ready(Ok(0));
        }
        self.io
            .poll_stream_io(cx, Direction::Write, len, |mut s| s.write_vectored(bufs))
    }

    /// Shuts down the write side: the peer reads end of stream.
    pub(crate) fn shutdown_write(&self) -> io::Result<()> {
        self.io.get().shutdown(Shutdown::Write)
    }
}

impl AsyncRead for UnixStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.poll_read_buf(cx, buf)
    }
}

impl AsyncWrite for UnixStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_priv(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_vectored_priv(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    /// Shuts down the write side; reading still works.
    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(self.shutdown_write())
    }
}

impl std::os::fd::AsRawFd for UnixStream {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.io.get().as_raw_fd()
    }
}

impl std::os::fd::AsFd for UnixStream {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.io.get().as_fd()
    }
}

impl fmt::Debug for UnixStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixStream")
            .field("local_addr", &self.local_addr().ok())
            .field("peer_addr", &self.peer_addr().ok())
            .finish()
    }
}
