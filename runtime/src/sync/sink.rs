//! futures-sink's `Sink` for the channels' senders: [`mpsc::Sender::into_sink`] and
//! [`cross::Sender::into_sink`].
//!
//! A sink holds its sender and, while a message is on its way, the `send` future that
//! carries it (waiting for room in the channel like any `send`), inline: no allocation per
//! message. `poll_ready` and `poll_flush` finish the message in flight; `start_send` starts
//! the next. The first error (the receiver is gone) hands the message back as
//! `SendError(message)` and ends the sink: using it after that panics, as futures-util's
//! `unfold` sink does.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use futures_sink::Sink;
use pin_project_lite::pin_project;

use super::cross;
use super::local::mpsc;
use super::mpsc::error::SendError;

pin_project! {
    /// A `Sink` over an owned value and a function that sends one item through it.
    struct SendSink<S, F, Fut> {
        send: F,
        state: Option<S>,
        #[pin]
        in_flight: Option<Fut>,
    }
}

impl<S, F, Fut> SendSink<S, F, Fut> {
    fn new(state: S, send: F) -> Self {
        SendSink {
            send,
            state: Some(state),
            in_flight: None,
        }
    }
}

impl<S, F, Fut, E> SendSink<S, F, Fut>
where
    Fut: Future<Output = Result<S, E>>,
{
    /// Finishes the message in flight, if any.
    fn poll_done(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), E>> {
        let mut me = self.project();
        if let Some(fut) = me.in_flight.as_mut().as_pin_mut() {
            let res = ready!(fut.poll(cx));
            me.in_flight.set(None);
            *me.state = Some(res?);
        }
        Poll::Ready(Ok(()))
    }
}

impl<S, F, Fut, T, E> Sink<T> for SendSink<S, F, Fut>
where
    F: FnMut(S, T) -> Fut,
    Fut: Future<Output = Result<S, E>>,
{
    type Error = E;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), E>> {
        self.poll_done(cx)
    }

    #[track_caller]
    fn start_send(self: Pin<&mut Self>, item: T) -> Result<(), E> {
        let mut me = self.project();
        let state = me
            .state
            .take()
            .expect("tickslab: channel sink used after it failed (or before poll_ready)");
        me.in_flight.set(Some((me.send)(state, item)));
        Ok(())
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), E>> {
        self.poll_done(cx)
    }

    /// Flushes; the sender is dropped with the sink.
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), E>> {
        self.poll_done(cx)
    }
}

impl<T> mpsc::Sender<T> {
    /// This sender as a `futures_sink::Sink<T>` (for `SinkExt::send`, `Stream::forward`,
    /// ...): each item is sent as by [`send`](Self::send), waiting for room; no allocation
    /// per item. The error hands the item back when the receiver is gone.
    pub fn into_sink(self) -> impl Sink<T, Error = SendError<T>> {
        SendSink::new(self, |tx: mpsc::Sender<T>, item: T| async move {
            tx.send(item).await.map(|()| tx)
        })
    }
}

impl<T> cross::Sender<T> {
    /// This sender as a `futures_sink::Sink<T>`, as [`mpsc::Sender::into_sink`].
    pub fn into_sink(self) -> impl Sink<T, Error = SendError<T>> {
        SendSink::new(self, |tx: cross::Sender<T>, item: T| async move {
            tx.send(item).await.map(|()| tx)
        })
    }
}
