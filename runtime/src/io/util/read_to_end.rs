//! `read_to_end` and `read_to_string`: read until end of stream into a caller's `Vec` or
//! `String`, straight into its spare capacity, growing it as tokio's does (see
//! [`Grow::poll`]).
//!
//! Invariants of [`Grow`]:
//! 1. The vector's length is always what it held plus what was read: reads go into its
//!    spare capacity and the length moves only past bytes a reader filled, so a return,
//!    an error, a dropped future or a panicking reader never shows an unread byte.
//! 2. `init` counts the bytes at the start of the spare capacity that earlier reads
//!    initialized without filling (tokio's `VecWithInitialized`), so that a reader sees
//!    them as initialized again and nothing is zeroed twice. It holds for the allocation
//!    and length recorded in `spare_at`: every step that writes into the spare capacity
//!    (`extend_from_slice`) or may move it (`reserve`) updates or clears it, and a read
//!    into another place than `spare_at` starts from zero.

use std::future::{Future, poll_fn};
use std::io;
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use super::buf_read_ext::finish_line;
use super::read::swapped;
use crate::io::{AsyncRead, ReadBuf};

/// The least room a read into the vector is given (it grows by at least this much), and
/// the size of the stack probe that a reader at its end is asked with first (tokio's
/// `NUM_BYTES`).
const PROBE: usize = 32;

/// The vector being read into (owned or borrowed; private, only `Vec<u8>` and
/// `&mut Vec<u8>`, whose `as_mut` is the same vector every time).
struct Grow<V: AsMut<Vec<u8>>> {
    vec: V,
    /// The capacity the vector came with: while it is unchanged and nearly full, a stack
    /// probe is read first, so that a reader at its end costs no growth.
    start_cap: usize,
    /// Initialized bytes at the start of the spare capacity (invariant 2).
    init: usize,
    /// The address of the spare capacity `init` is about.
    spare_at: usize,
}

impl<V: AsMut<Vec<u8>>> Grow<V> {
    fn new(mut vec: V) -> Self {
        let start_cap = vec.as_mut().capacity();
        Grow {
            vec,
            start_cap,
            init: 0,
            spare_at: 0,
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
            let room = vec.capacity() - vec.len();
            let res = if room < PROBE && vec.capacity() == self.start_cap {
                let mut probe = [MaybeUninit::<u8>::uninit(); PROBE];
                let at = probe.as_ptr().cast::<u8>();
                let mut rb = ReadBuf::uninit(&mut probe);
                let res = Pin::new(&mut *reader).poll_read(cx, &mut rb);
                if rb.filled().as_ptr() != at {
                    swapped();
                }
                let got = rb.filled();
                if !got.is_empty() {
                    if got.len() > room {
                        vec.reserve(PROBE);
                        self.init = 0;
                    }
                    vec.extend_from_slice(got);
                    self.init = self.init.saturating_sub(got.len());
                    self.spare_at = spare_addr(vec);
                }
                ready!(res).map(|()| got.len())
            } else {
                if room < PROBE {
                    vec.reserve(PROBE);
                    self.init = 0;
                }
                ready!(self.read_into_spare(reader, cx))
            };
            match res {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Poll::Ready(Err(e)),
                Ok(0) => return Poll::Ready(Ok(*read)),
                Ok(n) => *read += n,
            }
        }
    }

    /// One read into the vector's spare capacity; the length grows by what was filled.
    fn read_into_spare<R: AsyncRead + Unpin + ?Sized>(
        &mut self,
        reader: &mut R,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<usize>> {
        let vec = self.vec.as_mut();
        let len = vec.len();
        if spare_addr(vec) != self.spare_at {
            self.init = 0;
        }
        let spare = vec.spare_capacity_mut();
        let init = self.init.min(spare.len());
        let at = spare.as_ptr().cast::<u8>();
        let mut rb = ReadBuf::uninit(spare);
        // SAFETY: invariant 2 of the module docs: the first `init` bytes of this very spare
        // capacity (same address, clamped to its length) were initialized by an earlier
        // `ReadBuf` over it, and nothing wrote into it since without updating `init`.
        unsafe { rb.assume_init(init) };
        let res = Pin::new(&mut *reader).poll_read(cx, &mut rb);
        if rb.filled().as_ptr() != at {
            swapped();
        }
        let filled = rb.filled().len();
        let initialized = rb.initialized().len();
        // SAFETY: `rb` is the vector's spare capacity (the pointer check above: a reader
        // cannot swap in another buffer at that address without a second `&mut` to it), and
        // `ReadBuf` keeps `filled <= initialized <= spare.len()` with `..initialized`
        // initialized (its rules 1 and 2), so `len + filled <= capacity` and the bytes the
        // new length covers are initialized.
        unsafe { vec.set_len(len + filled) };
        self.init = initialized - filled;
        self.spare_at = spare_addr(vec);
        res.map(|r| r.map(|()| filled))
    }
}

/// The address where a vector's spare capacity starts, given its contents (only
/// compared, never dereferenced).
fn spare_addr(contents: &[u8]) -> usize {
    contents.as_ptr_range().end.addr()
}

pub(super) fn poll_read_to_end<'a, R: AsyncRead + Unpin + ?Sized>(
    reader: &'a mut R,
    vec: &'a mut Vec<u8>,
) -> impl Future<Output = io::Result<usize>> + 'a {
    let mut grow = Grow::new(vec);
    let mut read = 0;
    poll_fn(move |cx| grow.poll(reader, &mut read, cx))
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
        let bytes = std::mem::take(&mut state.grow.vec);
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
