//! What the bounded and unbounded channels share: the sender count, the receiver's state
//! and waker, the close notification, and the protocol that keeps messages from being lost
//! or outliving the receiver.
//!
//! # Invariants
//!
//! 1. **Each message is received once, handed back in an error, or dropped with the
//!    channel.** After a push, a sender fences (`SeqCst`) and looks at `DROPPED`; the
//!    receiver's drop sets `DROPPED`, fences and drains. So either the sender sees
//!    `DROPPED` and drains its own message, or the receiver's drain sees it.
//! 2. **No lost wakeup for the receiver.** It registers its waker, then looks at the queue
//!    again; a push after that look wakes the registered waker ([`AtomicWaker`]).
//! 3. **The end.** `recv` yields `None` once the queue is empty and either every strong
//!    sender is gone (their pushes happen before their count drops: `AcqRel` / `Acquire`)
//!    or the receiver closed and no permit is outstanding ([`Flavor::idle`]: a held
//!    `Permit` may still send after `close`, as in tokio).

use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering, fence};

use crate::sync::atomic_waker::AtomicWaker;
use crate::sync::notify::Notify;

/// The receiver was closed or dropped: sends fail.
const CLOSED: u8 = 0b01;
/// The receiver was dropped: nobody will receive; whoever sees this drops stragglers.
const DROPPED: u8 = 0b10;

/// The queue and capacity of one kind of channel.
pub(super) trait Flavor {
    type Item;
    /// Appends (the caller holds a permit, or the flavor is unbounded).
    fn push(&self, value: Self::Item);
    /// Takes the oldest message.
    fn pop(&self) -> Option<Self::Item>;
    /// Messages queued.
    fn len(&self) -> usize;
    /// A message was received: its permit goes back (bounded).
    fn on_received(&self);
    /// The receiver closed: waiting senders fail (bounded).
    fn close(&self);
    /// No permit is held outside the queue: after a close, nothing more can arrive.
    fn idle(&self) -> bool;
}

pub(super) struct Chan<F> {
    pub(super) flavor: F,
    /// Strong senders alive.
    pub(super) senders: AtomicUsize,
    /// Weak senders alive.
    pub(super) weak: AtomicUsize,
    rx_state: AtomicU8,
    rx_waker: AtomicWaker,
    /// Woken when the receiver closes or drops (`Sender::closed`).
    closed: Notify,
}

impl<F: Flavor> Chan<F> {
    pub(super) fn new(flavor: F) -> Chan<F> {
        Chan {
            flavor,
            senders: AtomicUsize::new(1),
            weak: AtomicUsize::new(0),
            rx_state: AtomicU8::new(0),
            rx_waker: AtomicWaker::new(),
            closed: Notify::new(),
        }
    }

    /// Whether the receiver closed or dropped.
    pub(super) fn is_closed(&self) -> bool {
        self.rx_state.load(Ordering::Acquire) & CLOSED != 0
    }

    /// Pushes and wakes the receiver, or drops the message if the receiver is gone
    /// (invariant 1).
    pub(super) fn push(&self, value: F::Item) {
        self.flavor.push(value);
        fence(Ordering::SeqCst);
        if self.rx_state.load(Ordering::Relaxed) & DROPPED != 0 {
            self.drain();
            return;
        }
        self.rx_waker.wake();
    }

    /// Wakes the receiver (a permit went back after a close, or the last sender left).
    pub(super) fn wake_rx(&self) {
        self.rx_waker.wake();
    }

    /// Drops every queued message. If a destructor panics, a guard drops the rest while
    /// the panic unwinds (a second panic there aborts, as in `Vec`'s drop).
    fn drain(&self) {
        struct Rest<'a, F: Flavor>(&'a F);
        impl<F: Flavor> Drop for Rest<'_, F> {
            fn drop(&mut self) {
                while let Some(v) = self.0.pop() {
                    drop(v);
                }
            }
        }
        let rest = Rest(&self.flavor);
        while let Some(v) = self.flavor.pop() {
            drop(v);
        }
        std::mem::forget(rest);
    }

    fn pop(&self) -> Option<F::Item> {
        let v = self.flavor.pop()?;
        self.flavor.on_received();
        Some(v)
    }

    /// Invariant 3: nothing more can arrive.
    fn finished(&self) -> bool {
        self.senders.load(Ordering::Acquire) == 0 || (self.is_closed() && self.flavor.idle())
    }

    /// The receiver's try: `Ok(Some)`, `Ok(None)` (empty, more may come) or `Err(())`
    /// (empty for good).
    pub(super) fn try_recv(&self) -> Result<Option<F::Item>, ()> {
        if let Some(v) = self.pop() {
            return Ok(Some(v));
        }
        if self.finished() {
            // Look again: a push that came before the last sender left is visible now.
            return self.pop().map(Some).ok_or(());
        }
        Ok(None)
    }

    /// The receiver's poll (through `&mut Receiver`, so one registering side).
    pub(super) fn poll_recv(
        &self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<F::Item>> {
        use std::task::Poll;
        match self.try_recv() {
            Ok(Some(v)) => return Poll::Ready(Some(v)),
            Err(()) => return Poll::Ready(None),
            Ok(None) => {}
        }
        self.rx_waker.register(cx.waker());
        // Invariant 2: look again after registering.
        match self.try_recv() {
            Ok(Some(v)) => Poll::Ready(Some(v)),
            Err(()) => Poll::Ready(None),
            Ok(None) => Poll::Pending,
        }
    }

    /// `Receiver::close`: sends fail from now on; buffered messages stay receivable.
    pub(super) fn close(&self) {
        if self.rx_state.fetch_or(CLOSED, Ordering::AcqRel) & CLOSED == 0 {
            self.flavor.close();
            self.closed.notify_waiters();
        }
    }

    /// `Receiver`'s drop: close, then drop what is buffered (invariant 1).
    pub(super) fn drop_rx(&self) {
        let was = self.rx_state.fetch_or(CLOSED | DROPPED, Ordering::SeqCst);
        if was & CLOSED == 0 {
            self.flavor.close();
            self.closed.notify_waiters();
        }
        let waker = self.rx_waker.take();
        fence(Ordering::SeqCst);
        self.drain();
        // Foreign code last (the buffered values' destructors ran under `drain`'s guard).
        drop(waker);
    }

    /// A strong sender is gone; the last one wakes the receiver.
    pub(super) fn drop_tx(&self) {
        if self.senders.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.rx_waker.wake();
        }
    }

    /// A new strong sender from a live one.
    pub(super) fn clone_tx(&self) {
        // Relaxed: a clone comes from a live sender, so the count cannot be zero here.
        self.senders.fetch_add(1, Ordering::Relaxed);
    }

    /// Strong senders alive now.
    pub(super) fn strong_count(&self) -> usize {
        self.senders.load(Ordering::Acquire)
    }

    /// Weak senders alive now.
    pub(super) fn weak_count(&self) -> usize {
        self.weak.load(Ordering::Acquire)
    }

    /// A weak sender was made (`downgrade`, or a clone of one).
    pub(super) fn new_weak(&self) {
        self.weak.fetch_add(1, Ordering::Relaxed);
    }

    /// A weak sender is gone.
    pub(super) fn drop_weak(&self) {
        self.weak.fetch_sub(1, Ordering::AcqRel);
    }

    /// A strong sender from a weak one, if any strong one is left.
    pub(super) fn upgrade_tx(&self) -> bool {
        let mut n = self.senders.load(Ordering::Relaxed);
        loop {
            if n == 0 {
                return false;
            }
            match self
                .senders
                .compare_exchange_weak(n, n + 1, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => return true,
                Err(actual) => n = actual,
            }
        }
    }

    /// Waits until the receiver closes or drops (`Sender::closed`); no allocation.
    pub(super) async fn closed(&self) {
        loop {
            let notified = std::pin::pin!(self.closed.notified());
            // Created before the check: a close after the check reaches it.
            if self.is_closed() {
                return;
            }
            notified.await;
        }
    }

    /// Whether the receiver has closed and no sender can send any more.
    pub(super) fn rx_is_closed(&self) -> bool {
        self.is_closed() || self.senders.load(Ordering::Acquire) == 0
    }
}
