//! I/O: tokio's traits and toolbox, and the reactor behind the sockets.
//!
//! - The traits take tokio's exact shapes, so code written against `tokio::io` compiles
//!   with the import renamed: [`AsyncRead`] (`poll_read` into a [`ReadBuf`]),
//!   [`AsyncWrite`] (`poll_write`, `poll_write_vectored`, `is_write_vectored`,
//!   `poll_flush`, `poll_shutdown`), [`AsyncBufRead`], [`AsyncSeek`]. They are implemented
//!   for `&[u8]`, `io::Cursor`, `Vec<u8>`, `Box<T>`, `Pin<P>` and `&mut T` as in tokio.
//! - The extension traits ([`AsyncReadExt`], [`AsyncWriteExt`]) give the `async` methods.
//! - [`Interest`] and [`Ready`]: what a socket's `ready` call waits for and finds.
//! - `reactor` (crate-private) drives mio and wakes the tasks waiting on sockets.
//!
//! Layering: this module imports nothing from `net/` (which implements these traits) nor
//! from the executor.

mod async_buf_read;
mod async_read;
mod async_seek;
mod async_write;
mod interest;
pub(crate) mod reactor;
mod read_buf;
mod scheduled_io;
mod util;

pub(crate) use scheduled_io::Direction;

pub use async_buf_read::AsyncBufRead;
pub use async_read::AsyncRead;
pub use async_seek::AsyncSeek;
pub use async_write::AsyncWrite;
pub use interest::{Interest, Ready};
pub use read_buf::ReadBuf;
pub use std::io::{Error, ErrorKind, Result};
pub use util::{AsyncReadExt, AsyncWriteExt};
