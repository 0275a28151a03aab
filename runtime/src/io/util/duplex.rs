//! [`duplex`]: an in-memory byte stream pair, as tokio's `io::duplex`.
//!
//! Each direction is a [`Pipe`]: a ring buffer of at most `max` bytes, allocated once
//! when the pair is made (no allocation per read or write), a waker slot for its reader
//! and one for its writer, and a `closed` flag. Each pipe sits behind a small lock
//! (`lock.rs`) in an `Arc`, so the ends are `Send + Sync` as tokio's are: one end may be
//! handed to another thread's runtime. An end's operation locks one pipe at a time.
//!
//! Closing: `shutdown` (or dropping an end) closes the pipe it writes to: the peer reads
//! what is left, then end of stream. Dropping an end also closes the pipe it reads from:
//! the peer's writes then fail with `BrokenPipe`. Wakers are taken out of the pipe and
//! woken after its lock is released, so a waker that runs user code cannot meet a locked pipe.

use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use super::lock::Lock;

use crate::io::{AsyncRead, AsyncWrite, ReadBuf};

/// One direction of a duplex pair.
#[derive(Debug)]
struct Pipe {
    buf: VecDeque<u8>,
    max: usize,
    closed: bool,
    read_waker: Option<Waker>,
    write_waker: Option<Waker>,
}

impl Pipe {
    fn new(max: usize) -> Arc<Lock<Pipe>> {
        Arc::new(Lock::new(Pipe {
            buf: VecDeque::with_capacity(max),
            max,
            closed: false,
            read_waker: None,
            write_waker: None,
        }))
    }
}

/// Stores the task's waker; returns the one it replaced, for the caller to drop once the
/// pipe is unlocked (dropping a waker may run user code that reaches this pipe).
#[must_use]
fn store(slot: &mut Option<Waker>, cx: &Context<'_>) -> Option<Waker> {
    match slot {
        Some(w) if w.will_wake(cx.waker()) => None,
        _ => slot.replace(cx.waker().clone()),
    }
}

fn wake(w: Option<Waker>) {
    if let Some(w) = w {
        w.wake();
    }
}

/// One end of an in-memory stream pair: [`duplex`]. What one end writes, the other reads.
#[derive(Debug)]
pub struct DuplexStream {
    read: Arc<Lock<Pipe>>,
    write: Arc<Lock<Pipe>>,
}

/// Two connected in-memory streams, each buffering up to `max_buf_size` bytes for its
/// peer (a writer waits when the peer's buffer is full), as tokio's `io::duplex`. Both
/// buffers are allocated here; reads and writes allocate nothing.
///
/// # Panics
///
/// If `max_buf_size` is 0 (nothing could ever be written), at the caller.
#[track_caller]
pub fn duplex(max_buf_size: usize) -> (DuplexStream, DuplexStream) {
    assert!(max_buf_size > 0, "tickslab: duplex buffer size must be > 0");
    let one = Pipe::new(max_buf_size);
    let two = Pipe::new(max_buf_size);
    (
        DuplexStream {
            read: one.clone(),
            write: two.clone(),
        },
        DuplexStream {
            read: two,
            write: one,
        },
    )
}

impl AsyncRead for DuplexStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        crate::coop::poll_budgeted(cx, |cx| self.read_now(cx, buf))
    }
}

impl DuplexStream {
    fn read_now(&self, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let waker = {
            let mut p = self.read.lock();
            if p.buf.is_empty() {
                if p.closed || buf.remaining() == 0 {
                    return Poll::Ready(Ok(()));
                }
                let replaced = store(&mut p.read_waker, cx);
                drop(p);
                drop(replaced);
                return Poll::Pending;
            }
            let n = p.buf.len().min(buf.remaining());
            let (a, b) = p.buf.as_slices();
            let from_a = n.min(a.len());
            buf.put_slice(&a[..from_a]);
            buf.put_slice(&b[..n - from_a]);
            p.buf.drain(..n);
            p.write_waker.take()
        };
        wake(waker);
        Poll::Ready(Ok(()))
    }
}

impl DuplexStream {
    /// Writes as much of `bufs`, in order, as the peer's buffer has room for.
    fn write_now(&self, cx: &mut Context<'_>, bufs: &[&[u8]]) -> Poll<io::Result<usize>> {
        let (n, waker) = {
            let mut p = self.write.lock();
            if p.closed {
                return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
            }
            let mut room = p.max - p.buf.len();
            if room == 0 && bufs.iter().any(|b| !b.is_empty()) {
                let replaced = store(&mut p.write_waker, cx);
                drop(p);
                drop(replaced);
                return Poll::Pending;
            }
            let mut n = 0;
            for b in bufs {
                let take = room.min(b.len());
                p.buf.extend(&b[..take]);
                (n, room) = (n + take, room - take);
                if room == 0 {
                    break;
                }
            }
            (n, p.read_waker.take())
        };
        wake(waker);
        Poll::Ready(Ok(n))
    }
}

impl AsyncWrite for DuplexStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        crate::coop::poll_budgeted(cx, |cx| self.write_now(cx, &[buf]))
    }

    /// Writes as much of `bufs`, in order, as the peer's buffer has room for.
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        crate::coop::poll_budgeted(cx, |cx| {
            // At most 64 slices at once (the rest waits for the next call): no allocation.
            let mut slices: [&[u8]; 64] = [&[]; 64];
            let k = bufs.len().min(64);
            for (s, b) in slices.iter_mut().zip(&bufs[..k]) {
                *s = b;
            }
            self.write_now(cx, &slices[..k])
        })
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    /// Closes this end's writing direction: the peer reads what is left, then end of
    /// stream.
    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let waker = {
            let mut p = self.write.lock();
            p.closed = true;
            p.read_waker.take()
        };
        wake(waker);
        Poll::Ready(Ok(()))
    }
}

impl Drop for DuplexStream {
    fn drop(&mut self) {
        let to_peer_reader = {
            let mut p = self.write.lock();
            p.closed = true;
            p.read_waker.take()
        };
        let to_peer_writer = {
            let mut p = self.read.lock();
            p.closed = true;
            p.write_waker.take()
        };
        // Both pipes are closed before any user code (a waker) runs.
        wake(to_peer_reader);
        wake(to_peer_writer);
    }
}

impl futures_io::AsyncRead for DuplexStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        super::read::poll_read_slice(self, cx, buf)
    }
}

impl futures_io::AsyncWrite for DuplexStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        AsyncWrite::poll_write(self, cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        AsyncWrite::poll_flush(self, cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        AsyncWrite::poll_shutdown(self, cx)
    }
}
