//! A one-shot channel for one value between tasks on the same thread.
//!
//! [`channel`] makes one heap block (the shared cell, behind an `Rc`), and that is all it
//! ever allocates: sending, receiving and waiting allocate nothing. Both halves are `!Send`:
//! the channel uses no atomics. To pass a value from another thread, use a
//! [`cross`](crate::sync::cross) channel.
//!
//! Semantics follow `tokio::sync::oneshot`:
//! - [`Sender::send`] hands the value back in `Err` when the receiver is gone or closed;
//! - the [`Receiver`] is a future of `Result<T, RecvError>`: `Err` when the sender was
//!   dropped without sending;
//! - [`Receiver::close`] stops any later send, but a value sent before stays readable
//!   through [`Receiver::try_recv`].
//!
//! ```
//! use tickslab_runtime::{Runtime, spawn, sync::local::oneshot};
//!
//! let rt = Runtime::new().unwrap();
//! let answer = rt.block_on(async {
//!     let (tx, rx) = oneshot::channel();
//!     spawn(async move {
//!         // The value comes back in `Err` if the receiver is gone.
//!         let _ = tx.send(42);
//!     });
//!     rx.await
//! });
//! assert_eq!(answer, Ok(42));
//! ```

use std::cell::Cell;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

/// Errors of the one-shot channel.
pub mod error {
    use std::fmt;

    /// The sender was dropped without sending a value (or the value was already taken).
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct RecvError(pub(crate) ());

    impl fmt::Display for RecvError {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("channel closed")
        }
    }

    impl std::error::Error for RecvError {}

    /// Why [`Receiver::try_recv`](super::Receiver::try_recv) returned no value.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum TryRecvError {
        /// No value yet, and the sender may still send one.
        Empty,
        /// No value, and none will come: the sender is gone, the receiver was closed, or
        /// the value was already taken.
        Closed,
    }

    impl fmt::Display for TryRecvError {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            match self {
                TryRecvError::Empty => f.write_str("channel empty"),
                TryRecvError::Closed => f.write_str("channel closed"),
            }
        }
    }

    impl std::error::Error for TryRecvError {}
}

use error::{RecvError, TryRecvError};

/// The sender completed: it sent, or it was dropped without sending.
const COMPLETE: u8 = 0b001;
/// The receiver was closed or dropped: sends fail from now on.
const RX_CLOSED: u8 = 0b010;
/// The receiver took the value (or gave up on it).
const TAKEN: u8 = 0b100;

struct Shared<T> {
    state: Cell<u8>,
    value: Cell<Option<T>>,
    /// The receiver's waker, woken on send or on the sender's drop.
    rx_waker: Cell<Option<Waker>>,
    /// The sender's waker, for [`Sender::closed`], woken on close or the receiver's drop.
    tx_waker: Cell<Option<Waker>>,
}

impl<T> Shared<T> {
    fn has(&self, flag: u8) -> bool {
        self.state.get() & flag != 0
    }

    fn set(&self, flag: u8) {
        self.state.set(self.state.get() | flag);
    }
}

/// Stores a clone of `waker` in `slot` unless the stored one already wakes the same task.
fn store_waker(slot: &Cell<Option<Waker>>, waker: &Waker) {
    match slot.take() {
        Some(old) if old.will_wake(waker) => slot.set(Some(old)),
        old => {
            slot.set(Some(waker.clone()));
            // The replaced waker drops after the slot holds the new one.
            drop(old);
        }
    }
}

fn wake(slot: &Cell<Option<Waker>>) {
    if let Some(w) = slot.take() {
        w.wake();
    }
}

/// Makes a one-shot channel: one allocation (the shared cell).
pub fn channel<T>() -> (Sender<T>, Receiver<T>) {
    let shared = Rc::new(Shared {
        state: Cell::new(0),
        value: Cell::new(None),
        rx_waker: Cell::new(None),
        tx_waker: Cell::new(None),
    });
    (
        Sender {
            shared: shared.clone(),
        },
        Receiver { shared },
    )
}

/// Sends the one value. Dropping it without sending makes the receiver get [`RecvError`].
pub struct Sender<T> {
    shared: Rc<Shared<T>>,
}

impl<T> Sender<T> {
    /// Sends `value`, or hands it back in `Err` when the receiver is gone or closed.
    ///
    /// The receiver is woken. A successful send only means the value was stored: the
    /// receiver may still drop it without reading it.
    pub fn send(self, value: T) -> Result<(), T> {
        let shared = &self.shared;
        if shared.has(RX_CLOSED) {
            return Err(value);
        }
        shared.value.set(Some(value));
        shared.set(COMPLETE);
        wake(&shared.rx_waker);
        Ok(())
        // `Drop` sees COMPLETE and does nothing more.
    }

    /// Whether the receiver is gone or closed (a send would fail).
    pub fn is_closed(&self) -> bool {
        self.shared.has(RX_CLOSED)
    }

    /// Waits until the receiver is gone or closed: lets a producer stop computing a value
    /// nobody wants any more.
    pub fn closed(&mut self) -> Closed<'_, T> {
        Closed { sender: self }
    }

    /// Polls for [`closed`](Self::closed): ready once the receiver is gone or closed.
    pub fn poll_closed(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if self.shared.has(RX_CLOSED) {
            return Poll::Ready(());
        }
        store_waker(&self.shared.tx_waker, cx.waker());
        Poll::Pending
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let shared = &self.shared;
        if !shared.has(COMPLETE) {
            shared.set(COMPLETE);
            wake(&shared.rx_waker);
        }
        // The waker of a pending `closed()` is ours; nobody will wake it any more.
        drop(shared.tx_waker.take());
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("closed", &self.is_closed())
            .finish_non_exhaustive()
    }
}

/// Future returned by [`Sender::closed`].
#[must_use = "futures do nothing unless awaited"]
pub struct Closed<'a, T> {
    sender: &'a mut Sender<T>,
}

impl<T> Future for Closed<'_, T> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.sender.poll_closed(cx)
    }
}

impl<T> fmt::Debug for Closed<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Closed").finish_non_exhaustive()
    }
}

/// Receives the one value: await it, or poll it with [`try_recv`](Self::try_recv).
///
/// Dropping it drops a value that was sent but not received, and makes later sends fail.
pub struct Receiver<T> {
    shared: Rc<Shared<T>>,
}

impl<T> Receiver<T> {
    /// Takes the value if it is there, without waiting.
    ///
    /// `Err(Empty)` while the sender may still send; `Err(Closed)` once no value will come
    /// (sender dropped, receiver closed before a send, or value already taken).
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        let shared = &self.shared;
        if let Some(value) = shared.value.take() {
            shared.set(TAKEN);
            return Ok(value);
        }
        if shared.has(COMPLETE | RX_CLOSED | TAKEN) {
            Err(TryRecvError::Closed)
        } else {
            Err(TryRecvError::Empty)
        }
    }

    /// Closes the channel: any later [`Sender::send`] fails and hands its value back. A
    /// value sent before is still there for [`try_recv`](Self::try_recv) (and awaiting
    /// the receiver still yields it).
    pub fn close(&mut self) {
        let shared = &self.shared;
        if !shared.has(RX_CLOSED) {
            shared.set(RX_CLOSED);
            wake(&shared.tx_waker);
        }
    }

    /// Whether awaiting this receiver is over: the value was taken, or none will come.
    pub fn is_terminated(&self) -> bool {
        let shared = &self.shared;
        shared.has(TAKEN) || (!self.has_value() && shared.has(COMPLETE | RX_CLOSED))
    }

    /// Whether no value is waiting to be taken.
    pub fn is_empty(&self) -> bool {
        !self.has_value()
    }

    fn has_value(&self) -> bool {
        // `Cell<Option<T>>` cannot be peeked without `T: Copy`: take and put back.
        let value = self.shared.value.take();
        let has = value.is_some();
        self.shared.value.set(value);
        has
    }
}

impl<T> Future for Receiver<T> {
    type Output = Result<T, RecvError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // A completed receive spends one unit of the task's budget (`crate::coop`).
        crate::coop::poll_budgeted(cx, |cx| self.poll_receive(cx))
    }
}

impl<T> Receiver<T> {
    fn poll_receive(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<T, RecvError>> {
        let this = self.get_mut();
        match this.try_recv() {
            Ok(value) => Poll::Ready(Ok(value)),
            Err(TryRecvError::Closed) => Poll::Ready(Err(RecvError(()))),
            Err(TryRecvError::Empty) => {
                store_waker(&this.shared.rx_waker, cx.waker());
                Poll::Pending
            }
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        let shared = &self.shared;
        shared.set(RX_CLOSED | TAKEN);
        drop(shared.rx_waker.take());
        wake(&shared.tx_waker);
        // A value sent but never received is dropped here, with the receiver.
        drop(shared.value.take());
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver")
            .field("terminated", &self.is_terminated())
            .finish_non_exhaustive()
    }
}
