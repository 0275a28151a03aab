//! Many datagrams per system call: [`RecvBatch`] and [`SendBatch`], the caller-owned storage
//! that [`UdpSocket::recv_many`](super::UdpSocket::recv_many),
//! [`send_many_to`](super::UdpSocket::send_many_to) and
//! [`send_many`](super::UdpSocket::send_many) work in.
//!
//! # What a call does
//! On Linux and Android one call is one `recvmmsg` or `sendmmsg`: up to `N` datagrams (a
//! batch's capacity) go into or out of the caller's buffers in one system call. The headers
//! the kernel reads (one `mmsghdr`, one `iovec` and room for one IPv4 or IPv6 address per
//! datagram) live in the batch, which the caller keeps and reuses: a call allocates
//! nothing. Elsewhere a call is a loop of `recv_from` / `send_to` that stops at the first
//! `WouldBlock` after the first datagram: the same results, one system call per datagram,
//! and [`RecvMeta::truncated`] is always `false` there.
//!
//! # Sizes
//! A batch holds about 110 bytes per datagram on 64-bit Linux (3,464 bytes for
//! `RecvBatch<32>`), none of them buffers: the datagrams go straight into (or come
//! straight out of) the caller's buffers. Keep a batch next to the buffers, in the task's
//! state or boxed once, and reuse it for every call.
//!
//! # Segmentation offload (GSO/GRO)
//! Not used. UDP GRO is a socket-wide option under which the kernel may hand one
//! receive call several datagrams glued into one buffer: turned on, it would change what
//! every plain [`recv_from`](super::UdpSocket::recv_from) on the socket returns. GSO
//! only sends equal-sized segments to one destination, while a game server sends
//! differently sized datagrams to many clients, which `sendmmsg` does in one call.

use std::fmt;
use std::net::SocketAddr;

// One file per platform: `recvmmsg`/`sendmmsg` where the kernel has them, a loop of
// single calls elsewhere. Both provide `RecvStore`, `SendStore`, `recv` and `send`.
#[cfg_attr(
    any(target_os = "linux", target_os = "android"),
    path = "batch/mmsg.rs"
)]
#[cfg_attr(
    not(any(target_os = "linux", target_os = "android")),
    path = "batch/single.rs"
)]
mod sys;

/// What is known of one received datagram (see [`RecvBatch::get`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecvMeta {
    /// Bytes written into the datagram's buffer: the datagram's length, or the buffer's
    /// length if the datagram was longer (as [`recv_from`](super::UdpSocket::recv_from)).
    pub len: usize,
    /// The sender.
    pub addr: SocketAddr,
    /// Whether the datagram was longer than its buffer: its first `len` bytes are in the
    /// buffer and the rest was discarded (the kernel's `MSG_TRUNC`). Linux and Android
    /// only: elsewhere always `false`.
    pub truncated: bool,
}

impl RecvMeta {
    /// A placeholder (no datagram): length 0 from `0.0.0.0:0`.
    pub(crate) const EMPTY: RecvMeta = RecvMeta {
        len: 0,
        addr: SocketAddr::V4(std::net::SocketAddrV4::new(
            std::net::Ipv4Addr::UNSPECIFIED,
            0,
        )),
        truncated: false,
    };
}

/// Reusable storage for receiving up to `N` datagrams with one system call
/// ([`UdpSocket::recv_many`](super::UdpSocket::recv_many)), and what the last call
/// received: [`received`](Self::received) datagrams, each one's length, sender and
/// truncation through [`get`](Self::get) or [`iter`](Self::iter). The datagrams themselves
/// are in the caller's buffers.
///
/// ```no_run
/// use tickslab_runtime::net::{RecvBatch, UdpSocket};
///
/// # async fn server(sock: UdpSocket) -> std::io::Result<()> {
/// let mut batch = RecvBatch::<32>::new();
/// let mut bufs = [[0u8; 1500]; 32];
/// loop {
///     let n = sock.recv_many(&mut batch, &mut bufs).await?;
///     for (meta, buf) in batch.iter().zip(&bufs[..n]) {
///         let packet = &buf[..meta.len];
///         // ... handle `packet` from `meta.addr`
///     }
/// }
/// # }
/// ```
pub struct RecvBatch<const N: usize> {
    store: sys::RecvStore<N>,
    received: usize,
}

impl<const N: usize> RecvBatch<N> {
    /// Storage for `N` datagrams (nothing received yet).
    pub const fn new() -> Self {
        RecvBatch {
            store: sys::RecvStore::new(),
            received: 0,
        }
    }

    /// How many datagrams one call receives at most: `N`.
    pub const fn capacity(&self) -> usize {
        N
    }

    /// How many datagrams the last call received (0 after an error).
    pub fn received(&self) -> usize {
        self.received
    }

    /// The `i`-th datagram of the last call (in `bufs[i]`); `None` if `i >= received()`.
    pub fn get(&self, i: usize) -> Option<RecvMeta> {
        (i < self.received).then(|| self.store.meta(i))
    }

    /// The datagrams of the last call, in order (the `i`-th is in `bufs[i]`).
    pub fn iter(&self) -> impl ExactSizeIterator<Item = RecvMeta> + '_ {
        (0..self.received).map(|i| self.store.meta(i))
    }

    /// One `recvmmsg` (or the fallback loop) into `bufs`; records the count.
    pub(super) fn recv<B: AsMut<[u8]>>(
        &mut self,
        sock: &mio::net::UdpSocket,
        bufs: &mut [B],
    ) -> std::io::Result<usize> {
        self.received = 0;
        let n = self.store.recv(sock, bufs)?;
        self.received = n;
        Ok(n)
    }

    /// Forgets the last call's datagrams (for a call that does no system call).
    pub(super) fn clear(&mut self) {
        self.received = 0;
    }
}

impl<const N: usize> Default for RecvBatch<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> fmt::Debug for RecvBatch<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecvBatch")
            .field("capacity", &N)
            .field("received", &self.received)
            .finish()
    }
}

/// Reusable storage for sending up to `N` datagrams with one system call
/// ([`UdpSocket::send_many_to`](super::UdpSocket::send_many_to),
/// [`UdpSocket::send_many`](super::UdpSocket::send_many)). It keeps nothing between
/// calls: one batch serves any number of sends.
///
/// ```no_run
/// use std::net::SocketAddr;
/// use tickslab_runtime::net::{SendBatch, UdpSocket};
///
/// /// Sends each client its own datagram, up to 32 per system call.
/// async fn send_all(sock: &UdpSocket, out: &[(Vec<u8>, SocketAddr)]) -> std::io::Result<()> {
///     let mut batch = SendBatch::<32>::new();
///     let mut sent = 0;
///     while sent < out.len() {
///         sent += sock.send_many_to(&mut batch, &out[sent..]).await?;
///     }
///     Ok(())
/// }
/// ```
pub struct SendBatch<const N: usize> {
    store: sys::SendStore<N>,
}

impl<const N: usize> SendBatch<N> {
    /// Storage for `N` datagrams.
    pub const fn new() -> Self {
        SendBatch {
            store: sys::SendStore::new(),
        }
    }

    /// How many datagrams one call sends at most: `N`.
    pub const fn capacity(&self) -> usize {
        N
    }

    /// One `sendmmsg` (or the fallback loop) of `datagrams`, each to its address, or to
    /// the connected peer for `None`.
    pub(super) fn send<'a>(
        &mut self,
        sock: &mio::net::UdpSocket,
        datagrams: impl Iterator<Item = (&'a [u8], Option<SocketAddr>)>,
    ) -> std::io::Result<usize> {
        self.store.send(sock, datagrams)
    }
}

impl<const N: usize> Default for SendBatch<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> fmt::Debug for SendBatch<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendBatch").field("capacity", &N).finish()
    }
}
