//! The bounded channel: a lock-free ring allocated at creation
//! ([`crossbeam_queue::ArrayQueue`]) and a fair semaphore of `capacity` permits.
//!
//! A send first takes a permit (waiting, FIFO, in the semaphore's intrusive list: no
//! allocation per wait), then pushes: with at most `capacity` permits out, the push always
//! finds room. A receive gives the message's permit back, which wakes the first waiting
//! sender. [`Permit`] / [`OwnedPermit`] are that permit held before the value exists
//! (`reserve`). The invariants of the shared part are in `chan.rs`.

use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use crossbeam_queue::ArrayQueue;

use super::chan::{Chan, Flavor};
use super::error::{SendError, SendTimeoutError, TryRecvError, TrySendError};
use super::permit::{OwnedPermit, Permit, PermitIterator};
use crate::sync::batch_semaphore::{RawSemaphore, TryAcquireError};

pub(super) struct Bounded<T> {
    queue: ArrayQueue<T>,
    sem: RawSemaphore,
}

impl<T> Flavor for Bounded<T> {
    type Item = T;

    fn push(&self, value: T) {
        // A permit is held for every queued message and every `Permit`: never full.
        if self.queue.push(value).is_err() {
            unreachable!("a bounded channel holds at most `capacity` permits");
        }
    }

    fn pop(&self) -> Option<T> {
        self.queue.pop()
    }

    fn len(&self) -> usize {
        self.queue.len()
    }

    fn on_received(&self) {
        self.sem.release(1);
    }

    fn close(&self) {
        self.sem.close();
    }

    fn idle(&self) -> bool {
        self.queue.len() + self.sem.available_permits() >= self.queue.capacity()
    }
}

type Shared<T> = Arc<Chan<Bounded<T>>>;

/// Gives `n` permits back; the last permit out after a close wakes the receiver, whose
/// `recv` then ends (chan.rs invariant 3). Earlier ones do not: it would find the channel
/// still busy.
pub(super) fn give_back<T>(chan: &Chan<Bounded<T>>, n: usize) {
    chan.flavor.sem.release(n);
    if chan.is_closed() && chan.flavor.idle() {
        chan.wake_rx();
    }
}

/// Wakes a closed receiver that the end of a wait for permits left with nothing
/// outstanding (the wait failed, was cancelled and gave back a partial grant, or failed on
/// a close after its grant). Held across the wait by `reserve*`, dropped however it ends.
struct WakeIfIdle<'a, T>(&'a Chan<Bounded<T>>);

impl<T> Drop for WakeIfIdle<'_, T> {
    fn drop(&mut self) {
        if self.0.is_closed() && self.0.flavor.idle() {
            self.0.wake_rx();
        }
    }
}

/// The end of a wait for `n` permits: a grant on a closed channel fails too (as tokio's:
/// permits handed to the wait before the close go back), and so does a failed wait.
fn granted<T>(
    chan: &Chan<Bounded<T>>,
    n: usize,
    acquired: Result<(), TryAcquireError>,
) -> Result<(), SendError<()>> {
    match acquired {
        Ok(()) if chan.is_closed() => {
            chan.flavor.sem.release(n);
            Err(SendError(()))
        }
        Ok(()) => Ok(()),
        Err(_) => Err(SendError(())),
    }
}

/// Makes a bounded channel holding up to `buffer` messages (tokio's `mpsc::channel`).
///
/// Allocates the shared state and the ring now; sending, receiving and waiting allocate
/// nothing afterwards.
///
/// # Panics
/// If `buffer` is 0, or larger than `Semaphore::MAX_PERMITS`.
#[track_caller]
pub fn channel<T>(buffer: usize) -> (Sender<T>, Receiver<T>) {
    assert!(buffer > 0, "mpsc bounded channel requires buffer > 0");
    let chan = Arc::new(Chan::new(Bounded {
        queue: ArrayQueue::new(buffer),
        sem: RawSemaphore::new(buffer),
    }));
    (Sender { chan: chan.clone() }, Receiver { chan })
}

/// The sending half of a bounded channel: `Send + Sync + Clone`.
pub struct Sender<T> {
    pub(super) chan: Shared<T>,
}

impl<T> Sender<T> {
    /// Sends `value`, waiting (FIFO) for room. Hands the value back when the receiver is
    /// gone or closed. Cancel-safe in tokio's sense: dropping the future loses its place in
    /// the queue (and drops the value), and passes on any room it had been handed.
    pub async fn send(&self, value: T) -> Result<(), SendError<T>> {
        // `reserve`'s steps, inline: one future level less (a `send` fits the slab slots
        // it fitted before `reserve` had to wake a closed receiver).
        let _wake = WakeIfIdle(&self.chan);
        let acquired = self.chan.flavor.sem.acquire(1).await;
        match granted(&self.chan, 1, acquired) {
            Ok(()) => {
                Permit { chan: &self.chan }.send(value);
                Ok(())
            }
            Err(_) => Err(SendError(value)),
        }
    }

    /// Sends now if there is room: [`TrySendError::Full`] or [`TrySendError::Closed`]
    /// hand the value back. Never blocks: for the game thread.
    pub fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        match self.chan.flavor.sem.try_acquire(1) {
            Ok(()) => {
                self.chan.push(value);
                Ok(())
            }
            Err(TryAcquireError::Closed) => Err(TrySendError::Closed(value)),
            Err(TryAcquireError::NoPermits) => Err(TrySendError::Full(value)),
        }
    }

    /// As [`send`](Self::send), giving up after `timeout` (on tickslab's timer: call it
    /// from a task of a tickslab runtime; the future is not `Send`).
    ///
    /// # Panics
    /// When first polled outside a tickslab runtime, with tokio's message (also when room
    /// is free: the timer is needed either way).
    pub async fn send_timeout(
        &self,
        value: T,
        timeout: Duration,
    ) -> Result<(), SendTimeoutError<T>> {
        crate::time::assert_in_runtime("mpsc::Sender::send_timeout");
        match crate::time::timeout(timeout, self.reserve()).await {
            Ok(Ok(permit)) => {
                permit.send(value);
                Ok(())
            }
            Ok(Err(_)) => Err(SendTimeoutError::Closed(value)),
            Err(_) => Err(SendTimeoutError::Timeout(value)),
        }
    }

    /// Sends from a thread that is not running async code, parking it while it waits.
    ///
    /// # Panics
    /// When called from a task of a tickslab runtime (use the async method there).
    #[track_caller]
    pub fn blocking_send(&self, value: T) -> Result<(), SendError<T>> {
        crate::sync::blocking::block_on(self.send(value))
    }

    /// Waits for room and holds it: the [`Permit`] sends without waiting. Fails when the
    /// receiver is gone or closed.
    pub async fn reserve(&self) -> Result<Permit<'_, T>, SendError<()>> {
        let _wake = WakeIfIdle(&self.chan);
        let acquired = self.chan.flavor.sem.acquire(1).await;
        granted(&self.chan, 1, acquired)?;
        Ok(Permit { chan: &self.chan })
    }

    /// Holds room now if there is some.
    pub fn try_reserve(&self) -> Result<Permit<'_, T>, TrySendError<()>> {
        match self.chan.flavor.sem.try_acquire(1) {
            Ok(()) => Ok(Permit { chan: &self.chan }),
            Err(TryAcquireError::Closed) => Err(TrySendError::Closed(())),
            Err(TryAcquireError::NoPermits) => Err(TrySendError::Full(())),
        }
    }

    /// Waits for room for `n` messages at once and holds it: the [`PermitIterator`] yields
    /// `n` [`Permit`]s. Fails when the receiver is gone or closed, or if `n` exceeds the
    /// channel's capacity (it could never be granted).
    pub async fn reserve_many(&self, n: usize) -> Result<PermitIterator<'_, T>, SendError<()>> {
        if n > self.max_capacity() {
            return Err(SendError(()));
        }
        let _wake = WakeIfIdle(&self.chan);
        let acquired = self.chan.flavor.sem.acquire(n).await;
        granted(&self.chan, n, acquired)?;
        Ok(PermitIterator {
            chan: &self.chan,
            left: n,
        })
    }

    /// Holds room for `n` messages now if there is some.
    pub fn try_reserve_many(&self, n: usize) -> Result<PermitIterator<'_, T>, TrySendError<()>> {
        if n > self.max_capacity() {
            return Err(TrySendError::Full(()));
        }
        match self.chan.flavor.sem.try_acquire(n) {
            Ok(()) => Ok(PermitIterator {
                chan: &self.chan,
                left: n,
            }),
            Err(TryAcquireError::Closed) => Err(TrySendError::Closed(())),
            Err(TryAcquireError::NoPermits) => Err(TrySendError::Full(())),
        }
    }

    /// As [`reserve`](Self::reserve), with a permit that owns this sender (`'static`).
    pub async fn reserve_owned(self) -> Result<OwnedPermit<T>, SendError<()>> {
        {
            let _wake = WakeIfIdle(&self.chan);
            let acquired = self.chan.flavor.sem.acquire(1).await;
            granted(&self.chan, 1, acquired)?;
        }
        Ok(OwnedPermit { sender: Some(self) })
    }

    /// As [`try_reserve`](Self::try_reserve), owned; the sender comes back on failure.
    pub fn try_reserve_owned(self) -> Result<OwnedPermit<T>, TrySendError<Self>> {
        match self.chan.flavor.sem.try_acquire(1) {
            Ok(()) => Ok(OwnedPermit { sender: Some(self) }),
            Err(TryAcquireError::Closed) => Err(TrySendError::Closed(self)),
            Err(TryAcquireError::NoPermits) => Err(TrySendError::Full(self)),
        }
    }

    /// Completes when the receiver is closed or dropped.
    pub async fn closed(&self) {
        self.chan.closed().await
    }

    /// Whether the receiver is closed or dropped.
    pub fn is_closed(&self) -> bool {
        self.chan.is_closed()
    }

    /// Room now: free permits (a snapshot).
    pub fn capacity(&self) -> usize {
        self.chan.flavor.sem.available_permits()
    }

    /// The capacity the channel was made with.
    pub fn max_capacity(&self) -> usize {
        self.chan.flavor.queue.capacity()
    }

    /// Whether both senders feed the same channel.
    pub fn same_channel(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.chan, &other.chan)
    }

    /// A sender that does not keep the channel open ([`WeakSender::upgrade`]).
    pub fn downgrade(&self) -> WeakSender<T> {
        self.chan.new_weak();
        WeakSender {
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

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        self.chan.clone_tx();
        Sender {
            chan: self.chan.clone(),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        self.chan.drop_tx();
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("capacity", &self.capacity())
            .field("max_capacity", &self.max_capacity())
            .field("closed", &self.is_closed())
            .finish()
    }
}

/// A sender that does not keep the channel open: [`upgrade`](Self::upgrade) it to send.
pub struct WeakSender<T> {
    chan: Shared<T>,
}

impl<T> WeakSender<T> {
    /// A strong sender, if one is still alive somewhere.
    pub fn upgrade(&self) -> Option<Sender<T>> {
        self.chan.upgrade_tx().then(|| Sender {
            chan: self.chan.clone(),
        })
    }
}

impl<T> WeakSender<T> {
    /// Strong senders alive now.
    pub fn strong_count(&self) -> usize {
        self.chan.strong_count()
    }

    /// Weak senders alive now.
    pub fn weak_count(&self) -> usize {
        self.chan.weak_count()
    }
}

impl<T> Drop for WeakSender<T> {
    fn drop(&mut self) {
        self.chan.drop_weak();
    }
}

impl<T> Clone for WeakSender<T> {
    fn clone(&self) -> Self {
        self.chan.new_weak();
        WeakSender {
            chan: self.chan.clone(),
        }
    }
}

impl<T> fmt::Debug for WeakSender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WeakSender").finish_non_exhaustive()
    }
}

/// The receiving half of a bounded channel: `Send + Sync`, one per channel.
pub struct Receiver<T> {
    chan: Shared<T>,
}

impl<T> Receiver<T> {
    /// Receives the next message, waiting while none is buffered. `None` once every sender
    /// is gone (or the receiver was closed and no permit is out) and the buffer is empty.
    /// Cancel-safe.
    pub async fn recv(&mut self) -> Option<T> {
        std::future::poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// Polls for the next message (see [`recv`](Self::recv)); spends one unit of the
    /// task's budget when it completes.
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let chan = &*self.chan;
        crate::coop::poll_budgeted(cx, |cx| chan.poll_recv(cx))
    }

    /// Waits for at least one message, then appends up to `limit` buffered ones to
    /// `buffer`; returns how many. 0 when `limit` is 0 or the channel is finished. `buffer`
    /// grows (allocates) only if its capacity is short.
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
    /// once the channel is finished. Never blocks: for the game thread.
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

    /// Refuses further sends (waiting senders fail) while keeping the buffered messages
    /// (and those sent through permits already held) receivable.
    pub fn close(&mut self) {
        self.chan.close();
    }

    /// Whether no more messages can be sent: closed, or every sender gone.
    pub fn is_closed(&self) -> bool {
        self.chan.rx_is_closed()
    }

    /// Messages buffered now.
    pub fn len(&self) -> usize {
        self.chan.flavor.len()
    }

    /// Whether nothing is buffered now.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Room now (free permits).
    pub fn capacity(&self) -> usize {
        self.chan.flavor.sem.available_permits()
    }

    /// The capacity the channel was made with.
    pub fn max_capacity(&self) -> usize {
        self.chan.flavor.queue.capacity()
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

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        self.chan.drop_rx();
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver")
            .field("len", &self.len())
            .field("max_capacity", &self.max_capacity())
            .field("closed", &self.is_closed())
            .finish()
    }
}
