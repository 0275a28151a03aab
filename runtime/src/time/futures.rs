//! futures-core's traits on the timers: an [`Interval`] is a `Stream` of tick instants
//! that never ends; a [`Sleep`] is a `FusedFuture` (terminated once it returned `Ready`,
//! until [`reset`](Sleep::reset)), so `futures::select!` takes it as it is.

use super::Instant;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::{FusedFuture, FusedStream, Stream};

use super::{Interval, Sleep};

impl Stream for Interval {
    type Item = Instant;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Instant>> {
        self.get_mut().poll_tick(cx).map(Some)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (usize::MAX, None)
    }
}

impl FusedStream for Interval {
    fn is_terminated(&self) -> bool {
        false
    }
}

impl FusedFuture for Sleep {
    fn is_terminated(&self) -> bool {
        self.is_done()
    }
}
