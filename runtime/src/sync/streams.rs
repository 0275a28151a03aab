//! futures-core's traits on the channels: receivers are `Stream`s (and `FusedStream`s),
//! receive futures are `FusedFuture`s, so futures-util's combinators and
//! `futures::select!` take them as they are (no `.fuse()`).
//!
//! - A receiver's stream ends (`None`) when every sender is gone (or it was closed) and
//!   nothing is buffered: then it is terminated.
//! - A [`Recv`](mpsc::Recv) future is terminated once it returned `Ready`.
//! - A [`oneshot::Receiver`] is terminated once its value was taken or none can come (its
//!   own `is_terminated`, as tokio's).

use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::{FusedFuture, FusedStream, Stream};

use super::cross;
use super::local::{mpsc, oneshot};

macro_rules! receiver_stream {
    ($($m:ident),*) => {$(
        /// Yields each message; ends when every sender is gone and the buffer is empty.
        impl<T> Stream for $m::Receiver<T> {
            type Item = T;

            fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
                // A received message spends one unit of the task's budget, as `recv` does.
                crate::coop::poll_budgeted(cx, |cx| self.get_mut().poll_recv(cx))
            }

            fn size_hint(&self) -> (usize, Option<usize>) {
                (self.len(), None)
            }
        }

        impl<T> FusedStream for $m::Receiver<T> {
            fn is_terminated(&self) -> bool {
                self.is_closed() && self.is_empty()
            }
        }

        impl<T> FusedFuture for $m::Recv<'_, T> {
            fn is_terminated(&self) -> bool {
                self.done
            }
        }
    )*};
}

receiver_stream!(mpsc, cross);

impl<T> FusedFuture for oneshot::Receiver<T> {
    fn is_terminated(&self) -> bool {
        oneshot::Receiver::is_terminated(self)
    }
}

/// The thread-safe channels' receivers (tokio's names, in [`super::mpsc`]) are streams too
/// (tokio needs tokio-stream's `ReceiverStream` wrapper for that; here they are as they
/// are). Their `recv` futures are not named types: `futures::select!` takes
/// `rx.recv().fuse()`, or the stream's `next()`, or tickslab's own `select!`.
macro_rules! thread_safe_receiver_stream {
    ($($r:ty),*) => {$(
        /// Yields each message; ends when every sender is gone and the buffer is empty.
        impl<T> Stream for $r {
            type Item = T;

            fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
                self.get_mut().poll_recv(cx)
            }

            fn size_hint(&self) -> (usize, Option<usize>) {
                (self.len(), None)
            }
        }

        impl<T> FusedStream for $r {
            fn is_terminated(&self) -> bool {
                self.is_closed() && self.is_empty()
            }
        }
    )*};
}

thread_safe_receiver_stream!(super::mpsc::Receiver<T>, super::mpsc::UnboundedReceiver<T>);
