//! futures-io's `AsyncRead` / `AsyncWrite` for the TCP stream and its halves (the macros
//! and what they do: `net/futures_io.rs`).

use super::{OwnedReadHalf, OwnedWriteHalf, ReadHalf, WriteHalf};
use crate::net::TcpStream;
use crate::net::futures_io::{futures_read, futures_write};

futures_read!(TcpStream, |s| s);
futures_read!(ReadHalf<'_>, |s| s.stream());
futures_read!(OwnedReadHalf, |s| s.stream());
futures_write!(TcpStream, |s| s, close: |s| s.shutdown_write());
futures_write!(WriteHalf<'_>, |s| s.stream(), close: |s| s.stream().shutdown_write());
futures_write!(OwnedWriteHalf, |s| s.stream(), close: |s| s.get_mut().close_write());
