//! [`Notify`]: tokio's task notification, thread-safe, FIFO, no allocation per wait.
//!
//! State behind one `std::sync::Mutex`: a stored permit (a `notify_one` that found nobody
//! waiting) and the FIFO waiter list of `waiters.rs`, whose nodes live inside the
//! [`Notified`] futures. A generation counter, bumped by every `notify_waiters` under the
//! lock and readable without it, makes `notify_waiters` reach every `Notified` *created*
//! before the call, polled or not (tokio's promise).
//!
//! # Invariants
//!
//! 1. A queued node's payload is the generation it was created in; the queue's payloads
//!    never decrease front to back (a `Notified` created in an older generation than the
//!    current one completes on its first poll instead of queuing). `notify_waiters` takes
//!    the prefix whose generation is older than the current one.
//! 2. A node taken off by `notify_one` is marked [`ONE`], by `notify_last` [`LAST`]; if its
//!    future is dropped before it completes, its drop hands the notification on the same
//!    way (to the next waiter at the front, or at the back, as tokio's; or as the stored
//!    permit): no wakeup is lost. One taken by `notify_waiters` is marked
//!    [`ALL`] and passes nothing on (that call reached every waiter anyway).
//! 3. Wakers are cloned before the lock and woken after it.

use std::fmt;
use std::future::Future;
use std::ops::Deref;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use super::waiters::{WaitState, Waiter, WaiterList};
use super::wake_list::{WakeList, lock};

/// Payload of a node woken by `notify_one` / `notify_last` (invariant 2).
const ONE: usize = usize::MAX;
/// Payload of a node woken by `notify_waiters`.
const ALL: usize = usize::MAX - 1;
/// Payload of a node woken by `notify_last` (invariant 2).
const LAST: usize = usize::MAX - 2;
/// Generations stay below the two markers.
const GEN_MASK: usize = usize::MAX >> 2;

struct State {
    permit: bool,
    waiters: WaiterList,
}

/// Wakes one task or all of them (tokio's `sync::Notify`): `Send + Sync`, no allocation.
///
/// - [`notify_one`](Self::notify_one) wakes the longest waiting [`Notified`], or, if none
///   waits, stores one permit that the next `notified().await` consumes at once.
/// - [`notify_last`](Self::notify_last) wakes the most recent waiter instead.
/// - [`notify_waiters`](Self::notify_waiters) wakes every `Notified` that exists now,
///   polled yet or not, and stores nothing.
///
/// ```
/// use std::sync::Arc;
/// use tickslab_runtime::{Runtime, spawn, sync::Notify};
///
/// let rt = Runtime::new().unwrap();
/// rt.block_on(async {
///     let notify = Arc::new(Notify::new());
///     let waiter = spawn({
///         let notify = notify.clone();
///         async move { notify.notified().await }
///     });
///     notify.notify_one(); // stored if the task is not waiting yet
///     waiter.await.unwrap();
/// });
/// ```
pub struct Notify {
    state: Mutex<State>,
    generation: AtomicUsize,
}

impl Notify {
    /// A new `Notify` with no stored permit. Allocates nothing.
    pub const fn new() -> Notify {
        Notify {
            state: Mutex::new(State {
                permit: false,
                waiters: WaiterList::new(),
            }),
            generation: AtomicUsize::new(0),
        }
    }

    /// As [`new`](Self::new), usable in a `static`.
    pub const fn const_new() -> Notify {
        Notify::new()
    }

    /// A future that completes when this `Notify` is notified. Cancel-safe: if it is
    /// dropped after a `notify_one` picked it, the notification goes to the next waiter.
    pub fn notified(&self) -> Notified<'_> {
        Notified {
            inner: Wait::new(self),
        }
    }

    /// As [`notified`](Self::notified), owning an `Arc` of this `Notify` (`'static`).
    pub fn notified_owned(self: Arc<Self>) -> OwnedNotified {
        OwnedNotified {
            inner: Wait::new(self),
        }
    }

    /// Wakes the first waiting task, or stores a permit if none waits (at most one is
    /// stored).
    pub fn notify_one(&self) {
        self.notify(false);
    }

    /// Wakes the most recently queued task, or stores a permit if none waits.
    pub fn notify_last(&self) {
        self.notify(true);
    }

    fn notify(&self, last: bool) {
        let waker = {
            let mut st = lock(&self.state);
            let payload = if last {
                st.waiters.back_payload()
            } else {
                st.waiters.front_payload()
            };
            match payload {
                Some(p) => {
                    *p = if last { LAST } else { ONE };
                    if last {
                        st.waiters.pop_back(WaitState::Notified)
                    } else {
                        st.waiters.pop_front(WaitState::Notified)
                    }
                }
                None => {
                    st.permit = true;
                    None
                }
            }
        };
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// Wakes every [`Notified`] created before this call (waiting or not yet polled);
    /// stores no permit.
    pub fn notify_waiters(&self) {
        let mut wakers = WakeList::new();
        let mut first = true;
        loop {
            let more = {
                let mut st = lock(&self.state);
                if std::mem::take(&mut first) {
                    // The bump and the first batch under one lock: a `notify_one` cannot
                    // slip in between and spend itself on a waiter this call wakes anyway.
                    let g = self.generation.load(Ordering::Relaxed);
                    self.generation
                        .store(g.wrapping_add(1) & GEN_MASK, Ordering::SeqCst);
                }
                let now = self.generation.load(Ordering::Relaxed);
                loop {
                    match st.waiters.front_payload() {
                        // Invariant 1: an older generation than now was created before the
                        // latest `notify_waiters`.
                        Some(p) if *p != now => {
                            if !wakers.can_push() {
                                break true;
                            }
                            *p = ALL;
                            wakers.push(st.waiters.pop_front(WaitState::Notified));
                        }
                        _ => break false,
                    }
                }
            };
            wakers.wake_all();
            if !more {
                return wakers.finish();
            }
        }
    }
}

impl Default for Notify {
    fn default() -> Self {
        Notify::new()
    }
}

impl fmt::Debug for Notify {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = lock(&self.state);
        f.debug_struct("Notify")
            .field("permit", &st.permit)
            .field("waiters", &st.waiters.len())
            .finish()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    /// Not in the list.
    Init,
    /// Linked (or taken off by a notification not consumed yet).
    Waiting,
    /// Completed.
    Done,
}

/// The waiting state shared by [`Notified`] and [`OwnedNotified`] (`N` reaches the
/// `Notify`: a reference or an `Arc`).
struct Wait<N: Deref<Target = Notify>> {
    notify: N,
    generation: usize,
    stage: Stage,
    waiter: Waiter,
}

impl<N: Deref<Target = Notify>> Wait<N> {
    fn new(notify: N) -> Self {
        let generation = notify.generation.load(Ordering::SeqCst);
        Wait {
            notify,
            generation,
            stage: Stage::Init,
            waiter: Waiter::new(),
        }
    }

    /// Registers `waker`; `true` when notified.
    fn register(self: Pin<&mut Self>, waker: &Waker) -> bool {
        // SAFETY: `waiter` is never moved out of the pinned future; the other fields are
        // not structurally pinned.
        let this = unsafe { self.get_unchecked_mut() };
        if this.stage == Stage::Done {
            return true;
        }
        // Cloned before locking (invariant 3).
        let waker = waker.clone();
        let notify: &Notify = &this.notify;
        let mut st = lock(&notify.state);
        // SAFETY: the node is pinned inside this future, used only with this `Notify`'s
        // list, whose lock we hold; `Drop` unlinks it under the same lock (waiters.rs rules
        // 1 to 3).
        let waiter = unsafe { Pin::new_unchecked(&this.waiter) };
        let replaced = match this.stage {
            Stage::Init => {
                if notify.generation.load(Ordering::Relaxed) != this.generation {
                    this.stage = Stage::Done;
                    return true;
                }
                if std::mem::take(&mut st.permit) {
                    this.stage = Stage::Done;
                    return true;
                }
                // SAFETY: as above.
                let replaced = unsafe { st.waiters.push_back(waiter, waker) };
                // SAFETY: as above.
                *unsafe { st.waiters.payload(waiter) } = this.generation;
                this.stage = Stage::Waiting;
                replaced
            }
            // SAFETY: as above.
            Stage::Waiting => match unsafe { st.waiters.state(waiter.get_ref()) } {
                WaitState::Notified => {
                    // SAFETY: as above.
                    let (_, w) = unsafe { st.waiters.remove(waiter) };
                    this.stage = Stage::Done;
                    drop(st);
                    drop(w);
                    return true;
                }
                // SAFETY: as above; refreshes the waker of a queued node.
                _ => unsafe { st.waiters.push_back(waiter, waker) },
            },
            Stage::Done => unreachable!(),
        };
        drop(st);
        drop(replaced);
        false
    }
}

/// Future of [`Notify::notified`]. `!Unpin` (it holds a list node); `Send + Sync`.
#[must_use = "futures do nothing unless awaited"]
pub struct Notified<'a> {
    inner: Wait<&'a Notify>,
}

impl Notified<'_> {
    /// Queues this future as a waiter without polling it, so that a later `notify_one`
    /// picks it (a `notify_waiters` already reaches it from its creation). Returns `true`
    /// if it is already notified (its next poll completes).
    pub fn enable(self: Pin<&mut Self>) -> bool {
        // SAFETY: `inner` is structurally pinned: never moved out; this wrapper has no
        // `Drop` and no `Unpin` impl of its own.
        unsafe { self.map_unchecked_mut(|s| &mut s.inner) }.register(Waker::noop())
    }
}

/// Future of [`Notify::notified_owned`]: as [`Notified`], owning an `Arc<Notify>`.
#[must_use = "futures do nothing unless awaited"]
pub struct OwnedNotified {
    inner: Wait<Arc<Notify>>,
}

impl OwnedNotified {
    /// As [`Notified::enable`].
    pub fn enable(self: Pin<&mut Self>) -> bool {
        // SAFETY: as in `Notified::enable`.
        unsafe { self.map_unchecked_mut(|s| &mut s.inner) }.register(Waker::noop())
    }
}

impl Future for OwnedNotified {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // SAFETY: as in `Notified::enable`.
        let inner = unsafe { self.map_unchecked_mut(|s| &mut s.inner) };
        if inner.register(cx.waker()) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

impl fmt::Debug for OwnedNotified {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedNotified")
            .field("stage", &self.inner.stage)
            .finish_non_exhaustive()
    }
}

impl Future for Notified<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // SAFETY: as in `Notified::enable`.
        let inner = unsafe { self.map_unchecked_mut(|s| &mut s.inner) };
        if inner.register(cx.waker()) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

impl<N: Deref<Target = Notify>> Drop for Wait<N> {
    fn drop(&mut self) {
        if self.stage != Stage::Waiting {
            return;
        }
        let notify: &Notify = &self.notify;
        let (pass_on, waker) = {
            let mut st = lock(&notify.state);
            // SAFETY: `drop` runs on the pinned future in place, before the node dies; the
            // node is used only with this list, whose lock we hold (rules 1 and 3).
            let waiter = unsafe { Pin::new_unchecked(&self.waiter) };
            // SAFETY: as above.
            let payload = *unsafe { st.waiters.payload(waiter) };
            // SAFETY: as above.
            let (state, waker) = unsafe { st.waiters.remove(waiter) };
            let notified = state == WaitState::Notified;
            (notified.then_some(payload), waker)
        };
        // Invariant 2: the notification we will not consume goes on, the way it came.
        match pass_on {
            Some(ONE) => notify.notify_one(),
            Some(LAST) => notify.notify_last(),
            _ => {}
        }
        // Foreign code last: the notification went on even if this drop panics.
        drop(waker);
    }
}

impl fmt::Debug for Notified<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Notified")
            .field("stage", &self.inner.stage)
            .finish_non_exhaustive()
    }
}
