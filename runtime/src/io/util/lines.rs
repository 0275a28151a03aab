//! [`Lines`] and [`Split`]: a buffered reader cut into lines or into segments, polled one
//! at a time. Their state lives in the struct, so `next_line` / `next_segment` are cancel
//! safe (a dropped call keeps what it read for the next one). They also implement
//! `futures_core::Stream`.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use futures_core::Stream;
use pin_project_lite::pin_project;

use super::buf_read_ext::poll_read_until;
use crate::io::AsyncBufRead;

pin_project! {
    /// The lines of a buffered reader: [`AsyncBufReadExt::lines`](super::AsyncBufReadExt::lines).
    #[derive(Debug)]
    #[must_use = "streams do nothing unless polled"]
    pub struct Lines<R> {
        #[pin]
        reader: R,
        bytes: Vec<u8>,
        read: usize,
    }
}

impl<R: AsyncBufRead> Lines<R> {
    pub(super) fn new(reader: R) -> Self {
        Lines {
            reader,
            bytes: Vec::new(),
            read: 0,
        }
    }

    /// The next line, without its `\n` or `\r\n`; `None` at end of stream. A line that is
    /// not UTF-8 is an `InvalidData` error whose inner error is the line's
    /// [`FromUtf8Error`](std::string::FromUtf8Error) (its bytes are consumed; the next call
    /// reads the next line).
    ///
    /// Cancel safe: what a dropped call read is kept for the next one.
    pub async fn next_line(&mut self) -> io::Result<Option<String>>
    where
        R: Unpin,
    {
        std::future::poll_fn(|cx| Pin::new(&mut *self).poll_next_line(cx)).await
    }

    /// Polls for the next line (as [`next_line`](Self::next_line)).
    pub fn poll_next_line(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<Option<String>>> {
        let me = self.project();
        let n = ready!(poll_read_until(me.reader, cx, b'\n', me.bytes, me.read))?;
        if n == 0 && me.bytes.is_empty() {
            return Poll::Ready(Ok(None));
        }
        let mut bytes = std::mem::take(me.bytes);
        if bytes.last() == Some(&b'\n') {
            bytes.pop();
            if bytes.last() == Some(&b'\r') {
                bytes.pop();
            }
        }
        // A line that is not UTF-8 is one error (its bytes, in the `FromUtf8Error`, are
        // consumed); the next call reads the next line, as tokio's.
        Poll::Ready(match String::from_utf8(bytes) {
            Ok(line) => Ok(Some(line)),
            Err(e) => Err(io::Error::new(io::ErrorKind::InvalidData, e)),
        })
    }

    /// The reader.
    pub fn get_mut(&mut self) -> &mut R {
        &mut self.reader
    }

    /// The reader, pinned.
    pub fn get_pin_mut(self: Pin<&mut Self>) -> Pin<&mut R> {
        self.project().reader
    }

    /// The reader (a partial line read so far is lost).
    pub fn into_inner(self) -> R {
        self.reader
    }
}

impl<R: AsyncBufRead> Stream for Lines<R> {
    type Item = io::Result<String>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.poll_next_line(cx).map(Result::transpose)
    }
}

pin_project! {
    /// The segments of a buffered reader split on a byte:
    /// [`AsyncBufReadExt::split`](super::AsyncBufReadExt::split).
    #[derive(Debug)]
    #[must_use = "streams do nothing unless polled"]
    pub struct Split<R> {
        #[pin]
        reader: R,
        bytes: Vec<u8>,
        delim: u8,
        read: usize,
    }
}

impl<R: AsyncBufRead> Split<R> {
    pub(super) fn new(reader: R, delim: u8) -> Self {
        Split {
            reader,
            bytes: Vec::new(),
            delim,
            read: 0,
        }
    }

    /// The next segment, without the delimiter; `None` at end of stream.
    ///
    /// Cancel safe: what a dropped call read is kept for the next one.
    pub async fn next_segment(&mut self) -> io::Result<Option<Vec<u8>>>
    where
        R: Unpin,
    {
        std::future::poll_fn(|cx| Pin::new(&mut *self).poll_next_segment(cx)).await
    }

    /// Polls for the next segment (as [`next_segment`](Self::next_segment)).
    pub fn poll_next_segment(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<Option<Vec<u8>>>> {
        let me = self.project();
        let n = ready!(poll_read_until(me.reader, cx, *me.delim, me.bytes, me.read))?;
        if n == 0 && me.bytes.is_empty() {
            return Poll::Ready(Ok(None));
        }
        if me.bytes.last() == Some(me.delim) {
            me.bytes.pop();
        }
        Poll::Ready(Ok(Some(std::mem::take(me.bytes))))
    }
}

impl<R: AsyncBufRead> Stream for Split<R> {
    type Item = io::Result<Vec<u8>>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.poll_next_segment(cx).map(Result::transpose)
    }
}
