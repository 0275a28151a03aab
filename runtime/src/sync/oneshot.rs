//! A thread-safe one-shot channel: tokio's `sync::oneshot`.
//!
//! Both halves are `Send` (and `Sync`) when `T: Send`. [`channel`] makes **one heap block**
//! (an `Arc` of the shared cell, as tokio's does); sending, receiving and waiting allocate
//! nothing. For two ends on one runtime thread,
//! [`local::oneshot`](crate::sync::local::oneshot) does the same without atomics.
//!
//! The shared cell sits behind a `std::sync::Mutex` (safe code, no `unsafe`): the value,
//! the receiver's waker, the sender's waker (for [`Sender::closed`]) and two flags. No user
//! code runs under the lock: wakers are cloned before it and woken or dropped after it,
//! the value is moved in or out under it and dropped after it.
//!
//! Semantics follow tokio's:
//! - [`Sender::send`] hands the value back in `Err` when the receiver is gone or closed;
//! - the [`Receiver`] is a future of `Result<T, RecvError>`: `Err` when the sender was
//!   dropped without sending; [`Receiver::blocking_recv`] waits from a plain thread;
//! - [`Receiver::close`] stops any later send, but a value sent before stays readable
//!   through [`Receiver::try_recv`].
//!
//! ```
//! use tickslab_runtime::{Runtime, sync::oneshot};
//!
//! let (tx, rx) = oneshot::channel();
//! let worker = std::thread::spawn(move || tx.send(6 * 7).unwrap());
//! let rt = Runtime::new().unwrap();
//! assert_eq!(rt.block_on(rx), Ok(42));
//! worker.join().unwrap();
//! ```

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use super::wake_list::lock;

pub use super::local::oneshot::error;
use error::{RecvError, TryRecvError};

struct State<T> {
    value: Option<T>,
    /// The sender sent or was dropped: nothing more will come.
    tx_done: bool,
    /// The receiver closed or was dropped: sends fail.
    rx_closed: bool,
    /// The receiver took the value (or its absence) out.
    taken: bool,
    rx_waker: Option<Waker>,
    tx_waker: Option<Waker>,
}

type Shared<T> = Arc<Mutex<State<T>>>;

/// Makes a one-shot channel. One allocation (the shared cell).
pub fn channel<T>() -> (Sender<T>, Receiver<T>) {
    let shared = Arc::new(Mutex::new(State {
        value: None,
        tx_done: false,
        rx_closed: false,
        taken: false,
        rx_waker: None,
        tx_waker: None,
    }));
    (
        Sender {
            shared: Some(shared.clone()),
        },
        Receiver { shared },
    )
}

/// The sending half: sends one value.
pub struct Sender<T> {
    /// `None` once sent.
    shared: Option<Shared<T>>,
}

impl<T> Sender<T> {
    /// Sends `value`; `Err(value)` if the receiver is gone or closed.
    pub fn send(mut self, value: T) -> Result<(), T> {
        let shared = self
            .shared
            .take()
            .expect("a Sender holds its channel until it sends");
        let waker = {
            let mut st = lock(&shared);
            st.tx_done = true;
            if st.rx_closed {
                return Err(value);
            }
            st.value = Some(value);
            st.rx_waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
        Ok(())
    }

    /// Whether the receiver is gone or closed (a send would fail).
    pub fn is_closed(&self) -> bool {
        self.shared.as_ref().is_none_or(|s| lock(s).rx_closed)
    }

    /// Completes when the receiver is gone or closed.
    pub async fn closed(&mut self) {
        std::future::poll_fn(|cx| self.poll_closed(cx)).await
    }

    /// Polls for [`closed`](Self::closed).
    pub fn poll_closed(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let Some(shared) = &self.shared else {
            return Poll::Ready(());
        };
        let waker = cx.waker().clone();
        let replaced = {
            let mut st = lock(shared);
            if st.rx_closed {
                return Poll::Ready(());
            }
            match &st.tx_waker {
                Some(w) if w.will_wake(&waker) => Some(waker),
                _ => st.tx_waker.replace(waker),
            }
        };
        drop(replaced);
        Poll::Pending
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        if let Some(shared) = self.shared.take() {
            let (waker, tx_waker) = {
                let mut st = lock(&shared);
                st.tx_done = true;
                (st.rx_waker.take(), st.tx_waker.take())
            };
            if let Some(w) = waker {
                w.wake();
            }
            drop(tx_waker);
        }
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("closed", &self.is_closed())
            .finish()
    }
}

/// The receiving half: a future of `Result<T, RecvError>`.
pub struct Receiver<T> {
    shared: Shared<T>,
}

impl<T> Receiver<T> {
    /// Takes the value now: [`TryRecvError::Empty`] if not sent yet,
    /// [`TryRecvError::Closed`] if it never will be (or was already taken).
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        let mut st = lock(&self.shared);
        if let Some(v) = st.value.take() {
            st.taken = true;
            return Ok(v);
        }
        if st.tx_done || st.taken || st.rx_closed {
            st.taken = true;
            Err(TryRecvError::Closed)
        } else {
            Err(TryRecvError::Empty)
        }
    }

    /// Stops any later send (it fails, handing its value back); a value already sent stays
    /// readable with [`try_recv`](Self::try_recv) or by awaiting the receiver, which
    /// otherwise completes with an error. Wakes a sender in `closed()`.
    pub fn close(&mut self) {
        let waker = {
            let mut st = lock(&self.shared);
            st.rx_closed = true;
            st.tx_waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// Waits for the value from a thread that is not running async code.
    ///
    /// # Panics
    /// When called from a task of a tickslab runtime (use the async method there).
    #[track_caller]
    pub fn blocking_recv(self) -> Result<T, RecvError> {
        super::blocking::block_on(self)
    }

    /// Whether the value (or its absence) was already taken: polling again would panic.
    pub fn is_terminated(&self) -> bool {
        lock(&self.shared).taken
    }

    /// Whether no value is there to take now.
    pub fn is_empty(&self) -> bool {
        lock(&self.shared).value.is_none()
    }

    fn poll_receive(&mut self, cx: &mut Context<'_>) -> Poll<Result<T, RecvError>> {
        let waker = cx.waker().clone();
        let replaced = {
            let mut st = lock(&self.shared);
            assert!(!st.taken, "oneshot Receiver polled after completion");
            if let Some(v) = st.value.take() {
                st.taken = true;
                return Poll::Ready(Ok(v));
            }
            // Sent nothing and never will: the sender is gone, or we closed (tokio's
            // receiver also completes with an error after `close` when no value came).
            if st.tx_done || st.rx_closed {
                st.taken = true;
                return Poll::Ready(Err(RecvError(())));
            }
            match &st.rx_waker {
                Some(w) if w.will_wake(&waker) => Some(waker),
                _ => st.rx_waker.replace(waker),
            }
        };
        drop(replaced);
        Poll::Pending
    }
}

impl<T> Future for Receiver<T> {
    type Output = Result<T, RecvError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // A completed receive spends one unit of the task's budget (`crate::coop`).
        crate::coop::poll_budgeted(cx, |cx| self.poll_receive(cx))
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        let (value, rx_waker, tx_waker) = {
            let mut st = lock(&self.shared);
            st.rx_closed = true;
            (st.value.take(), st.rx_waker.take(), st.tx_waker.take())
        };
        // User code (wakers, the value's destructor) runs after the lock; the sender's
        // wakeup first, so that a panic in the rest cannot keep it from learning.
        if let Some(w) = tx_waker {
            w.wake();
        }
        drop(rx_waker);
        drop(value);
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver").finish_non_exhaustive()
    }
}
