//! [`Alloc`]: the future of [`Pool::alloc`] and [`Pool::take`], waiting for a free slot.
//!
//! A waiting allocation links a [`Waiter`] node that lives inside the future into the
//! pool's `RefCell<WaiterList>`, keeping the three numbered rules of `sync/waiters.rs`:
//! every access to the node goes through that list's borrow (rule 1); the node is linked
//! only through `Pin` and the future is `!Unpin` (rule 2); `Drop` unlinks it before it dies
//! (rule 3). A slot freed while allocations wait is promised to the first of them
//! (`raw.rs` invariant 3), so waiters are served in FIFO order; a notified waiter dropped
//! before it took its slot passes the promise on. No borrow is held while user code runs
//! (the value's old occupant's destructor, the factory, wakers).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::{Pool, PoolBox};
use crate::sync::waiters::{WaitState, Waiter};

/// Future of [`Pool::alloc`] (with a value) and [`Pool::take`] (recycled). `!Unpin`: it
/// holds the node that queues it while it waits; pin it (`pin!`) to poll it by hand.
#[must_use = "futures do nothing unless awaited"]
pub struct Alloc<'a, T> {
    pool: &'a Pool<T>,
    /// `Some` for `alloc(value)`; `None` for `take()`.
    value: Option<T>,
    waiter: Waiter,
    /// Whether `waiter` may be linked or notified (if not, `Drop` skips the list).
    registered: bool,
    done: bool,
}

impl<'a, T> Alloc<'a, T> {
    pub(super) fn new(pool: &'a Pool<T>, value: Option<T>) -> Self {
        Alloc {
            pool,
            value,
            waiter: Waiter::new(),
            registered: false,
            done: false,
        }
    }

    /// Unlinks the node; returns its state before (the waker it held is dropped here,
    /// after the borrow).
    fn unregister(self: Pin<&mut Self>) -> WaitState {
        // SAFETY: `waiter` is never moved out of the pinned future.
        let this = unsafe { self.get_unchecked_mut() };
        if !this.registered {
            return WaitState::Idle;
        }
        this.registered = false;
        let raw = &this.pool.inner().raw;
        let (state, waker) = {
            let mut list = raw.waiters.borrow_mut();
            // SAFETY: the node is structurally pinned and used only with this pool's list,
            // which we hold through the borrow (waiters.rs rules 1 and 2).
            let out = unsafe { list.remove(Pin::new_unchecked(&this.waiter)) };
            raw.set_waiting(list.len());
            out
        };
        drop(waker);
        state
    }

    /// Builds the box in a slot just taken.
    fn finish(self: Pin<&mut Self>, slot: std::ptr::NonNull<u8>, init: bool) -> PoolBox<T> {
        // SAFETY: `value` and `done` are not structurally pinned.
        let this = unsafe { self.get_unchecked_mut() };
        this.done = true;
        match this.value.take() {
            // SAFETY: `slot` was just taken from this pool; `init` says if it holds a value.
            Some(value) => unsafe { this.pool.fill(slot, init, value) },
            // SAFETY: as above (`take` futures exist only for recycling pools).
            None => unsafe { this.pool.fill_recycled(slot, init) },
        }
    }
}

impl<T> Future for Alloc<'_, T> {
    type Output = PoolBox<T>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<PoolBox<T>> {
        assert!(!self.done, "pool Alloc polled after completion");
        let pool = self.pool;
        let raw = &pool.inner().raw;
        let prefer_retained = self.value.is_none();
        // The waker is cloned before the list is borrowed (a clone is foreign code, and may
        // even drop a box of this pool); if that code gave a slot back, the checks run once
        // more.
        let mut waker = None;
        let waker = loop {
            let state = if self.registered {
                // SAFETY: the node is used only with this pool's list, borrowed here.
                unsafe { raw.waiters.borrow().state(&self.waiter) }
            } else {
                WaitState::Idle
            };
            let taken = match state {
                // A freed slot was promised to us.
                WaitState::Notified => {
                    self.as_mut().unregister();
                    raw.take(prefer_retained, true)
                }
                // Still queued: every free slot is promised to waiters ahead of us.
                WaitState::Queued => None,
                WaitState::Idle => raw.take(prefer_retained, false),
            };
            if let Some((slot, init)) = taken {
                return Poll::Ready(self.finish(slot, init));
            }
            if let Some(waker) = waker.take() {
                break waker;
            }
            let free_before = raw.free_slots();
            waker = Some(cx.waker().clone());
            if raw.free_slots() == free_before {
                break waker.take().expect("just cloned");
            }
            // The clone gave a slot back: look again (it may be ours now).
        };
        // SAFETY: `waiter` is never moved out of the pinned future.
        let this = unsafe { self.get_unchecked_mut() };
        let replaced = {
            let mut list = raw.waiters.borrow_mut();
            // SAFETY: the node is pinned inside this future and used only with this pool's
            // list, which we hold; `Drop` unlinks it (under the same list) before it dies
            // (waiters.rs rules 1 to 3).
            let replaced = unsafe { list.push_back(Pin::new_unchecked(&this.waiter), waker) };
            raw.set_waiting(list.len());
            replaced
        };
        this.registered = true;
        drop(replaced);
        Poll::Pending
    }
}

impl<T> Drop for Alloc<'_, T> {
    fn drop(&mut self) {
        if !self.registered {
            return;
        }
        // SAFETY: `drop` runs on the pinned future in place, just before its fields die.
        let this = unsafe { Pin::new_unchecked(&mut *self) };
        if this.unregister() == WaitState::Notified {
            // We will not use the slot promised to us: the next waiter gets it.
            if let Some(w) = self.pool.inner().raw.pass_on() {
                w.wake();
            }
        }
    }
}

impl<T> fmt::Debug for Alloc<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Alloc")
            .field("waiting", &self.registered)
            .finish_non_exhaustive()
    }
}
