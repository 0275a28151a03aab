//! [`SyncAlloc`]: the future of [`SyncPool::alloc`] and [`SyncPool::take`].
//!
//! A waiting allocation links a [`Waiter`] node living inside the future into the pool's
//! `Mutex<WaiterList>`, under the three rules of `sync/waiters.rs` (all node access under
//! that lock; linked only while pinned; unlinked in `Drop`). It registers, sets the
//! `WAITING` flag in the free stack's head and tries again; a box dropped on any thread
//! pushes its slot and, if its push found the flag, wakes the first waiter (`raw.rs`
//! invariant 4): no lost wakeup, and no fence when nobody waits. A woken waiter dropped
//! before it took a slot wakes the next one.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::raw::lock;
use super::{SyncPool, SyncPoolBox};
use crate::sync::waiters::{WaitState, Waiter};

/// Future of [`SyncPool::alloc`] and [`SyncPool::take`]. `Send` when `T` is; `!Unpin`.
#[must_use = "futures do nothing unless awaited"]
pub struct SyncAlloc<'a, T> {
    pool: &'a SyncPool<T>,
    value: Option<T>,
    waiter: Waiter,
    registered: bool,
    done: bool,
}

impl<'a, T> SyncAlloc<'a, T> {
    pub(super) fn new(pool: &'a SyncPool<T>, value: Option<T>) -> Self {
        SyncAlloc {
            pool,
            value,
            waiter: Waiter::new(),
            registered: false,
            done: false,
        }
    }

    /// Unlinks the node (under the lock); returns its previous state.
    fn unregister(self: Pin<&mut Self>) -> WaitState {
        // SAFETY: `waiter` is never moved out of the pinned future.
        let this = unsafe { self.get_unchecked_mut() };
        if !this.registered {
            return WaitState::Idle;
        }
        this.registered = false;
        let raw = &this.pool.inner().raw;
        let (state, waker) = {
            let mut list = lock(&raw.waiters);
            // SAFETY: the node is structurally pinned and used only with this pool's list,
            // whose lock we hold (waiters.rs rules 1 and 2).
            let out = unsafe { list.remove(Pin::new_unchecked(&this.waiter)) };
            raw.sync_waiting_flag(&list);
            out
        };
        drop(waker);
        state
    }

    /// Takes a slot now if there is one, and builds the box.
    fn try_now(mut self: Pin<&mut Self>) -> Option<SyncPoolBox<T>> {
        let pool = self.pool;
        let (idx, init) = pool.inner().raw.take()?;
        // A notification we may hold was for the slot we just took.
        self.as_mut().unregister();
        // SAFETY: `value` and `done` are not structurally pinned.
        let this = unsafe { self.get_unchecked_mut() };
        this.done = true;
        Some(match this.value.take() {
            // SAFETY: slot `idx` was just taken; `init` says whether it holds a value.
            Some(value) => unsafe { pool.fill(idx, init, value) },
            // SAFETY: as above (`take` futures exist only for recycling pools).
            None => unsafe { pool.fill_recycled(idx, init) },
        })
    }
}

impl<T> Future for SyncAlloc<'_, T> {
    type Output = SyncPoolBox<T>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<SyncPoolBox<T>> {
        assert!(!self.done, "SyncPool alloc polled after completion");
        if let Some(b) = self.as_mut().try_now() {
            return Poll::Ready(b);
        }
        let raw = &self.pool.inner().raw;
        {
            // SAFETY: `waiter` is never moved out of the pinned future.
            let this = unsafe { self.as_mut().get_unchecked_mut() };
            // Cloned before locking: a waker's `clone` is foreign code (it may even drop a
            // box of this pool, which takes the same lock).
            let waker = cx.waker().clone();
            let replaced = {
                let mut list = lock(&raw.waiters);
                // SAFETY: the node is pinned inside this future and used only with this
                // pool's list, whose lock we hold; `Drop` unlinks it under the same lock
                // before it dies (waiters.rs rules 1 to 3).
                let replaced = unsafe { list.push_back(Pin::new_unchecked(&this.waiter), waker) };
                raw.sync_waiting_flag(&list);
                replaced
            };
            this.registered = true;
            drop(replaced);
        }
        // Invariant 4 of `raw.rs`: this retry reads `head` after our `WAITING` was set, so
        // it sees every slot pushed before; a push after it sees the flag and wakes us.
        match self.as_mut().try_now() {
            Some(b) => Poll::Ready(b),
            None => Poll::Pending,
        }
    }
}

impl<T> Drop for SyncAlloc<'_, T> {
    fn drop(&mut self) {
        if !self.registered {
            return;
        }
        let pool = self.pool;
        // SAFETY: `drop` runs on the pinned future in place, just before its fields die.
        let this = unsafe { Pin::new_unchecked(&mut *self) };
        if this.unregister() == WaitState::Notified {
            // The wakeup was meant for a slot we will not take: pass it on.
            pool.inner().raw.wake_one_waiter();
        }
    }
}

impl<T> fmt::Debug for SyncAlloc<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SyncAlloc")
            .field("waiting", &self.registered)
            .finish_non_exhaustive()
    }
}
