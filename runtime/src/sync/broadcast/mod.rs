//! A multi-producer, multi-consumer broadcast queue: tokio's `sync::broadcast`.
//!
//! Every receiver sees every value sent after it subscribed, unless it falls more than
//! `capacity` values behind: then the oldest values are overwritten and its next `recv`
//! reports [`RecvError::Lagged`]`(n)` (how many it missed) and goes on from the oldest value
//! still held, as tokio's does.
//!
//! One `std::sync::Mutex` guards the ring (allocated at creation, a power of two of slots),
//! the tail position, the receiver count and the FIFO list of waiting receivers (nodes
//! inside the [`Recv`] futures, `waiters.rs`): no allocation per send, receive or wait.
//!
//! # Invariants
//!
//! 1. Slot `pos % capacity` holds the value sent at position `pos` while `slot.pos == pos`;
//!    `slot.rem` counts the receivers that have not taken it yet. Every receiver gets a
//!    clone, as in tokio (a `Clone` that panics is seen by every receiver alike); the last
//!    one moves the value out of the slot and clones it after the lock, then drops it.
//! 2. Values leave the lock before they are dropped, and wakers are woken after it. The one
//!    piece of user code that runs under the lock is `T::clone` for a receiver that is not
//!    the last to read a value: a `Clone` impl must not use the same channel. A receiver's
//!    cursor moves past a value before it is cloned, so a panicking `clone` skips that value
//!    for that receiver (tokio's behaviour), and the lock survives it (poison is ignored).
//! 3. A send wakes every waiting receiver; a waiting receiver registers before it looks
//!    again (under the same lock as the sends), so no wakeup is lost. A dropped `Recv`
//!    unlinks itself; it passes nothing on (every receiver has its own cursor).
//!
//! ```
//! use tickslab_runtime::{Runtime, sync::broadcast};
//!
//! let rt = Runtime::new().unwrap();
//! rt.block_on(async {
//!     let (tx, mut rx1) = broadcast::channel(2);
//!     let mut rx2 = tx.subscribe();
//!     tx.send(1).unwrap();
//!     tx.send(2).unwrap();
//!     assert_eq!(rx1.recv().await, Ok(1));
//!     tx.send(3).unwrap(); // rx2 has not read 1: it is overwritten
//!     assert_eq!(rx2.recv().await, Err(broadcast::error::RecvError::Lagged(1)));
//!     assert_eq!(rx2.recv().await, Ok(2));
//! });
//! ```

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use super::notify::Notify;
use super::waiters::{WaitState, Waiter, WaiterList};
use super::wake_list::{WakeList, lock};

pub mod error;

use error::{RecvError, SendError, TryRecvError};

struct Slot<T> {
    pos: u64,
    rem: usize,
    val: Option<T>,
}

struct State<T> {
    buf: Box<[Slot<T>]>,
    tail: u64,
    receivers: usize,
    closed: bool,
    waiters: WaiterList,
}

struct Shared<T> {
    state: Mutex<State<T>>,
    mask: u64,
    senders: AtomicUsize,
    weak: AtomicUsize,
    /// Woken when the last receiver goes (`Sender::closed`).
    no_receivers: Notify,
}

/// Makes a broadcast channel holding the last `capacity` values (rounded up to a power of
/// two). Allocates the shared state and the ring now, nothing per message afterwards.
///
/// # Panics
/// If `capacity` is 0 or above `usize::MAX / 2`.
#[track_caller]
pub fn channel<T: Clone>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    assert!(capacity > 0, "broadcast channel capacity cannot be zero");
    assert!(
        capacity <= usize::MAX >> 1,
        "broadcast channel capacity exceeded `usize::MAX / 2`"
    );
    let cap = capacity.next_power_of_two();
    let buf = (0..cap)
        .map(|i| Slot {
            // No slot matches a position before the first send (invariant 1).
            pos: (i as u64).wrapping_sub(cap as u64),
            rem: 0,
            val: None,
        })
        .collect();
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            buf,
            tail: 0,
            receivers: 1,
            closed: false,
            waiters: WaiterList::new(),
        }),
        mask: cap as u64 - 1,
        senders: AtomicUsize::new(1),
        weak: AtomicUsize::new(0),
        no_receivers: Notify::new(),
    });
    (
        Sender {
            shared: shared.clone(),
        },
        Receiver { shared, next: 0 },
    )
}

impl<T> Shared<T> {
    /// Wakes every waiting receiver, in batches, outside the lock.
    fn wake_all<'a>(&'a self, mut st: std::sync::MutexGuard<'a, State<T>>) {
        let mut wakers = WakeList::new();
        loop {
            while wakers.can_push() && st.waiters.len() > 0 {
                wakers.push(st.waiters.pop_front(WaitState::Notified));
            }
            let more = st.waiters.len() > 0;
            drop(st);
            wakers.wake_all();
            if !more {
                return wakers.finish();
            }
            st = lock(&self.state);
        }
    }

    /// Takes the value at `*next` under the lock (invariant 1). On success, a value left
    /// with no reader is moved out into `freed` (to drop after the lock).
    fn try_recv_locked(&self, st: &mut State<T>, next: &mut u64) -> Result<Taken<T>, TryRecvError>
    where
        T: Clone,
    {
        let cap = self.mask + 1;
        let tail = st.tail;
        let slot = &mut st.buf[(*next & self.mask) as usize];
        if slot.pos != *next {
            if *next >= tail {
                return Err(if st.closed {
                    TryRecvError::Closed
                } else {
                    TryRecvError::Empty
                });
            }
            // Overwritten: skip to the oldest value still held.
            let oldest = tail - cap;
            let missed = oldest - *next;
            *next = oldest;
            return Err(TryRecvError::Lagged(missed));
        }
        *next += 1;
        slot.rem -= 1;
        if slot.rem == 0 {
            Ok(Taken::Last(
                slot.val.take().expect("a counted slot holds its value"),
            ))
        } else {
            Ok(Taken::Cloned(
                slot.val.clone().expect("a counted slot holds its value"),
            ))
        }
    }
}

/// A value taken under the lock (invariant 1): cloned there, or the slot's own value, to
/// clone after the lock.
enum Taken<T> {
    Cloned(T),
    Last(T),
}

impl<T: Clone> Taken<T> {
    /// The receiver's clone; call after the lock is released (the last value's `clone` and
    /// `drop` are user code).
    fn into_value(self) -> T {
        match self {
            Taken::Cloned(v) => v,
            Taken::Last(v) => v.clone(),
        }
    }
}

/// The sending half: `Send + Sync + Clone` when `T: Send`.
pub struct Sender<T> {
    shared: Arc<Shared<T>>,
}

impl<T> Sender<T> {
    /// A sender with no receiver yet (make them with [`subscribe`](Self::subscribe)); the
    /// capacity as in [`channel`].
    #[track_caller]
    pub fn new(capacity: usize) -> Sender<T>
    where
        T: Clone,
    {
        let (tx, rx) = channel(capacity);
        drop(rx);
        tx
    }

    /// Sends `value` to every receiver; returns how many there are, or the value back if
    /// none is left. Never waits: a slow receiver lags instead.
    pub fn send(&self, value: T) -> Result<usize, SendError<T>> {
        let shared = &*self.shared;
        let mut st = lock(&shared.state);
        if st.receivers == 0 {
            return Err(SendError(value));
        }
        let receivers = st.receivers;
        let tail = st.tail;
        let slot = &mut st.buf[(tail & shared.mask) as usize];
        let old = slot.val.replace(value);
        slot.pos = tail;
        slot.rem = receivers;
        st.tail = tail + 1;
        shared.wake_all(st);
        // Invariant 2: the overwritten value is dropped outside the lock.
        drop(old);
        Ok(receivers)
    }

    /// A new receiver that sees the values sent from now on.
    pub fn subscribe(&self) -> Receiver<T> {
        let mut st = lock(&self.shared.state);
        st.receivers += 1;
        Receiver {
            shared: self.shared.clone(),
            next: st.tail,
        }
    }

    /// Values held that some receiver has not read yet.
    pub fn len(&self) -> usize {
        let st = lock(&self.shared.state);
        st.buf
            .iter()
            .filter(|s| s.val.is_some() && s.rem > 0)
            .count()
    }

    /// Whether no value waits for a receiver.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Receivers alive now.
    pub fn receiver_count(&self) -> usize {
        lock(&self.shared.state).receivers
    }

    /// Whether both senders belong to the same channel.
    pub fn same_channel(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }

    /// A sender that does not keep the channel open ([`WeakSender::upgrade`]).
    pub fn downgrade(&self) -> WeakSender<T> {
        self.shared.weak.fetch_add(1, Ordering::Relaxed);
        WeakSender {
            shared: self.shared.clone(),
        }
    }

    /// Strong senders alive now.
    pub fn strong_count(&self) -> usize {
        self.shared.senders.load(Ordering::Acquire)
    }

    /// Weak senders alive now.
    pub fn weak_count(&self) -> usize {
        self.shared.weak.load(Ordering::Acquire)
    }

    /// Completes when every receiver is gone.
    pub async fn closed(&self) {
        loop {
            let notified = std::pin::pin!(self.shared.no_receivers.notified());
            if self.receiver_count() == 0 {
                return;
            }
            notified.await;
        }
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        self.shared.senders.fetch_add(1, Ordering::Relaxed);
        Sender {
            shared: self.shared.clone(),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        if self.shared.senders.fetch_sub(1, Ordering::AcqRel) == 1 {
            let mut st = lock(&self.shared.state);
            st.closed = true;
            self.shared.wake_all(st);
        }
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender").finish_non_exhaustive()
    }
}

/// A sender that does not keep the channel open: [`upgrade`](Self::upgrade) it to send.
pub struct WeakSender<T> {
    shared: Arc<Shared<T>>,
}

impl<T> WeakSender<T> {
    /// A strong sender, if one is still alive somewhere (once the last one went, the
    /// channel is closed for good).
    pub fn upgrade(&self) -> Option<Sender<T>> {
        let mut n = self.shared.senders.load(Ordering::Relaxed);
        loop {
            if n == 0 {
                return None;
            }
            match self.shared.senders.compare_exchange_weak(
                n,
                n + 1,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => {
                    return Some(Sender {
                        shared: self.shared.clone(),
                    });
                }
                Err(actual) => n = actual,
            }
        }
    }

    /// Strong senders alive now.
    pub fn strong_count(&self) -> usize {
        self.shared.senders.load(Ordering::Acquire)
    }

    /// Weak senders alive now.
    pub fn weak_count(&self) -> usize {
        self.shared.weak.load(Ordering::Acquire)
    }
}

impl<T> Clone for WeakSender<T> {
    fn clone(&self) -> Self {
        self.shared.weak.fetch_add(1, Ordering::Relaxed);
        WeakSender {
            shared: self.shared.clone(),
        }
    }
}

impl<T> Drop for WeakSender<T> {
    fn drop(&mut self) {
        self.shared.weak.fetch_sub(1, Ordering::AcqRel);
    }
}

impl<T> fmt::Debug for WeakSender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WeakSender").finish_non_exhaustive()
    }
}

/// The receiving half: one cursor into the channel. `Send` when `T: Send`.
pub struct Receiver<T> {
    shared: Arc<Shared<T>>,
    next: u64,
}

impl<T: Clone> Receiver<T> {
    /// Receives the next value, waiting while none is new: `Err(Lagged(n))` if `n` values
    /// were overwritten unread, `Err(Closed)` once every sender is gone and nothing is
    /// left. Cancel-safe.
    pub fn recv(&mut self) -> Recv<'_, T> {
        Recv {
            receiver: self,
            waiter: Waiter::new(),
            queued: false,
        }
    }

    /// Takes the next value now (see [`recv`](Self::recv)), or [`TryRecvError::Empty`].
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        let shared = &*self.shared;
        let mut st = lock(&shared.state);
        let taken = shared.try_recv_locked(&mut st, &mut self.next);
        drop(st);
        taken.map(Taken::into_value)
    }

    /// Receives from a thread that is not running async code, parking it while it waits.
    ///
    /// # Panics
    /// When called from a task of a tickslab runtime (use the async method there).
    #[track_caller]
    pub fn blocking_recv(&mut self) -> Result<T, RecvError> {
        super::blocking::block_on(self.recv())
    }
}

impl<T> Receiver<T> {
    /// A new receiver that sees the values sent from now on.
    pub fn resubscribe(&self) -> Self {
        let mut st = lock(&self.shared.state);
        st.receivers += 1;
        Receiver {
            shared: self.shared.clone(),
            next: st.tail,
        }
    }

    /// Values sent since this receiver's cursor, including those it will find overwritten
    /// (tokio's count: a lagging receiver's `len` can exceed the capacity).
    pub fn len(&self) -> usize {
        let st = lock(&self.shared.state);
        (st.tail - self.next) as usize
    }

    /// Whether this receiver has read everything sent so far.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether every sender is gone.
    pub fn is_closed(&self) -> bool {
        lock(&self.shared.state).closed
    }

    /// Receivers alive now.
    pub fn receiver_count(&self) -> usize {
        lock(&self.shared.state).receivers
    }

    /// Strong senders alive now.
    pub fn sender_strong_count(&self) -> usize {
        self.shared.senders.load(Ordering::Acquire)
    }

    /// Weak senders alive now.
    pub fn sender_weak_count(&self) -> usize {
        self.shared.weak.load(Ordering::Acquire)
    }

    /// Whether both receivers belong to the same channel.
    pub fn same_channel(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        let shared = &*self.shared;
        // Give up our claim on every value we have not read; the values nobody else wants
        // are dropped one at a time outside the lock (invariant 2).
        loop {
            let freed = {
                let mut st = lock(&shared.state);
                let mut freed = None;
                while self.next < st.tail {
                    let pos = self.next;
                    self.next += 1;
                    let slot = &mut st.buf[(pos & shared.mask) as usize];
                    if slot.pos == pos && slot.rem > 0 {
                        slot.rem -= 1;
                        if slot.rem == 0 {
                            freed = slot.val.take();
                            break;
                        }
                    }
                }
                if freed.is_none() {
                    st.receivers -= 1;
                    if st.receivers == 0 {
                        drop(st);
                        shared.no_receivers.notify_waiters();
                    }
                    return;
                }
                freed
            };
            drop(freed);
        }
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver")
            .field("next", &self.next)
            .finish_non_exhaustive()
    }
}

/// Future of [`Receiver::recv`]. `!Unpin` (it holds a list node).
#[must_use = "futures do nothing unless awaited"]
pub struct Recv<'a, T> {
    receiver: &'a mut Receiver<T>,
    waiter: Waiter,
    queued: bool,
}

impl<T: Clone> Future for Recv<'_, T> {
    type Output = Result<T, RecvError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: `waiter` is never moved out of the pinned future; the other fields are
        // not structurally pinned.
        let this = unsafe { self.get_unchecked_mut() };
        crate::coop::poll_budgeted(cx, |cx| {
            // Cloned before locking: a waker's `clone` is foreign code.
            let waker = cx.waker().clone();
            let shared = &*this.receiver.shared;
            let mut st = lock(&shared.state);
            // SAFETY: the node is pinned inside this future, used only with this channel's
            // list, whose lock we hold; `Drop` unlinks it under the same lock (waiters.rs
            // rules 1 to 3).
            let waiter = unsafe { Pin::new_unchecked(&this.waiter) };
            let result = shared.try_recv_locked(&mut st, &mut this.receiver.next);
            let replaced = match result {
                Err(TryRecvError::Empty) => {
                    // Invariant 3: queued (or refreshed) under the lock the sends take.
                    // SAFETY: as above.
                    let replaced = unsafe { st.waiters.push_back(waiter, waker) };
                    this.queued = true;
                    drop(st);
                    drop(replaced);
                    return Poll::Pending;
                }
                _ if this.queued => {
                    this.queued = false;
                    // SAFETY: as above.
                    unsafe { st.waiters.remove(waiter) }.1
                }
                _ => None,
            };
            drop(st);
            drop(replaced);
            Poll::Ready(match result {
                Ok(taken) => Ok(taken.into_value()),
                Err(TryRecvError::Lagged(n)) => Err(RecvError::Lagged(n)),
                Err(_) => Err(RecvError::Closed),
            })
        })
    }
}

impl<T> Drop for Recv<'_, T> {
    fn drop(&mut self) {
        if !self.queued {
            return;
        }
        let waker = {
            let mut st = lock(&self.receiver.shared.state);
            // SAFETY: `drop` runs on the pinned future in place, before the node dies; the
            // node is used only with this list, whose lock we hold (rules 1 and 3).
            let (_, waker) = unsafe { st.waiters.remove(Pin::new_unchecked(&self.waiter)) };
            waker
        };
        drop(waker);
    }
}

impl<T> fmt::Debug for Recv<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Recv").finish_non_exhaustive()
    }
}
