//! Platforms without `recvmmsg`/`sendmmsg`: a loop of single `recv_from` / `send_to` calls,
//! one system call per datagram, with the batched calls' results. No unsafe code.
//!
//! A loop stops at the first `WouldBlock` once it has moved a datagram (and returns the
//! count), or at an error: the error is returned if no datagram moved yet, and dropped
//! otherwise (the datagram that failed was not counted, so the caller's next call meets
//! its error again when sending; a receive error is not repeated). Truncation is not
//! reported: `std` gives no `MSG_TRUNC`.

use std::io;
use std::net::SocketAddr;

use super::RecvMeta;

/// What the last receive loop got.
pub(super) struct RecvStore<const N: usize> {
    metas: [RecvMeta; N],
}

impl<const N: usize> RecvStore<N> {
    /// An empty store.
    pub(super) const fn new() -> Self {
        RecvStore {
            metas: [RecvMeta::EMPTY; N],
        }
    }

    /// Receives up to `min(N, bufs.len())` datagrams into `bufs`, one `recv_from` each.
    pub(super) fn recv<B: AsMut<[u8]>>(
        &mut self,
        sock: &mio::net::UdpSocket,
        bufs: &mut [B],
    ) -> io::Result<usize> {
        let k = bufs.len().min(N);
        for (i, buf) in bufs[..k].iter_mut().enumerate() {
            match sock.recv_from(buf.as_mut()) {
                Ok((len, addr)) => {
                    self.metas[i] = RecvMeta {
                        len,
                        addr,
                        truncated: false,
                    }
                }
                Err(e) if i == 0 => return Err(e),
                Err(_) => return Ok(i),
            }
        }
        Ok(k)
    }

    /// Datagram `i` of the last [`recv`](Self::recv).
    pub(super) fn meta(&self, i: usize) -> RecvMeta {
        self.metas[i]
    }
}

/// Nothing to keep: each datagram goes out with its own `send_to`.
pub(super) struct SendStore<const N: usize>;

impl<const N: usize> SendStore<N> {
    /// The store.
    pub(super) const fn new() -> Self {
        SendStore
    }

    /// Sends up to `N` of `datagrams`, one `send_to` (or `send`, for `None`) each.
    pub(super) fn send<'a>(
        &mut self,
        sock: &mio::net::UdpSocket,
        datagrams: impl Iterator<Item = (&'a [u8], Option<SocketAddr>)>,
    ) -> io::Result<usize> {
        let mut sent = 0;
        for (buf, to) in datagrams.take(N) {
            let r = match to {
                Some(to) => sock.send_to(buf, to),
                None => sock.send(buf),
            };
            match r {
                Ok(_) => sent += 1,
                Err(e) if sent == 0 => return Err(e),
                Err(_) => break,
            }
        }
        Ok(sent)
    }
}
