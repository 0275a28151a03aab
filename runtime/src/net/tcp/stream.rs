//! The TCP stream.

use std::fmt;
use std::io::{self, IoSlice, IoSliceMut, Read, Write};
use std::mem::MaybeUninit;
use std::net::{Shutdown, SocketAddr};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use super::super::buf_mut::read_into;
use super::super::evented::{Evented, direction_of};
use super::super::sys;
use super::super::{ToSocketAddrs, no_addresses};
use super::{OwnedReadHalf, OwnedWriteHalf, ReadHalf, WriteHalf};
use crate::io::Direction;
use crate::io::{AsyncRead, AsyncWrite, Interest, ReadBuf, Ready};

/// A TCP connection, as tokio's `TcpStream`.
///
/// Read and write it through [`AsyncReadExt`](crate::io::AsyncReadExt) and
/// [`AsyncWriteExt`](crate::io::AsyncWriteExt). At the peer's end of stream, reads return
/// `Ok(0)`; writing to a connection the peer reset fails with
/// [`BrokenPipe`](io::ErrorKind::BrokenPipe) or
/// [`ConnectionReset`](io::ErrorKind::ConnectionReset).
///
/// # Loopback inside one runtime
/// When both ends of a loopback connection are streams of the same runtime (a game's client
/// and server in one process), a write marks the other end readable and wakes its readers
/// itself: the bytes are already in its receive buffer, and it need not wait for the next
/// `epoll_wait`. A hint that finds nothing costs the reader one `WouldBlock`; epoll's own
/// edge still comes.
pub struct TcpStream {
    io: Evented<mio::net::TcpStream>,
}

impl TcpStream {
    /// Connects to `addr`, trying each address it resolves to until one accepts; the last
    /// error otherwise (a closed port: [`ConnectionRefused`](io::ErrorKind::ConnectionRefused)).
    /// The connect itself is non-blocking: the task waits for it in the reactor.
    pub async fn connect(addr: impl ToSocketAddrs) -> io::Result<TcpStream> {
        let mut last = None;
        for addr in super::super::addr::resolve(addr).await? {
            match TcpStream::connect_addr(addr).await {
                Ok(s) => return Ok(s),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(no_addresses))
    }

    async fn connect_addr(addr: SocketAddr) -> io::Result<TcpStream> {
        TcpStream::connecting(mio::net::TcpStream::connect(addr)?).await
    }

    /// Registers a socket whose non-blocking connect has started, and waits for the
    /// handshake to end (for [`connect`](Self::connect) and `TcpSocket::connect`).
    pub(crate) async fn connecting(stream: mio::net::TcpStream) -> io::Result<TcpStream> {
        let stream = TcpStream::from_mio(stream)?;
        // Writable means the handshake ended; `take_error` says how, and `peer_addr` tells
        // a real end from a spurious wake (`NotConnected`: wait again), as mio documents.
        stream
            .io
            .io(Direction::Write, |s| {
                if let Some(e) = s.take_error()? {
                    return Err(e);
                }
                match s.peer_addr() {
                    Ok(_) => Ok(()),
                    Err(e) if e.kind() == io::ErrorKind::NotConnected => {
                        Err(io::ErrorKind::WouldBlock.into())
                    }
                    Err(e) => Err(e),
                }
            })
            .await?;
        stream.io.link_loopback_stream();
        Ok(stream)
    }

    /// A stream `accept` returned: assumed readable and writable until an operation says
    /// otherwise, as tokio's (its first read tries the socket at once).
    pub(crate) fn from_accepted(stream: mio::net::TcpStream) -> io::Result<TcpStream> {
        let io = Evented::new(stream)?.assume_ready(true, true);
        io.link_loopback_stream();
        Ok(TcpStream { io })
    }

    #[track_caller]
    pub(crate) fn from_mio(stream: mio::net::TcpStream) -> io::Result<TcpStream> {
        Ok(TcpStream {
            io: Evented::new(stream)?,
        })
    }

    /// Wraps a connected std stream (made non-blocking here), registering it with the
    /// current runtime (panics outside one, with tokio's message, at the caller).
    #[track_caller]
    pub fn from_std(stream: std::net::TcpStream) -> io::Result<TcpStream> {
        stream.set_nonblocking(true)?;
        let stream = TcpStream::from_mio(mio::net::TcpStream::from_std(stream))?;
        stream.io.link_loopback_stream();
        Ok(stream)
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get().local_addr()
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get().peer_addr()
    }

    /// Sets `TCP_NODELAY` (no Nagle delay: small writes go out at once).
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.io.get().set_nodelay(nodelay)
    }

    /// Whether `TCP_NODELAY` is set.
    pub fn nodelay(&self) -> io::Result<bool> {
        self.io.get().nodelay()
    }

    /// Sets the IP time-to-live.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.io.get().set_ttl(ttl)
    }

    /// The IP time-to-live.
    pub fn ttl(&self) -> io::Result<u32> {
        self.io.get().ttl()
    }

    /// Takes the socket's pending error (`SO_ERROR`), if any.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.io.get().take_error()
    }

    /// Sets `TCP_QUICKACK`: acknowledge at once instead of delaying (Linux clears it again
    /// on its own; set it after reads that matter).
    #[cfg(any(target_os = "linux", target_os = "android"))]
    pub fn set_quickack(&self, quickack: bool) -> io::Result<()> {
        socket2::SockRef::from(self.io.get()).set_tcp_quickack(quickack)
    }

    /// Whether `TCP_QUICKACK` is set.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    pub fn quickack(&self) -> io::Result<bool> {
        socket2::SockRef::from(self.io.get()).tcp_quickack()
    }

    /// Sets `SO_LINGER`: `Some(d)` lets closing send what is left for up to `d` (in the
    /// background), `Some(0)` resets the connection on close; `None` is the default.
    pub fn set_linger(&self, dur: Option<Duration>) -> io::Result<()> {
        socket2::SockRef::from(self.io.get()).set_linger(dur)
    }

    /// `SO_LINGER`.
    pub fn linger(&self) -> io::Result<Option<Duration>> {
        socket2::SockRef::from(self.io.get()).linger()
    }

    /// Sets `SO_LINGER` to zero: dropping the stream resets the connection (the peer reads
    /// [`ConnectionReset`](io::ErrorKind::ConnectionReset)) instead of closing it.
    pub fn set_zero_linger(&self) -> io::Result<()> {
        self.set_linger(Some(Duration::ZERO))
    }

    /// The stream as a std one (still non-blocking), out of the runtime. The descriptor is
    /// duplicated first (one `dup`, no unsafe code), then this one is deregistered and
    /// closed.
    pub fn into_std(self) -> io::Result<std::net::TcpStream> {
        let dup = socket2::SockRef::from(self.io.get()).try_clone()?;
        Ok(dup.into())
    }

    /// Waits until `interest` finds the stream ready, and says what is: tokio's `ready`.
    /// It may report readiness that a `try_read` / `try_write` then finds gone
    /// (`WouldBlock`, which clears it). Dropping the future while it waits removes its
    /// wakers.
    ///
    /// ```
    /// use tickslab_runtime::io::Interest;
    /// use tickslab_runtime::net::{TcpListener, TcpStream};
    /// # tickslab_runtime::Runtime::new().unwrap().block_on(async {
    /// let listener = TcpListener::bind("127.0.0.1:0").await?;
    /// let stream = TcpStream::connect(listener.local_addr()?).await?;
    /// let ready = stream.ready(Interest::READABLE | Interest::WRITABLE).await?;
    /// assert!(ready.is_writable() && !ready.is_readable());
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn ready(&self, interest: Interest) -> io::Result<Ready> {
        self.io.ready_for(interest).await
    }

    /// Runs `f` (a system call on this stream's descriptor) if `interest` looks ready;
    /// `WouldBlock` otherwise, or when `f` says so, which clears the readiness until the
    /// next event. As tokio's `try_io`.
    pub fn try_io<R>(
        &self,
        interest: Interest,
        f: impl FnOnce() -> io::Result<R>,
    ) -> io::Result<R> {
        self.io.try_io(direction_of(interest), |_| f())
    }

    /// Waits for `interest`, runs `f`, and waits again while it says `WouldBlock`. As
    /// tokio's `async_io`.
    pub async fn async_io<R>(
        &self,
        interest: Interest,
        mut f: impl FnMut() -> io::Result<R>,
    ) -> io::Result<R> {
        self.io.io(direction_of(interest), |_| f()).await
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

    /// As [`try_read`](Self::try_read), into several buffers (`readv`).
    pub fn try_read_vectored(&self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        self.io
            .try_io(Direction::Read, |mut s| s.read_vectored(bufs))
    }

    /// As [`try_write`](Self::try_write), from several buffers (`writev`).
    pub fn try_write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.io
            .try_io(Direction::Write, |mut s| s.write_vectored(bufs))
            .inspect(|_| self.io.poke_peer())
    }

    /// Waits until the stream may be readable (data, end of stream or an error). It may
    /// wake spuriously: then [`try_read`](Self::try_read) says `WouldBlock`.
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

    /// Reads what is there now, without waiting: `WouldBlock` if nothing is (readiness is
    /// then cleared until the next event), `Ok(0)` at end of stream. As tokio's, it also
    /// answers `WouldBlock` without asking the socket after a read (awaited or polled) that
    /// got less than it asked for, until the runtime has seen the socket's next event: that
    /// short read emptied the receive buffer.
    pub fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io.try_io(Direction::Read, |s| sys::recv(s, buf))
    }

    /// Writes what fits now, without waiting: `WouldBlock` if nothing does.
    pub fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
        self.io
            .try_io(Direction::Write, |s| sys::send(s, buf))
            .inspect(|_| self.io.poke_peer())
    }

    /// Reads without consuming: the next read sees the same bytes. Waits for data.
    pub async fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        self.io.io(Direction::Read, |s| s.peek(buf)).await
    }

    /// Polls a [`peek`](Self::peek).
    ///
    /// tokio's signature: the bytes go into `buf`'s unfilled part, which advances; returns
    /// how many.
    pub fn poll_peek(
        &self,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<usize>> {
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(0));
        }
        let n = std::task::ready!(
            self.io
                .poll_io(cx, Direction::Read, |s| s.peek(buf.initialize_unfilled()))
        )?;
        buf.advance(n);
        Poll::Ready(Ok(n))
    }

    /// Splits into a read half and a write half borrowing the stream, so one task can read
    /// while another writes (or one `select`s over both). No allocation.
    pub fn split(&mut self) -> (ReadHalf<'_>, WriteHalf<'_>) {
        (ReadHalf::new(self), WriteHalf::new(self))
    }

    /// Splits into owned halves sharing the stream (one `Rc`, allocated here), for tasks
    /// that each own one. Dropping the [`OwnedWriteHalf`] shuts the write side down;
    /// [`OwnedReadHalf::reunite`] puts the stream back together.
    pub fn into_split(self) -> (OwnedReadHalf, OwnedWriteHalf) {
        let shared = Rc::new(self);
        (
            OwnedReadHalf::new(shared.clone()),
            OwnedWriteHalf::new(shared),
        )
    }

    #[inline]
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
            .poll_stream_io(cx, Direction::Read, len, |s| sys::recv(s, buf))
    }

    /// Reads straight into `buf`'s unfilled part (initialized once, so a buffer made from an
    /// `&mut [u8]` costs nothing more than the slice read above), and advances it.
    #[inline]
    pub(crate) fn poll_read_buf(
        &self,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let n = std::task::ready!(self.poll_read_priv(cx, buf.initialize_unfilled()))?;
        buf.advance(n);
        Poll::Ready(Ok(()))
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
        self.io.poll_stream_io(cx, Direction::Write, len, |mut s| {
            s.write_vectored(bufs).inspect(|_| self.io.poke_peer())
        })
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
        self.io.poll_stream_io(cx, Direction::Write, len, |s| {
            sys::send(s, buf).inspect(|_| self.io.poke_peer())
        })
    }

    /// Reads into memory that may be uninitialized (tokio's and hyper's read buffers):
    /// `recv(2)` writes straight into `buf`, with no zeroing and no bounce buffer. Returns
    /// how many bytes at the start of `buf` are now initialized; `Ok(0)` at end of stream.
    #[cfg_attr(
        not(any(feature = "tokio-io", feature = "hyper")),
        expect(dead_code, reason = "used by the optional integrations")
    )]
    #[inline]
    pub(crate) fn poll_read_uninit(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [MaybeUninit<u8>],
    ) -> Poll<io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let len = buf.len();
        self.io
            .poll_stream_io(cx, Direction::Read, len, |s| sys::recv_uninit(s, buf))
    }

    /// Shuts down the write side (sends FIN): the peer reads end of stream. A connection the
    /// peer already reset (`NotConnected`) counts as shut down, as in tokio.
    pub(crate) fn shutdown_write(&self) -> io::Result<()> {
        match self.io.get().shutdown(Shutdown::Write) {
            Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(()),
            other => other,
        }
    }
}

impl AsyncRead for TcpStream {
    #[inline]
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.poll_read_buf(cx, buf)
    }
}

impl AsyncWrite for TcpStream {
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

    /// Shuts down the write side (`shutdown(Write)`, sending FIN); reading still works.
    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(self.shutdown_write())
    }
}

/// The socket's descriptor, for socket options tickslab does not wrap. Reading or writing
/// through it is allowed (tickslab's next call sees `WouldBlock` and waits again); closing
/// it, or taking it out of non-blocking mode, is not.
#[cfg(unix)]
impl std::os::fd::AsRawFd for TcpStream {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.io.get().as_raw_fd()
    }
}

/// The socket's descriptor, borrowed: see [`AsRawFd`](std::os::fd::AsRawFd).
#[cfg(unix)]
impl std::os::fd::AsFd for TcpStream {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.io.get().as_fd()
    }
}

impl fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpStream")
            .field("local_addr", &self.local_addr().ok())
            .field("peer_addr", &self.peer_addr().ok())
            .finish()
    }
}
