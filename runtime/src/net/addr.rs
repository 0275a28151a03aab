//! [`ToSocketAddrs`]: what `bind`, `connect`, `send_to` and [`lookup_host`](super::lookup_host)
//! accept, as tokio's trait of that name.
//!
//! An address that is already numeric (a [`SocketAddr`], `(IpAddr, u16)`, a `&str` that
//! parses as one) resolves on the spot, without allocating. A host name is looked up by the
//! system resolver, which blocks: that lookup runs off the runtime's thread (see
//! `lookup.rs`), so `TcpStream::connect("example.com:80")` never stalls the I/O thread.
//!
//! The trait is sealed, as tokio's is: its one method names crate-private types.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

/// Something that resolves to socket addresses: a [`SocketAddr`], `(IpAddr, u16)`,
/// `(Ipv4Addr, u16)`, `(Ipv6Addr, u16)`, `&[SocketAddr]`, a `&str` or `String` of the form
/// `"host:port"`, `(&str, u16)`, `(String, u16)`, or a reference to any of these. As
/// tokio's `net::ToSocketAddrs`: it cannot be implemented outside tickslab.
pub trait ToSocketAddrs: sealed::Resolve {}

pub(crate) mod sealed {
    use super::Resolution;

    /// The resolution step behind [`ToSocketAddrs`](super::ToSocketAddrs).
    pub trait Resolve {
        /// The addresses now, or the query to run off the runtime's thread.
        #[doc(hidden)]
        fn resolution(&self) -> Resolution;
    }
}

/// The outcome of [`sealed::Resolve::resolution`].
#[doc(hidden)]
#[derive(Debug)]
pub enum Resolution {
    /// Numeric: resolved without a lookup.
    Ready(Addrs),
    /// A host name: run [`Query::run`] where blocking is allowed.
    Lookup(Query),
}

/// A host-name lookup, owned so that it can move to another thread.
#[doc(hidden)]
#[derive(Debug)]
pub enum Query {
    /// `"host:port"`.
    HostPort(String),
    /// A host and a port.
    Host(String, u16),
}

impl Query {
    /// Asks the system resolver (blocking).
    pub(crate) fn run(self) -> io::Result<Addrs> {
        use std::net::ToSocketAddrs as _;
        let addrs: Vec<SocketAddr> = match self {
            Query::HostPort(s) => s.to_socket_addrs()?.collect(),
            Query::Host(h, p) => (h.as_str(), p).to_socket_addrs()?.collect(),
        };
        Ok(Addrs::Many(addrs.into_iter()))
    }
}

/// Resolved addresses: the iterator [`lookup_host`](super::lookup_host) returns.
#[doc(hidden)]
#[derive(Debug, Clone)]
pub enum Addrs {
    /// One address (or none left).
    One(Option<SocketAddr>),
    /// Several, from a slice or a lookup.
    Many(std::vec::IntoIter<SocketAddr>),
}

impl Iterator for Addrs {
    type Item = SocketAddr;

    fn next(&mut self) -> Option<SocketAddr> {
        match self {
            Addrs::One(a) => a.take(),
            Addrs::Many(it) => it.next(),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match self {
            Addrs::One(a) => (a.is_some() as usize, Some(a.is_some() as usize)),
            Addrs::Many(it) => it.size_hint(),
        }
    }
}

/// Resolves `addr`, looking a host name up off the runtime's thread.
pub(crate) async fn resolve(addr: impl ToSocketAddrs) -> io::Result<Addrs> {
    match addr.resolution() {
        Resolution::Ready(addrs) => Ok(addrs),
        Resolution::Lookup(query) => super::lookup::off_thread(move || query.run()).await?,
    }
}

/// `addr`'s first address now if it is numeric (`Ok`), else the lookup to run (`Err`):
/// for `send_to`, whose numeric path then polls no nested future.
pub(crate) fn first_now(addr: &impl ToSocketAddrs) -> Result<io::Result<SocketAddr>, Query> {
    match addr.resolution() {
        Resolution::Ready(mut addrs) => Ok(addrs.next().ok_or_else(super::no_addresses)),
        Resolution::Lookup(query) => Err(query),
    }
}

/// The first address `query` finds, looked up off the runtime's thread.
pub(crate) async fn first_of(query: Query) -> io::Result<SocketAddr> {
    super::lookup::off_thread(move || query.run())
        .await??
        .next()
        .ok_or_else(super::no_addresses)
}

fn one(addr: impl Into<SocketAddr>) -> Resolution {
    Resolution::Ready(Addrs::One(Some(addr.into())))
}

macro_rules! numeric {
    ($($t:ty),*) => {$(
        impl ToSocketAddrs for $t {}
        impl sealed::Resolve for $t {
            fn resolution(&self) -> Resolution {
                one(*self)
            }
        }
    )*};
}

numeric!(
    SocketAddr,
    SocketAddrV4,
    SocketAddrV6,
    (IpAddr, u16),
    (Ipv4Addr, u16),
    (Ipv6Addr, u16)
);

impl ToSocketAddrs for [SocketAddr] {}
impl sealed::Resolve for [SocketAddr] {
    fn resolution(&self) -> Resolution {
        match self {
            [a] => one(*a),
            many => Resolution::Ready(Addrs::Many(Vec::from(many).into_iter())),
        }
    }
}

impl ToSocketAddrs for str {}
impl sealed::Resolve for str {
    fn resolution(&self) -> Resolution {
        match self.parse::<SocketAddr>() {
            Ok(a) => one(a),
            Err(_) => Resolution::Lookup(Query::HostPort(self.to_owned())),
        }
    }
}

impl ToSocketAddrs for String {}
impl sealed::Resolve for String {
    fn resolution(&self) -> Resolution {
        self.as_str().resolution()
    }
}

impl ToSocketAddrs for (&str, u16) {}
impl sealed::Resolve for (&str, u16) {
    fn resolution(&self) -> Resolution {
        match self.0.parse::<IpAddr>() {
            Ok(ip) => one((ip, self.1)),
            Err(_) => Resolution::Lookup(Query::Host(self.0.to_owned(), self.1)),
        }
    }
}

impl ToSocketAddrs for (String, u16) {}
impl sealed::Resolve for (String, u16) {
    fn resolution(&self) -> Resolution {
        (self.0.as_str(), self.1).resolution()
    }
}

impl<T: ToSocketAddrs + ?Sized> ToSocketAddrs for &T {}
impl<T: ToSocketAddrs + ?Sized> sealed::Resolve for &T {
    fn resolution(&self) -> Resolution {
        (**self).resolution()
    }
}
