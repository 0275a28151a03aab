//! Unix domain sockets, as tokio's: [`UnixStream`], [`UnixListener`], [`UnixDatagram`],
//! [`UnixSocket`] (configured before it connects or listens), their [`SocketAddr`], and
//! a stream's halves ([`ReadHalf`], [`WriteHalf`], [`OwnedReadHalf`], [`OwnedWriteHalf`]),
//! a peer's credentials ([`UCred`]), and pipes and FIFOs ([`pipe`]).
//!
//! They follow the TCP and UDP types of [`net`](super) in every respect: registered with the
//! runtime current when created (panics outside one, as tokio), `!Send`, nothing allocated
//! per read, write or wait once warm, and an `async` operation dropped while it waits takes its waker
//! with it. A socket file that [`UnixListener::bind`] or [`UnixDatagram::bind`] created is
//! not removed when the socket is dropped (as with std and tokio): remove it yourself
//! before binding the path again.
//!
//! ```
//! use tickslab_runtime::io::{AsyncReadExt, AsyncWriteExt};
//! use tickslab_runtime::net::UnixStream;
//! # tickslab_runtime::Runtime::new().unwrap().block_on(async {
//! let (mut a, mut b) = UnixStream::pair()?;
//! a.write_all(b"ping").await?;
//! let mut buf = [0; 4];
//! b.read_exact(&mut buf).await?;
//! assert_eq!(&buf, b"ping");
//! # Ok::<(), std::io::Error>(())
//! # }).unwrap();
//! ```

mod datagram;
mod futures_io;
mod listener;
pub mod pipe;
mod socket;
mod socketaddr;
mod split;
mod stream;
mod ucred;

pub use datagram::UnixDatagram;
pub use listener::UnixListener;
pub use socket::UnixSocket;
pub use socketaddr::SocketAddr;
pub use split::{OwnedReadHalf, OwnedWriteHalf, ReadHalf, ReuniteError, WriteHalf};
pub use stream::UnixStream;
pub use ucred::UCred;

/// The address of `path`, as tokio reads it: on Linux and Android, a path that starts with a
/// NUL byte names the rest in the abstract namespace (tokio#6767); otherwise a file path.
fn path_addr(path: &std::path::Path) -> std::io::Result<std::os::unix::net::SocketAddr> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        #[cfg(target_os = "android")]
        use std::os::android::net::SocketAddrExt;
        #[cfg(target_os = "linux")]
        use std::os::linux::net::SocketAddrExt;
        use std::os::unix::ffi::OsStrExt;
        if let Some(name) = path.as_os_str().as_bytes().strip_prefix(b"\0") {
            return std::os::unix::net::SocketAddr::from_abstract_name(name);
        }
    }
    std::os::unix::net::SocketAddr::from_pathname(path)
}
