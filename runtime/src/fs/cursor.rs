//! `File`'s cursor: tokio's `AsyncRead` / `AsyncWrite` / `AsyncSeek` (and futures-io's),
//! on top of positional operations at a position the file keeps itself.
//!
//! As in tokio, the file has an internal buffer: a read fills it (up to [`MAX_BUF`], or what
//! `File::set_max_buf_size` set, or the caller's room, whichever is smaller) with one
//! operation and copies out of it; a write
//! copies the caller's bytes into it and writes them. The caller's `&mut [u8]` can never be
//! handed to the kernel, since a poll that returns `Pending` does not keep the borrow. Each
//! underlying operation boxes its future (one allocation, as tokio's per-operation job);
//! [`File::read_at`] and [`File::write_at`] are the allocation-free path.
//!
//! Invariants: `pos` is the logical position (what the caller has read or written up to);
//! `ahead` is the part of `buf` holding the file's bytes from `pos` on (read-ahead), emptied
//! by any write or seek; at most one operation (`busy`) is in flight, and every entry point
//! finishes it before starting another. Unlike tokio's, a write completes before
//! `poll_write` returns `Ready` (no write-behind), so `poll_flush` has nothing to wait for
//! unless a write was abandoned mid-way.

use std::future::Future;
use std::io::{self, SeekFrom};
use std::ops::Range;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use super::File;
use super::asyncify;
use super::op::{self, OpCell, OpKind};
use crate::io::{AsyncRead, AsyncSeek, AsyncWrite, ReadBuf};

/// The most one cursor operation reads or writes (tokio's default is 2 MiB).
const MAX_BUF: usize = 2 * 1024 * 1024;

/// What a finished cursor operation gives back.
enum Done {
    Read(io::Result<usize>, Vec<u8>),
    Write(io::Result<usize>, Vec<u8>),
    Len(io::Result<u64>),
}

type Busy = Pin<Box<dyn Future<Output = Done>>>;

#[derive(Default)]
pub(crate) struct Cursor {
    pub(super) pos: u64,
    buf: Vec<u8>,
    ahead: Range<usize>,
    busy: Option<Busy>,
    /// A seek relative to the end, waiting for the file's length.
    seek_end: Option<i64>,
    /// futures-io's `poll_seek` started a seek that has not completed.
    seeking: bool,
    /// A read just found the end of the file: the next `poll_read` returns 0 for it.
    at_eof: bool,
    /// `File::set_max_buf_size`'s value; 0: [`MAX_BUF`].
    pub(super) max_buf: usize,
}

impl Cursor {
    /// The most one cursor operation moves (`File::max_buf_size`).
    pub(super) fn max_buf(&self) -> usize {
        if self.max_buf == 0 {
            MAX_BUF
        } else {
            self.max_buf
        }
    }
}

impl File {
    /// Polls the operation in flight, if any, to its end, and applies its result.
    fn poll_busy(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let Some(busy) = self.cursor.busy.as_mut() else {
            return Poll::Ready(Ok(()));
        };
        let done = ready!(busy.as_mut().poll(cx));
        self.cursor.busy = None;
        let c = &mut self.cursor;
        Poll::Ready(match done {
            Done::Read(res, buf) => {
                c.buf = buf;
                res.map(|n| {
                    c.ahead = 0..n;
                    c.at_eof = n == 0;
                })
            }
            Done::Write(res, buf) => {
                c.buf = buf;
                res.map(|n| c.pos += n as u64)
            }
            Done::Len(res) => {
                let delta = c.seek_end.take().unwrap_or(0);
                res.and_then(|len| {
                    c.pos = offset(len, delta)?;
                    Ok(())
                })
            }
        })
    }

    fn start_op(&mut self, kind: OpKind) {
        let driver = self.driver().clone();
        let std = self.std().clone();
        let buf = std::mem::take(&mut self.cursor.buf);
        let pos = self.cursor.pos;
        self.cursor.busy = Some(Box::pin(async move {
            let cell = OpCell::new(kind, &std, Some(super::IoBuf::into_raw(buf)), pos);
            let (res, raw) = op::run(&driver, cell).await;
            let mut raw = raw.expect("cursor operations give their buffer back");
            if kind == OpKind::Read
                && let Ok(n) = res
            {
                raw.set_init(n);
            }
            // SAFETY: `raw` came from `Vec<u8>::into_raw` above; a read only raised its
            // length over bytes it wrote.
            let buf: Vec<u8> = unsafe { super::IoBuf::from_raw(raw) };
            match kind {
                OpKind::Read => Done::Read(res, buf),
                _ => Done::Write(res, buf),
            }
        }));
    }

    pub(super) fn poll_read_priv(
        &mut self,
        cx: &mut Context<'_>,
        dst: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        loop {
            ready!(self.poll_busy(cx))?;
            let c = &mut self.cursor;
            if std::mem::take(&mut c.at_eof) {
                return Poll::Ready(Ok(0));
            }
            if !c.ahead.is_empty() || dst.is_empty() {
                let n = c.ahead.len().min(dst.len()).min(c.max_buf());
                dst[..n].copy_from_slice(&c.buf[c.ahead.start..c.ahead.start + n]);
                c.ahead.start += n;
                c.pos += n as u64;
                return Poll::Ready(Ok(n));
            }
            // Nothing buffered: one read of what the caller has room for.
            let want = dst.len().min(c.max_buf());
            c.buf.clear();
            c.buf.reserve(want);
            c.ahead = 0..0;
            self.start_op(OpKind::Read);
            // The loop polls it: data goes out of `ahead`, the end of file as 0.
        }
    }

    pub(super) fn poll_write_priv(
        &mut self,
        cx: &mut Context<'_>,
        src: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_slices(cx, &[io::IoSlice::new(src)])
    }

    /// Writes as much of `srcs`, in order, as one operation takes (`max_buf_size`), as one
    /// positional write (tokio's `write_vectored` on a file gathers them the same way).
    pub(super) fn poll_write_slices(
        &mut self,
        cx: &mut Context<'_>,
        srcs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if self.cursor.busy.is_none() {
            if srcs.iter().all(|s| s.is_empty()) {
                return Poll::Ready(Ok(0));
            }
            let c = &mut self.cursor;
            // Read-ahead is stale once we write.
            c.ahead = 0..0;
            c.at_eof = false;
            c.buf.clear();
            let mut room = c.max_buf();
            for src in srcs {
                let n = src.len().min(room);
                c.buf.extend_from_slice(&src[..n]);
                room -= n;
                if room == 0 {
                    break;
                }
            }
            self.start_op(OpKind::Write);
        }
        let before = self.cursor.pos;
        ready!(self.poll_busy(cx))?;
        Poll::Ready(Ok((self.cursor.pos - before) as usize))
    }

    pub(super) fn poll_flush_priv(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_busy(cx)
    }

    pub(super) fn start_seek_priv(&mut self, target: SeekFrom) -> io::Result<()> {
        if self.cursor.busy.is_some() {
            return Err(io::Error::other(
                "other file operation is pending, call poll_complete before start_seek",
            ));
        }
        let c = &mut self.cursor;
        // The logical position already accounts for what was handed out of `ahead`.
        c.ahead = 0..0;
        c.at_eof = false;
        match target {
            SeekFrom::Start(n) => c.pos = n,
            SeekFrom::Current(d) => c.pos = offset(c.pos, d)?,
            SeekFrom::End(d) => {
                c.seek_end = Some(d);
                let std = self.std().clone();
                self.cursor.busy = Some(Box::pin(async move {
                    Done::Len(asyncify(move || std.metadata().map(|m| m.len())).await)
                }));
            }
        }
        Ok(())
    }

    pub(super) fn poll_complete_priv(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<u64>> {
        ready!(self.poll_busy(cx))?;
        Poll::Ready(Ok(self.cursor.pos))
    }
}

/// `base + delta`, or `InvalidInput` when that is negative or overflows (as `lseek`).
fn offset(base: u64, delta: i64) -> io::Result<u64> {
    base.checked_add_signed(delta).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "invalid seek to a negative or overflowing position",
        )
    })
}

impl AsyncRead for File {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let n = ready!(this.poll_read_priv(cx, buf.initialize_unfilled()))?;
        buf.advance(n);
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for File {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().poll_write_priv(cx, buf)
    }

    /// Gathers the slices into one write (up to `max_buf_size` bytes).
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().poll_write_slices(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_flush_priv(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_flush_priv(cx)
    }
}

impl AsyncSeek for File {
    fn start_seek(self: Pin<&mut Self>, position: SeekFrom) -> io::Result<()> {
        self.get_mut().start_seek_priv(position)
    }

    fn poll_complete(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<u64>> {
        self.get_mut().poll_complete_priv(cx)
    }
}

impl futures_io::AsyncRead for File {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().poll_read_priv(cx, buf)
    }
}

impl futures_io::AsyncWrite for File {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().poll_write_priv(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_flush_priv(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_flush_priv(cx)
    }
}

impl futures_io::AsyncSeek for File {
    fn poll_seek(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        pos: SeekFrom,
    ) -> Poll<io::Result<u64>> {
        let this = self.get_mut();
        if !this.cursor.seeking {
            this.start_seek_priv(pos)?;
            this.cursor.seeking = true;
        }
        let res = ready!(this.poll_complete_priv(cx));
        this.cursor.seeking = false;
        Poll::Ready(res)
    }
}
