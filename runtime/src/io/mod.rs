//! I/O: tokio's traits and toolbox, and the reactor behind the sockets.
//!
//! - The traits take tokio's exact shapes, so code written against `tokio::io` compiles
//!   with the import renamed: [`AsyncRead`] (`poll_read` into a [`ReadBuf`]),
//!   [`AsyncWrite`] (`poll_write`, `poll_write_vectored`, `is_write_vectored`,
//!   `poll_flush`, `poll_shutdown`), [`AsyncBufRead`], [`AsyncSeek`]. They are implemented
//!   for `&[u8]`, `io::Cursor`, `Vec<u8>`, `Box<T>`, `Pin<P>` and `&mut T` as in tokio.
//! - The toolbox, with tokio's names and semantics: the extension traits
//!   ([`AsyncReadExt`]: `read_exact`, `read_u32`, `read_to_end`, ...; [`AsyncWriteExt`],
//!   [`AsyncBufReadExt`]: `read_line`, `lines`, ...; [`AsyncSeekExt`]), [`BufReader`],
//!   [`BufWriter`], [`BufStream`], [`copy`], [`copy_buf`], [`copy_bidirectional`],
//!   [`split`], [`duplex`], [`simplex`], [`empty`], [`sink`], [`repeat`]. None allocates per call once
//!   warm: buffered wrappers allocate their buffer when made, `copy` reuses per-thread
//!   buffers, `read_to_end` grows the caller's vector only when it is full.
//! - futures-io: tickslab's I/O types (sockets, [`BufReader`], [`BufWriter`],
//!   [`BufStream`], [`DuplexStream`]) also implement `futures_io::AsyncRead` /
//!   `AsyncWrite` (`AsyncBufRead` for the buffered readers), natively.
//! - [`stdin`], [`stdout`], [`stderr`]: the standard streams, on the blocking pool.
//! - [`Interest`] and [`Ready`]: what a socket's `ready` call waits for and finds.
//! - [`unix::AsyncFd`]: any file descriptor on the reactor, with tokio's guard protocol.
//! - `reactor` (crate-private) drives mio and wakes the tasks waiting on sockets.
//!
//! Layering: this module imports nothing from `net/` (which implements these traits) nor
//! from the executor.

mod async_buf_read;
#[cfg(unix)]
mod async_fd;
mod async_read;
mod async_seek;
mod async_write;
pub(crate) mod events;
mod interest;
pub(crate) mod loopback;
pub(crate) mod reactor;
mod read_buf;
mod scheduled_io;
mod shutdown_err;
mod stdio;
mod util;

pub(crate) use scheduled_io::Direction;
pub use shutdown_err::is_rt_shutdown_err;
pub(crate) use shutdown_err::{shut_down_error, shut_down_error_tokio};

/// The reactor's readiness bits, for `net` (`Evented::assume_ready`).
pub(crate) mod scheduled_io_bits {
    pub(crate) use super::scheduled_io::{READABLE, WRITABLE};
}

/// Unix-only I/O, as tokio's `io::unix`: [`AsyncFd`](unix::AsyncFd), any file descriptor
/// driven by the runtime's reactor.
#[cfg(unix)]
pub mod unix {
    pub use super::async_fd::{
        AsyncFd, AsyncFdReadyGuard, AsyncFdReadyMutGuard, AsyncFdRegisterError, AsyncFdTryNewError,
        TryIoError,
    };
}

pub use async_buf_read::AsyncBufRead;
pub use async_read::AsyncRead;
pub use async_seek::AsyncSeek;
pub use async_write::AsyncWrite;
pub use interest::{Interest, Ready};
pub use read_buf::ReadBuf;
pub use std::io::{Error, ErrorKind, Result, SeekFrom};
pub use stdio::{Stderr, Stdin, Stdout, stderr, stdin, stdout};
pub use util::{
    AsyncBufReadExt, AsyncReadExt, AsyncSeekExt, AsyncWriteExt, BufReader, BufStream, BufWriter,
    COPY_BUFFER_SPARES, Chain, DuplexStream, Empty, Join, Lines, Read, ReadExact, ReadHalf, Repeat,
    SimplexStream, Sink, Split, Take, Write, WriteAll, WriteHalf, copy, copy_bidirectional,
    copy_bidirectional_with_sizes, copy_buf, duplex, empty, join, repeat, simplex, sink, split,
};
