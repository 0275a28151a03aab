//! A mio source paired with its reactor registration, and the futures of its operations.
//!
//! An `async` operation ([`Evented::io`], [`Evented::ready`]) is a small named future that
//! holds its [`Wait`]: it takes a waiter key only when it has to wait, and gives it back in
//! its destructor, so an operation abandoned by a `timeout` or `select!` leaves no waker
//! behind. When the socket is ready, a poll is the readiness check and the system call.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::io::reactor::{Registration, Wait};
use crate::io::{Direction, Interest};

/// A mio source registered with the current runtime's reactor. Dropping it deregisters the
/// source from epoll, then closes it.
pub(crate) struct Evented<S: mio::event::Source> {
    source: S,
    reg: Registration,
}

impl<S: mio::event::Source> Evented<S> {
    /// Registers `source` with the current runtime (panics outside one, as tokio).
    #[track_caller]
    pub(crate) fn new(mut source: S) -> io::Result<Self> {
        let reg = Registration::new(&mut source)?;
        Ok(Evented { source, reg })
    }

    /// Registers `source` for `interest` only (a pidfd: readable when its process exits).
    #[cfg(unix)]
    #[track_caller]
    pub(crate) fn with_interest(mut source: S, interest: mio::Interest) -> io::Result<Self> {
        let reg = Registration::with_interest(&mut source, interest)?;
        Ok(Evented { source, reg })
    }

    /// Registers `source` for reading, adding writable interest when a write first blocks
    /// (see `Registration::new_read_first`: for UDP, it spares an event per datagram sent).
    #[cfg(unix)]
    #[track_caller]
    pub(crate) fn new_read_first(mut source: S) -> io::Result<Self>
    where
        S: std::os::fd::AsRawFd,
    {
        let reg = Registration::new_read_first(&mut source)?;
        Ok(Evented { source, reg })
    }

    /// Marks the socket ready for reading (`read`) and writing (`write`) before any event:
    /// see `Registration::assume_ready` (tokio's behaviour for accepted streams and pairs).
    pub(crate) fn assume_ready(self, read: bool, write: bool) -> Self {
        use crate::io::scheduled_io_bits::{READABLE, WRITABLE};
        let bits = if read { READABLE } else { 0 } | if write { WRITABLE } else { 0 };
        self.reg.assume_ready(bits);
        self
    }

    /// The socket, for calls that do not wait (addresses, options).
    pub(crate) fn get(&self) -> &S {
        &self.source
    }

    /// Ready when an operation in `dir` is worth trying (poll-style: the waker goes in the
    /// direction's shared slot, replaced by the next poll).
    pub(crate) fn poll_ready(&self, cx: &mut Context<'_>, dir: Direction) -> Poll<io::Result<()>> {
        crate::coop::poll_budgeted(cx, |cx| self.reg.poll_ready(cx, dir, None))
    }

    /// Waits for readiness in `dir`, runs `op`, and waits again on `WouldBlock`
    /// (poll-style).
    #[inline]
    pub(crate) fn poll_io<R>(
        &self,
        cx: &mut Context<'_>,
        dir: Direction,
        mut op: impl FnMut(&S) -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        self.reg.poll_io(cx, dir, None, || op(&self.source))
    }

    /// `poll_io` for stream sockets (TCP, Unix streams), where `op` moves at most
    /// `len` bytes: a short transfer (`0 < n < len`) clears the direction's readiness, as
    /// tokio does on epoll. A read that got less than it asked for emptied the receive
    /// buffer, a write that placed less than it had filled the send buffer, so the next
    /// call waits for the next edge instead of paying a system call for its `WouldBlock`.
    /// Edges are per arrival (or per freed space): one that comes after the call is seen at
    /// the next `epoll_wait`. Closed and error bits stay, so a short read that ends with the
    /// peer's FIN is followed by a read of end of stream, not a wait. Pipes keep `poll_io`
    /// (their edge rules changed between kernel versions; no measured path needs them).
    #[inline]
    pub(crate) fn poll_stream_io(
        &self,
        cx: &mut Context<'_>,
        dir: Direction,
        len: usize,
        op: impl FnMut(&S) -> io::Result<usize>,
    ) -> Poll<io::Result<usize>> {
        let result = self.poll_io(cx, dir, op);
        if let Poll::Ready(Ok(n)) = result
            && 0 < n
            && n < len
        {
            self.reg.clear_ready_bit(dir);
        }
        result
    }

    /// `poll_io` for an `async` operation that keeps its place among the waiters in `wait`
    /// (its future calls [`end_wait`](Self::end_wait) from its destructor).
    #[cfg(unix)]
    pub(crate) fn poll_io_waiting<R>(
        &self,
        cx: &mut Context<'_>,
        dir: Direction,
        wait: &mut Wait,
        mut op: impl FnMut(&S) -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        self.reg.poll_io(cx, dir, Some(wait), || op(&self.source))
    }

    /// Ends the wait of a `poll_io_waiting` operation: frees its key, drops its waker.
    #[cfg(unix)]
    pub(crate) fn end_wait(&self, wait: &mut Wait, dir: Direction) {
        wait.end(&self.reg, dir);
    }

    /// Runs `op` once if `dir` looks ready; `WouldBlock` otherwise.
    pub(crate) fn try_io<R>(
        &self,
        dir: Direction,
        op: impl FnOnce(&S) -> io::Result<R>,
    ) -> io::Result<R> {
        self.reg.try_io(dir, || op(&self.source))
    }

    /// Waits until an operation in `dir` is worth trying. Dropping the future while it
    /// waits removes its waker.
    pub(crate) fn ready(&self, dir: Direction) -> Ready<'_, S> {
        Ready {
            io: self,
            dir,
            wait: Wait::default(),
        }
    }

    /// Waits until `interest` finds something ready, and says what (tokio's `ready`).
    /// Dropping the future while it waits removes its wakers.
    pub(crate) fn ready_for(&self, interest: Interest) -> ReadyFor<'_, S> {
        ReadyFor {
            io: self,
            interest,
            read: Wait::default(),
            write: Wait::default(),
        }
    }

    /// Publishes the socket as bound to `addr`, for same-runtime loopback hints (UDP).
    pub(crate) fn publish_loopback(&self, addr: std::net::SocketAddr) {
        self.reg.publish_loopback(addr);
    }

    /// The socket connected to `dest` (UDP): hint the socket of this runtime bound there.
    pub(crate) fn connect_loopback(&self, dest: std::net::SocketAddr) {
        self.reg.connect_loopback(dest);
    }

    /// A datagram just went to `dest`: hint the socket of this runtime bound there, if any.
    #[inline]
    pub(crate) fn poke_loopback(&self, dest: std::net::SocketAddr) {
        self.reg.poke_loopback(dest);
    }

    /// Publishes this TCP stream for loopback hints, if both its ends are loopback.
    pub(crate) fn link_loopback_stream(&self)
    where
        S: LoopbackStream,
    {
        if let (Ok(local), Ok(peer)) = (self.source.local_addr(), self.source.peer_addr()) {
            self.reg.link_loopback_stream(local, peer);
        }
    }

    /// Hints the socket of this runtime that this one's sends reach (a connected UDP peer, a
    /// TCP stream's other end) readable after a send, if there is one.
    #[inline]
    pub(crate) fn poke_peer(&self) {
        self.reg.poke_peer();
    }

    /// Whether the socket's runtime is still running.
    #[cfg(unix)]
    pub(crate) fn is_live(&self) -> bool {
        self.reg.is_live()
    }

    /// Whether the socket is registered with the runtime current on this thread.
    #[cfg(unix)]
    pub(crate) fn is_current(&self) -> bool {
        self.reg.is_current()
    }

    /// `poll_io` as a future. Dropping it while it waits removes its waker.
    #[inline]
    pub(crate) fn io<R, F>(&self, dir: Direction, op: F) -> Io<'_, S, F>
    where
        F: FnMut(&S) -> io::Result<R> + Unpin,
    {
        Io {
            io: self,
            dir,
            wait: Wait::default(),
            op,
        }
    }
}

impl<S: mio::event::Source> Drop for Evented<S> {
    fn drop(&mut self) {
        // Out of epoll first; the source (closing the fd) and the registration (freeing
        // the reactor slot) drop after this, as fields.
        self.reg.deregister(&mut self.source);
    }
}

/// A connected stream socket's two addresses (for loopback hints).
pub(crate) trait LoopbackStream {
    fn local_addr(&self) -> io::Result<std::net::SocketAddr>;
    fn peer_addr(&self) -> io::Result<std::net::SocketAddr>;
}

impl LoopbackStream for mio::net::TcpStream {
    fn local_addr(&self) -> io::Result<std::net::SocketAddr> {
        mio::net::TcpStream::local_addr(self)
    }
    fn peer_addr(&self) -> io::Result<std::net::SocketAddr> {
        mio::net::TcpStream::peer_addr(self)
    }
}

/// The future of [`Evented::io`].
pub(crate) struct Io<'a, S: mio::event::Source, F> {
    io: &'a Evented<S>,
    dir: Direction,
    wait: Wait,
    op: F,
}

impl<S, R, F> Future for Io<'_, S, F>
where
    S: mio::event::Source,
    F: FnMut(&S) -> io::Result<R> + Unpin,
{
    type Output = io::Result<R>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<R>> {
        let this = self.get_mut();
        let (io, op) = (this.io, &mut this.op);
        io.reg
            .poll_io(cx, this.dir, Some(&mut this.wait), || op(&io.source))
    }
}

impl<S: mio::event::Source, F> Drop for Io<'_, S, F> {
    #[inline]
    fn drop(&mut self) {
        self.wait.end(&self.io.reg, self.dir);
    }
}

/// The future of [`Evented::ready`].
pub(crate) struct Ready<'a, S: mio::event::Source> {
    io: &'a Evented<S>,
    dir: Direction,
    wait: Wait,
}

impl<S: mio::event::Source> Future for Ready<'_, S> {
    type Output = io::Result<()>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        // No budget spent, as tokio's `readable()` / `writable()`: a readiness check alone
        // makes no progress (the operation after it spends the unit).
        this.io.reg.poll_ready(cx, this.dir, Some(&mut this.wait))
    }
}

impl<S: mio::event::Source> Drop for Ready<'_, S> {
    fn drop(&mut self) {
        self.wait.end(&self.io.reg, self.dir);
    }
}

/// The future of [`Evented::ready_for`].
pub(crate) struct ReadyFor<'a, S: mio::event::Source> {
    io: &'a Evented<S>,
    interest: Interest,
    read: Wait,
    write: Wait,
}

impl<S: mio::event::Source> Future for ReadyFor<'_, S> {
    type Output = io::Result<crate::io::Ready>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let (reg, interest) = (&this.io.reg, this.interest);
        let (read, write) = (&mut this.read, &mut this.write);
        // No budget spent, as tokio's `ready()` (see `Ready`).
        reg.poll_ready_interest(cx, interest, read, write)
    }
}

impl<S: mio::event::Source> Drop for ReadyFor<'_, S> {
    fn drop(&mut self) {
        self.read.end(&self.io.reg, Direction::Read);
        self.write.end(&self.io.reg, Direction::Write);
    }
}

/// The direction whose readiness an operation of `interest` uses and clears (tokio's
/// `try_io` / `async_io`): reading unless the interest is in writing alone.
pub(crate) fn direction_of(interest: Interest) -> Direction {
    if interest.is_writable() && !interest.watches_read() {
        Direction::Write
    } else {
        Direction::Read
    }
}
