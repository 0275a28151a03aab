//! Same-runtime loopback hints: a datagram sent to a UDP socket of this very runtime, or
//! bytes written to a TCP stream whose other end is a stream of this runtime, make the
//! receiving socket readable now, without waiting for epoll to say so.
//!
//! A game often runs its client and its server in one process (single player, a listen
//! server) and talks over loopback UDP. A loopback datagram is in the receiver's queue when
//! `sendto` returns, yet the receiving task would only learn it from the next `epoll_wait`:
//! one scheduler pass and one system call per datagram. With a hint, the sender marks the
//! receiver readable and wakes its readers itself, in the same pass.
//!
//! Invariants:
//! 1. A hint is only a hint: it sets `READABLE` and wakes the read waiters of a socket that is
//!    still the one the hint was taken for (its generation); it never hides an edge. If the
//!    datagram is not there (the receiver's buffer was full, or delivery was deferred), the
//!    woken reader meets `WouldBlock`, which clears readiness as usual, and the kernel's own
//!    edge comes through epoll as it would have. epoll still reports the datagram's edge later:
//!    at worst one extra `WouldBlock` for a reader.
//! 2. Only sockets bound to a loopback or unspecified address are published, and only
//!    loopback destinations are looked up: a datagram to any other address leaves this
//!    machine or this process's view.
//! 3. The table lives in the reactor and holds `Rc<ScheduledIo>`s with their generation:
//!    an entry whose socket is gone no longer matches (`is_live`) and is pruned at the next
//!    publish. No allocation per datagram; publishing (a bind) reuses the table's capacity.
//! 4. TCP: a loopback stream is published with its (local, peer) addresses when it is
//!    connected or accepted; when its other end is published too, each end records the
//!    other's token in its `ScheduledIo` (a token, not an `Rc`: two ends pointing at each
//!    other make no reference cycle) and both leave the table. A write pokes the other end
//!    through the reactor's dispatch, which checks the token's generation, so a hint to a
//!    closed end does nothing; `reset` forgets the peer when a socket closes.

use std::net::SocketAddr;
use std::rc::Rc;

use super::scheduled_io::{READABLE, ScheduledIo};

/// A socket of this runtime that datagrams to some loopback address reach.
#[derive(Clone)]
pub(crate) struct LocalPeer {
    io: Rc<ScheduledIo>,
    generation: u32,
}

impl LocalPeer {
    pub(crate) fn new(io: Rc<ScheduledIo>, generation: u32) -> LocalPeer {
        LocalPeer { io, generation }
    }

    /// Whether the socket the hint was taken for is still open.
    pub(crate) fn is_live(&self) -> bool {
        self.io.is_live(self.generation)
    }

    /// A datagram was just sent to this socket: mark it readable and wake its readers
    /// (invariant 1). Runtime thread; may run wakers.
    #[inline]
    pub(crate) fn poke(&self) {
        if self.io.is_live(self.generation) {
            self.io.wake_ready(READABLE, self.generation);
        }
    }
}

/// A loopback TCP stream waiting for its other end to be published.
struct StreamEnd {
    local: SocketAddr,
    peer: SocketAddr,
    io: Rc<ScheduledIo>,
    token: mio::Token,
}

impl StreamEnd {
    fn is_live(&self) -> bool {
        self.io.is_live((self.token.0 >> 32) as u32)
    }
}

/// The reactor's table of published UDP sockets (bound address, socket) and of loopback
/// TCP streams whose other end has not been seen yet.
#[derive(Default)]
pub(crate) struct LoopbackTable {
    entries: Vec<(SocketAddr, LocalPeer)>,
    streams: Vec<StreamEnd>,
}

impl LoopbackTable {
    /// Publishes a socket bound to `addr`, if that address can receive loopback datagrams
    /// (invariant 2); prunes entries of closed sockets.
    pub(crate) fn publish(&mut self, addr: SocketAddr, peer: LocalPeer) {
        if !(addr.ip().is_loopback() || addr.ip().is_unspecified()) {
            return;
        }
        self.entries.retain(|(_, p)| p.is_live());
        self.entries.push((addr, peer));
    }

    /// Publishes a TCP stream connected from `local` to `peer` (both loopback): links it with
    /// its other end if that is a stream of this runtime (invariant 4), else keeps it until
    /// the other end comes.
    pub(crate) fn link_stream(
        &mut self,
        local: SocketAddr,
        peer: SocketAddr,
        io: &Rc<ScheduledIo>,
        token: mio::Token,
    ) {
        if !(local.ip().is_loopback() && peer.ip().is_loopback()) {
            return;
        }
        self.streams.retain(StreamEnd::is_live);
        match self
            .streams
            .iter()
            .position(|e| e.local == peer && e.peer == local)
        {
            Some(i) => {
                let other = self.streams.swap_remove(i);
                io.set_peer(other.token);
                other.io.set_peer(token);
            }
            None => self.streams.push(StreamEnd {
                local,
                peer,
                io: Rc::clone(io),
                token,
            }),
        }
    }

    /// The open socket of this runtime that a datagram to `dest` reaches, if `dest` is a
    /// loopback address and one is bound there (exactly, or to the unspecified address of
    /// the same family and port).
    pub(crate) fn find(&self, dest: SocketAddr) -> Option<LocalPeer> {
        if !dest.ip().is_loopback() {
            return None;
        }
        let live = |(bound, peer): &&(SocketAddr, LocalPeer)| {
            bound.port() == dest.port() && peer.is_live()
        };
        let exact = |(bound, _): &&(SocketAddr, LocalPeer)| bound.ip() == dest.ip();
        let wildcard = |(bound, _): &&(SocketAddr, LocalPeer)| {
            bound.ip().is_unspecified() && bound.is_ipv4() == dest.is_ipv4()
        };
        let mut candidates = self.entries.iter().filter(live);
        candidates
            .clone()
            .find(exact)
            .or_else(|| candidates.find(wildcard))
            .map(|(_, peer)| peer.clone())
    }
}
