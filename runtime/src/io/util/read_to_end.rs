//! `read_to_end` and `read_to_string`: read until end of stream into a caller's `Vec` or
//! `String`, growing it only when full, zeroing new capacity once.
//!
//! Invariant of [`Grow`]: `vec[..filled]` is what the vector held plus what was read;
//! `vec[filled..]` is zeroed spare room the reads go into. Whatever happens (return,
//! error, a dropped future, a panicking reader), the guard's `Drop` truncates the vector
//! back to `filled`, so the caller never sees the zeroes.

use std::future::{Future, poll_fn};
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use super::read::poll_read_slice;
use crate::io::AsyncRead;

/// What a reader at its end is probed with before the vector grows.
const PROBE: usize = 32;

/// The vector being read into (owned or borrowed), with zeroed room after `filled`.
struct Grow<V: AsMut<Vec<u8>>> {
    vec: V,
    filled: usize,
}

impl<V: AsMut<Vec<u8>>> Drop for Grow<V> {
    fn drop(&mut self) {
        self.vec.as_mut().truncate(self.filled);
    }
}

impl<V: AsMut<Vec<u8>>> Grow<V> {
    fn new(mut vec: V) -> Self {
        let filled = vec.as_mut().len();
        Grow { vec, filled }
    }

    /// Reads until end of stream, counting into `read`; returns its total.
    fn poll<R: AsyncRead + Unpin + ?Sized>(
        &mut self,
        reader: &mut R,
        read: &mut usize,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<usize>> {
        let vec = self.vec.as_mut();
        loop {
            if self.filled == vec.capacity() {
                // Full: probe on the stack first, so a reader at its end costs no growth.
                let mut probe = [0u8; PROBE];
                let n = ready!(poll_read_slice(Pin::new(&mut *reader), cx, &mut probe))?;
                if n == 0 {
                    return Poll::Ready(Ok(*read));
                }
                vec.truncate(self.filled);
                vec.extend_from_slice(&probe[..n]);
                self.filled += n;
                *read += n;
                continue;
            }
            if vec.len() < vec.capacity() {
                // Zero the spare room once; it stays zeroed (initialized) until the end.
                vec.resize(vec.capacity(), 0);
            }
            let n = ready!(poll_read_slice(
                Pin::new(&mut *reader),
                cx,
                &mut vec[self.filled..]
            ))?;
            if n == 0 {
                return Poll::Ready(Ok(*read));
            }
            self.filled += n;
            *read += n;
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
        let (mut text, res) = match (String::from_utf8(bytes), res) {
            (Ok(text), res) => (text, res),
            (Err(e), res) => {
                let mut bytes = e.into_bytes();
                bytes.truncate(original);
                let err = res.err().unwrap_or_else(|| {
                    io::Error::new(
                        io::ErrorKind::InvalidData,
                        "stream did not contain valid UTF-8",
                    )
                });
                (String::from_utf8(bytes).unwrap_or_default(), Err(err))
            }
        };
        if res.is_err() {
            // After an error the string is as it was (tokio's `read_to_string`).
            text.truncate(original);
        }
        *state.out = text;
        Poll::Ready(res)
    })
}
