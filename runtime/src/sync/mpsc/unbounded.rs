//! The unbounded channel: the block list of `block.rs` (recycled blocks: no allocation
//! once the queue has reached its high-water mark) behind a `std::sync::Mutex`. Sends
//! never wait. The invariants of the shared part are in `chan.rs`.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use super::block::BlockQueue;
use super::chan::{Chan, Flavor};
use super::error::{SendError, TryRecvError};
use crate::sync::wake_list::lock;

pub(super) struct Unbounded<T> {
    queue: Mutex<BlockQueue<T>>,
}

impl<T> Flavor for Unbounded<T> {
    type Item = T;

    fn push(&self, value: T) {
        lock(&self.queue).push(value);
    }

    fn pop(&self) -> Option<T> {
        lock(&self.queue).pop()
    }

    fn len(&self) -> usize {
        lock(&self.queue).len()
    }

    fn on_received(&self) {}

    fn close(&self) {}

    fn idle(&self) -> bool {
        true
    }
}

type Shared<T> = Arc<Chan<Unbounded<T>>>;

/// Makes an unbounded channel (tokio's `mpsc::unbounded_channel`).
///
/// Allocates the shared state now, and a block of 32 slots whenever the queue grows past
/// the blocks it already has; emptied blocks are reused, so a channel whose backlog stays
/// under its high-water mark allocates nothing per message.
pub fn unbounded_channel<T>() -> (UnboundedSender<T>, UnboundedReceiver<T>) {
    let chan = Arc::new(Chan::new(Unbounded {
        queue: Mutex::new(BlockQueue::new()),
    }));
    (
        UnboundedSender { chan: chan.clone() },
        UnboundedReceiver { chan },
    )
}

/// The sending half of an unbounded channel: `Send + Sync + Clone`.
pub struct UnboundedSender<T> {
    chan: Shared<T>,
}

impl<T> UnboundedSender<T> {
    /// Sends `value` now (never waits); hands it back if the receiver is gone or closed.
    pub fn send(&self, value: T) -> Result<(), SendError<T>> {
        if self.chan.is_closed() {
            return Err(SendError(value));
        }
        self.chan.push(value);
        Ok(())
    }

    /// Completes when the receiver is closed or dropped.
    pub async fn closed(&self) {
        self.chan.closed().await
    }

    /// Whether the receiver is closed or dropped.
    pub fn is_closed(&self) -> bool {
        self.chan.is_closed()
    }

    /// Whether both senders feed the same channel.
    pub fn same_channel(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.chan, &other.chan)
    }

    /// A sender that does not keep the channel open.
    pub fn downgrade(&self) -> WeakUnboundedSender<T> {
        self.chan.new_weak();
        WeakUnboundedSender {
            chan: self.chan.clone(),
        }
    }

    /// Strong senders alive now.
    pub fn strong_count(&self) -> usize {
        self.chan.strong_count()
    }

    /// Weak senders alive now.
    pub fn weak_count(&self) -> usize {
        self.chan.weak_count()
    }
}

impl<T> Clone for UnboundedSender<T> {
    fn clone(&self) -> Self {
        self.chan.clone_tx();
        UnboundedSender {
            chan: self.chan.clone(),
        }
    }
}

impl<T> Drop for UnboundedSender<T> {
    fn drop(&mut self) {
        self.chan.drop_tx();
    }
}

impl<T> fmt::Debug for UnboundedSender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnboundedSender")
            .field("closed", &self.is_closed())
            .finish()
    }
}

/// An unbounded sender that does not keep the channel open.
pub struct WeakUnboundedSender<T> {
    chan: Shared<T>,
}

impl<T> WeakUnboundedSender<T> {
    /// A strong sender, if one is still alive somewhere.
    pub fn upgrade(&self) -> Option<UnboundedSender<T>> {
        self.chan.upgrade_tx().then(|| UnboundedSender {
            chan: self.chan.clone(),
        })
    }
}

impl<T> WeakUnboundedSender<T> {
    /// Strong senders alive now.
    pub fn strong_count(&self) -> usize {
        self.chan.strong_count()
    }

    /// Weak senders alive now.
    pub fn weak_count(&self) -> usize {
        self.chan.weak_count()
    }
}

impl<T> Drop for WeakUnboundedSender<T> {
    fn drop(&mut self) {
        self.chan.drop_weak();
    }
}

impl<T> Clone for WeakUnboundedSender<T> {
    fn clone(&self) -> Self {
        self.chan.new_weak();
        WeakUnboundedSender {
            chan: self.chan.clone(),
        }
    }
}

impl<T> fmt::Debug for WeakUnboundedSender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WeakUnboundedSender")
            .finish_non_exhaustive()
    }
}

/// The receiving half of an unbounded channel.
pub struct UnboundedReceiver<T> {
    chan: Shared<T>,
}

impl<T> UnboundedReceiver<T> {
    /// Receives the next message, waiting while none is queued; `None` once every sender
    /// is gone (or the receiver closed) and the queue is empty. Cancel-safe.
    pub async fn recv(&mut self) -> Option<T> {
        std::future::poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// Polls for the next message; spends one unit of the task's budget when it completes.
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let chan = &*self.chan;
        crate::coop::poll_budgeted(cx, |cx| chan.poll_recv(cx))
    }

    /// Waits for at least one message, then appends up to `limit` queued ones to `buffer`;
    /// returns how many (0 when `limit` is 0 or the channel is finished).
    pub async fn recv_many(&mut self, buffer: &mut Vec<T>, limit: usize) -> usize {
        std::future::poll_fn(|cx| self.poll_recv_many(cx, buffer, limit)).await
    }

    /// Polls for [`recv_many`](Self::recv_many).
    pub fn poll_recv_many(
        &mut self,
        cx: &mut Context<'_>,
        buffer: &mut Vec<T>,
        limit: usize,
    ) -> Poll<usize> {
        if limit == 0 {
            return Poll::Ready(0);
        }
        match self.poll_recv(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(None) => Poll::Ready(0),
            Poll::Ready(Some(v)) => {
                buffer.push(v);
                let mut n = 1;
                while n < limit {
                    match self.chan.try_recv() {
                        Ok(Some(v)) => buffer.push(v),
                        _ => break,
                    }
                    n += 1;
                }
                Poll::Ready(n)
            }
        }
    }

    /// Takes a message now: [`TryRecvError::Empty`], or [`TryRecvError::Disconnected`]
    /// once the channel is finished.
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        match self.chan.try_recv() {
            Ok(Some(v)) => Ok(v),
            Ok(None) => Err(TryRecvError::Empty),
            Err(()) => Err(TryRecvError::Disconnected),
        }
    }

    /// Receives from a thread that is not running async code, parking it while it waits.
    ///
    /// # Panics
    /// When called from a task of a tickslab runtime (use the async method there).
    #[track_caller]
    pub fn blocking_recv(&mut self) -> Option<T> {
        crate::sync::blocking::block_on(self.recv())
    }

    /// As [`recv_many`](Self::recv_many), blocking the thread.
    ///
    /// # Panics
    /// When called from a task of a tickslab runtime (use the async method there).
    #[track_caller]
    pub fn blocking_recv_many(&mut self, buffer: &mut Vec<T>, limit: usize) -> usize {
        crate::sync::blocking::block_on(self.recv_many(buffer, limit))
    }

    /// Refuses further sends; queued messages stay receivable.
    pub fn close(&mut self) {
        self.chan.close();
    }

    /// Whether no more messages can be sent: closed, or every sender gone.
    pub fn is_closed(&self) -> bool {
        self.chan.rx_is_closed()
    }

    /// Messages queued now.
    pub fn len(&self) -> usize {
        self.chan.flavor.len()
    }

    /// Whether nothing is queued now.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Strong senders alive now.
    pub fn sender_strong_count(&self) -> usize {
        self.chan.strong_count()
    }

    /// Weak senders alive now.
    pub fn sender_weak_count(&self) -> usize {
        self.chan.weak_count()
    }
}

impl<T> Drop for UnboundedReceiver<T> {
    fn drop(&mut self) {
        self.chan.drop_rx();
    }
}

impl<T> fmt::Debug for UnboundedReceiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnboundedReceiver")
            .field("len", &self.len())
            .field("closed", &self.is_closed())
            .finish()
    }
}
