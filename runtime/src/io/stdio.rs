//! [`stdin`], [`stdout`], [`stderr`]: the process's standard streams, read and written on the
//! runtime's blocking pool (`crate::blocking`), as tokio's are: the terminal or pipe behind
//! them cannot be made non-blocking safely (other code shares the descriptor).
//!
//! Each stream is a `Blocking<T>`: the std handle and a byte buffer, owned either by the
//! stream (`Idle`) or by the one blocking job running on them (`Busy`). Invariants:
//! - at most one job per stream is in flight; a poll that finds one waits for it first;
//! - a write copies (up to 2 MiB of) the caller's bytes into the buffer, starts the job and
//!   returns at once: the bytes are *accepted*, and an error of that write is reported by
//!   the next write or flush (as tokio's). `flush` waits for the job, then flushes the std
//!   handle on the pool;
//! - a read starts a job that reads into the buffer, then hands the bytes out; what the
//!   caller's `ReadBuf` could not take stays buffered for the next read. A read in flight
//!   cannot be cancelled: dropping `Stdin` leaves the job to finish, and the runtime's drop
//!   waits for it (tokio's behaviour; see its docs on `stdin`);
//! - a job that panicked or was cancelled (the runtime shut down) loses the handle: every
//!   later call fails with an error saying so; with the current runtime shut down, a call
//!   that would start a job fails at once with the shutdown error (tokio's), keeping the
//!   handle.
//!
//! Allocation: the buffer grows to the largest operation and is reused; each operation
//! costs the one allocation of `spawn_blocking`.

use std::io::{self, Read, Write};
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use crate::blocking::{BlockingJoinHandle, spawn_blocking};
use crate::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The most one operation moves (tokio's figure).
const MAX_BUF: usize = 2 * 1024 * 1024;

/// The buffer: `bytes[pos..]` is what a read produced and was not yet handed out.
#[derive(Default)]
struct Buf {
    bytes: Vec<u8>,
    pos: usize,
}

type Done<T> = (T, Buf, io::Result<usize>);

enum State<T> {
    /// The handle and buffer are here; `None` once a job lost them.
    Idle(Option<(T, Buf)>),
    Busy(BlockingJoinHandle<Done<T>>),
}

struct Blocking<T> {
    state: State<T>,
    need_flush: bool,
}

fn lost() -> io::Error {
    io::Error::other(
        "tickslab: a standard stream's blocking job panicked or was cancelled (the runtime \
         shut down): the stream is gone",
    )
}

impl<T: Send + 'static> Blocking<T> {
    fn new(io: T) -> Self {
        Blocking {
            state: State::Idle(Some((io, Buf::default()))),
            need_flush: false,
        }
    }

    /// Waits for the job in flight, if any; returns its result (`None` when none was).
    fn poll_idle(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<Option<usize>>> {
        if let State::Busy(job) = &mut self.state {
            let done = ready!(Pin::new(job).poll(cx));
            let (io, buf, res) = match done {
                Ok(done) => done,
                Err(_) => {
                    self.state = State::Idle(None);
                    return Poll::Ready(Err(lost()));
                }
            };
            self.state = State::Idle(Some((io, buf)));
            return Poll::Ready(res.map(Some));
        }
        Poll::Ready(Ok(None))
    }

    /// The handle and buffer, for a job about to start; tokio's shutdown error (nothing
    /// taken) once the current runtime has shut down.
    ///
    /// # Panics
    /// Outside a runtime, with tokio's message (before anything is taken).
    fn take(&mut self) -> io::Result<(T, Buf)> {
        match crate::blocking::current_pool() {
            None => crate::io::reactor::no_reactor(),
            Some(pool) if pool.is_shut_down() => {
                return Err(crate::io::shut_down_error(
                    "this stream's blocking pool belongs",
                ));
            }
            Some(_) => {}
        }
        match &mut self.state {
            State::Idle(slot) => slot.take().ok_or_else(lost),
            State::Busy(_) => unreachable!("poll_idle ran first"),
        }
    }

    /// Starts `job` (made of what `take` returned) on the current runtime's blocking pool.
    fn start(&mut self, job: impl FnOnce() -> Done<T> + Send + 'static) {
        self.state = State::Busy(spawn_blocking(job));
    }
}

impl<T: Read + Send + 'static> Blocking<T> {
    fn poll_read(&mut self, cx: &mut Context<'_>, dst: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        loop {
            let read_now = ready!(self.poll_idle(cx))?.is_some();
            let (io, mut buf) = self.take()?;
            let left = buf.bytes.len() - buf.pos;
            if left > 0 || dst.remaining() == 0 || read_now {
                // Data to hand out, nothing asked, or the job just read: end of stream if
                // it read nothing.
                let n = left.min(dst.remaining());
                dst.put_slice(&buf.bytes[buf.pos..buf.pos + n]);
                buf.pos += n;
                self.state = State::Idle(Some((io, buf)));
                return Poll::Ready(Ok(()));
            }
            let want = dst.remaining().min(MAX_BUF);
            self.start(move || {
                let mut io = io;
                buf.bytes.clear();
                buf.bytes.resize(want, 0);
                buf.pos = 0;
                let res = loop {
                    match io.read(&mut buf.bytes) {
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        res => break res,
                    }
                };
                buf.bytes.truncate(*res.as_ref().unwrap_or(&0));
                (io, buf, res)
            });
        }
    }
}

impl<T: Write + Send + 'static> Blocking<T> {
    fn poll_write(&mut self, cx: &mut Context<'_>, src: &[u8]) -> Poll<io::Result<usize>> {
        ready!(self.poll_idle(cx))?;
        let (io, mut buf) = self.take()?;
        let n = src.len().min(MAX_BUF);
        buf.bytes.clear();
        buf.bytes.extend_from_slice(&src[..n]);
        self.start(move || {
            let mut io = io;
            let res = io.write_all(&buf.bytes).map(|()| n);
            (io, buf, res)
        });
        self.need_flush = true;
        Poll::Ready(Ok(n))
    }

    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            ready!(self.poll_idle(cx))?;
            if !self.need_flush {
                return Poll::Ready(Ok(()));
            }
            self.need_flush = false;
            let (io, buf) = self.take()?;
            self.start(move || {
                let mut io = io;
                let res = io.flush().map(|()| 0);
                (io, buf, res)
            });
        }
    }
}

macro_rules! stdio_writer {
    ($ty:ident, $ctor:ident, $std:ident, $what:literal) => {
        #[doc = concat!("The process's ", $what, ", written on the blocking pool: [`", stringify!($ctor), "`].")]
        ///
        /// A write accepts the bytes at once and writes them on a blocking thread; its error,
        /// if any, comes from the next write or flush. Flush before the program ends, or what
        /// is in flight may be lost (as with tokio's).
        pub struct $ty {
            inner: Blocking<io::$std>,
        }

        #[doc = concat!("A handle to the process's ", $what, ", as tokio's `io::", stringify!($ctor), "()`.")]
        ///
        /// Writing needs a tickslab runtime (it runs on the runtime's blocking pool).
        pub fn $ctor() -> $ty {
            $ty {
                inner: Blocking::new(io::$ctor()),
            }
        }

        impl AsyncWrite for $ty {
            fn poll_write(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<io::Result<usize>> {
                self.get_mut().inner.poll_write(cx, buf)
            }

            fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                self.get_mut().inner.poll_flush(cx)
            }

            fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                self.get_mut().inner.poll_flush(cx)
            }
        }

        impl futures_io::AsyncWrite for $ty {
            fn poll_write(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<io::Result<usize>> {
                self.get_mut().inner.poll_write(cx, buf)
            }

            fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                self.get_mut().inner.poll_flush(cx)
            }

            fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                self.get_mut().inner.poll_flush(cx)
            }
        }

        #[cfg(unix)]
        impl std::os::fd::AsRawFd for $ty {
            fn as_raw_fd(&self) -> std::os::fd::RawFd {
                io::$ctor().as_raw_fd()
            }
        }

        impl std::fmt::Debug for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($ty)).finish_non_exhaustive()
            }
        }
    };
}

stdio_writer!(Stdout, stdout, Stdout, "standard output");
stdio_writer!(Stderr, stderr, Stderr, "standard error");

/// The process's standard input, read on the blocking pool: [`stdin`].
///
/// A read in flight cannot be cancelled: it ends when input comes, and the runtime's drop
/// waits for it (tokio's behaviour). For interactive input, read it on a thread of your
/// own and send lines over a channel.
pub struct Stdin {
    inner: Blocking<io::Stdin>,
}

/// A handle to the process's standard input, as tokio's `io::stdin()`.
///
/// Reading needs a tickslab runtime (it runs on the runtime's blocking pool).
pub fn stdin() -> Stdin {
    Stdin {
        inner: Blocking::new(io::stdin()),
    }
}

impl AsyncRead for Stdin {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.get_mut().inner.poll_read(cx, buf)
    }
}

impl futures_io::AsyncRead for Stdin {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        super::util::poll_read_slice(self, cx, buf)
    }
}

#[cfg(unix)]
impl std::os::fd::AsRawFd for Stdin {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        io::stdin().as_raw_fd()
    }
}

impl std::fmt::Debug for Stdin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stdin").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    //! The blocking machinery over stand-in handles (the real standard streams are the
    //! test harness's).
    use std::future::poll_fn;
    use std::sync::{Arc, Mutex};

    use super::*;

    /// A writer into a shared vector, failing or panicking on demand.
    #[derive(Clone, Default)]
    struct Shared {
        out: Arc<Mutex<Vec<u8>>>,
        fail: bool,
        panic: bool,
    }

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            assert!(!self.panic, "a writer that panics");
            if self.fail {
                return Err(io::ErrorKind::BrokenPipe.into());
            }
            self.out.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn reads_keep_what_the_caller_could_not_take_and_report_the_end() {
        let rt = crate::Runtime::new().unwrap();
        rt.block_on(async {
            let mut b = Blocking::new(io::Cursor::new(b"hello".to_vec()));
            let mut got = Vec::new();
            loop {
                let mut store = [0u8; 2];
                let mut rb = ReadBuf::new(&mut store);
                poll_fn(|cx| b.poll_read(cx, &mut rb)).await.unwrap();
                if rb.filled().is_empty() {
                    break;
                }
                got.extend_from_slice(rb.filled());
            }
            assert_eq!(got, b"hello");
        });
    }

    #[test]
    fn writes_land_by_the_flush_and_errors_come_with_the_next_call() {
        let rt = crate::Runtime::new().unwrap();
        rt.block_on(async {
            let w = Shared::default();
            let mut b = Blocking::new(w.clone());
            assert_eq!(poll_fn(|cx| b.poll_write(cx, b"ab")).await.unwrap(), 2);
            assert_eq!(poll_fn(|cx| b.poll_write(cx, b"cd")).await.unwrap(), 2);
            poll_fn(|cx| b.poll_flush(cx)).await.unwrap();
            assert_eq!(*w.out.lock().unwrap(), b"abcd");

            let mut b = Blocking::new(Shared {
                fail: true,
                ..Shared::default()
            });
            assert_eq!(poll_fn(|cx| b.poll_write(cx, b"x")).await.unwrap(), 1);
            let e = poll_fn(|cx| b.poll_flush(cx)).await.unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::BrokenPipe);
        });
    }

    #[test]
    fn a_job_that_panics_loses_the_stream_with_a_clear_error() {
        let rt = crate::Runtime::new().unwrap();
        rt.block_on(async {
            let mut b = Blocking::new(Shared {
                panic: true,
                ..Shared::default()
            });
            assert_eq!(poll_fn(|cx| b.poll_write(cx, b"x")).await.unwrap(), 1);
            let e = poll_fn(|cx| b.poll_flush(cx)).await.unwrap_err();
            assert!(e.to_string().contains("the stream is gone"), "{e}");
            let e = poll_fn(|cx| b.poll_write(cx, b"y")).await.unwrap_err();
            assert!(e.to_string().contains("the stream is gone"), "{e}");
        });
    }

    #[test]
    #[should_panic(expected = "there is no reactor running")]
    fn writing_outside_a_runtime_panics_with_tokio_s_message() {
        let mut b = Blocking::new(Shared::default());
        let waker = std::task::Waker::noop();
        let _ = b.poll_write(&mut Context::from_waker(waker), b"x");
    }

    #[test]
    fn the_real_streams_write_and_flush() {
        let rt = crate::Runtime::new().unwrap();
        rt.block_on(async {
            use crate::io::AsyncWriteExt;
            let mut err = stderr();
            err.write_all(b"").await.unwrap();
            err.flush().await.unwrap();
            let mut out = stdout();
            out.write_all(b"tickslab stdout test\n").await.unwrap();
            out.flush().await.unwrap();
        });
    }
}
