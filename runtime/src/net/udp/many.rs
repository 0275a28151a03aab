//! The socket's batched calls: [`UdpSocket::recv_many`], [`UdpSocket::send_many_to`] and
//! [`UdpSocket::send_many`], each with its `poll_` and `try_` forms, over the caller-owned
//! [`RecvBatch`] and [`SendBatch`] (`batch.rs`). Like the single-datagram calls, each waits
//! for readiness through the socket's registration and clears it on `WouldBlock`; nothing
//! is allocated per call.

use std::io;
use std::net::SocketAddr;
use std::task::{Context, Poll};

use super::UdpSocket;
use super::batch::{RecvBatch, SendBatch};
use crate::io::Direction;

impl UdpSocket {
    /// Receives up to `N` datagrams (and at most `bufs.len()`) with one system call,
    /// waiting for the first: datagram `i` goes into `bufs[i]`, and
    /// [`batch.get(i)`](RecvBatch::get) tells its length, sender and whether it was
    /// truncated. Returns how many were received (at least one; 0 only for an empty
    /// `bufs` or `N == 0`, at once and without a system call).
    ///
    /// A datagram longer than its buffer fills the buffer and loses the rest, as with
    /// [`recv_from`](Self::recv_from): its [`RecvMeta::len`](super::RecvMeta::len) is the buffer's length and
    /// [`RecvMeta::truncated`](super::RecvMeta::truncated) is set (Linux and Android). An error that comes after some
    /// datagrams (a connected socket's [`ConnectionRefused`](io::ErrorKind::ConnectionRefused))
    /// is returned by the next call on Linux and Android, and dropped by the fallback loop
    /// elsewhere.
    pub async fn recv_many<const N: usize, B: AsMut<[u8]>>(
        &self,
        batch: &mut RecvBatch<N>,
        bufs: &mut [B],
    ) -> io::Result<usize> {
        if bufs.is_empty() || N == 0 {
            batch.clear();
            return Ok(0);
        }
        self.io.io(Direction::Read, |s| batch.recv(s, bufs)).await
    }

    /// Polls a [`recv_many`](Self::recv_many).
    pub fn poll_recv_many<const N: usize, B: AsMut<[u8]>>(
        &self,
        cx: &mut Context<'_>,
        batch: &mut RecvBatch<N>,
        bufs: &mut [B],
    ) -> Poll<io::Result<usize>> {
        if bufs.is_empty() || N == 0 {
            batch.clear();
            return Poll::Ready(Ok(0));
        }
        self.io
            .poll_io(cx, Direction::Read, |s| batch.recv(s, bufs))
    }

    /// Receives the datagrams queued now (up to `N` and `bufs.len()`), without waiting:
    /// `WouldBlock` if there are none (readiness is then cleared until the next event).
    pub fn try_recv_many<const N: usize, B: AsMut<[u8]>>(
        &self,
        batch: &mut RecvBatch<N>,
        bufs: &mut [B],
    ) -> io::Result<usize> {
        if bufs.is_empty() || N == 0 {
            batch.clear();
            return Ok(0);
        }
        self.io.try_io(Direction::Read, |s| batch.recv(s, bufs))
    }

    /// Sends up to `N` of `datagrams`, each to its own address, with one system call,
    /// waiting for room in the send buffer; returns how many were sent, from the front.
    /// Fewer than asked (more than `N`, or the send buffer filled up): send the rest with
    /// another call. A datagram that fails after the first (a destination of the wrong
    /// address family, one too large) is not sent, and the call returns the count before
    /// it: the next call, starting with it, meets its error again (or sends it, if the
    /// cause has passed). An empty `datagrams` (or `N == 0`) returns 0 at once.
    pub async fn send_many_to<const N: usize, B: AsRef<[u8]>>(
        &self,
        batch: &mut SendBatch<N>,
        datagrams: &[(B, SocketAddr)],
    ) -> io::Result<usize> {
        if datagrams.is_empty() || N == 0 {
            return Ok(0);
        }
        self.io
            .io(Direction::Write, |s| batch.send(s, addressed(datagrams)))
            .await
    }

    /// Polls a [`send_many_to`](Self::send_many_to).
    pub fn poll_send_many_to<const N: usize, B: AsRef<[u8]>>(
        &self,
        cx: &mut Context<'_>,
        batch: &mut SendBatch<N>,
        datagrams: &[(B, SocketAddr)],
    ) -> Poll<io::Result<usize>> {
        if datagrams.is_empty() || N == 0 {
            return Poll::Ready(Ok(0));
        }
        self.io.poll_io(cx, Direction::Write, |s| {
            batch.send(s, addressed(datagrams))
        })
    }

    /// A [`send_many_to`](Self::send_many_to) now, without waiting: `WouldBlock` if there
    /// is no room for the first datagram.
    pub fn try_send_many_to<const N: usize, B: AsRef<[u8]>>(
        &self,
        batch: &mut SendBatch<N>,
        datagrams: &[(B, SocketAddr)],
    ) -> io::Result<usize> {
        if datagrams.is_empty() || N == 0 {
            return Ok(0);
        }
        self.io
            .try_io(Direction::Write, |s| batch.send(s, addressed(datagrams)))
    }

    /// Sends up to `N` of `bufs` to the connected peer with one system call, as
    /// [`send_many_to`](Self::send_many_to) (how many were sent; send the rest with another
    /// call). Not connected: an error (`EDESTADDRREQ` on Linux).
    pub async fn send_many<const N: usize, B: AsRef<[u8]>>(
        &self,
        batch: &mut SendBatch<N>,
        bufs: &[B],
    ) -> io::Result<usize> {
        if bufs.is_empty() || N == 0 {
            return Ok(0);
        }
        self.io
            .io(Direction::Write, |s| batch.send(s, to_peer(bufs)))
            .await
    }

    /// Polls a [`send_many`](Self::send_many).
    pub fn poll_send_many<const N: usize, B: AsRef<[u8]>>(
        &self,
        cx: &mut Context<'_>,
        batch: &mut SendBatch<N>,
        bufs: &[B],
    ) -> Poll<io::Result<usize>> {
        if bufs.is_empty() || N == 0 {
            return Poll::Ready(Ok(0));
        }
        self.io
            .poll_io(cx, Direction::Write, |s| batch.send(s, to_peer(bufs)))
    }

    /// A [`send_many`](Self::send_many) now, without waiting: `WouldBlock` if there is no
    /// room for the first datagram.
    pub fn try_send_many<const N: usize, B: AsRef<[u8]>>(
        &self,
        batch: &mut SendBatch<N>,
        bufs: &[B],
    ) -> io::Result<usize> {
        if bufs.is_empty() || N == 0 {
            return Ok(0);
        }
        self.io
            .try_io(Direction::Write, |s| batch.send(s, to_peer(bufs)))
    }
}

/// `send_many_to`'s datagrams, for [`SendBatch`]: each with its address.
fn addressed<B: AsRef<[u8]>>(
    datagrams: &[(B, SocketAddr)],
) -> impl Iterator<Item = (&[u8], Option<SocketAddr>)> {
    datagrams.iter().map(|(b, to)| (b.as_ref(), Some(*to)))
}

/// `send_many`'s datagrams, for [`SendBatch`]: to the connected peer.
fn to_peer<B: AsRef<[u8]>>(bufs: &[B]) -> impl Iterator<Item = (&[u8], Option<SocketAddr>)> {
    bufs.iter().map(|b| (b.as_ref(), None))
}
