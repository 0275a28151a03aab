//! `read_to_end` and `read_to_string`: read until end of stream into a caller's `Vec` or
//! `String`, growing it as tokio's does (see [`Grow::poll`]), zeroing new capacity once.
//!
//! Invariant of [`Grow`]: `vec[..filled]` is what the vector held plus what was read;
//! `vec[filled..]` is zeroed spare room the reads go into. Whatever happens (return,
//! error, a dropped future, a panicking reader), the guard's `Drop` truncates the vector
//! back to `filled`, so the caller never sees the zeroes.

use std::future::{Future, poll_fn};
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use super::buf_read_ext::finish_line;
use super::read::poll_read_slice;
use crate::io::AsyncRead;

/// The least room a read into the vector is given (it grows by at least this much), and
/// the size of the stack probe that a reader at its end is asked with first (tokio's
/// `NUM_BYTES`).
const PROBE: usize = 32;

/// The vector being read into (owned or borrowed), with zeroed room after `filled`.
struct Grow<V: AsMut<Vec<u8>>> {
    vec: V,
    filled: usize,
    /// The capacity the vector came with: while it is unchanged and nearly full, a stack
    /// probe is read first, so that a reader at its end costs no growth.
    start_cap: usize,
}

impl<V: AsMut<Vec<u8>>> Drop for Grow<V> {
    fn drop(&mut self) {
        self.vec.as_mut().truncate(self.filled);
    }
}

impl<V: AsMut<Vec<u8>>> Grow<V> {
    fn new(mut vec: V) -> Self {
        let filled = vec.as_mut().len();
        let start_cap = vec.as_mut().capacity();
        Grow {
            vec,
            filled,
            start_cap,
        }
    }

    /// Reads until end of stream, counting into `read`; returns its total. A read that
    /// fails with `Interrupted` is retried. The vector grows as tokio's does: when less
    /// than [`PROBE`] bytes of room are left it reserves [`PROBE`] more (so `Vec` doubles
    /// it), except that a vector still at its first capacity is probed on the stack first.
    /// (tokio probes only vectors of 32 bytes or more: here a smaller one at its end is not
    /// grown either, so an empty reader costs no allocation.)
    fn poll<R: AsyncRead + Unpin + ?Sized>(
        &mut self,
        reader: &mut R,
        read: &mut usize,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<usize>> {
        loop {
            let vec = self.vec.as_mut();
            let room = vec.capacity() - self.filled;
            let res = if room < PROBE && vec.capacity() == self.start_cap {
                let mut probe = [0u8; PROBE];
                let res = ready!(poll_read_slice(Pin::new(&mut *reader), cx, &mut probe));
                if let Ok(n @ 1..) = res {
                    vec.truncate(self.filled);
                    if n > room {
                        vec.reserve(PROBE);
                    }
                    vec.extend_from_slice(&probe[..n]);
                }
                res
            } else {
                if room < PROBE {
                    vec.truncate(self.filled);
                    vec.reserve(PROBE);
                }
                if vec.len() < vec.capacity() {
                    // Zero the new room once; it stays zeroed until read into.
                    vec.resize(vec.capacity(), 0);
                }
                ready!(poll_read_slice(
                    Pin::new(&mut *reader),
                    cx,
                    &mut vec[self.filled..]
                ))
            };
            match res {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Poll::Ready(Err(e)),
                Ok(0) => return Poll::Ready(Ok(*read)),
                Ok(n) => {
                    self.filled += n;
                    *read += n;
                }
            }
        }
    }

    /// The vector, cut back to what was filled.
    fn finish(&mut self) -> &mut Vec<u8> {
        let vec = self.vec.as_mut();
        vec.truncate(self.filled);
        vec
    }
}

pub(super) fn poll_read_to_end<'a, R: AsyncRead + Unpin + ?Sized>(
    reader: &'a mut R,
    vec: &'a mut Vec<u8>,
) -> impl Future<Output = io::Result<usize>> + 'a {
    let mut grow = Grow::new(vec);
    let mut read = 0;
    poll_fn(move |cx| {
        let res = ready!(grow.poll(reader, &mut read, cx));
        grow.finish();
        Poll::Ready(res)
    })
}

/// A `read_to_string` in progress: the string's bytes are taken out into `grow` (so the
/// reads go into its allocation) and put back when it ends. If it is dropped before (a
/// cancelled future, a panicking reader), `Drop` puts the original text back.
struct ToString<'a> {
    out: &'a mut String,
    grow: Grow<Vec<u8>>,
    original: usize,
    done: bool,
}

impl Drop for ToString<'_> {
    fn drop(&mut self) {
        if !self.done {
            let mut bytes = std::mem::take(&mut self.grow.vec);
            self.grow.filled = 0;
            bytes.truncate(self.original);
            // The first `original` bytes were the string's: UTF-8.
            *self.out = String::from_utf8(bytes).unwrap_or_default();
        }
    }
}

pub(super) fn poll_read_to_string<'a, R: AsyncRead + Unpin + ?Sized>(
    reader: &'a mut R,
    out: &'a mut String,
) -> impl Future<Output = io::Result<usize>> + 'a {
    let bytes = std::mem::take(out).into_bytes();
    let original = bytes.len();
    let mut state = ToString {
        out,
        grow: Grow::new(bytes),
        original,
        done: false,
    };
    let mut read = 0;
    poll_fn(move |cx| {
        let res = ready!(state.grow.poll(reader, &mut read, cx));
        let bytes = std::mem::take(state.grow.finish());
        state.grow.filled = 0;
        state.done = true;
        let (mut text, res) = finish_line(bytes, original, res);
        if res.is_err() {
            // After an error the string is as it was (tokio's `read_to_string`).
            text.truncate(original);
        }
        *state.out = text;
        Poll::Ready(res)
    })
}
