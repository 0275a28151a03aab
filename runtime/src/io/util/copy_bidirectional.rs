//! [`copy_bidirectional`]: both directions between two streams at once.

use std::future::{Future, poll_fn};
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use super::copy::Transfer;
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
    let mut a_to_b = State::Running(Transfer::new());
    let mut b_to_a = State::Running(Transfer::new());
    poll_fn(move |cx| {
        let ab = poll_direction(&mut a_to_b, cx, a, b)?;
        let ba = poll_direction(&mut b_to_a, cx, b, a)?;
        match (ab, ba) {
            (Poll::Ready(ab), Poll::Ready(ba)) => Poll::Ready(Ok((ab, ba))),
            _ => Poll::Pending,
        }
    })
}
