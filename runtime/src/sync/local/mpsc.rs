//! A bounded multi-producer, single-consumer channel between tasks on the same thread.
//!
//! [`channel`]`(capacity)` allocates the shared state and a ring buffer of `capacity` slots
//! up front; after that, sending, receiving and waiting allocate nothing. Both halves are
//! `!Send` and the channel uses no atomics. For the game thread <-> runtime thread link,
//! use a [`cross`](crate::sync::cross) channel instead.
//!
//! Semantics follow `tokio::sync::mpsc` (bounded):
//! - [`Sender::send`]`(v).await` waits for room; it hands the value back in [`SendError`]
//!   when the receiver is gone or closed. [`Sender::try_send`] never waits:
//!   [`TrySendError::Full`] or [`TrySendError::Closed`], each with the value.
//! - [`Receiver::recv`]`().await` yields `None` once every sender is gone (or the receiver
//!   was closed) and the buffer is empty. [`Receiver::try_recv`] never waits.
//! - [`Receiver::close`] refuses further sends and wakes waiting senders (they get their
//!   value back); messages already buffered can still be received.
//! - Dropping the receiver drops the buffered messages.
//!
//! # Waiting senders: FIFO, no allocation, no lost wakeups
//!
//! A sender that finds the buffer full links a node that lives *inside its `send` future*
//! into an intrusive list (no allocation per wait, any number of waiting senders). Each
//! slot freed by a receive is handed to the first waiting sender: it is *reserved* for it
//! (a `try_send` cannot take it) and the sender is woken. So waiting senders are served in
//! FIFO order and never starved by `try_send`. If a woken sender's future is dropped before
//! it used its reserved slot, its drop hands the slot to the next waiter (or frees it), so
//! no wakeup is lost. A future dropped while still queued unlinks itself.
//!
//! ```
//! use tickslab_runtime::{Runtime, spawn, sync::local::mpsc};
//!
//! let rt = Runtime::new().unwrap();
//! let total = rt.block_on(async {
//!     let (tx, mut rx) = mpsc::channel::<u32>(4);
//!     for id in 0..3 {
//!         let tx = tx.clone();
//!         spawn(async move {
//!             for i in 0..10 {
//!                 // Waits while the 4 slots are full.
//!                 tx.send(id * 100 + i).await.unwrap();
//!             }
//!         });
//!     }
//!     drop(tx); // `recv` yields `None` once the spawned senders are done too
//!     let mut total = 0;
//!     while let Some(v) = rx.recv().await {
//!         total += v;
//!     }
//!     total
//! });
//! assert_eq!(total, 3 * 45 + 10 * (0 + 100 + 200));
//! ```

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use crate::sync::waiters::{WaitState, Waiter, WaiterList};

pub use crate::sync::mpsc::error;

use error::{SendError, TryRecvError, TrySendError};

struct Chan<T> {
    /// Everything mutable that senders and the receiver share. The borrow is never held
    /// across user code: values and wakers are dropped or woken after it is released.
    state: RefCell<State<T>>,
    capacity: usize,
    /// Live `Sender`s.
    senders: Cell<usize>,
    /// The receiver closed the channel or is gone.
    closed: Cell<bool>,
    /// The receiver's waker, woken by a send or by the last sender's drop.
    rx_waker: Cell<Option<Waker>>,
}

struct State<T> {
    /// The messages; its capacity is reserved at creation and `len + reserved` never
    /// exceeds `capacity`, so it never grows.
    buf: VecDeque<T>,
    /// Free slots promised to woken (`Notified`) senders that have not pushed yet.
    reserved: usize,
    /// Senders waiting for room. Non-empty only while `len + reserved == capacity`.
    waiters: WaiterList,
}

impl<T> Chan<T> {
    fn wake_rx(&self) {
        if let Some(w) = self.rx_waker.take() {
            w.wake();
        }
    }

    /// A receive freed a slot: hand it to the first waiting sender, if any. Returns the
    /// waker to wake once the borrow is released.
    fn hand_slot_on(&self, st: &mut State<T>) -> Option<Waker> {
        if self.closed.get() {
            return None;
        }
        let waker = st.waiters.pop_front(WaitState::Notified)?;
        st.reserved += 1;
        Some(waker)
    }

    fn try_pop(&self) -> Option<T> {
        let mut st = self.state.borrow_mut();
        let value = st.buf.pop_front()?;
        let next = self.hand_slot_on(&mut st);
        drop(st);
        if let Some(w) = next {
            w.wake();
        }
        Some(value)
    }
}

/// Makes a bounded channel holding up to `capacity` messages.
///
/// Allocates the shared state and the `capacity`-slot buffer now; nothing afterwards.
///
/// # Panics
/// If `capacity` is 0.
#[track_caller]
pub fn channel<T>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    assert!(capacity > 0, "mpsc bounded channel requires capacity > 0");
    let chan = Rc::new(Chan {
        state: RefCell::new(State {
            buf: VecDeque::with_capacity(capacity),
            reserved: 0,
            waiters: WaiterList::new(),
        }),
        capacity,
        senders: Cell::new(1),
        closed: Cell::new(false),
        rx_waker: Cell::new(None),
    });
    (Sender { chan: chan.clone() }, Receiver { chan })
}

/// The sending half. Clone it for more producers; the channel disconnects when the last
/// clone is dropped.
pub struct Sender<T> {
    chan: Rc<Chan<T>>,
}

impl<T> Sender<T> {
    /// Sends `value`, waiting for room while the buffer is full.
    ///
    /// Waiting senders are served first come, first served. Fails, handing the value
    /// back, when the receiver is gone or closed (also while waiting). Dropping the future
    /// before it completes drops the value and gives up its place (or its reserved slot)
    /// to the next waiting sender.
    pub fn send(&self, value: T) -> SendFuture<'_, T> {
        SendFuture {
            sender: self,
            value: Some(value),
            waiter: Waiter::new(),
            registered: false,
        }
    }

    /// Sends `value` now if there is room, else hands it back: [`TrySendError::Full`] or
    /// [`TrySendError::Closed`].
    ///
    /// Slots promised to senders already waiting in [`send`](Self::send) do not count as
    /// room.
    pub fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        let chan = &*self.chan;
        if chan.closed.get() {
            return Err(TrySendError::Closed(value));
        }
        let mut st = chan.state.borrow_mut();
        if st.buf.len() + st.reserved >= chan.capacity {
            return Err(TrySendError::Full(value));
        }
        st.buf.push_back(value);
        drop(st);
        chan.wake_rx();
        Ok(())
    }

    /// Whether the receiver is gone or closed: sends fail from now on.
    pub fn is_closed(&self) -> bool {
        self.chan.closed.get()
    }

    /// Free slots now (not counting slots promised to waiting senders).
    pub fn capacity(&self) -> usize {
        let st = self.chan.state.borrow();
        self.chan.capacity - st.buf.len() - st.reserved
    }

    /// The capacity the channel was made with.
    pub fn max_capacity(&self) -> usize {
        self.chan.capacity
    }

    /// Whether both senders feed the same channel.
    pub fn same_channel(&self, other: &Sender<T>) -> bool {
        Rc::ptr_eq(&self.chan, &other.chan)
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        self.chan.senders.set(self.chan.senders.get() + 1);
        Sender {
            chan: self.chan.clone(),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let left = self.chan.senders.get() - 1;
        self.chan.senders.set(left);
        if left == 0 {
            self.chan.wake_rx();
        }
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("capacity", &self.capacity())
            .field("max_capacity", &self.chan.capacity)
            .field("closed", &self.is_closed())
            .finish()
    }
}

/// Future returned by [`Sender::send`].
///
/// It holds the value and, while waiting, the node that links it into the channel's list
/// of waiting senders (which is why it is `!Unpin`: pin it, e.g. with `pin!`, to poll it
/// by hand).
#[must_use = "futures do nothing unless awaited"]
pub struct SendFuture<'a, T> {
    sender: &'a Sender<T>,
    value: Option<T>,
    waiter: Waiter,
    /// Whether `waiter` may be linked or notified (if not, `Drop` skips the lock).
    registered: bool,
}

impl<T> SendFuture<'_, T> {
    /// Unlinks the waiter; a reserved slot it held is returned to the pool (the caller
    /// pushes into it, or it is void because the channel closed). Returns the waker the
    /// node held, to drop after the borrow.
    fn unregister(self: Pin<&mut Self>, st: &mut State<T>) -> (WaitState, Option<Waker>) {
        // SAFETY: `waiter` is never moved out of the pinned future.
        let this = unsafe { self.get_unchecked_mut() };
        if !this.registered {
            return (WaitState::Idle, None);
        }
        this.registered = false;
        // SAFETY: the node is structurally pinned (never moved) and used only with this
        // channel's list, which we hold through the `RefCell` borrow `st`.
        let (state, waker) = unsafe { st.waiters.remove(Pin::new_unchecked(&this.waiter)) };
        if state == WaitState::Notified {
            st.reserved -= 1;
        }
        (state, waker)
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
        let chan = &*sender.chan;
        let mut st = chan.state.borrow_mut();
        if chan.closed.get() {
            let (_, waker) = self.as_mut().unregister(&mut st);
            drop(st);
            drop(waker);
            // SAFETY: `value` is not structurally pinned.
            let value = unsafe { self.get_unchecked_mut() }.value.take();
            return Poll::Ready(Err(SendError(
                value.expect("SendFuture polled after completion"),
            )));
        }
        let state = if self.registered {
            // SAFETY: the node is used only with this channel's list, which we hold.
            unsafe { st.waiters.state(&self.waiter) }
        } else {
            WaitState::Idle
        };
        let room = match state {
            // A receive reserved a slot for us.
            WaitState::Notified => true,
            // Still waiting: the buffer is full (waiters exist only then).
            WaitState::Queued => false,
            WaitState::Idle => st.buf.len() + st.reserved < chan.capacity,
        };
        if room {
            let (_, waker) = self.as_mut().unregister(&mut st);
            // SAFETY: `value` is not structurally pinned.
            let value = unsafe { self.as_mut().get_unchecked_mut() }.value.take();
            st.buf
                .push_back(value.expect("SendFuture polled after completion"));
            drop(st);
            drop(waker);
            chan.wake_rx();
            return Poll::Ready(Ok(()));
        }
        // SAFETY: `waiter` is never moved out of the pinned future.
        let this = unsafe { self.get_unchecked_mut() };
        // The waker is cloned under the channel's borrow: a foreign waker whose `clone`
        // touches this channel again panics with "already borrowed"; nothing is changed yet.
        // SAFETY: the node is pinned inside this future and used only with this channel's
        // list, which we hold; `Drop` unlinks it (under the same borrow) before it dies.
        let replaced = unsafe {
            st.waiters
                .push_back(Pin::new_unchecked(&this.waiter), cx.waker().clone())
        };
        this.registered = true;
        drop(st);
        drop(replaced);
        Poll::Pending
    }
}

impl<T> Drop for SendFuture<'_, T> {
    fn drop(&mut self) {
        if !self.registered {
            return;
        }
        let sender = self.sender;
        let chan = &*sender.chan;
        let mut st = chan.state.borrow_mut();
        // SAFETY: `drop` runs on the pinned future in place, just before its fields die.
        let this = unsafe { Pin::new_unchecked(&mut *self) };
        let (state, waker) = this.unregister(&mut st);
        // A slot was reserved for us and we will not use it: pass it on, so that the next
        // waiting sender is not left sleeping next to a free slot.
        let next = if state == WaitState::Notified {
            chan.hand_slot_on(&mut st)
        } else {
            None
        };
        drop(st);
        drop(waker);
        if let Some(w) = next {
            w.wake();
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

/// The receiving half.
pub struct Receiver<T> {
    chan: Rc<Chan<T>>,
}

impl<T> Receiver<T> {
    /// Receives the next message, waiting while the buffer is empty. `None` once every
    /// sender is gone (or the receiver was closed) and the buffer is drained.
    pub fn recv(&mut self) -> Recv<'_, T> {
        Recv {
            receiver: self,
            done: false,
        }
    }

    /// Polls for the next message (see [`recv`](Self::recv)).
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let chan = &*self.chan;
        if let Some(value) = chan.try_pop() {
            return Poll::Ready(Some(value));
        }
        if chan.senders.get() == 0 || chan.closed.get() {
            return Poll::Ready(None);
        }
        match chan.rx_waker.take() {
            Some(old) if old.will_wake(cx.waker()) => chan.rx_waker.set(Some(old)),
            old => {
                chan.rx_waker.set(Some(cx.waker().clone()));
                drop(old);
            }
        }
        Poll::Pending
    }

    /// Takes the next message if one is buffered, without waiting:
    /// [`TryRecvError::Empty`] or, once no message can come any more,
    /// [`TryRecvError::Disconnected`].
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        let chan = &*self.chan;
        match chan.try_pop() {
            Some(value) => Ok(value),
            None if chan.senders.get() == 0 || chan.closed.get() => Err(TryRecvError::Disconnected),
            None => Err(TryRecvError::Empty),
        }
    }

    /// Closes the channel: sends fail from now on (waiting senders are woken and get their
    /// value back), while messages already buffered can still be received.
    pub fn close(&mut self) {
        let chan = &*self.chan;
        if chan.closed.replace(true) {
            return;
        }
        // Wake every waiting sender, one at a time so no waker runs under the borrow.
        loop {
            let waker = chan.state.borrow_mut().waiters.pop_front(WaitState::Idle);
            match waker {
                Some(w) => w.wake(),
                None => break,
            }
        }
    }

    /// Whether no more messages can be sent: every sender is gone, or [`close`](Self::close)
    /// was called. Buffered messages may remain.
    pub fn is_closed(&self) -> bool {
        self.chan.closed.get() || self.chan.senders.get() == 0
    }

    /// Messages buffered now.
    pub fn len(&self) -> usize {
        self.chan.state.borrow().buf.len()
    }

    /// Whether no message is buffered now.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The capacity the channel was made with.
    pub fn max_capacity(&self) -> usize {
        self.chan.capacity
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        self.close();
        drop(self.chan.rx_waker.take());
        // Drop what is buffered, each message outside the borrow: its destructor may
        // touch this very channel (a message can hold a `Sender`).
        loop {
            let value = self.chan.state.borrow_mut().buf.pop_front();
            match value {
                Some(v) => drop(v),
                None => break,
            }
        }
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver")
            .field("len", &self.len())
            .field("max_capacity", &self.chan.capacity)
            .field("closed", &self.is_closed())
            .finish()
    }
}

/// Future returned by [`Receiver::recv`].
#[must_use = "futures do nothing unless awaited"]
pub struct Recv<'a, T> {
    receiver: &'a mut Receiver<T>,
    /// Returned `Ready`: `FusedFuture::is_terminated` (in `sync/futures.rs`).
    pub(in crate::sync) done: bool,
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
