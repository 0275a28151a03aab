//! Linux and Android: one `recvmmsg` or `sendmmsg` per call.
//!
//! A store is three arrays of `N`: the `mmsghdr`s the kernel walks, the `iovec`s they point
//! at (one buffer per datagram), and the addresses they point at (the sender, or the
//! destination). The unsafe code is the two system calls and the reading of a received
//! address; what makes them sound:
//!
//! 1. **Fresh pointers.** Every pointer in the headers (to the store's own `iovec`s and
//!    addresses, and from the `iovec`s to the caller's buffers) is written by
//!    [`Msgs::prepare`] right before the system call, from borrows that last until the call
//!    returns: `&mut self` for the store, `&mut [B]` or `&[B]` for the buffers. A store may
//!    move, and buffers may go, between calls; no pointer is read after its call (the
//!    results are `msg_len`, `msg_flags`, `msg_namelen` and the address bytes).
//! 2. **Counts within the arrays.** The system call gets `k` headers, and `k` is at most
//!    `N` and at most the number of buffers; header `i < k` points at `iovec` `i` and
//!    address `i` of the same store, and `iovec` `i` at buffer `i` with that buffer's
//!    length. The kernel writes at most `iov_len` bytes into a buffer and at most
//!    `msg_namelen` (the size of [`SockAddr`]) into an address.
//! 3. **Plain data.** Every field of the three arrays is an integer or a raw pointer, so
//!    all-zero bytes are a valid value of them (the store starts zeroed), and any bytes
//!    the kernel writes into an address are a valid value of either variant of
//!    [`SockAddr`].

use std::io;
use std::mem;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::AsRawFd;
use std::ptr;

use super::RecvMeta;

/// Room for the address of one datagram: UDP over IPv4 or IPv6 (28 bytes, where
/// `sockaddr_storage` would take 128).
#[repr(C)]
#[derive(Clone, Copy)]
union SockAddr {
    v4: libc::sockaddr_in,
    v6: libc::sockaddr_in6,
}

/// The kernel's view of up to `N` datagrams: see the module docs.
pub(super) struct Msgs<const N: usize> {
    hdrs: [libc::mmsghdr; N],
    iovs: [libc::iovec; N],
    addrs: [SockAddr; N],
}

/// A receiving store: the headers keep what the kernel reported until the next call.
pub(super) type RecvStore<const N: usize> = Msgs<N>;
/// A sending store.
pub(super) type SendStore<const N: usize> = Msgs<N>;

impl<const N: usize> Msgs<N> {
    /// A zeroed store.
    pub(super) const fn new() -> Self {
        // SAFETY: rule 3 of the module docs: every field is an integer or a raw pointer,
        // for which all-zero bytes (0, null) are valid values.
        unsafe { mem::zeroed() }
    }

    /// Points header `i` at `iovec` `i` and address `i` (`name_len` bytes of it, none for
    /// 0) and `iovec` `i` at `base..base + len`. Rule 1: called right before each system
    /// call, for every header it passes.
    fn prepare(&mut self, i: usize, base: *mut libc::c_void, len: usize, name_len: usize) {
        self.iovs[i] = libc::iovec {
            iov_base: base,
            iov_len: len,
        };
        let name: *mut SockAddr = &raw mut self.addrs[i];
        let hdr = &mut self.hdrs[i];
        hdr.msg_len = 0;
        let msg = &mut hdr.msg_hdr;
        msg.msg_name = if name_len == 0 {
            ptr::null_mut()
        } else {
            name.cast()
        };
        msg.msg_namelen = name_len as libc::socklen_t;
        msg.msg_iov = &raw mut self.iovs[i];
        msg.msg_iovlen = 1;
        msg.msg_control = ptr::null_mut();
        msg.msg_controllen = 0;
        msg.msg_flags = 0;
    }

    /// Receives up to `min(N, bufs.len())` datagrams into `bufs` with one `recvmmsg`.
    pub(super) fn recv<B: AsMut<[u8]>>(
        &mut self,
        sock: &mio::net::UdpSocket,
        bufs: &mut [B],
    ) -> io::Result<usize> {
        let k = bufs.len().min(N).min(libc::c_uint::MAX as usize);
        for (i, buf) in bufs[..k].iter_mut().enumerate() {
            let buf = buf.as_mut();
            self.prepare(i, buf.as_mut_ptr().cast(), buf.len(), size_of::<SockAddr>());
        }
        // SAFETY: the descriptor is the live socket `sock` borrows. Rule 1: the `k`
        // headers were just pointed at this store's `iovec`s and addresses and at the
        // buffers of `bufs`, all borrowed mutably (so written by no one else) until the
        // call returns; rule 2: `k <= N` and `k <= bufs.len()`, each `iovec` carries its
        // buffer's length and each header its address's size. No timeout (null); the
        // socket is non-blocking, so the call returns what is queued.
        let n = unsafe {
            libc::recvmmsg(
                sock.as_raw_fd(),
                self.hdrs.as_mut_ptr(),
                k as libc::c_uint,
                0,
                ptr::null_mut(),
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(n as usize)
    }

    /// What the kernel reported for datagram `i` of the last [`recv`](Self::recv).
    pub(super) fn meta(&self, i: usize) -> RecvMeta {
        let hdr = &self.hdrs[i];
        RecvMeta {
            len: hdr.msg_len as usize,
            addr: decode(&self.addrs[i], hdr.msg_hdr.msg_namelen as usize),
            truncated: hdr.msg_hdr.msg_flags & libc::MSG_TRUNC != 0,
        }
    }

    /// Sends up to `N` of `datagrams` with one `sendmmsg`, each to its address (to the
    /// connected peer for `None`).
    pub(super) fn send<'a>(
        &mut self,
        sock: &mio::net::UdpSocket,
        datagrams: impl Iterator<Item = (&'a [u8], Option<SocketAddr>)>,
    ) -> io::Result<usize> {
        let mut k = 0;
        for (buf, to) in datagrams.take(N.min(libc::c_uint::MAX as usize)) {
            let name_len = match to {
                Some(to) => encode(&mut self.addrs[k], to),
                None => 0,
            };
            // `sendmmsg` only reads the buffer: the `*mut` is the type `iovec` shares
            // with receiving.
            self.prepare(k, buf.as_ptr().cast_mut().cast(), buf.len(), name_len);
            k += 1;
        }
        if k == 0 {
            return Ok(0);
        }
        // SAFETY: the descriptor is the live socket `sock` borrows. Rule 1: the `k`
        // headers were just pointed at this store's `iovec`s and addresses (encoded above,
        // `name_len` bytes each) and at the datagrams, which the iterator's items borrow
        // until the call returns; the kernel only reads all of them. Rule 2: `k <= N`.
        let n = unsafe {
            libc::sendmmsg(
                sock.as_raw_fd(),
                self.hdrs.as_mut_ptr(),
                k as libc::c_uint,
                0,
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(n as usize)
    }
}

/// Writes `addr` into `slot`; returns how many bytes of it the kernel is to read.
fn encode(slot: &mut SockAddr, addr: SocketAddr) -> usize {
    match addr {
        SocketAddr::V4(a) => {
            slot.v4 = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: a.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(a.ip().octets()),
                },
                sin_zero: [0; 8],
            };
            size_of::<libc::sockaddr_in>()
        }
        SocketAddr::V6(a) => {
            slot.v6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: a.port().to_be(),
                sin6_flowinfo: a.flowinfo(),
                sin6_addr: libc::in6_addr {
                    s6_addr: a.ip().octets(),
                },
                sin6_scope_id: a.scope_id(),
            };
            size_of::<libc::sockaddr_in6>()
        }
    }
}

/// The address the kernel wrote into `slot` (`len` bytes of it). A UDP socket over IP
/// always gets an IPv4 or IPv6 address; anything else reads as `0.0.0.0:0`.
fn decode(slot: &SockAddr, len: usize) -> SocketAddr {
    // SAFETY: rule 3: both variants are plain-integer C structs, so reading either from
    // the slot's bytes (zeroed, or written by the kernel) gives a valid value; the family
    // field, first in both, tells which one the kernel wrote, and `len` that it wrote all
    // of it.
    let (v4, v6) = unsafe { (slot.v4, slot.v6) };
    match i32::from(v4.sin_family) {
        libc::AF_INET if len >= size_of::<libc::sockaddr_in>() => SocketAddrV4::new(
            Ipv4Addr::from(v4.sin_addr.s_addr.to_ne_bytes()),
            u16::from_be(v4.sin_port),
        )
        .into(),
        libc::AF_INET6 if len >= size_of::<libc::sockaddr_in6>() => SocketAddrV6::new(
            Ipv6Addr::from(v6.sin6_addr.s6_addr),
            u16::from_be(v6.sin6_port),
            v6.sin6_flowinfo,
            v6.sin6_scope_id,
        )
        .into(),
        _ => RecvMeta::EMPTY.addr,
    }
}
