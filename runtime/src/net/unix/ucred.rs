//! [`UCred`]: the credentials of a Unix stream's peer, as tokio's `net::unix::UCred`
//! ([`UnixStream::peer_cred`](super::UnixStream::peer_cred)).
//!
//! Linux and Android read them with `getsockopt(SO_PEERCRED)` (the one `unsafe` call here:
//! the kernel writes a `struct ucred` into the value lent to it, at most the length given);
//! other systems report `Unsupported`.

use std::io;
use std::os::fd::AsRawFd;

/// A peer's user id, group id and (where the system says) process id, taken when the
/// connection was made (or the pair created).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct UCred {
    uid: u32,
    gid: u32,
    pid: Option<i32>,
}

impl UCred {
    /// The peer's effective user id.
    pub fn uid(&self) -> u32 {
        self.uid
    }

    /// The peer's effective group id.
    pub fn gid(&self) -> u32 {
        self.gid
    }

    /// The peer's process id, where the system reports it (Linux, Android).
    pub fn pid(&self) -> Option<i32> {
        self.pid
    }
}

/// The credentials of the peer of `socket` (a connected Unix stream).
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(super) fn peer_cred(socket: &impl AsRawFd) -> io::Result<UCred> {
    let mut cred = libc::ucred {
        pid: 0,
        uid: 0,
        gid: 0,
    };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: `cred` and `len` are live locals for the whole call; the kernel writes at most
    // `len` bytes (the size of `cred`) into `cred` and the written length into `len`; the
    // descriptor is borrowed from a live socket.
    let ret = unsafe {
        libc::getsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&raw mut cred).cast(),
            &mut len,
        )
    };
    if ret != 0 {
        return Err(io::Error::last_os_error());
    }
    if len as usize != std::mem::size_of::<libc::ucred>() {
        return Err(io::Error::other("SO_PEERCRED returned a short ucred"));
    }
    Ok(UCred {
        uid: cred.uid,
        gid: cred.gid,
        pid: Some(cred.pid),
    })
}

/// Other systems: not implemented by tickslab.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(super) fn peer_cred(_socket: &impl AsRawFd) -> io::Result<UCred> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "tickslab: UnixStream::peer_cred is implemented on Linux and Android",
    ))
}
