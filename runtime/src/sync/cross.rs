//! Bounded channels between threads: the game thread and the runtime's I/O thread.
//!
//! [`channel`]`(capacity)` makes a channel on a preallocated lock-free ring
//! ([`crossbeam_queue::ArrayQueue`]): after creation, no operation allocates. Both halves
//! are `Send`, and [`Sender`] is `Clone` (many producers, one consumer).
//!
//! Each half has a non-blocking API for the game thread, which must never wait, and an
//! async one for tasks on the runtime:
//!
//! | | game thread (never blocks) | runtime task (awaits) |
//! |---|---|---|
//! | [`Sender`] | [`try_send`](Sender::try_send): `Full(v)` / `Closed(v)` | [`send`](Sender::send)`(v).await` waits for room |
//! | [`Receiver`] | [`try_recv`](Receiver::try_recv), [`drain`](Receiver::drain) | [`recv`](Receiver::recv)`().await` |
//!
//! A message sent from the game thread wakes the receiving task even when the runtime is
//! parked in epoll: the receiver's waker sits in a lock-free slot, and a tickslab waker
//! woken from another thread unparks its runtime. A receive on the game thread wakes a task
//! waiting in `send(v).await` the same way.
//!
//! Messages are never lost nor duplicated: each one is received exactly once, handed back
//! in an error, or dropped with the channel. Dropping the [`Receiver`] drops the buffered
//! messages (and any that a racing send slips in afterwards) and makes every later send
//! fail with the value handed back. Once every [`Sender`] is gone the receiver drains what
//! is left, then sees `None` / [`TryRecvError::Disconnected`].
//!
//! ```
//! use tickslab_runtime::{Runtime, sync::cross};
//!
//! // Game thread -> I/O thread, and back.
//! let (to_io, mut from_game) = cross::channel::<u32>(64);
//! let (to_game, mut from_io) = cross::channel::<u32>(64);
//!
//! let game = std::thread::spawn(move || {
//!     for i in 0..10 {
//!         // Never blocks: a full channel hands the value back.
//!         let mut msg = i;
//!         while let Err(e) = to_io.try_send(msg) {
//!             assert!(e.is_full());
//!             msg = e.into_inner();
//!             std::thread::yield_now();
//!         }
//!     }
//!     drop(to_io); // the I/O side sees `None` after the last message
//!     let mut replies = 0;
//!     while replies < 10 {
//!         replies += from_io.drain().count(); // what is there now, without waiting
//!         std::thread::yield_now();
//!     }
//!     replies
//! });
//!
//! let rt = Runtime::new().unwrap();
//! rt.block_on(async move {
//!     while let Some(msg) = from_game.recv().await {
//!         to_game.send(msg * 2).await.unwrap(); // waits for room if the game lags
//!     }
//! });
//! assert_eq!(game.join().unwrap(), 10);
//! ```
//!
//! # Waiting senders
//!
//! A `send(v).await` that finds the ring full links a node living inside its own future
//! into an intrusive list behind a `std::sync::Mutex` (no allocation per wait). Every
//! receive checks (after a `SeqCst` fence) whether senders wait, and only then takes the
//! lock, briefly, to wake the first one; the waker runs after the lock is released. A
//! waiting sender registers, fences, then retries its push, so either it sees the freed
//! slot or the receiver sees it waiting: no lost wakeup. A woken sender whose future is
//! dropped before it sent passes the wakeup on to the next waiter. Slots are not reserved
//! (the ring cannot reserve): a `try_send` may take a freed slot first, and the woken
//! sender then waits again.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering, fence};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};

use crossbeam_queue::ArrayQueue;

use super::atomic_waker::AtomicWaker;
use super::waiters::{WaitState, Waiter, WaiterList};

pub use super::mpsc::error;
pub use super::mpsc::error::{SendError, TryRecvError, TrySendError};

/// The receiver was closed or dropped: sends fail.
const CLOSED: u8 = 0b01;
/// The receiver was dropped: nobody will receive; whoever sees this drops stragglers.
const DROPPED: u8 = 0b10;

struct Shared<T> {
    queue: ArrayQueue<T>,
    /// Live `Sender`s.
    senders: AtomicUsize,
    /// `CLOSED` / `DROPPED`, set by the receiver.
    rx_state: AtomicU8,
    /// The receiving task's waker.
    rx_waker: AtomicWaker,
    /// Senders waiting in `send(v).await` for room.
    send_waiters: Mutex<WaiterList>,
    /// `send_waiters.len()`, readable without the lock (written under it).
    waiting: AtomicUsize,
}

impl<T> Shared<T> {
    fn is_closed(&self) -> bool {
        self.rx_state.load(Ordering::Acquire) & CLOSED != 0
    }

    fn lock(&self) -> MutexGuard<'_, WaiterList> {
        // Nothing panics while holding the lock; poisoning cannot leave the list torn.
        self.send_waiters
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// After a successful push: drop stragglers if the receiver is gone, wake it if not.
    fn after_push(&self) {
        // Pairs with the fence in `Receiver::drop`: either we see `DROPPED` here, or the
        // receiver's drain sees our message. So no message outlives the receiver's drop
        // for longer than this call.
        fence(Ordering::SeqCst);
        if self.rx_state.load(Ordering::Relaxed) & DROPPED != 0 {
            self.drop_buffered();
            return;
        }
        self.rx_waker.wake();
    }

    fn drop_buffered(&self) {
        while let Some(value) = self.queue.pop() {
            drop(value);
        }
    }

    fn pop(&self) -> Option<T> {
        let value = self.queue.pop()?;
        self.after_pop();
        Some(value)
    }

    /// After a pop freed a slot: wake the first waiting sender, if any.
    fn after_pop(&self) {
        // Pairs with the fence in `SendFuture::poll` between registering and retrying:
        // either that sender's retry sees the slot we freed, or we see it waiting.
        fence(Ordering::SeqCst);
        if self.waiting.load(Ordering::Relaxed) == 0 {
            return;
        }
        let waker = {
            let mut list = self.lock();
            let waker = list.pop_front(WaitState::Notified);
            self.waiting.store(list.len(), Ordering::Relaxed);
            waker
        };
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// Wakes every waiting sender (the receiver closed), one at a time, outside the lock.
    fn wake_all_senders(&self) {
        loop {
            let waker = {
                let mut list = self.lock();
                let waker = list.pop_front(WaitState::Idle);
                self.waiting.store(list.len(), Ordering::Relaxed);
                waker
            };
            match waker {
                Some(w) => w.wake(),
                None => break,
            }
        }
    }
}

/// Makes a bounded cross-thread channel holding up to `capacity` messages.
///
/// Allocates the shared state and the ring now; nothing afterwards.
///
/// # Panics
/// If `capacity` is 0.
#[track_caller]
pub fn channel<T: Send>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    assert!(capacity > 0, "cross bounded channel requires capacity > 0");
    let shared = Arc::new(Shared {
        queue: ArrayQueue::new(capacity),
        senders: AtomicUsize::new(1),
        rx_state: AtomicU8::new(0),
        rx_waker: AtomicWaker::new(),
        send_waiters: Mutex::new(WaiterList::new()),
        waiting: AtomicUsize::new(0),
    });
    (
        Sender {
            shared: shared.clone(),
        },
        Receiver { shared },
    )
}

/// The sending half: `Send`, `Sync` and `Clone`. The channel disconnects when the last
/// clone is dropped.
pub struct Sender<T> {
    shared: Arc<Shared<T>>,
}

impl<T> Sender<T> {
    /// Sends `value` now if there is room, else hands it back: [`TrySendError::Full`] or
    /// [`TrySendError::Closed`]. Never blocks, never allocates; for the game thread.
    ///
    /// A successful send wakes the receiving task (unparking its runtime if it sleeps).
    pub fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        let shared = &*self.shared;
        if shared.is_closed() {
            return Err(TrySendError::Closed(value));
        }
        match shared.queue.push(value) {
            Ok(()) => {
                shared.after_push();
                Ok(())
            }
            Err(value) if shared.is_closed() => Err(TrySendError::Closed(value)),
            Err(value) => Err(TrySendError::Full(value)),
        }
    }

    /// Sends `value`, waiting for room while the ring is full (woken by the receiving
    /// side's `try_recv`, `drain` or `recv`). For tasks on a runtime.
    ///
    /// Fails, handing the value back, when the receiver is gone or closed (also while
    /// waiting). Dropping the future before it completes drops the value.
    pub fn send(&self, value: T) -> SendFuture<'_, T> {
        SendFuture {
            sender: self,
            value: Some(value),
            waiter: Waiter::new(),
            registered: false,
        }
    }

    /// Whether the receiver is gone or closed: sends fail from now on.
    pub fn is_closed(&self) -> bool {
        self.shared.is_closed()
    }

    /// Messages buffered now (a snapshot: other threads move it).
    pub fn len(&self) -> usize {
        self.shared.queue.len()
    }

    /// Whether nothing is buffered now (a snapshot).
    pub fn is_empty(&self) -> bool {
        self.shared.queue.is_empty()
    }

    /// Free slots now (a snapshot).
    pub fn capacity(&self) -> usize {
        self.shared.queue.capacity() - self.shared.queue.len()
    }

    /// The capacity the channel was made with.
    pub fn max_capacity(&self) -> usize {
        self.shared.queue.capacity()
    }

    /// Whether both senders feed the same channel.
    pub fn same_channel(&self, other: &Sender<T>) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        // Relaxed: a clone comes from a live sender, so the count cannot be zero here.
        self.shared.senders.fetch_add(1, Ordering::Relaxed);
        Sender {
            shared: self.shared.clone(),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        // AcqRel: our pushes happen before a receiver that sees zero senders drains.
        if self.shared.senders.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.shared.rx_waker.wake();
        }
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("len", &self.len())
            .field("max_capacity", &self.max_capacity())
            .field("closed", &self.is_closed())
            .finish()
    }
}

/// Future returned by [`Sender::send`]. `Send` when `T` is.
///
/// While waiting it holds the node that links it into the channel's list of waiting
/// senders (which is why it is `!Unpin`: pin it to poll it by hand).
#[must_use = "futures do nothing unless awaited"]
pub struct SendFuture<'a, T> {
    sender: &'a Sender<T>,
    value: Option<T>,
    waiter: Waiter,
    /// Whether `waiter` may be linked or notified (if not, `Drop` skips the lock).
    registered: bool,
}

impl<T> SendFuture<'_, T> {
    /// Unlinks the waiter (under the lock). Returns its previous state; the waker it held
    /// is dropped after the lock is released.
    fn unregister(self: Pin<&mut Self>) -> WaitState {
        // SAFETY: `waiter` is never moved out of the pinned future.
        let this = unsafe { self.get_unchecked_mut() };
        if !this.registered {
            return WaitState::Idle;
        }
        this.registered = false;
        let shared = &*this.sender.shared;
        let (state, waker) = {
            let mut list = shared.lock();
            // SAFETY: the node is structurally pinned and used only with this channel's
            // list, whose lock we hold.
            let out = unsafe { list.remove(Pin::new_unchecked(&this.waiter)) };
            shared.waiting.store(list.len(), Ordering::Relaxed);
            out
        };
        drop(waker);
        state
    }
}

impl<T> Future for SendFuture<'_, T> {
    type Output = Result<(), SendError<T>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // A completed send spends one unit of the task's budget (`crate::coop`).
        crate::coop::poll_budgeted(cx, |cx| self.poll_send(cx))
    }
}

impl<T> SendFuture<'_, T> {
    fn poll_send(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), SendError<T>>> {
        let sender = self.sender;
        let shared = &*sender.shared;
        // SAFETY: `value` is not structurally pinned.
        let value = unsafe { self.as_mut().get_unchecked_mut() }
            .value
            .take()
            .expect("SendFuture polled after completion");
        if shared.is_closed() {
            self.unregister();
            return Poll::Ready(Err(SendError(value)));
        }
        let value = match shared.queue.push(value) {
            Ok(()) => {
                // A notification we may hold was for the slot we just took.
                self.unregister();
                shared.after_push();
                return Poll::Ready(Ok(()));
            }
            Err(value) => value,
        };

        // Full: queue up (or refresh our waker), then check again.
        {
            // SAFETY: `waiter` is never moved out of the pinned future.
            let this = unsafe { self.as_mut().get_unchecked_mut() };
            // Cloned before locking: a waker's `clone` is foreign code.
            let waker = cx.waker().clone();
            let replaced = {
                let mut list = shared.lock();
                // The node is pinned inside this future; `Drop` unlinks it (under the
                // lock) before the node dies.
                // SAFETY: used only with this channel's list, whose lock we hold.
                let replaced = unsafe { list.push_back(Pin::new_unchecked(&this.waiter), waker) };
                shared.waiting.store(list.len(), Ordering::Relaxed);
                replaced
            };
            this.registered = true;
            drop(replaced);
        }
        // A close that took the lock before we did has not seen us: it set CLOSED first.
        if shared.is_closed() {
            self.unregister();
            return Poll::Ready(Err(SendError(value)));
        }
        // Pairs with the fence in `after_pop`: either this retry sees a slot freed after
        // our registration, or that receive sees us waiting and wakes us.
        fence(Ordering::SeqCst);
        match shared.queue.push(value) {
            Ok(()) => {
                self.unregister();
                shared.after_push();
                Poll::Ready(Ok(()))
            }
            Err(value) => {
                // SAFETY: `value` is not structurally pinned.
                unsafe { self.get_unchecked_mut() }.value = Some(value);
                Poll::Pending
            }
        }
    }
}

impl<T> Drop for SendFuture<'_, T> {
    fn drop(&mut self) {
        if !self.registered {
            return;
        }
        let shared = &*self.sender.shared;
        // SAFETY: `drop` runs on the pinned future in place, just before its fields die.
        let this = unsafe { Pin::new_unchecked(&mut *self) };
        // A wakeup meant for us that we will not act on goes to the next waiter.
        if this.unregister() == WaitState::Notified && !shared.is_closed() {
            shared.after_pop();
        }
    }
}

impl<T> fmt::Debug for SendFuture<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendFuture")
            .field("waiting", &self.registered)
            .finish_non_exhaustive()
    }
}

/// The receiving half: `Send`, one per channel.
pub struct Receiver<T> {
    shared: Arc<Shared<T>>,
}

impl<T> Receiver<T> {
    /// Takes the next message if one is buffered. Never blocks, never allocates; for the
    /// game thread. [`TryRecvError::Empty`] now, or [`TryRecvError::Disconnected`] once
    /// every sender is gone (or the receiver was closed) and the buffer is drained.
    ///
    /// Wakes a task waiting in [`Sender::send`] for room.
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        let shared = &*self.shared;
        if let Some(value) = shared.pop() {
            return Ok(value);
        }
        // Acquire: a sender's pushes happen before its drop; pop again after seeing none.
        if shared.senders.load(Ordering::Acquire) == 0 || shared.is_closed() {
            return shared.pop().ok_or(TryRecvError::Disconnected);
        }
        Err(TryRecvError::Empty)
    }

    /// Takes the messages buffered now, oldest first, without waiting: the iterator stops
    /// after the number of messages that were there when it was made, even if more keep
    /// arriving. Each message taken wakes a task waiting for room. For the game thread.
    pub fn drain(&mut self) -> Drain<'_, T> {
        let left = self.shared.queue.len();
        Drain {
            receiver: self,
            left,
        }
    }

    /// Receives the next message, waiting while the buffer is empty (the runtime may
    /// park; a send from any thread wakes it). `None` once every sender is gone (or the
    /// receiver was closed) and the buffer is drained.
    pub fn recv(&mut self) -> Recv<'_, T> {
        Recv {
            receiver: self,
            done: false,
        }
    }

    /// Polls for the next message (see [`recv`](Self::recv)).
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let shared = &*self.shared;
        if let Some(value) = shared.pop() {
            return Poll::Ready(Some(value));
        }
        if shared.senders.load(Ordering::Acquire) == 0 || shared.is_closed() {
            return Poll::Ready(shared.pop());
        }
        shared.rx_waker.register(cx.waker());
        // Check again: a send that came before our registration did not wake us.
        if let Some(value) = shared.pop() {
            return Poll::Ready(Some(value));
        }
        if shared.senders.load(Ordering::Acquire) == 0 || shared.is_closed() {
            return Poll::Ready(shared.pop());
        }
        Poll::Pending
    }

    /// Closes the channel: sends fail from now on (tasks waiting in `send` are woken and
    /// get their value back); messages already buffered can still be received. A send
    /// racing with `close` may still land; it is received later or dropped with the
    /// receiver.
    pub fn close(&mut self) {
        let shared = &*self.shared;
        if shared.rx_state.fetch_or(CLOSED, Ordering::AcqRel) & CLOSED == 0 {
            shared.wake_all_senders();
        }
    }

    /// Whether no more messages can come: every sender is gone, or
    /// [`close`](Self::close) was called. Buffered messages may remain.
    pub fn is_closed(&self) -> bool {
        self.shared.is_closed() || self.shared.senders.load(Ordering::Acquire) == 0
    }

    /// Messages buffered now (a snapshot: senders keep adding).
    pub fn len(&self) -> usize {
        self.shared.queue.len()
    }

    /// Whether nothing is buffered now (a snapshot).
    pub fn is_empty(&self) -> bool {
        self.shared.queue.is_empty()
    }

    /// The capacity the channel was made with.
    pub fn max_capacity(&self) -> usize {
        self.shared.queue.capacity()
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        let shared = &*self.shared;
        let was = shared.rx_state.fetch_or(CLOSED | DROPPED, Ordering::SeqCst);
        if was & CLOSED == 0 {
            shared.wake_all_senders();
        }
        drop(shared.rx_waker.take());
        // Pairs with the fence in `after_push`: a send that did not see DROPPED pushed
        // before this drain looks, so its message is dropped here (or by that sender).
        fence(Ordering::SeqCst);
        shared.drop_buffered();
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

/// Future returned by [`Receiver::recv`].
#[must_use = "futures do nothing unless awaited"]
pub struct Recv<'a, T> {
    receiver: &'a mut Receiver<T>,
    /// Returned `Ready`: `FusedFuture::is_terminated` (in `sync/futures.rs`).
    pub(super) done: bool,
}

impl<T> Future for Recv<'_, T> {
    type Output = Option<T>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        // A completed receive spends one unit of the task's budget (`crate::coop`).
        let out = crate::coop::poll_budgeted(cx, |cx| self.receiver.poll_recv(cx));
        self.done = out.is_ready();
        out
    }
}

impl<T> fmt::Debug for Recv<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Recv").finish_non_exhaustive()
    }
}

/// Iterator returned by [`Receiver::drain`]: the messages that were buffered when it was
/// made.
pub struct Drain<'a, T> {
    receiver: &'a mut Receiver<T>,
    left: usize,
}

impl<T> Iterator for Drain<'_, T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let value = self.receiver.shared.pop();
        if value.is_none() {
            self.left = 0;
        }
        value
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.left))
    }
}

impl<T> fmt::Debug for Drain<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Drain").field("left", &self.left).finish()
    }
}
