//! `sync::Notify` and `sync::Semaphore`: tokio's promises, bad paths first. A dropped
//! `Notified` or `acquire` future passes its wakeup or permits on (no lost wakeup);
//! `notify_waiters` reaches futures made before it, polled or not; `enable` registers
//! without a poll; FIFO order with many-permit requests; close. In the spirit of tokio's
//! `tests/sync_notify.rs` and `sync_semaphore*.rs` (written anew).

mod support;

use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Wake, Waker};
use std::thread;

use tickslab_runtime::sync::{Notify, Semaphore, TryAcquireError};
use tickslab_runtime::*;

use support::rt;

struct Count(AtomicUsize);

impl Wake for Count {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// A waker and how many times it was woken.
fn waker() -> (Arc<Count>, Waker) {
    let c = Arc::new(Count(AtomicUsize::new(0)));
    (c.clone(), Waker::from(c))
}

fn woken(c: &Count) -> usize {
    c.0.load(Ordering::SeqCst)
}

fn poll<F: Future>(f: Pin<&mut F>, w: &Waker) -> Poll<F::Output> {
    f.poll(&mut Context::from_waker(w))
}

fn assert_send_sync<T: Send + Sync>(_: &T) {}

#[test]
fn notify_one_stores_one_permit() {
    let notify = Notify::new();
    let (_, w) = waker();
    notify.notify_one();
    notify.notify_one(); // at most one is stored
    assert!(poll(pin!(notify.notified()), &w).is_ready());
    assert!(poll(pin!(notify.notified()), &w).is_pending());
}

#[test]
fn notify_one_wakes_in_fifo_order_and_notify_last_from_the_back() {
    let notify = Notify::new();
    let (c1, w1) = waker();
    let (c2, w2) = waker();
    let (c3, w3) = waker();
    let mut a = pin!(notify.notified());
    let mut b = pin!(notify.notified());
    let mut c = pin!(notify.notified());
    assert!(poll(a.as_mut(), &w1).is_pending());
    assert!(poll(b.as_mut(), &w2).is_pending());
    assert!(poll(c.as_mut(), &w3).is_pending());
    notify.notify_last();
    assert_eq!((woken(&c1), woken(&c2), woken(&c3)), (0, 0, 1));
    notify.notify_one();
    assert_eq!((woken(&c1), woken(&c2), woken(&c3)), (1, 0, 1));
    assert!(poll(a.as_mut(), &w1).is_ready());
    assert!(poll(b.as_mut(), &w2).is_pending());
    assert!(poll(c.as_mut(), &w3).is_ready());
}

#[test]
fn a_dropped_notified_passes_its_notification_on() {
    let notify = Notify::new();
    let (c2, w2) = waker();
    let mut b = pin!(notify.notified());
    {
        let (_, w1) = waker();
        let mut a = pin!(notify.notified());
        assert!(poll(a.as_mut(), &w1).is_pending());
        assert!(poll(b.as_mut(), &w2).is_pending());
        notify.notify_one(); // picks `a`, which is dropped without completing
    }
    assert_eq!(woken(&c2), 1, "the notification went on to b");
    assert!(poll(b.as_mut(), &w2).is_ready());
    // With nobody else waiting, a dropped picked waiter stores the permit.
    {
        let (_, w) = waker();
        let mut a = pin!(notify.notified());
        assert!(poll(a.as_mut(), &w).is_pending());
        notify.notify_one();
    }
    assert!(poll(pin!(notify.notified()), &w2).is_ready());
}

#[test]
fn notify_waiters_reaches_futures_made_before_it_even_unpolled() {
    let notify = Notify::new();
    let (c1, w1) = waker();
    let (_, w2) = waker();
    let mut polled = pin!(notify.notified());
    let mut unpolled = pin!(notify.notified());
    assert!(poll(polled.as_mut(), &w1).is_pending());
    notify.notify_waiters();
    assert_eq!(woken(&c1), 1);
    assert!(poll(polled.as_mut(), &w1).is_ready());
    assert!(poll(unpolled.as_mut(), &w2).is_ready());
    // It stores nothing: a future made afterwards waits.
    assert!(poll(pin!(notify.notified()), &w2).is_pending());
}

#[test]
fn notify_waiters_wakes_more_than_one_batch_and_not_later_waiters() {
    let notify = Notify::new();
    let wakers: Vec<_> = (0..100).map(|_| waker()).collect();
    let mut futs: Vec<_> = (0..100).map(|_| Box::pin(notify.notified())).collect();
    for (f, (_, w)) in futs.iter_mut().zip(&wakers) {
        assert!(poll(f.as_mut(), w).is_pending());
    }
    notify.notify_waiters();
    for (f, (c, w)) in futs.iter_mut().zip(&wakers) {
        assert_eq!(woken(c), 1);
        assert!(poll(f.as_mut(), w).is_ready());
    }
}

#[test]
fn enable_registers_for_notify_one_without_a_poll() {
    let notify = Notify::new();
    let mut a = pin!(notify.notified());
    assert!(!a.as_mut().enable());
    notify.notify_one();
    assert!(a.as_mut().enable(), "already notified");
    let (_, w) = waker();
    assert!(poll(a.as_mut(), &w).is_ready());
    // The permit went to `a`, not into the store.
    assert!(poll(pin!(notify.notified()), &w).is_pending());
}

#[test]
fn notify_across_threads() {
    let notify = Arc::new(Notify::new());
    let rt = rt();
    let n = notify.clone();
    let t = thread::spawn(move || {
        for _ in 0..10 {
            n.notify_one();
            thread::yield_now();
        }
    });
    rt.block_on(async {
        assert_send_sync(&notify.notified());
        notify.notified().await;
    });
    t.join().unwrap();
}

#[test]
fn semaphore_try_acquire_forget_add_and_close() {
    let sem = Semaphore::new(3);
    let p = sem.try_acquire_many(2).unwrap();
    assert_eq!(p.num_permits(), 2);
    assert_eq!(sem.available_permits(), 1);
    assert_eq!(
        sem.try_acquire_many(2).unwrap_err(),
        TryAcquireError::NoPermits
    );
    p.forget();
    assert_eq!(sem.available_permits(), 1);
    sem.add_permits(4);
    assert_eq!(sem.available_permits(), 5);
    assert_eq!(sem.forget_permits(2), 2);
    assert_eq!(sem.available_permits(), 3);
    let mut p = sem.try_acquire_many(3).unwrap();
    let q = p.split(1).unwrap();
    assert!(p.split(5).is_none());
    assert_eq!((p.num_permits(), q.num_permits()), (2, 1));
    p.merge(q);
    drop(p);
    assert_eq!(sem.available_permits(), 3);
    sem.close();
    assert!(sem.is_closed());
    assert_eq!(sem.try_acquire().unwrap_err(), TryAcquireError::Closed);
}

#[test]
fn closing_fails_waiters_and_returns_their_partial_permits() {
    let sem = Semaphore::new(1);
    let (c, w) = waker();
    let mut big = pin!(sem.acquire_many(3));
    assert!(poll(big.as_mut(), &w).is_pending());
    assert_eq!(
        sem.available_permits(),
        0,
        "the free permit went to the head waiter"
    );
    sem.close();
    assert_eq!(woken(&c), 1);
    assert!(matches!(poll(big.as_mut(), &w), Poll::Ready(Err(_))));
    assert_eq!(sem.available_permits(), 1);
    let mut later = pin!(sem.acquire());
    assert!(matches!(poll(later.as_mut(), &w), Poll::Ready(Err(_))));
}

#[test]
fn a_big_request_at_the_head_is_not_starved_and_blocks_newcomers() {
    let sem = Semaphore::new(2);
    let held = sem.try_acquire_many(2).unwrap();
    let (cb, wb) = waker();
    let (cs, ws) = waker();
    let mut big = pin!(sem.acquire_many(2));
    let mut small = pin!(sem.acquire());
    assert!(poll(big.as_mut(), &wb).is_pending());
    assert!(poll(small.as_mut(), &ws).is_pending());
    let mut held = held;
    let one = held.split(1).unwrap();
    drop(one);
    // The one permit went to `big` (partially): the small one behind it gets nothing.
    assert_eq!((woken(&cb), woken(&cs)), (0, 0));
    assert!(
        sem.try_acquire().is_err(),
        "nothing free while someone waits"
    );
    drop(held);
    assert_eq!((woken(&cb), woken(&cs)), (1, 0));
    let Poll::Ready(Ok(big_permit)) = poll(big.as_mut(), &wb) else {
        panic!("big acquired")
    };
    assert!(poll(small.as_mut(), &ws).is_pending());
    drop(big_permit);
    assert_eq!(woken(&cs), 1);
    assert!(matches!(poll(small.as_mut(), &ws), Poll::Ready(Ok(_))));
}

#[test]
fn a_dropped_acquire_passes_assigned_permits_on() {
    let sem = Semaphore::new(1);
    let held = sem.try_acquire().unwrap();
    let (cb, wb) = waker();
    let mut b = pin!(sem.acquire());
    {
        let (ca, wa) = waker();
        let mut a = pin!(sem.acquire_many(1));
        assert!(poll(a.as_mut(), &wa).is_pending());
        assert!(poll(b.as_mut(), &wb).is_pending());
        drop(held); // goes to `a`, dropped before it takes it
        assert_eq!(woken(&ca), 1);
    }
    assert_eq!(woken(&cb), 1, "a's permit went on to b");
    assert!(matches!(poll(b.as_mut(), &wb), Poll::Ready(Ok(_))));
    // A queued (not yet woken) acquire dropped with a partial assignment gives it back.
    let sem = Semaphore::new(1);
    {
        let (_, w) = waker();
        let mut many = pin!(sem.acquire_many(2));
        assert!(poll(many.as_mut(), &w).is_pending());
        assert_eq!(sem.available_permits(), 0);
    }
    assert_eq!(sem.available_permits(), 1);
}

#[test]
fn owned_permits_across_tasks_and_threads() {
    let sem = Arc::new(Semaphore::new(2));
    let running = Arc::new(AtomicUsize::new(0));
    let max = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let (sem, running, max) = (sem.clone(), running.clone(), max.clone());
            thread::spawn(move || {
                let rt = rt();
                rt.block_on(async move {
                    for _ in 0..20 {
                        let permit = sem.clone().acquire_owned().await.unwrap();
                        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                        max.fetch_max(now, Ordering::SeqCst);
                        yield_now().await;
                        running.fetch_sub(1, Ordering::SeqCst);
                        drop(permit);
                    }
                });
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert!(max.load(Ordering::SeqCst) <= 2);
    assert_eq!(sem.available_permits(), 2);
}

#[test]
fn a_panic_while_holding_a_permit_gives_it_back() {
    let sem = Arc::new(Semaphore::new(1));
    let s = sem.clone();
    let rt = rt();
    let r = rt.block_on(async move {
        spawn(async move {
            let _p = s.acquire().await.unwrap();
            panic!("user code panics while holding the permit");
        })
        .await
    });
    assert!(r.unwrap_err().is_panic());
    assert_eq!(sem.available_permits(), 1);
}

#[test]
fn a_future_completed_by_notify_waiters_leaves_the_stored_permit() {
    let notify = Notify::new();
    let (_, w) = waker();
    let mut first = pin!(notify.notified());
    notify.notify_waiters();
    notify.notify_one(); // nobody is queued: stored
    assert!(poll(first.as_mut(), &w).is_ready());
    assert!(
        poll(pin!(notify.notified()), &w).is_ready(),
        "the permit is still there"
    );
}

#[test]
fn a_waiter_taken_by_notify_waiters_passes_nothing_on_when_dropped() {
    let notify = Notify::new();
    let (_, w) = waker();
    {
        let mut a = pin!(notify.notified());
        assert!(poll(a.as_mut(), &w).is_pending());
        notify.notify_waiters();
        notify.notify_one(); // stored: `a` is no longer queued
    }
    assert!(poll(pin!(notify.notified()), &w).is_ready());
    assert!(
        poll(pin!(notify.notified()), &w).is_pending(),
        "only one permit"
    );
}

#[test]
fn enable_consumes_the_stored_permit() {
    let notify = Notify::new();
    notify.notify_one();
    assert!(pin!(notify.notified()).as_mut().enable());
    assert!(!pin!(notify.notified()).as_mut().enable());
}

/// A waker whose last drop calls `notify_waiters` on the same `Notify`.
struct NotifyOnDrop(Arc<Notify>);

impl Wake for NotifyOnDrop {
    fn wake(self: Arc<Self>) {}
}

impl Drop for NotifyOnDrop {
    fn drop(&mut self) {
        self.0.notify_waiters();
    }
}

#[test]
fn a_waker_that_notifies_when_dropped_does_not_deadlock() {
    let notify = Arc::new(Notify::new());
    let mut fut = Box::pin(notify.notified());
    {
        let w = Waker::from(Arc::new(NotifyOnDrop(notify.clone())));
        assert!(poll(fut.as_mut(), &w).is_pending());
    }
    // Wakes (and drops) the waker stored in the node: its drop re-enters `notify_waiters`.
    notify.notify_waiters();
    let (_, w) = waker();
    assert!(poll(fut.as_mut(), &w).is_ready());
}

#[test]
#[should_panic(expected = "MAX_PERMITS")]
fn adding_past_max_permits_panics() {
    let sem = Semaphore::new(Semaphore::MAX_PERMITS - 1);
    sem.add_permits(2);
}

#[test]
fn adding_up_to_max_permits_is_fine_and_the_semaphore_stays_usable_after_a_refused_add() {
    let sem = Semaphore::new(Semaphore::MAX_PERMITS - 1);
    sem.add_permits(1);
    assert_eq!(sem.available_permits(), Semaphore::MAX_PERMITS);
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| sem.add_permits(1)));
    assert!(r.is_err());
    assert_eq!(sem.available_permits(), Semaphore::MAX_PERMITS);
    assert!(sem.try_acquire().is_ok());
}

#[test]
fn blocking_acquire_from_a_thread_waits_for_a_permit() {
    let sem = Arc::new(Semaphore::new(0));
    let s = sem.clone();
    let t = thread::spawn(move || {
        let rt = rt();
        rt.block_on(async move { s.acquire_owned().await.unwrap().forget() });
    });
    sem.add_permits(1);
    t.join().unwrap();
    assert_eq!(sem.available_permits(), 0);
}

/// A waker whose `wake` panics (hostile user code).
struct PanicOnWake;

impl Wake for PanicOnWake {
    fn wake(self: Arc<Self>) {
        panic!("waker panics");
    }
}

#[test]
fn a_panicking_waker_does_not_strand_the_waiters_woken_with_it() {
    let sem = Semaphore::new(0);
    let bad = Waker::from(Arc::new(PanicOnWake));
    let (cb, wb) = waker();
    let mut a = pin!(sem.acquire());
    let mut b = pin!(sem.acquire());
    assert!(poll(a.as_mut(), &bad).is_pending());
    assert!(poll(b.as_mut(), &wb).is_pending());
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| sem.add_permits(2)));
    assert!(r.is_err(), "the waker's panic goes on");
    assert_eq!(woken(&cb), 1, "b was woken all the same");
    assert!(matches!(poll(a.as_mut(), &wb), Poll::Ready(Ok(_))));
    assert!(matches!(poll(b.as_mut(), &wb), Poll::Ready(Ok(_))));

    let notify = Notify::new();
    let (c1, w1) = waker();
    let mut x = pin!(notify.notified());
    let mut y = pin!(notify.notified());
    assert!(poll(x.as_mut(), &bad).is_pending());
    assert!(poll(y.as_mut(), &w1).is_pending());
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| notify.notify_waiters()));
    assert!(r.is_err());
    assert_eq!(woken(&c1), 1);
    assert!(poll(y.as_mut(), &w1).is_ready());
    assert!(poll(x.as_mut(), &w1).is_ready());
}

#[test]
fn owned_notified_behaves_as_notified() {
    fn assert_static_send<T: Send + Sync + 'static>(_: &T) {}
    let notify = Arc::new(Notify::new());
    let (c1, w1) = waker();
    let (c2, w2) = waker();
    let mut b = pin!(notify.clone().notified_owned());
    {
        let a = notify.clone().notified_owned();
        assert_send_sync(&a);
        assert_static_send(&a);
        let mut a = pin!(a);
        assert!(poll(a.as_mut(), &w1).is_pending());
        assert!(poll(b.as_mut(), &w2).is_pending());
        notify.notify_one(); // picks `a`, dropped unconsumed: passed on to `b`
        assert_eq!(woken(&c1), 1);
    }
    assert_eq!(woken(&c2), 1);
    assert!(poll(b.as_mut(), &w2).is_ready());
    let mut c = pin!(notify.clone().notified_owned());
    assert!(!c.as_mut().enable());
    drop(notify.clone());
    notify.notify_waiters();
    assert!(poll(c.as_mut(), &w1).is_ready());
}
