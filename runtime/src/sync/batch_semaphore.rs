//! The fair, thread-safe counting semaphore under `Semaphore`, `Mutex`, `RwLock`,
//! `OnceCell` and the bounded `mpsc` channel's capacity.
//!
//! The free permits are an atomic count; the closed flag an atomic flag; the FIFO
//! [`WaiterList`] of waiting acquisitions (nodes inside the [`Acquire`] futures: no
//! allocation per wait; the three rules of `waiters.rs` hold, each `SAFETY` comment below
//! cites them) sits behind one `std::sync::Mutex`.
//!
//! **Fast path (as tokio's):** an acquisition that finds enough free permits takes them
//! with a compare-exchange, without the lock and without cloning its waker. Everything
//! else (queuing, releasing, closing, cancelling) takes the lock. Only the lock's holder
//! *adds* to the count; the fast path only subtracts; so invariant 1 below holds with the
//! count outside the lock: a permit becomes free only under the lock, after the waiters
//! were served.
//!
//! # Invariants
//!
//! 1. **FIFO, partial assignment.** A node's payload is the number of permits it still
//!    lacks. Released permits go to the first waiter, as many as it lacks; a waiter that has
//!    all it asked for is taken off the list (`Notified`) and woken; what is left over goes
//!    to the next one, and only when the list is empty do permits become free. So **while
//!    anyone waits, no permit is free**, and a newcomer (an `acquire` or a `try_acquire`)
//!    cannot overtake the queue. This is what makes `RwLock` write-preferring: a writer
//!    asking for every permit collects them one release at a time, and readers that come
//!    after it queue behind it.
//! 2. **No permit is lost.** An `Acquire` dropped while queued gives back what it was
//!    assigned; one dropped after it was `Notified` (all permits assigned, not yet taken by
//!    its owner) gives them all back; each give-back runs the assignment of rule 1 again, so
//!    the next waiter is woken (cancel safety: the drop passes the wakeup on).
//! 3. **Close.** Closing wakes every waiter (`Idle`: nothing assigned to it any more, its
//!    partial permits go back to the free count) and makes every later acquisition fail.
//!    Permits already held stay valid and are given back as usual.
//! 4. Wakers are cloned before the lock is taken and woken after it is released.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::PoisonError;
use std::task::{Context, Poll};

// std's in normal builds, loom's under `--cfg loom` (`sync/loom_tests.rs` model-checks the
// fast path, the queue and cancellation with this very code).
#[cfg(loom)]
use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
#[cfg(loom)]
use loom::sync::{Mutex, MutexGuard};
#[cfg(not(loom))]
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
#[cfg(not(loom))]
use std::sync::{Mutex, MutexGuard};

use super::waiters::{WaitState, Waiter, WaiterList};
use super::wake_list::WakeList;

/// Locks `m`, ignoring poisoning (nothing panics under this lock but our own bookkeeping,
/// which leaves nothing half-done: `wake_list.rs`).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The largest number of permits a semaphore can hold (as tokio's `Semaphore::MAX_PERMITS`).
pub(crate) const MAX_PERMITS: usize = usize::MAX >> 3;

struct State {
    waiters: WaiterList,
}

/// Why an acquisition failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TryAcquireError {
    Closed,
    NoPermits,
}

/// The semaphore. See the module docs.
pub(crate) struct RawSemaphore {
    /// Free permits: subtracted by compare-exchange anywhere, added only under `state`.
    permits: AtomicUsize,
    /// Set under `state`, read anywhere.
    closed: AtomicBool,
    state: Mutex<State>,
}

impl RawSemaphore {
    /// A semaphore with `permits` free permits.
    ///
    /// # Panics
    /// If `permits` exceeds [`MAX_PERMITS`].
    #[cfg(not(loom))]
    pub(crate) const fn new(permits: usize) -> RawSemaphore {
        assert!(
            permits <= MAX_PERMITS,
            "a semaphore holds at most MAX_PERMITS permits"
        );
        RawSemaphore {
            permits: AtomicUsize::new(permits),
            closed: AtomicBool::new(false),
            state: Mutex::new(State {
                waiters: WaiterList::new(),
            }),
        }
    }

    /// As above, under loom (whose types have no `const` constructors).
    #[cfg(loom)]
    pub(crate) fn new(permits: usize) -> RawSemaphore {
        assert!(
            permits <= MAX_PERMITS,
            "a semaphore holds at most MAX_PERMITS permits"
        );
        RawSemaphore {
            permits: AtomicUsize::new(permits),
            closed: AtomicBool::new(false),
            state: Mutex::new(State {
                waiters: WaiterList::new(),
            }),
        }
    }

    /// Free permits now.
    pub(crate) fn available_permits(&self) -> usize {
        self.permits.load(Ordering::Acquire)
    }

    /// Whether [`close`](Self::close) was called.
    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Takes `n` permits now if they are free (invariant 1: none are while anyone waits).
    /// The fast path: no lock.
    pub(crate) fn try_acquire(&self, n: usize) -> Result<(), TryAcquireError> {
        if self.is_closed() {
            return Err(TryAcquireError::Closed);
        }
        let mut cur = self.permits.load(Ordering::Acquire);
        loop {
            if cur < n {
                return Err(TryAcquireError::NoPermits);
            }
            match self.permits.compare_exchange_weak(
                cur,
                cur - n,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return Ok(()),
                Err(actual) => cur = actual,
            }
        }
    }

    /// Gives `n` permits back (or adds new ones): assigns them to the waiters first
    /// (invariant 1) and wakes those that are complete.
    ///
    /// # Panics
    /// If the free count would exceed [`MAX_PERMITS`] (checked before anything moves).
    pub(crate) fn release(&self, n: usize) {
        if n == 0 {
            return;
        }
        let mut wakers = WakeList::new();
        let mut n = n;
        let mut first = true;
        loop {
            let more = {
                let mut st = lock(&self.state);
                if first {
                    first = false;
                    // While anyone waits no permit is free (invariant 1), and only this
                    // lock's holder adds: so this bounds the end result.
                    let free = self.permits.load(Ordering::Acquire);
                    if n > MAX_PERMITS - free {
                        drop(st);
                        panic!("a semaphore holds at most MAX_PERMITS permits");
                    }
                }
                self.assign(&mut st, &mut n, &mut wakers)
            };
            wakers.wake_all();
            if !more {
                return wakers.finish();
            }
        }
    }

    /// Invariant 1 under the lock: hands `*n` permits to the waiters in order, collecting
    /// the wakers of those it completes; the rest become free. Returns `true` when the
    /// batch filled up before `*n` was spent (the caller wakes, locks again, calls again).
    fn assign(&self, st: &mut State, n: &mut usize, wakers: &mut WakeList) -> bool {
        while *n > 0 {
            let Some(lacking) = st.waiters.front_payload() else {
                break;
            };
            if *lacking > *n {
                *lacking -= *n;
                *n = 0;
                return false;
            }
            if !wakers.can_push() {
                return true;
            }
            *n -= *lacking;
            *lacking = 0;
            wakers.push(st.waiters.pop_front(WaitState::Notified));
        }
        if *n > 0 {
            self.permits.fetch_add(std::mem::take(n), Ordering::AcqRel);
        }
        false
    }

    /// Removes up to `n` free permits for good; returns how many it removed.
    pub(crate) fn forget(&self, n: usize) -> usize {
        let mut cur = self.permits.load(Ordering::Acquire);
        loop {
            let taken = n.min(cur);
            match self.permits.compare_exchange_weak(
                cur,
                cur - taken,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return taken,
                Err(actual) => cur = actual,
            }
        }
    }

    /// Closes the semaphore: every waiter is woken and fails, every later acquisition fails
    /// (invariant 3).
    pub(crate) fn close(&self) {
        let mut wakers = WakeList::new();
        loop {
            let more = {
                let mut st = lock(&self.state);
                self.closed.store(true, Ordering::Release);
                // Each waiter learns from its `Idle` state that it failed; it gives back
                // what it was assigned itself (its node keeps the payload).
                while wakers.can_push() && st.waiters.len() > 0 {
                    wakers.push(st.waiters.pop_front(WaitState::Idle));
                }
                st.waiters.len() > 0
            };
            wakers.wake_all();
            if !more {
                return wakers.finish();
            }
        }
    }

    /// A future that acquires `n` permits, in FIFO order with every other acquisition.
    pub(crate) fn acquire(&self, n: usize) -> Acquire<'_> {
        Acquire {
            sem: self,
            n,
            waiter: Waiter::new(),
            queued: false,
            done: false,
        }
    }
}

impl fmt::Debug for RawSemaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let waiters = lock(&self.state).waiters.len();
        f.debug_struct("Semaphore")
            .field("permits", &self.available_permits())
            .field("closed", &self.is_closed())
            .field("waiters", &waiters)
            .finish()
    }
}

/// Future of [`RawSemaphore::acquire`]: `Ok(())` once the `n` permits are the caller's, or
/// `Err(Closed)`. `!Unpin` (it holds a list node); `Send + Sync`.
pub(crate) struct Acquire<'a> {
    sem: &'a RawSemaphore,
    n: usize,
    waiter: Waiter,
    /// Whether the node may be linked or notified (if not, `Drop` skips the lock).
    queued: bool,
    done: bool,
}

impl Future for Acquire<'_> {
    type Output = Result<(), TryAcquireError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: `waiter` is never moved out of the pinned future (it is only reached
        // through `Pin::new_unchecked(&this.waiter)` below); the other fields are not
        // structurally pinned.
        let this = unsafe { self.get_unchecked_mut() };
        assert!(!this.done, "semaphore Acquire polled after completion");
        if !this.queued {
            // The fast path: no lock, no waker clone.
            match this.sem.try_acquire(this.n) {
                Ok(()) => {
                    this.done = true;
                    return Poll::Ready(Ok(()));
                }
                Err(TryAcquireError::Closed) => {
                    this.done = true;
                    return Poll::Ready(Err(TryAcquireError::Closed));
                }
                Err(TryAcquireError::NoPermits) => {}
            }
        }
        // Cloned before locking: a waker's `clone` is foreign code (invariant 4).
        let waker = cx.waker().clone();
        let mut give_back = 0;
        let (result, replaced) = {
            let mut st = lock(&this.sem.state);
            if !this.queued {
                // Take what is free (others may have released since the fast path; while
                // anyone waits, nothing is: invariant 1).
                let got = this.sem.permits.swap(0, Ordering::AcqRel);
                if this.sem.is_closed() {
                    give_back = got;
                    (Poll::Ready(Err(TryAcquireError::Closed)), Some(waker))
                } else if got >= this.n {
                    // Nobody waits (there were free permits): the surplus is free again.
                    this.sem.permits.fetch_add(got - this.n, Ordering::AcqRel);
                    (Poll::Ready(Ok(())), Some(waker))
                } else {
                    // SAFETY: the node is pinned inside this future and used only with
                    // this semaphore's list, whose lock we hold; `Drop` unlinks it under the
                    // same lock before it dies (waiters.rs rules 1 to 3).
                    let waiter = unsafe { Pin::new_unchecked(&this.waiter) };
                    // SAFETY: as above.
                    let replaced = unsafe { st.waiters.push_back(waiter, waker) };
                    // SAFETY: as above.
                    *unsafe { st.waiters.payload(waiter) } = this.n - got;
                    this.queued = true;
                    (Poll::Pending, replaced)
                }
            } else {
                // SAFETY: as above.
                let waiter = unsafe { Pin::new_unchecked(&this.waiter) };
                // SAFETY: as above.
                match unsafe { st.waiters.state(waiter.get_ref()) } {
                    WaitState::Notified => {
                        // SAFETY: as above.
                        let (_, w) = unsafe { st.waiters.remove(waiter) };
                        this.queued = false;
                        (Poll::Ready(Ok(())), w)
                    }
                    WaitState::Idle => {
                        // Closed while we waited (invariant 3): what we were assigned goes
                        // back.
                        // SAFETY: as above.
                        give_back = this.n - *unsafe { st.waiters.payload(waiter) };
                        this.queued = false;
                        (Poll::Ready(Err(TryAcquireError::Closed)), Some(waker))
                    }
                    // SAFETY: as above; still queued, this refreshes the waker.
                    WaitState::Queued => (Poll::Pending, unsafe {
                        st.waiters.push_back(waiter, waker)
                    }),
                }
            }
        };
        if result.is_ready() {
            this.done = true;
        }
        // Foreign code comes last (the replaced waker's drop, the wakers `release` wakes):
        // if it panics, the permits this poll took go back instead of being lost.
        let acquired = if matches!(result, Poll::Ready(Ok(()))) {
            this.n
        } else {
            0
        };
        let guard = GiveBack(this.sem, acquired);
        this.sem.release(give_back);
        drop(replaced);
        std::mem::forget(guard);
        result
    }
}

impl Drop for Acquire<'_> {
    fn drop(&mut self) {
        if !self.queued {
            return;
        }
        let (give_back, waker) = {
            let mut st = lock(&self.sem.state);
            // SAFETY: `drop` runs on the pinned future in place, before the node dies; the
            // node is used only with this list, whose lock we hold (rules 1 and 3).
            let waiter = unsafe { Pin::new_unchecked(&self.waiter) };
            // SAFETY: as above.
            let lacking = *unsafe { st.waiters.payload(waiter) };
            // SAFETY: as above.
            let (_, waker) = unsafe { st.waiters.remove(waiter) };
            // Invariant 2: what it was assigned goes on to the next waiter. (`Notified`:
            // it lacks nothing, so all `n`; `Idle`: closed, what it had before the close.)
            (self.n - lacking, waker)
        };
        self.sem.release(give_back);
        // Foreign code last: the permits went on even if this drop panics.
        drop(waker);
    }
}

/// Gives permits back when dropped: taken by a poll that then runs foreign code.
struct GiveBack<'a>(&'a RawSemaphore, usize);

impl Drop for GiveBack<'_> {
    fn drop(&mut self) {
        self.0.release(self.1);
    }
}

impl fmt::Debug for Acquire<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Acquire")
            .field("permits", &self.n)
            .field("waiting", &self.queued)
            .finish()
    }
}
