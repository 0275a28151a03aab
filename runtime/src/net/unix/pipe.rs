//! Unix pipes and FIFOs, as tokio's `net::unix::pipe`: [`pipe`] (an anonymous pair),
//! [`OpenOptions`] (a named FIFO), [`Sender`] and [`Receiver`] (from a `File` or an
//! `OwnedFd` too), on mio's pipe types and the runtime's reactor like every socket.
//!
//! Invariants: a `Sender` / `Receiver` holds a non-blocking descriptor registered for its one
//! direction (writing / reading); the checked constructors refuse what is not a FIFO
//! (`InvalidInput`) and a descriptor opened without the needed access (`InvalidInput`), as
//! tokio's. `into_blocking_fd` / `into_nonblocking_fd` give back a duplicate of the
//! descriptor (the original leaves the reactor and is closed), in the blocking mode asked
//! for (the mode is the open file's: the original is closed right after).

use std::fs::File;
use std::io::{self, IoSlice, IoSliceMut, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::io::{AsyncRead, AsyncWrite, Direction, Interest, ReadBuf, Ready};
use crate::net::buf_mut::read_into;
use crate::net::evented::Evented;

/// An anonymous pipe: what the [`Sender`] writes, the [`Receiver`] reads (tokio's
/// `pipe::pipe`).
///
/// # Panics
/// Outside a runtime, as every socket.
#[track_caller]
pub fn pipe() -> io::Result<(Sender, Receiver)> {
    let (tx, rx) = mio::unix::pipe::new()?;
    Ok((
        Sender {
            io: Evented::new(tx)?,
        },
        Receiver {
            io: Evented::new(rx)?,
        },
    ))
}

/// Opens a named FIFO's end, as tokio's `pipe::OpenOptions`.
#[derive(Clone, Debug, Default)]
pub struct OpenOptions {
    read_write: bool,
    unchecked: bool,
}

impl OpenOptions {
    /// Default options: the end opened for its own direction only, checked to be a FIFO.
    pub fn new() -> OpenOptions {
        OpenOptions::default()
    }

    /// Opens for reading and writing (Linux: a sender opened this way does not fail when no
    /// reader is there, and a receiver never sees end of stream).
    pub fn read_write(&mut self, value: bool) -> &mut Self {
        self.read_write = value;
        self
    }

    /// Skips the check that the path is a FIFO.
    pub fn unchecked(&mut self, value: bool) -> &mut Self {
        self.unchecked = value;
        self
    }

    /// Opens `path`'s reading end.
    ///
    /// # Errors
    /// As `open(2)`; `InvalidInput` if it is not a FIFO (unless unchecked).
    #[track_caller]
    pub fn open_receiver<P: AsRef<Path>>(&self, path: P) -> io::Result<Receiver> {
        let file = self.open(path.as_ref(), true)?;
        Receiver::from_file_checked(file, self.unchecked, false)
    }

    /// Opens `path`'s writing end: `ENXIO` (an `io::Error`) if no reader has it open,
    /// unless [`read_write`](Self::read_write).
    ///
    /// # Errors
    /// As `open(2)`; `InvalidInput` if it is not a FIFO (unless unchecked).
    #[track_caller]
    pub fn open_sender<P: AsRef<Path>>(&self, path: P) -> io::Result<Sender> {
        let file = self.open(path.as_ref(), false)?;
        Sender::from_file_checked(file, self.unchecked, false)
    }

    fn open(&self, path: &Path, read: bool) -> io::Result<File> {
        std::fs::OpenOptions::new()
            .read(read || self.read_write)
            .write(!read || self.read_write)
            .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
            .open(path)
    }
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, what.to_owned())
}

/// Refuses what is not a FIFO, and (when checking access) a descriptor that cannot go the
/// needed way; sets non-blocking mode.
fn check(file: &File, unchecked: bool, access: Option<bool>) -> io::Result<()> {
    if !unchecked && !file.metadata()?.file_type().is_fifo() {
        return Err(invalid("not a pipe"));
    }
    if let Some(write) = access {
        let mode = access_mode(file)?;
        let ok = mode == libc::O_RDWR
            || mode
                == if write {
                    libc::O_WRONLY
                } else {
                    libc::O_RDONLY
                };
        if !ok {
            return Err(invalid(if write {
                "not in O_WRONLY or O_RDWR access mode"
            } else {
                "not in O_RDONLY or O_RDWR access mode"
            }));
        }
    }
    Ok(())
}

/// The descriptor's access mode (`O_RDONLY`, `O_WRONLY` or `O_RDWR`).
fn access_mode(fd: &impl AsRawFd) -> io::Result<libc::c_int> {
    // SAFETY: `F_GETFL` takes no argument and reads only the descriptor's flags; the
    // descriptor is borrowed from a live file.
    let flags = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) };
    if flags < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(flags & libc::O_ACCMODE)
}

/// A duplicate of `fd` in the blocking mode asked for.
fn dup_with_mode(fd: BorrowedFd<'_>, nonblocking: bool) -> io::Result<OwnedFd> {
    let owned = fd.try_clone_to_owned()?;
    let file = File::from(owned);
    // The flag belongs to the open file, shared by both descriptors: the original is
    // closed right after this.
    let sender = mio::unix::pipe::Sender::from(OwnedFd::from(file));
    sender.set_nonblocking(nonblocking)?;
    Ok(OwnedFd::from(sender))
}

/// A pipe's writing end, as tokio's `pipe::Sender`: `AsyncWrite`, `try_write`, readiness.
pub struct Sender {
    io: Evented<mio::unix::pipe::Sender>,
}

/// A pipe's reading end, as tokio's `pipe::Receiver`: `AsyncRead`, `try_read`, readiness.
pub struct Receiver {
    io: Evented<mio::unix::pipe::Receiver>,
}

macro_rules! common {
    ($ty:ident, $mio:ty, $write:expr) => {
        impl $ty {
            #[track_caller]
            fn from_file_checked(file: File, unchecked: bool, access: bool) -> io::Result<$ty> {
                check(&file, unchecked, access.then_some($write))?;
                let end = <$mio>::from(OwnedFd::from(file));
                end.set_nonblocking(true)?;
                Ok($ty {
                    io: Evented::new(end)?,
                })
            }

            /// From an open FIFO `file` (made non-blocking here).
            ///
            /// # Errors
            /// `InvalidInput` if it is not a FIFO or not open for this end's direction.
            #[track_caller]
            pub fn from_file(file: File) -> io::Result<$ty> {
                $ty::from_file_checked(file, false, true)
            }

            /// From an open `file`, unchecked (made non-blocking here).
            #[track_caller]
            pub fn from_file_unchecked(file: File) -> io::Result<$ty> {
                $ty::from_file_checked(file, true, false)
            }

            /// From an owned descriptor of a FIFO, as [`from_file`](Self::from_file).
            #[track_caller]
            pub fn from_owned_fd(fd: OwnedFd) -> io::Result<$ty> {
                $ty::from_file(File::from(fd))
            }

            /// From an owned descriptor, unchecked.
            #[track_caller]
            pub fn from_owned_fd_unchecked(fd: OwnedFd) -> io::Result<$ty> {
                $ty::from_file_unchecked(File::from(fd))
            }

            /// Waits until `interest` finds the end ready, and says what is.
            pub async fn ready(&self, interest: Interest) -> io::Result<Ready> {
                self.io.ready_for(interest).await
            }

            /// Runs `f` if this end looks ready (writable for a `Sender`, readable for a
            /// `Receiver`); `WouldBlock` otherwise or when `f` says so (which clears the
            /// readiness). As tokio's pipe `try_io`, which takes no `Interest`.
            pub fn try_io<R>(&self, f: impl FnOnce() -> io::Result<R>) -> io::Result<R> {
                let dir = if $write {
                    Direction::Write
                } else {
                    Direction::Read
                };
                self.io.try_io(dir, |_| f())
            }

            /// A blocking descriptor of this end, out of the runtime.
            pub fn into_blocking_fd(self) -> io::Result<OwnedFd> {
                dup_with_mode(self.io.get().as_fd(), false)
            }

            /// A non-blocking descriptor of this end, out of the runtime.
            pub fn into_nonblocking_fd(self) -> io::Result<OwnedFd> {
                dup_with_mode(self.io.get().as_fd(), true)
            }
        }

        impl AsRawFd for $ty {
            fn as_raw_fd(&self) -> RawFd {
                self.io.get().as_raw_fd()
            }
        }

        impl AsFd for $ty {
            fn as_fd(&self) -> BorrowedFd<'_> {
                self.io.get().as_fd()
            }
        }

        impl std::fmt::Debug for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($ty))
                    .field("fd", &self.as_raw_fd())
                    .finish()
            }
        }
    };
}

common!(Sender, mio::unix::pipe::Sender, true);
common!(Receiver, mio::unix::pipe::Receiver, false);

impl Sender {
    /// Waits until the pipe may take bytes.
    pub async fn writable(&self) -> io::Result<()> {
        self.io.ready(Direction::Write).await
    }

    /// Polls for write readiness; `Pending` stores the waker.
    pub fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.io.poll_ready(cx, Direction::Write)
    }

    /// Writes what fits now: `WouldBlock` if nothing does.
    pub fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
        self.io.try_io(Direction::Write, |mut s| s.write(buf))
    }

    /// As [`try_write`](Self::try_write), from several buffers.
    pub fn try_write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.io
            .try_io(Direction::Write, |mut s| s.write_vectored(bufs))
    }
}

impl Receiver {
    /// Waits until the pipe may have bytes (or its end).
    pub async fn readable(&self) -> io::Result<()> {
        self.io.ready(Direction::Read).await
    }

    /// Polls for read readiness; `Pending` stores the waker.
    pub fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.io.poll_ready(cx, Direction::Read)
    }

    /// Reads what is there now: `WouldBlock` if nothing is, `Ok(0)` once every writer is
    /// gone.
    pub fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io.try_io(Direction::Read, |mut s| s.read(buf))
    }

    /// As [`try_read`](Self::try_read), into several buffers.
    pub fn try_read_vectored(&self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        self.io
            .try_io(Direction::Read, |mut s| s.read_vectored(bufs))
    }

    /// As [`try_read`](Self::try_read), into a `BufMut`'s spare room (one copy through a
    /// per-thread scratch buffer, as the sockets' `try_read_buf`).
    pub fn try_read_buf<B: bytes::BufMut>(&self, buf: &mut B) -> io::Result<usize> {
        self.io
            .try_io(Direction::Read, |mut s| {
                read_into(buf, |b| s.read(b).map(|n| (n, ())))
            })
            .map(|(n, ())| n)
    }
}

impl AsyncWrite for Sender {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        self.io.poll_io(cx, Direction::Write, |mut s| s.write(buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.io
            .poll_io(cx, Direction::Write, |mut s| s.write_vectored(bufs))
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl AsyncRead for Receiver {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        let dst = buf.initialize_unfilled();
        let n = std::task::ready!(self.io.poll_io(cx, Direction::Read, |mut s| s.read(dst)))?;
        buf.advance(n);
        Poll::Ready(Ok(()))
    }
}
