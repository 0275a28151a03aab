//! [`copy_bidirectional`]: both directions between two streams at once.

use std::future::{Future, poll_fn};
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use super::copy::{CopyBuf, Transfer};
use crate::io::{AsyncRead, AsyncWrite};

/// Where one direction stands.
enum State {
    Running(Transfer),
    ShuttingDown(u64),
    Done(u64),
}

fn poll_direction<A, B>(
    state: &mut State,
    cx: &mut Context<'_>,
    from: &mut A,
    to: &mut B,
) -> Poll<io::Result<u64>>
where
    A: AsyncRead + AsyncWrite + Unpin + ?Sized,
    B: AsyncRead + AsyncWrite + Unpin + ?Sized,
{
    loop {
        match state {
            State::Running(t) => {
                let n = ready!(t.poll_copy(cx, Pin::new(&mut *from), Pin::new(&mut *to)))?;
                *state = State::ShuttingDown(n);
            }
            State::ShuttingDown(n) => {
                ready!(Pin::new(&mut *to).poll_shutdown(cx))?;
                *state = State::Done(*n);
            }
            State::Done(n) => return Poll::Ready(Ok(*n)),
        }
    }
}

/// Copies `a` to `b` and `b` to `a` at once, as tokio's `io::copy_bidirectional`: when one
/// side's reader ends, the other side's writer is shut down (FIN is passed on), and the
/// copy ends when both directions are done. Returns `(a to b, b to a)` byte counts; the
/// first error from either direction ends both.
///
/// Allocation: two buffers from the thread's spare list (see [`copy`](super::copy)):
/// none once warm. Not cancel safe: a dropped call loses what it read and had not written.
pub fn copy_bidirectional<'a, A, B>(
    a: &'a mut A,
    b: &'a mut B,
) -> impl Future<Output = io::Result<(u64, u64)>> + 'a
where
    A: AsyncRead + AsyncWrite + Unpin + ?Sized,
    B: AsyncRead + AsyncWrite + Unpin + ?Sized,
{
    both_ways(a, b, Transfer::new(), Transfer::new())
}

/// [`copy_bidirectional`] with a buffer of `a_to_b_buf_size` bytes for the copy from `a` to
/// `b` and one of `b_to_a_buf_size` for the other way, as tokio's
/// `io::copy_bidirectional_with_sizes`. Buffers of the default size (8 KiB) come from the
/// thread's spare list; others are allocated when the copy starts and freed when it ends.
///
/// # Panics
/// If either size is 0 (with tokio's message), at the caller.
#[track_caller]
pub fn copy_bidirectional_with_sizes<'a, A, B>(
    a: &'a mut A,
    b: &'a mut B,
    a_to_b_buf_size: usize,
    b_to_a_buf_size: usize,
) -> impl Future<Output = io::Result<(u64, u64)>> + 'a
where
    A: AsyncRead + AsyncWrite + Unpin + ?Sized,
    B: AsyncRead + AsyncWrite + Unpin + ?Sized,
{
    assert!(
        a_to_b_buf_size > 0,
        "`a_to_b_buf_size` must be greater than 0"
    );
    assert!(
        b_to_a_buf_size > 0,
        "`b_to_a_buf_size` must be greater than 0"
    );
    both_ways(
        a,
        b,
        Transfer::with_buf(CopyBuf::with_size(a_to_b_buf_size)),
        Transfer::with_buf(CopyBuf::with_size(b_to_a_buf_size)),
    )
}

fn both_ways<'a, A, B>(
    a: &'a mut A,
    b: &'a mut B,
    a_to_b: Transfer,
    b_to_a: Transfer,
) -> impl Future<Output = io::Result<(u64, u64)>> + 'a
where
    A: AsyncRead + AsyncWrite + Unpin + ?Sized,
    B: AsyncRead + AsyncWrite + Unpin + ?Sized,
{
    let mut a_to_b = State::Running(a_to_b);
    let mut b_to_a = State::Running(b_to_a);
    poll_fn(move |cx| {
        let ab = poll_direction(&mut a_to_b, cx, a, b)?;
        let ba = poll_direction(&mut b_to_a, cx, b, a)?;
        match (ab, ba) {
            (Poll::Ready(ab), Poll::Ready(ba)) => Poll::Ready(Ok((ab, ba))),
            _ => Poll::Pending,
        }
    })
}
