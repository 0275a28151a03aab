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
//!    still the one the hint was taken for (its generation), and it never hides an edge. If the
//!    datagram is not there (the receiver's buffer was full, or delivery was deferred), the
//!    woken reader meets `WouldBlock`, which clears readiness as usual, and the kernel's own
//!    edge comes through epoll as it would have. epoll still reports the datagram's edge later:
//!    at worst one extra `WouldBlock` for a reader.
//! 2. Only sockets bound to a loopback or unspecified address are published, and only
//!    loopback destinations are looked up: a datagram to any other address leaves this
//!    machine or this process's view.
//! 3. The table lives in the reactor and holds each published socket's `ScheduledIo` and
//!    generation: an entry whose socket is gone no longer matches (`is_live`) and is pruned
//!    at the next publish. No allocation per datagram; publishing reuses the table's
//!    capacity.
//! 4. A socket that always sends to the same receiver (a connected UDP socket, a TCP stream)
//!    records that receiver's `ScheduledIo` and generation in its own (`set_peer`), and pokes
//!    it after each send (`poke_peer`). Two linked TCP ends hold each other: `reset` drops a
//!    socket's peer when it closes, so that lasts only while both are open. UDP records it at `connect`; a loopback TCP stream is published with its
//!    (local, peer) addresses when connected or accepted, and when its other end is published
//!    too, each end records the other and both leave the table. A `send_to` looks its
//!    destination up in the table instead.

use std::net::SocketAddr;
use std::rc::Rc;

use super::scheduled_io::{READABLE, ScheduledIo};

/// A published socket of this runtime: its state, and the generation it was published at.
#[derive(Clone)]
pub(crate) struct Published {
    io: Rc<ScheduledIo>,
    generation: u32,
}

impl Published {
    pub(crate) fn new(io: &Rc<ScheduledIo>, generation: u32) -> Published {
        Published {
            io: Rc::clone(io),
            generation,
        }
    }

    fn is_live(&self) -> bool {
        self.io.is_live(self.generation)
    }

    /// As the peer of a socket that sends to it (`ScheduledIo::set_peer`).
    pub(crate) fn into_peer(self) -> (Rc<ScheduledIo>, u32) {
        (self.io, self.generation)
    }

    /// A datagram was just sent to this socket: mark it readable and wake its readers
    /// (invariant 1). Runs wakers.
    #[inline]
    pub(crate) fn poke(&self) {
        if self.is_live() {
            self.io.wake_ready(READABLE, self.generation);
        }
    }
}

/// A loopback TCP stream waiting for its other end to be published.
struct StreamEnd {
    local: SocketAddr,
    peer: SocketAddr,
    end: Published,
}

/// The reactor's table of published UDP sockets (bound address, socket) and of loopback
/// TCP streams whose other end has not been seen yet.
#[derive(Default)]
pub(crate) struct LoopbackTable {
    entries: Vec<(SocketAddr, Published)>,
    streams: Vec<StreamEnd>,
}

impl LoopbackTable {
    /// Publishes a socket bound to `addr`, if that address can receive loopback datagrams
    /// (invariant 2); prunes entries of closed sockets.
    pub(crate) fn publish(&mut self, addr: SocketAddr, socket: Published) {
        if !(addr.ip().is_loopback() || addr.ip().is_unspecified()) {
            return;
        }
        self.entries.retain(|(_, p)| p.is_live());
        self.entries.push((addr, socket));
    }

    /// Publishes a TCP stream connected from `local` to `peer` (both loopback): links it with
    /// its other end if that is a stream of this runtime (invariant 4), else keeps it until
    /// the other end comes.
    pub(crate) fn link_stream(&mut self, local: SocketAddr, peer: SocketAddr, end: Published) {
        if !(local.ip().is_loopback() && peer.ip().is_loopback()) {
            return;
        }
        self.streams.retain(|e| e.end.is_live());
        match self
            .streams
            .iter()
            .position(|e| e.local == peer && e.peer == local)
        {
            Some(i) => {
                let other = self.streams.swap_remove(i).end;
                end.io.set_peer(Some(other.clone().into_peer()));
                other.io.set_peer(Some(end.into_peer()));
            }
            None => self.streams.push(StreamEnd { local, peer, end }),
        }
    }

    /// The open socket of this runtime that a datagram to `dest` reaches, if `dest` is a
    /// loopback address and one is bound there (exactly, or to the unspecified address of
    /// the same family and port).
    pub(crate) fn find(&self, dest: SocketAddr) -> Option<Published> {
        if !dest.ip().is_loopback() {
            return None;
        }
        let live = |(bound, peer): &&(SocketAddr, Published)| {
            bound.port() == dest.port() && peer.is_live()
        };
        let exact = |(bound, _): &&(SocketAddr, Published)| bound.ip() == dest.ip();
        let wildcard = |(bound, _): &&(SocketAddr, Published)| {
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
