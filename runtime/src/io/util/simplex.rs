//! [`simplex`]: an in-memory one-way byte pipe, as tokio's `io::simplex`.
//!
//! A [`SimplexStream`] is one ring buffer of at most `max` bytes (allocated when made) that
//! it both writes into and reads from, with a waker slot for a reader waiting for data and
//! one for a writer waiting for room. [`simplex`] splits it (through [`split`]) into a
//! read half and a write half. Shutting the writer down (or dropping the write half's
//! stream) gives the reader end of stream after what is buffered.

use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use super::split::{ReadHalf, WriteHalf, split};
use crate::io::{AsyncRead, AsyncWrite, ReadBuf};

/// A one-way in-memory pipe: what is written is read back, in order: [`simplex`].
#[derive(Debug)]
pub struct SimplexStream {
    buf: VecDeque<u8>,
    max: usize,
    closed: bool,
    read_waker: Option<Waker>,
    write_waker: Option<Waker>,
}

/// A one-way pipe buffering up to `max_buf_size` bytes, as its two halves (tokio's
/// `io::simplex`). The buffer and the halves' shared cell are allocated here; reads and
/// writes allocate nothing. The halves are `Send + Sync` (see [`split`]).
///
/// # Panics
///
/// If `max_buf_size` is 0, at the caller.
#[track_caller]
pub fn simplex(max_buf_size: usize) -> (ReadHalf<SimplexStream>, WriteHalf<SimplexStream>) {
    split(SimplexStream::new_unsplit(max_buf_size))
}

impl SimplexStream {
    /// A pipe buffering up to `max_buf_size` bytes, not split.
    ///
    /// # Panics
    ///
    /// If `max_buf_size` is 0, at the caller.
    #[track_caller]
    pub fn new_unsplit(max_buf_size: usize) -> SimplexStream {
        assert!(
            max_buf_size > 0,
            "tickslab: simplex buffer size must be > 0"
        );
        SimplexStream {
            buf: VecDeque::with_capacity(max_buf_size),
            max: max_buf_size,
            closed: false,
            read_waker: None,
            write_waker: None,
        }
    }
}

fn store(slot: &mut Option<Waker>, cx: &Context<'_>) {
    match slot {
        Some(w) if w.will_wake(cx.waker()) => {}
        _ => *slot = Some(cx.waker().clone()),
    }
}

impl AsyncRead for SimplexStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let me = self.get_mut();
        if me.buf.is_empty() {
            if !me.closed && buf.remaining() > 0 {
                store(&mut me.read_waker, cx);
                return Poll::Pending;
            }
            return Poll::Ready(Ok(()));
        }
        let n = me.buf.len().min(buf.remaining());
        let (a, b) = me.buf.as_slices();
        let from_a = n.min(a.len());
        buf.put_slice(&a[..from_a]);
        buf.put_slice(&b[..n - from_a]);
        me.buf.drain(..n);
        // A `split` half holds the stream's lock here; tickslab's wakers only queue the
        // task, so the writer runs later, after the lock is released (a foreign waker that
        // polled the other half at once, on this thread, would get the lock's re-entrancy
        // panic, never a deadlock).
        if let Some(w) = me.write_waker.take() {
            w.wake();
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for SimplexStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let me = self.get_mut();
        if me.closed {
            return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
        }
        let room = me.max - me.buf.len();
        if room == 0 && !buf.is_empty() {
            store(&mut me.write_waker, cx);
            return Poll::Pending;
        }
        let n = room.min(buf.len());
        me.buf.extend(&buf[..n]);
        if let Some(w) = me.read_waker.take() {
            w.wake();
        }
        Poll::Ready(Ok(n))
    }

    /// Writes as much of `bufs`, in order, as the buffer has room for.
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let me = self.get_mut();
        if me.closed {
            return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
        }
        let mut room = me.max - me.buf.len();
        if room == 0 && bufs.iter().any(|b| !b.is_empty()) {
            store(&mut me.write_waker, cx);
            return Poll::Pending;
        }
        let mut n = 0;
        for b in bufs {
            let take = room.min(b.len());
            me.buf.extend(&b[..take]);
            (n, room) = (n + take, room - take);
            if room == 0 {
                break;
            }
        }
        if let Some(w) = me.read_waker.take() {
            w.wake();
        }
        Poll::Ready(Ok(n))
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    /// The reader gets end of stream after what is buffered; writing fails after this.
    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let me = self.get_mut();
        me.closed = true;
        if let Some(w) = me.read_waker.take() {
            w.wake();
        }
        Poll::Ready(Ok(()))
    }
}
