//! `TryFrom` a std socket, as tokio's: the same as each type's `from_std` (the socket is made
//! non-blocking and registered with the current runtime; panics outside one).

use std::io;

use super::{TcpListener, TcpStream, UdpSocket};

macro_rules! try_from_std {
    ($($ours:ty => $std:ty),* $(,)?) => {$(
        impl TryFrom<$std> for $ours {
            type Error = io::Error;

            /// As `from_std`.
            #[track_caller]
            fn try_from(socket: $std) -> io::Result<Self> {
                <$ours>::from_std(socket)
            }
        }
    )*};
}

try_from_std!(
    TcpStream => std::net::TcpStream,
    TcpListener => std::net::TcpListener,
    UdpSocket => std::net::UdpSocket,
);

#[cfg(unix)]
try_from_std!(
    super::UnixStream => std::os::unix::net::UnixStream,
    super::UnixListener => std::os::unix::net::UnixListener,
    super::UnixDatagram => std::os::unix::net::UnixDatagram,
);
