//! The UDP socket's options: broadcast, TTL, multicast membership and loop, type of
//! service, the bound device, and the pending error. Each is one `setsockopt` /
//! `getsockopt` on the socket, through mio or socket2; none waits, none allocates (but
//! [`UdpSocket::device`], which returns the name).

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr};

use super::UdpSocket;

impl UdpSocket {
    /// Sets `SO_BROADCAST`.
    pub fn set_broadcast(&self, on: bool) -> io::Result<()> {
        self.io.get().set_broadcast(on)
    }

    /// Whether `SO_BROADCAST` is set.
    pub fn broadcast(&self) -> io::Result<bool> {
        self.io.get().broadcast()
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

    /// Joins the IPv4 multicast group `multiaddr` on the interface of address `interface`
    /// ([`Ipv4Addr::UNSPECIFIED`] lets the system choose).
    pub fn join_multicast_v4(&self, multiaddr: Ipv4Addr, interface: Ipv4Addr) -> io::Result<()> {
        self.io.get().join_multicast_v4(&multiaddr, &interface)
    }

    /// Joins the IPv6 multicast group `multiaddr` on interface index `interface` (0: the
    /// system chooses).
    pub fn join_multicast_v6(&self, multiaddr: &Ipv6Addr, interface: u32) -> io::Result<()> {
        self.io.get().join_multicast_v6(multiaddr, interface)
    }

    /// Leaves an IPv4 multicast group (see [`join_multicast_v4`](Self::join_multicast_v4)).
    pub fn leave_multicast_v4(&self, multiaddr: Ipv4Addr, interface: Ipv4Addr) -> io::Result<()> {
        self.io.get().leave_multicast_v4(&multiaddr, &interface)
    }

    /// Leaves an IPv6 multicast group (see [`join_multicast_v6`](Self::join_multicast_v6)).
    pub fn leave_multicast_v6(&self, multiaddr: &Ipv6Addr, interface: u32) -> io::Result<()> {
        self.io.get().leave_multicast_v6(multiaddr, interface)
    }

    /// Sets `IP_MULTICAST_LOOP`: whether this host's own members receive the IPv4
    /// multicast it sends (on by default).
    pub fn set_multicast_loop_v4(&self, on: bool) -> io::Result<()> {
        self.io.get().set_multicast_loop_v4(on)
    }

    /// Whether `IP_MULTICAST_LOOP` is set.
    pub fn multicast_loop_v4(&self) -> io::Result<bool> {
        self.io.get().multicast_loop_v4()
    }

    /// Sets `IP_MULTICAST_TTL`: how many hops IPv4 multicast travels (1 by default: the
    /// local network).
    pub fn set_multicast_ttl_v4(&self, ttl: u32) -> io::Result<()> {
        self.io.get().set_multicast_ttl_v4(ttl)
    }

    /// `IP_MULTICAST_TTL`.
    pub fn multicast_ttl_v4(&self) -> io::Result<u32> {
        self.io.get().multicast_ttl_v4()
    }

    /// `IP_TOS` (IPv4 type of service / DSCP and ECN bits).
    pub fn tos_v4(&self) -> io::Result<u32> {
        socket2::SockRef::from(self.io.get()).tos_v4()
    }

    /// Sets `IP_TOS` (IPv4 type of service / DSCP and ECN bits).
    pub fn set_tos_v4(&self, tos: u32) -> io::Result<()> {
        socket2::SockRef::from(self.io.get()).set_tos_v4(tos)
    }

    /// `IP_TOS` (tokio's older name for [`tos_v4`](Self::tos_v4)).
    #[deprecated = "use `tos_v4`, as in tokio"]
    pub fn tos(&self) -> io::Result<u32> {
        self.tos_v4()
    }

    /// Sets `IP_TOS` (tokio's older name for [`set_tos_v4`](Self::set_tos_v4)).
    #[deprecated = "use `set_tos_v4`, as in tokio"]
    pub fn set_tos(&self, tos: u32) -> io::Result<()> {
        self.set_tos_v4(tos)
    }

    /// `IPV6_TCLASS` (IPv6 traffic class).
    #[cfg(any(target_os = "linux", target_os = "android"))]
    pub fn tclass_v6(&self) -> io::Result<u32> {
        socket2::SockRef::from(self.io.get()).tclass_v6()
    }

    /// Sets `IPV6_TCLASS` (IPv6 traffic class).
    #[cfg(any(target_os = "linux", target_os = "android"))]
    pub fn set_tclass_v6(&self, tclass: u32) -> io::Result<()> {
        socket2::SockRef::from(self.io.get()).set_tclass_v6(tclass)
    }

    /// The network device this socket is bound to (`SO_BINDTODEVICE`), if any.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    pub fn device(&self) -> io::Result<Option<Vec<u8>>> {
        socket2::SockRef::from(self.io.get()).device()
    }

    /// Binds to a network device by name (`SO_BINDTODEVICE`; `None` unbinds). Usually needs
    /// `CAP_NET_RAW`.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    pub fn bind_device(&self, interface: Option<&[u8]>) -> io::Result<()> {
        socket2::SockRef::from(self.io.get()).bind_device(interface)
    }

    /// Sets `IPV6_MULTICAST_LOOP` (see [`set_multicast_loop_v4`](Self::set_multicast_loop_v4)).
    pub fn set_multicast_loop_v6(&self, on: bool) -> io::Result<()> {
        self.io.get().set_multicast_loop_v6(on)
    }

    /// Whether `IPV6_MULTICAST_LOOP` is set.
    pub fn multicast_loop_v6(&self) -> io::Result<bool> {
        self.io.get().multicast_loop_v6()
    }
}
