//! The fair, thread-safe counting semaphore under `Semaphore`, `Mutex`, `RwLock`,
//! `OnceCell` and the bounded `mpsc` channel's capacity.
//!
//! The free permits are an atomic count; the closed flag an atomic flag; the FIFO
//! [`WaiterList`] of waiting acquisitions (nodes inside the [`Acquire`] futures: no
//! allocation per wait; the three rules of `waiters.rs` hold, each `SAFETY` comment below
//! cites them) sits behind one `std::sync::Mutex`.
//!
//! **Fast paths.** The count lives in one atomic word with a `WAITERS` bit (bit 0), set
//! under the lock while the list is not empty. An `acquire` that finds enough permits and
//! no `WAITERS` bit takes them with a compare-exchange (no lock, no waker clone); a
//! `release` adds with one `fetch_add`, and only if the word it replaced had `WAITERS` does
//! it take the lock to hand the permits to the waiters. A waiter sets `WAITERS` (and takes
//! the free count) under the lock *before* it links its node, so every release either was
//! counted in what it took or sees the bit and serves it: no lost wakeup. Permits added
//! while `WAITERS` is set are invisible to the fast path until their releaser hands them
//! out under the lock, so newcomers cannot overtake the queue.
//!
//! # Invariants
//!
//! 1. **FIFO, partial assignment.** A node's payload is the number of permits it still
//!    lacks. Released permits go to the first waiter, as many as it lacks; a waiter that has
//!    all it asked for is taken off the list (`Notified`) and woken; what is left over goes
//!    to the next one, and only when the list is empty do permits become free. So **while
//!    anyone waits, no permit is free** (one may sit in the word for an instant, behind the
//!    `WAITERS` bit, until its releaser hands it out), and a newcomer (an `acquire` or a `try_acquire`)
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

/// Bit 0 of the permit word: someone waits in the list.
const WAITERS: usize = 1;

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
    /// Free permits `<< 1`, and [`WAITERS`] while the list is not empty (set and cleared
    /// under `state`).
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
            permits: AtomicUsize::new(permits << 1),
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
            permits: AtomicUsize::new(permits << 1),
            closed: AtomicBool::new(false),
            state: Mutex::new(State {
                waiters: WaiterList::new(),
            }),
        }
    }

    /// Free permits now.
    pub(crate) fn available_permits(&self) -> usize {
        self.permits.load(Ordering::Acquire) >> 1
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
            // Nothing is free while anyone waits (invariant 1).
            if cur & WAITERS != 0 || cur >> 1 < n {
                return Err(TryAcquireError::NoPermits);
            }
            match self.permits.compare_exchange_weak(
                cur,
                cur - (n << 1),
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
        if n > MAX_PERMITS - self.available_permits() {
            panic!("a semaphore holds at most MAX_PERMITS permits");
        }
        // The fast path: nobody waits, the permits are free at once.
        let prev = self.permits.fetch_add(n << 1, Ordering::AcqRel);
        if prev & WAITERS == 0 {
            return;
        }
        // Someone waits: hand out what is in the word (ours, and any other releaser's that
        // got there first) under the lock.
        let mut wakers = WakeList::new();
        let mut n = 0;
        loop {
            let more = {
                let mut st = lock(&self.state);
                // While anyone waits the fast path takes nothing, so collecting the word's
                // count hides no free permit from it. If the waiters left (served or
                // cancelled) before we got here, the count stays where it is, free.
                if st.waiters.len() > 0 {
                    n += self.permits.fetch_and(WAITERS, Ordering::AcqRel) >> 1;
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
    /// the wakers of those it completes. When the list is empty, clears `WAITERS` and frees
    /// what is left. Returns `true` when the batch filled up before `*n` was spent (the
    /// caller wakes, locks again, calls again).
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
        self.sync_waiters_bit(st);
        if *n > 0 {
            self.permits
                .fetch_add(std::mem::take(n) << 1, Ordering::AcqRel);
        }
        false
    }

    /// Under the lock: `WAITERS` says whether the list is empty.
    fn sync_waiters_bit(&self, st: &State) {
        if st.waiters.len() == 0 {
            self.permits.fetch_and(!WAITERS, Ordering::AcqRel);
        } else {
            self.permits.fetch_or(WAITERS, Ordering::AcqRel);
        }
    }

    /// Under the lock, for an acquisition of `n` that missed the fast path: sets `WAITERS`
    /// and takes the free count in one step (a release after it sees the bit and serves the
    /// list under this lock). If the list was empty and enough was free, keeps `n`, frees
    /// the surplus and returns `None`; else returns `Some(taken)` and the caller queues for
    /// the rest, with `WAITERS` set. If others already wait, the count in the word belongs to
    /// releasers on their way to the lock, who hand it out in order: it stays there.
    fn take_free_and_announce(&self, n: usize) -> Option<usize> {
        let prev = self.permits.fetch_or(WAITERS, Ordering::AcqRel);
        if prev & WAITERS != 0 {
            return Some(0);
        }
        // The list is empty (the bit follows it under the lock): the count is free.
        let prev = self.permits.swap(WAITERS, Ordering::AcqRel);
        let got = prev >> 1;
        if got >= n {
            // Enough after all: clear the bit again, give back the surplus.
            self.permits.fetch_add((got - n) << 1, Ordering::AcqRel);
            self.permits.fetch_and(!WAITERS, Ordering::AcqRel);
            return None;
        }
        Some(got)
    }

    /// Removes up to `n` free permits for good; returns how many it removed.
    // Under loom only this file is modelled; `Semaphore::forget_permits` is its caller.
    #[cfg_attr(loom, allow(dead_code))]
    pub(crate) fn forget(&self, n: usize) -> usize {
        let mut cur = self.permits.load(Ordering::Acquire);
        loop {
            let taken = n.min(cur >> 1);
            match self.permits.compare_exchange_weak(
                cur,
                cur - (taken << 1),
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
                self.sync_waiters_bit(&st);
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
            held: false,
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
    /// The permits are ours but not handed out yet: the task's budget was spent (`poll`).
    held: bool,
}

impl Future for Acquire<'_> {
    type Output = Result<(), TryAcquireError>;

    /// Spends a unit of the task's cooperative budget, as tokio's: the permits are taken
    /// first (so the waiter keeps its FIFO place), then, if the task's budget is spent, the
    /// future holds them (`held`), returns `Pending` and wakes the task; the next poll hands
    /// them out. Dropped meanwhile, it gives them back.
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if !self.held {
            match self.as_mut().poll_acquire(cx) {
                Poll::Ready(Ok(())) => {}
                other => return other,
            }
            // SAFETY: `held` is not structurally pinned (only `waiter` is).
            unsafe { self.as_mut().get_unchecked_mut() }.held = true;
        }
        std::task::ready!(crate::coop::poll_budgeted(cx, |_| Poll::Ready(())));
        // SAFETY: as above.
        unsafe { self.get_unchecked_mut() }.held = false;
        Poll::Ready(Ok(()))
    }
}

impl Acquire<'_> {
    fn poll_acquire(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), TryAcquireError>> {
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
                if this.sem.is_closed() {
                    (Poll::Ready(Err(TryAcquireError::Closed)), Some(waker))
                } else if let Some(got) = this.sem.take_free_and_announce(this.n) {
                    // Not enough: we queue for the rest (`got` is ours already).
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
                } else {
                    // Enough was free: ours (the surplus went back).
                    (Poll::Ready(Ok(())), Some(waker))
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
        if self.held {
            // Acquired, not handed out (the budget was spent): the permits go back.
            self.sem.release(self.n);
            return;
        }
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
            self.sem.sync_waiters_bit(&st);
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
