//! The UDP socket, and its batched calls (in [`batch`]).

mod batch;
mod many;
mod options;

use std::fmt;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::task::{Context, Poll};

pub use batch::{RecvBatch, RecvMeta, SendBatch};

use super::buf_mut::read_into;
use super::evented::{Evented, direction_of};
use super::sys;
use super::{ToSocketAddrs, no_addresses};
use crate::io::{Direction, Interest, ReadBuf, Ready};

/// A UDP socket, as tokio's `UdpSocket`. Every method takes `&self`: share it between a
/// receiving task and a sending task with an `Rc` (one task per direction at a time; see
/// the [module docs](super)).
///
/// Unconnected, it sends with [`send_to`](Self::send_to) and receives from anyone with
/// [`recv_from`](Self::recv_from). [`connect`](Self::connect)ed, it talks to one peer with
/// [`send`](Self::send) / [`recv`](Self::recv), and (on Linux) an ICMP "port unreachable"
/// from that peer surfaces as [`ConnectionRefused`](io::ErrorKind::ConnectionRefused) from
/// the next call; the socket stays usable.
///
/// # Loopback inside one runtime
/// A game's client and server in one process (single player, a listen server) talk over
/// loopback. When this socket sends to a loopback address where a UDP socket of the *same
/// runtime* is bound (found when it binds, and by [`connect`](Self::connect) or each
/// `send_to`), it marks that socket readable and wakes its readers itself: the datagram is
/// already in their queue, and they need not wait for the next `epoll_wait`. A hint that
/// finds nothing (a full receive buffer) costs the reader one `WouldBlock`; epoll's own
/// edge still comes. A peer bound after this socket connected gets no hints until the next
/// `connect`.
///
/// # Batches
/// [`recv_many`](Self::recv_many), [`send_many_to`](Self::send_many_to) and
/// [`send_many`](Self::send_many) move up to `N` datagrams with one system call (`recvmmsg`
/// / `sendmmsg` on Linux and Android, a loop of single calls elsewhere), between the
/// caller's buffers and the socket, through a reusable [`RecvBatch<N>`] or [`SendBatch<N>`]
/// that the caller owns: nothing is allocated per call. Each has a `poll_` and a `try_`
/// form. They mix freely with the single-datagram calls on the same socket.
pub struct UdpSocket {
    io: Evented<mio::net::UdpSocket>,
}

impl UdpSocket {
    /// Binds to `addr`, trying each address it resolves to until one works. A port in use
    /// fails with [`AddrInUse`](io::ErrorKind::AddrInUse); outside a runtime, it panics
    /// with tokio's message.
    pub async fn bind(addr: impl ToSocketAddrs) -> io::Result<UdpSocket> {
        let mut last = None;
        for addr in super::addr::resolve(addr).await? {
            match mio::net::UdpSocket::bind(addr).and_then(UdpSocket::new) {
                Ok(s) => return Ok(s),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(no_addresses))
    }

    #[track_caller]
    fn new(socket: mio::net::UdpSocket) -> io::Result<UdpSocket> {
        let local = socket.local_addr();
        let io = Evented::new_read_first(socket)?;
        if let Ok(addr) = local {
            io.publish_loopback(addr);
        }
        Ok(UdpSocket { io })
    }

    /// Wraps a bound std socket (made non-blocking here), registering it with the current
    /// runtime (panics outside one, with tokio's message, at the caller).
    #[track_caller]
    pub fn from_std(socket: std::net::UdpSocket) -> io::Result<UdpSocket> {
        socket.set_nonblocking(true)?;
        UdpSocket::new(mio::net::UdpSocket::from_std(socket))
    }

    /// Connects to `addr` (the first address it resolves to that works): from now on
    /// [`send`](Self::send) goes there and only its datagrams are received.
    pub async fn connect(&self, addr: impl ToSocketAddrs) -> io::Result<()> {
        let mut last = None;
        for addr in super::addr::resolve(addr).await? {
            match self.io.get().connect(addr) {
                Ok(()) => {
                    self.io.connect_loopback(addr);
                    return Ok(());
                }
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(no_addresses))
    }

    /// The local address (with the actual port when bound to port 0).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get().local_addr()
    }

    /// The connected peer's address; [`NotConnected`](io::ErrorKind::NotConnected) if none.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get().peer_addr()
    }

    /// Sends a datagram to `target` (its first address), waiting for room in the send
    /// buffer; returns the bytes sent.
    pub async fn send_to(&self, buf: &[u8], target: impl ToSocketAddrs) -> io::Result<usize> {
        let target = match super::addr::first_now(&target) {
            Ok(addr) => addr?,
            Err(query) => super::addr::first_of(query).await?,
        };
        self.io
            .io(Direction::Write, |s| s.send_to(buf, target))
            .await
            .inspect(|_| self.io.poke_loopback(target))
    }

    /// Receives a datagram: its length (truncated to `buf`'s) and sender.
    pub fn recv_from<'a>(
        &'a self,
        buf: &'a mut [u8],
    ) -> impl Future<Output = io::Result<(usize, SocketAddr)>> + 'a {
        self.io.io(Direction::Read, move |s| s.recv_from(buf))
    }

    /// Like [`recv_from`](Self::recv_from), but the datagram stays queued.
    pub fn peek_from<'a>(
        &'a self,
        buf: &'a mut [u8],
    ) -> impl Future<Output = io::Result<(usize, SocketAddr)>> + 'a {
        self.io.io(Direction::Read, move |s| s.peek_from(buf))
    }

    /// Sends a datagram to the connected peer.
    pub fn send<'a>(&'a self, buf: &'a [u8]) -> impl Future<Output = io::Result<usize>> + 'a {
        self.io.io(Direction::Write, move |s| {
            sys::send(s, buf).inspect(|_| self.io.poke_peer())
        })
    }

    /// Receives a datagram from the connected peer.
    pub fn recv<'a>(&'a self, buf: &'a mut [u8]) -> impl Future<Output = io::Result<usize>> + 'a {
        self.io.io(Direction::Read, move |s| sys::recv(s, buf))
    }

    /// Like [`recv`](Self::recv), but the datagram stays queued.
    pub fn peek<'a>(&'a self, buf: &'a mut [u8]) -> impl Future<Output = io::Result<usize>> + 'a {
        self.io.io(Direction::Read, move |s| s.peek(buf))
    }

    /// Polls a [`send_to`](Self::send_to).
    pub fn poll_send_to(
        &self,
        cx: &mut Context<'_>,
        buf: &[u8],
        target: SocketAddr,
    ) -> Poll<io::Result<usize>> {
        self.io.poll_io(cx, Direction::Write, |s| {
            s.send_to(buf, target)
                .inspect(|_| self.io.poke_loopback(target))
        })
    }

    /// Polls a [`recv_from`](Self::recv_from) into `buf`'s unfilled part (tokio's
    /// signature): the datagram fills it (truncated to it) and the sender is returned.
    pub fn poll_recv_from(
        &self,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<SocketAddr>> {
        let (n, addr) = std::task::ready!(self.io.poll_io(cx, Direction::Read, |s| {
            s.recv_from(buf.initialize_unfilled())
        }))?;
        buf.advance(n);
        Poll::Ready(Ok(addr))
    }

    /// Polls a [`send`](Self::send).
    pub fn poll_send(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.io.poll_io(cx, Direction::Write, |s| {
            sys::send(s, buf).inspect(|_| self.io.poke_peer())
        })
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

    /// Waits until a datagram (or an error) may be there to receive. It may wake
    /// spuriously: then the `try_recv*` calls say `WouldBlock`.
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

    /// Waits for readiness in `dir` and runs `op` on the mio socket, again after each
    /// `WouldBlock` (poll-style: one waiter per direction); for crates that drive the
    /// socket's system calls themselves (quinn-udp).
    #[cfg_attr(not(feature = "quinn"), expect(dead_code, reason = "used by quinn"))]
    pub(crate) fn poll_io_raw<R>(
        &self,
        cx: &mut Context<'_>,
        dir: Direction,
        op: impl FnMut(&mio::net::UdpSocket) -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        self.io.poll_io(cx, dir, op)
    }

    /// Runs `op` on the mio socket once if `dir` looks ready; `WouldBlock` otherwise
    /// (which clears the readiness).
    #[cfg_attr(not(feature = "quinn"), expect(dead_code, reason = "used by quinn"))]
    pub(crate) fn try_io_raw<R>(
        &self,
        dir: Direction,
        op: impl FnOnce(&mio::net::UdpSocket) -> io::Result<R>,
    ) -> io::Result<R> {
        self.io.try_io(dir, op)
    }

    /// Sends to `target` now, without waiting: `WouldBlock` if there is no room.
    pub fn try_send_to(&self, buf: &[u8], target: SocketAddr) -> io::Result<usize> {
        self.io
            .try_io(Direction::Write, |s| s.send_to(buf, target))
            .inspect(|_| self.io.poke_loopback(target))
    }

    /// Receives a queued datagram now, without waiting: `WouldBlock` if none (readiness is
    /// then cleared until the next event).
    pub fn try_recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.io.try_io(Direction::Read, |s| s.recv_from(buf))
    }

    /// Sends to the connected peer now, without waiting.
    pub fn try_send(&self, buf: &[u8]) -> io::Result<usize> {
        self.io
            .try_io(Direction::Write, |s| sys::send(s, buf))
            .inspect(|_| self.io.poke_peer())
    }

    /// Receives from the connected peer now, without waiting.
    pub fn try_recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io.try_io(Direction::Read, |s| sys::recv(s, buf))
    }

    /// Waits until `interest` finds the socket ready, and says what is: tokio's `ready`.
    /// It may report readiness that a `try_*` call then finds gone (`WouldBlock`, which
    /// clears it). Dropping the future while it waits removes its wakers.
    pub async fn ready(&self, interest: Interest) -> io::Result<Ready> {
        self.io.ready_for(interest).await
    }

    /// Runs `f` (a system call on this socket's descriptor) if `interest` looks ready;
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

    /// Receives a datagram into `buf`'s spare capacity (tokio's `recv_buf_from`): its
    /// length (at most `buf.chunk_mut().len()`) and sender. Copies once through a
    /// per-thread scratch buffer; [`recv_from`](Self::recv_from) into a slice does not.
    pub async fn recv_buf_from<B: bytes::BufMut>(
        &self,
        buf: &mut B,
    ) -> io::Result<(usize, SocketAddr)> {
        self.io
            .io(Direction::Read, |s| read_into(buf, |b| s.recv_from(b)))
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
        self.io
            .try_io(Direction::Read, |s| read_into(buf, |b| s.recv_from(b)))
    }

    /// A [`recv_buf`](Self::recv_buf) now, without waiting.
    pub fn try_recv_buf<B: bytes::BufMut>(&self, buf: &mut B) -> io::Result<usize> {
        self.io
            .try_io(Direction::Read, |s| {
                read_into(buf, |b| s.recv(b).map(|n| (n, ())))
            })
            .map(|(n, ())| n)
    }

    /// Polls a [`peek_from`](Self::peek_from) into `buf`'s unfilled part (tokio's
    /// signature); the datagram stays queued.
    pub fn poll_peek_from(
        &self,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<SocketAddr>> {
        let (n, addr) = std::task::ready!(self.io.poll_io(cx, Direction::Read, |s| {
            s.peek_from(buf.initialize_unfilled())
        }))?;
        buf.advance(n);
        Poll::Ready(Ok(addr))
    }

    /// Polls a [`peek`](Self::peek) into `buf`'s unfilled part (tokio's signature).
    pub fn poll_peek(&self, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let n = std::task::ready!(
            self.io
                .poll_io(cx, Direction::Read, |s| s.peek(buf.initialize_unfilled()))
        )?;
        buf.advance(n);
        Poll::Ready(Ok(()))
    }

    /// Peeks at a queued datagram now, without waiting: `WouldBlock` if none.
    pub fn try_peek_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.io.try_io(Direction::Read, |s| s.peek_from(buf))
    }

    /// Peeks at a datagram from the connected peer now, without waiting.
    pub fn try_peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io.try_io(Direction::Read, |s| s.peek(buf))
    }

    /// The sender of the next datagram, which stays queued (no buffer needed: the datagram
    /// is not copied). As tokio's `peek_sender`.
    pub async fn peek_sender(&self) -> io::Result<SocketAddr> {
        self.io.io(Direction::Read, peek_sender).await
    }

    /// Polls a [`peek_sender`](Self::peek_sender).
    pub fn poll_peek_sender(&self, cx: &mut Context<'_>) -> Poll<io::Result<SocketAddr>> {
        self.io.poll_io(cx, Direction::Read, peek_sender)
    }

    /// The sender of the next datagram now, without waiting: `WouldBlock` if none.
    pub fn try_peek_sender(&self) -> io::Result<SocketAddr> {
        self.io.try_io(Direction::Read, peek_sender)
    }

    /// The socket as a std one (still non-blocking), out of the runtime. The descriptor is
    /// duplicated first (one `dup`, no unsafe code), then this one is deregistered and
    /// closed.
    pub fn into_std(self) -> io::Result<std::net::UdpSocket> {
        let dup = socket2::SockRef::from(self.io.get()).try_clone()?;
        Ok(dup.into())
    }
}

/// The next datagram's sender, which stays queued (`recvfrom` with `MSG_PEEK` into no
/// buffer: a truncation that is not an error for a peek).
fn peek_sender(s: &mio::net::UdpSocket) -> io::Result<SocketAddr> {
    socket2::SockRef::from(s)
        .peek_sender()?
        .as_socket()
        .ok_or_else(|| io::Error::other("the sender is not an IP address"))
}

/// The socket's descriptor, for socket options tickslab does not wrap (and for crates such
/// as quinn-udp that speak to the socket directly). Reading or writing through it is
/// allowed (tickslab's next call sees `WouldBlock` and waits again); closing it, or taking
/// it out of non-blocking mode, is not.
#[cfg(unix)]
impl std::os::fd::AsRawFd for UdpSocket {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.io.get().as_raw_fd()
    }
}

/// The socket's descriptor, borrowed: see [`AsRawFd`](std::os::fd::AsRawFd).
#[cfg(unix)]
impl std::os::fd::AsFd for UdpSocket {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.io.get().as_fd()
    }
}

impl fmt::Debug for UdpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UdpSocket")
            .field("local_addr", &self.local_addr().ok())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// A UDP socket is registered for reading only; the first write that finds the socket
    /// full adds writable interest, and the edge for it must come (`EPOLL_CTL_MOD` reports a
    /// socket that is writable by then), or the writer would wait forever. A loopback send
    /// never fills the send buffer, so the test stages the `WouldBlock`.
    #[test]
    fn a_blocked_write_adds_writable_interest_and_its_edge_comes() {
        let rt = crate::Runtime::new().unwrap();
        rt.block_on(async {
            let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            sock.writable()
                .await
                .expect("a new socket counts as writable");
            let staged = sock.io.try_io(Direction::Write, |_| {
                Err::<(), _>(io::Error::from(io::ErrorKind::WouldBlock))
            });
            assert_eq!(staged.unwrap_err().kind(), io::ErrorKind::WouldBlock);
            let edge = crate::time::timeout(Duration::from_secs(10), sock.writable()).await;
            edge.expect("the writable edge after adding interest")
                .expect("writable");
            let peer = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            sock.send_to(b"after", peer.local_addr().unwrap())
                .await
                .unwrap();
            let mut buf = [0u8; 8];
            assert_eq!(peer.recv(&mut buf).await.unwrap(), 5);
        });
    }
}
