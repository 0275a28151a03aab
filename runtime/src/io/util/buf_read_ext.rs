//! [`AsyncBufReadExt`]: tokio's `async` helpers over any [`AsyncBufRead`] (`read_until`,
//! `read_line`, `lines`, `split`, `fill_buf`, `consume`).

use std::future::{Future, poll_fn};
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use super::lines::{Lines, Split};
use crate::io::AsyncBufRead;

/// Moves buffered bytes into `out` up to and including `delim`, counting into `read`;
/// returns `read`'s total once `delim` or end of stream is reached. What was moved stays
/// in `out` whatever happens next (an error, a drop), as tokio's `read_until`. A fill that
/// fails with `Interrupted` is retried.
pub(crate) fn poll_read_until<R: AsyncBufRead + ?Sized>(
    mut reader: Pin<&mut R>,
    cx: &mut Context<'_>,
    delim: u8,
    out: &mut Vec<u8>,
    read: &mut usize,
) -> Poll<io::Result<usize>> {
    loop {
        let (done, used) = {
            let available = match ready!(reader.as_mut().poll_fill_buf(cx)) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                res => res?,
            };
            match available.iter().position(|&b| b == delim) {
                Some(i) => {
                    out.extend_from_slice(&available[..=i]);
                    (true, i + 1)
                }
                None => {
                    out.extend_from_slice(available);
                    (available.is_empty(), available.len())
                }
            }
        };
        reader.as_mut().consume(used);
        *read += used;
        if done {
            return Poll::Ready(Ok(std::mem::replace(read, 0)));
        }
    }
}

/// A `read_line` in progress: the string's bytes are taken out into `bytes` (the line is
/// read into its allocation) and put back when it ends; if it is dropped before, `Drop`
/// puts the original text back (the bytes read are lost, as tokio documents).
struct LineState<'a> {
    out: &'a mut String,
    bytes: Vec<u8>,
    original: usize,
    done: bool,
}

impl Drop for LineState<'_> {
    fn drop(&mut self) {
        if !self.done {
            let mut bytes = std::mem::take(&mut self.bytes);
            bytes.truncate(self.original);
            // The first `original` bytes were the string's: UTF-8.
            *self.out = String::from_utf8(bytes).unwrap_or_default();
        }
    }
}

/// `async` helpers for every [`AsyncBufRead`], as tokio's `AsyncBufReadExt`.
pub trait AsyncBufReadExt: AsyncBufRead {
    /// Reads into `buf` until `byte` (included) or end of stream; returns how many bytes
    /// were read (`0`: end of stream).
    ///
    /// Cancel safe in tokio's sense: what a dropped call read is in `buf` (its count is
    /// lost), and a call again goes on from there.
    fn read_until<'a>(
        &'a mut self,
        byte: u8,
        buf: &'a mut Vec<u8>,
    ) -> impl Future<Output = io::Result<usize>> + 'a
    where
        Self: Unpin,
    {
        let mut read = 0;
        poll_fn(move |cx| poll_read_until(Pin::new(&mut *self), cx, byte, buf, &mut read))
    }

    /// Reads a line (up to and including `\n`, or to end of stream) and appends it to
    /// `buf`; returns how many bytes were read (`0`: end of stream).
    ///
    /// If the line is not UTF-8: `InvalidData`, and `buf` is as it was (the bytes are
    /// consumed and lost). After an I/O error, `buf` keeps what was read before it.
    ///
    /// Not cancel safe: a dropped `read_line` leaves `buf` as it was and loses the bytes it
    /// read; [`lines`](Self::lines)' `next_line` is cancel safe.
    fn read_line<'a>(
        &'a mut self,
        buf: &'a mut String,
    ) -> impl Future<Output = io::Result<usize>> + 'a
    where
        Self: Unpin,
    {
        let bytes = std::mem::take(buf).into_bytes();
        let mut state = LineState {
            original: bytes.len(),
            out: buf,
            bytes,
            done: false,
        };
        let mut read = 0;
        poll_fn(move |cx| {
            let res = ready!(poll_read_until(
                Pin::new(&mut *self),
                cx,
                b'\n',
                &mut state.bytes,
                &mut read
            ));
            state.done = true;
            let bytes = std::mem::take(&mut state.bytes);
            let (text, res) = finish_line(bytes, state.original, res);
            *state.out = text;
            Poll::Ready(res)
        })
    }

    /// A stream of the lines of this reader, without their `\n` or `\r\n`
    /// ([`Lines::next_line`], cancel safe).
    fn lines(self) -> Lines<Self>
    where
        Self: Sized,
    {
        Lines::new(self)
    }

    /// A stream of the segments of this reader split on `byte`, without it
    /// ([`Split::next_segment`], cancel safe).
    fn split(self, byte: u8) -> Split<Self>
    where
        Self: Sized,
    {
        Split::new(self, byte)
    }

    /// The buffered bytes, reading more first if there are none (empty: end of stream).
    /// Call [`consume`](Self::consume) for what was used.
    ///
    /// Cancel safe: a dropped `fill_buf` has consumed nothing.
    fn fill_buf(&mut self) -> impl Future<Output = io::Result<&[u8]>> + '_
    where
        Self: Unpin,
    {
        let mut me = Some(self);
        poll_fn(move |cx| {
            let reader = me.take().expect("fill_buf polled after completion");
            match Pin::new(&mut *reader).poll_fill_buf(cx) {
                Poll::Pending => {
                    me = Some(reader);
                    return Poll::Pending;
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Ready(Ok([])) => return Poll::Ready(Ok(&[][..])),
                Poll::Ready(Ok(_)) => {}
            }
            // Bytes are buffered: asking again returns them at once, now borrowed for the
            // future's whole lifetime (the borrow checker cannot lend the first answer
            // both ways; tokio transmutes it instead).
            Poll::Ready(match Pin::new(reader).poll_fill_buf(cx) {
                Poll::Ready(res) => res,
                Poll::Pending => Err(io::Error::other(
                    "AsyncBufRead: poll_fill_buf lost its buffered bytes",
                )),
            })
        })
    }

    /// Marks `amt` buffered bytes as used.
    fn consume(&mut self, amt: usize)
    where
        Self: Unpin,
    {
        Pin::new(self).consume(amt)
    }
}

impl<R: AsyncBufRead + ?Sized> AsyncBufReadExt for R {}

/// The text of a finished `read_line` or `read_to_string`: `bytes` (the original text then
/// what was read) if they are UTF-8. If not: the original text, and the I/O error if there
/// was one, else `InvalidData` whose inner error is the [`Utf8Error`](std::str::Utf8Error)
/// of the whole buffer (its `valid_up_to` counts the original text too), as tokio's.
pub(crate) fn finish_line(
    bytes: Vec<u8>,
    original: usize,
    res: io::Result<usize>,
) -> (String, io::Result<usize>) {
    match String::from_utf8(bytes) {
        Ok(text) => (text, res),
        Err(e) => {
            let utf8 = e.utf8_error();
            let mut bytes = e.into_bytes();
            bytes.truncate(original);
            let err = res
                .err()
                .unwrap_or_else(|| io::Error::new(io::ErrorKind::InvalidData, utf8));
            (String::from_utf8(bytes).unwrap_or_default(), Err(err))
        }
    }
}
