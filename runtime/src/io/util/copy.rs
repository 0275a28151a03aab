//! [`copy`], [`copy_buf`] and [`copy_bidirectional`]: pump bytes from readers to writers.
//!
//! `copy` and `copy_bidirectional` move bytes through 8 KiB buffers taken from a
//! per-thread spare list and given back when the copy ends (or is dropped): the first
//! copies on a thread allocate their buffers, later ones reuse them, so a warm thread
//! copies with zero allocations (at most [`SPARES`] buffers are kept). `copy_buf` uses the
//! reader's own buffer and allocates nothing.
//!
//! Invariant of [`Transfer`]: `buf[pos..cap]` was read and not yet written; `amt` counts
//! what was written. A dropped copy loses the bytes in `buf[pos..cap]` (read, not written),
//! as tokio's does: not cancel safe.

use std::cell::RefCell;
use std::future::{Future, poll_fn};
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use super::buf_reader::DEFAULT_BUF_SIZE;
use super::read::poll_read_slice;
use crate::coop::poll_budgeted;
use crate::io::{AsyncBufRead, AsyncRead, AsyncWrite};

/// How many spare copy buffers a thread keeps.
pub const SPARES: usize = 16;

thread_local! {
    static SPARE: RefCell<Vec<Box<[u8]>>> = const { RefCell::new(Vec::new()) };
}

/// A copy buffer, taken from the thread's spare list (or made) when first used, and given
/// back on drop: a copy future that is never polled allocates nothing. Buffers of another
/// size than the default (`copy_bidirectional_with_sizes`) are made and freed, never kept.
pub(super) struct CopyBuf {
    buf: Option<Box<[u8]>>,
    size: usize,
}

impl CopyBuf {
    pub(super) fn new() -> CopyBuf {
        CopyBuf::with_size(DEFAULT_BUF_SIZE)
    }

    pub(super) fn with_size(size: usize) -> CopyBuf {
        CopyBuf { buf: None, size }
    }

    fn get(&mut self) -> &mut [u8] {
        let size = self.size;
        self.buf.get_or_insert_with(|| {
            let spare = if size == DEFAULT_BUF_SIZE {
                SPARE.try_with(|s| s.borrow_mut().pop()).ok().flatten()
            } else {
                None
            };
            spare.unwrap_or_else(|| vec![0; size].into_boxed_slice())
        })
    }
}

impl Drop for CopyBuf {
    fn drop(&mut self) {
        if let Some(buf) = self.buf.take().filter(|b| b.len() == DEFAULT_BUF_SIZE) {
            // At thread exit the list may be gone: then the buffer is simply freed.
            let _ = SPARE.try_with(|s| {
                let mut s = s.borrow_mut();
                if s.len() < SPARES {
                    if s.capacity() == 0 {
                        s.reserve_exact(SPARES);
                    }
                    s.push(buf);
                }
            });
        }
    }
}

/// One direction of a copy.
pub(super) struct Transfer {
    buf: CopyBuf,
    pos: usize,
    cap: usize,
    amt: u64,
    read_done: bool,
    need_flush: bool,
}

impl Transfer {
    pub(super) fn new() -> Transfer {
        Transfer::with_buf(CopyBuf::new())
    }

    pub(super) fn with_buf(buf: CopyBuf) -> Transfer {
        Transfer {
            buf,
            pos: 0,
            cap: 0,
            amt: 0,
            read_done: false,
            need_flush: false,
        }
    }

    /// Copies until the reader's end, then flushes the writer; returns the bytes copied.
    /// Reads and writes that fail with `Interrupted` are retried (as tokio's); a flush's
    /// error is returned.
    pub(super) fn poll_copy<R, W>(
        &mut self,
        cx: &mut Context<'_>,
        mut reader: Pin<&mut R>,
        mut writer: Pin<&mut W>,
    ) -> Poll<io::Result<u64>>
    where
        R: AsyncRead + ?Sized,
        W: AsyncWrite + ?Sized,
    {
        loop {
            if self.pos == self.cap && !self.read_done {
                match poll_read_slice(reader.as_mut(), cx, self.buf.get()) {
                    Poll::Ready(Ok(0)) => self.read_done = true,
                    Poll::Ready(Ok(n)) => {
                        self.pos = 0;
                        self.cap = n;
                    }
                    Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                    Poll::Pending => {
                        // Nothing to read now: let what was written go out meanwhile.
                        if self.need_flush {
                            ready!(writer.as_mut().poll_flush(cx))?;
                            self.need_flush = false;
                        }
                        return Poll::Pending;
                    }
                }
            }
            while self.pos < self.cap {
                let n = match ready!(
                    writer
                        .as_mut()
                        .poll_write(cx, &self.buf.get()[self.pos..self.cap])
                ) {
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    other => other?,
                };
                if n == 0 {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::WriteZero,
                        "write zero byte into writer",
                    )));
                }
                self.pos += n.min(self.cap - self.pos);
                self.amt += n as u64;
                self.need_flush = true;
            }
            if self.read_done {
                ready!(writer.as_mut().poll_flush(cx))?;
                return Poll::Ready(Ok(self.amt));
            }
        }
    }
}

/// Copies everything `reader` yields into `writer`, then flushes it; returns how many
/// bytes were copied. As tokio's `io::copy`: an error from either side ends the copy;
/// while the reader has nothing, the writer is flushed; each completed copy spends one
/// unit of the task's [budget](crate::coop), so a loop of copies between in-memory
/// buffers still yields.
///
/// Allocation: an 8 KiB buffer from the thread's spare list (see the module docs): none
/// once the thread is warm. Not cancel safe: a dropped copy loses what it read and had not
/// yet written.
pub fn copy<'a, R, W>(
    reader: &'a mut R,
    writer: &'a mut W,
) -> impl Future<Output = io::Result<u64>> + 'a
where
    R: AsyncRead + Unpin + ?Sized,
    W: AsyncWrite + Unpin + ?Sized,
{
    let mut t = Transfer::new();
    poll_fn(move |cx| {
        poll_budgeted(cx, |cx| {
            t.poll_copy(cx, Pin::new(&mut *reader), Pin::new(&mut *writer))
        })
    })
}

/// Copies everything a buffered `reader` yields into `writer` through the reader's own
/// buffer, then flushes; returns how many bytes were copied. Allocates nothing. As
/// tokio's: `Interrupted` is retried, the writer is flushed while the reader has nothing,
/// and each completed copy spends one unit of the task's [budget](crate::coop).
///
/// Not cancel safe in the sense that a dropped call's count is lost; no byte is: what was
/// not written is still in the reader's buffer.
pub fn copy_buf<'a, R, W>(
    reader: &'a mut R,
    writer: &'a mut W,
) -> impl Future<Output = io::Result<u64>> + 'a
where
    R: AsyncBufRead + Unpin + ?Sized,
    W: AsyncWrite + Unpin + ?Sized,
{
    let mut amt = 0u64;
    let mut need_flush = false;
    poll_fn(move |cx| {
        poll_budgeted(cx, |cx| {
            poll_copy_buf(cx, &mut *reader, &mut *writer, &mut amt, &mut need_flush)
        })
    })
}

/// One poll of [`copy_buf`]: moves the reader's buffered bytes to the writer until the
/// reader's end, then flushes. Reads and writes that fail with `Interrupted` are retried;
/// while the reader has nothing, what was written is flushed (a reader may wait for it).
fn poll_copy_buf<R, W>(
    cx: &mut Context<'_>,
    reader: &mut R,
    writer: &mut W,
    amt: &mut u64,
    need_flush: &mut bool,
) -> Poll<io::Result<u64>>
where
    R: AsyncBufRead + Unpin + ?Sized,
    W: AsyncWrite + Unpin + ?Sized,
{
    loop {
        let n = {
            let buf = match Pin::new(&mut *reader).poll_fill_buf(cx) {
                Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => continue,
                Poll::Ready(res) => res?,
                Poll::Pending => {
                    if *need_flush {
                        ready!(Pin::new(&mut *writer).poll_flush(cx))?;
                        *need_flush = false;
                    }
                    return Poll::Pending;
                }
            };
            if buf.is_empty() {
                ready!(Pin::new(&mut *writer).poll_flush(cx))?;
                return Poll::Ready(Ok(*amt));
            }
            let n = match ready!(Pin::new(&mut *writer).poll_write(cx, buf)) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                res => res?,
            };
            if n == 0 {
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::WriteZero,
                    "write zero byte into writer",
                )));
            }
            n.min(buf.len())
        };
        Pin::new(&mut *reader).consume(n);
        *amt += n as u64;
        *need_flush = true;
    }
}
