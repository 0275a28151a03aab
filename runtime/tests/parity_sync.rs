//! tokio's `sync` behaviour that tokio's own tests check, on tickslab: cooperative budget
//! in `Mutex`/`Semaphore`/`watch`, FIFO kept under a spent budget, `notify_last`'s hand-on,
//! broadcast's clone for every receiver, mpsc reservations on a closed channel, and the
//! smaller additions (`blocking_acquire*`, `SemaphorePermit::semaphore`, `watch::Receiver::
//! is_closed`, `SetOnce: From<T>`, `RwLock::const_with_max_readers`). Bad paths: futures
//! dropped while holding permits, a panicking `Clone`, dropped notified waiters.

mod support;

use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Wake, Waker};

use tickslab_runtime::sync::{Mutex, Notify, RwLock, Semaphore, SetOnce, broadcast, mpsc, watch};
use tickslab_runtime::task::coop;

use support::rt;

struct Count(AtomicUsize);

impl Wake for Count {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn counting_waker() -> (Arc<Count>, Waker) {
    let c = Arc::new(Count(AtomicUsize::new(0)));
    (c.clone(), Waker::from(c))
}

fn poll<F: Future>(f: Pin<&mut F>, w: &Waker) -> Poll<F::Output> {
    f.poll(&mut Context::from_waker(w))
}

/// Spends the rest of the current poll's budget.
fn spend_budget() {
    let w = Waker::noop();
    while coop::has_budget_remaining() {
        let mut f = pin!(coop::consume_budget());
        let _ = poll(f.as_mut(), w);
    }
}

// ---- the budget and the semaphore's FIFO ----------------------------------------------------

#[test]
fn a_lock_taken_with_a_spent_budget_is_held_then_given_back_if_dropped() {
    rt().block_on(async {
        let m = Mutex::new(());
        {
            spend_budget();
            let mut lock = pin!(m.lock());
            let w = Waker::noop();
            assert!(poll(lock.as_mut(), w).is_pending(), "budget spent: Pending");
            // The permit is the future's now: nobody else gets it...
            assert!(m.try_lock().is_err());
        } // ...until the future is dropped.
        assert!(m.try_lock().is_ok(), "dropped: the permit went back");
    });
}

#[test]
fn a_waiter_with_a_spent_budget_keeps_its_fifo_place() {
    rt().block_on(async {
        let m = Arc::new(Mutex::new(()));
        let g0 = m.clone().try_lock_owned().unwrap();
        let (ca, wa) = counting_waker();
        let (cb, wb) = counting_waker();
        spend_budget();
        let mut a = pin!(m.clone().lock_owned());
        assert!(poll(a.as_mut(), &wa).is_pending());
        let mut b = pin!(m.clone().lock_owned());
        assert!(poll(b.as_mut(), &wb).is_pending());
        let (a_before, b_before) = (ca.0.load(Ordering::SeqCst), cb.0.load(Ordering::SeqCst));
        drop(g0);
        assert_eq!(
            ca.0.load(Ordering::SeqCst),
            a_before + 1,
            "the first waiter gets it"
        );
        assert_eq!(cb.0.load(Ordering::SeqCst), b_before, "not the second");
    });
}

#[test]
fn a_closed_watch_channel_still_yields_in_a_loop() {
    rt().block_on(async {
        let (tx, mut rx) = watch::channel(());
        drop(tx);
        assert!(rx.is_closed());
        let mut errors = 0;
        // Without a budget, `changed()` on a closed channel is ready forever.
        while coop::has_budget_remaining() {
            assert!(rx.changed().await.is_err());
            errors += 1;
        }
        assert_eq!(errors, coop::BUDGET as usize);
    });
}

#[test]
fn watch_receiver_is_closed_follows_the_senders() {
    let (tx, rx) = watch::channel(1);
    let tx2 = tx.clone();
    drop(tx);
    assert!(!rx.is_closed());
    drop(tx2);
    assert!(rx.is_closed());
    assert_eq!(*rx.borrow(), 1, "the last value stays readable");
}

// ---- notify_last -----------------------------------------------------------------------------

#[test]
fn a_dropped_notify_last_waiter_hands_on_to_the_newest() {
    let notify = Notify::new();
    let w = Waker::noop();
    let mut n1 = pin!(notify.notified());
    let mut n2 = pin!(notify.notified());
    let mut n3 = Box::pin(notify.notified());
    assert!(poll(n1.as_mut(), w).is_pending());
    assert!(poll(n2.as_mut(), w).is_pending());
    assert!(poll(n3.as_mut(), w).is_pending());
    notify.notify_last();
    drop(n3);
    assert!(poll(n2.as_mut(), w).is_ready(), "the next newest gets it");
    assert!(poll(n1.as_mut(), w).is_pending());
}

// ---- broadcast -------------------------------------------------------------------------------

#[test]
fn a_panicking_clone_skips_that_value_for_that_receiver() {
    #[derive(Debug, PartialEq)]
    struct MyVal(usize);
    impl Clone for MyVal {
        fn clone(&self) -> MyVal {
            assert_ne!(self.0, 0, "no clone of 0");
            MyVal(self.0)
        }
    }
    let (tx, mut rx) = broadcast::channel(16);
    tx.send(MyVal(0)).unwrap();
    tx.send(MyVal(1)).unwrap();
    // The only receiver clones too (as tokio's), so the panic is seen...
    let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| rx.try_recv()));
    assert!(res.is_err());
    // ...and the channel goes on with the next value.
    assert_eq!(rx.try_recv().unwrap(), MyVal(1));
    tx.send(MyVal(2)).unwrap();
    assert_eq!(rx.try_recv().unwrap(), MyVal(2));
}

// ---- mpsc reservations and a closed receiver -----------------------------------------------

#[test]
fn a_reservation_granted_before_a_close_fails_and_wakes_the_receiver() {
    let (tx, mut rx) = mpsc::channel::<()>(1);
    let permit = tx.try_reserve().unwrap();
    let (_, wr) = counting_waker();
    let mut reserve = pin!(tx.reserve());
    assert!(poll(reserve.as_mut(), &wr).is_pending());
    drop(permit); // assigned to the waiting reservation
    rx.close();
    let (crx, wrx) = counting_waker();
    {
        let mut recv = pin!(rx.recv());
        assert!(
            poll(recv.as_mut(), &wrx).is_pending(),
            "a slot is still out"
        );
        assert!(matches!(poll(reserve.as_mut(), &wr), Poll::Ready(Err(_))));
        assert_eq!(
            crx.0.load(Ordering::SeqCst),
            1,
            "the last slot back wakes it"
        );
        assert!(matches!(poll(recv.as_mut(), &wrx), Poll::Ready(None)));
    }
}

#[test]
fn only_the_last_slot_back_after_a_close_wakes_the_receiver() {
    let (tx, mut rx) = mpsc::channel::<()>(2);
    let permit = tx.try_reserve().unwrap();
    let (_, wr) = counting_waker();
    let mut reserve = Box::pin(tx.reserve_many(2));
    assert!(poll(reserve.as_mut(), &wr).is_pending()); // holds one, waits for one
    rx.close();
    let (crx, wrx) = counting_waker();
    let mut recv = pin!(rx.recv());
    assert!(poll(recv.as_mut(), &wrx).is_pending());
    drop(permit);
    assert_eq!(
        crx.0.load(Ordering::SeqCst),
        0,
        "the reservation still holds one"
    );
    drop(reserve); // cancelled: gives its slot back
    assert_eq!(crx.0.load(Ordering::SeqCst), 1);
    assert!(matches!(poll(recv.as_mut(), &wrx), Poll::Ready(None)));
}

// ---- the smaller additions -------------------------------------------------------------------

#[test]
fn blocking_acquire_from_a_plain_thread() {
    let sem = Arc::new(Semaphore::new(3));
    let p = sem.blocking_acquire().unwrap();
    assert!(std::ptr::eq(p.semaphore(), &*sem));
    let many = sem.blocking_acquire_many(2).unwrap();
    assert_eq!(sem.available_permits(), 0);
    let sem2 = sem.clone();
    let waiter = std::thread::spawn(move || sem2.blocking_acquire_many_owned(2).unwrap());
    drop(many); // lets the other thread in
    let owned = waiter.join().unwrap();
    assert_eq!(owned.num_permits(), 2);
    drop((p, owned));
    let one = sem.clone().blocking_acquire_owned().unwrap();
    assert_eq!(sem.available_permits(), 2);
    drop(one);
    sem.close();
    assert!(sem.blocking_acquire().is_err());
}

#[test]
fn blocking_acquire_inside_a_task_panics() {
    let sem = Semaphore::new(1);
    let res = rt().block_on(async {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            drop(sem.blocking_acquire());
        }))
    });
    assert!(res.is_err());
}

#[test]
fn set_once_from_a_value_and_rwlock_const_with_max_readers() {
    let cell = SetOnce::from(5);
    assert_eq!(cell.get(), Some(&5));
    assert!(cell.set(6).is_err());
    static LOCK: RwLock<u8> = RwLock::const_with_max_readers(1, 2);
    rt().block_on(async {
        let (a, b) = (LOCK.read().await, LOCK.read().await);
        assert!(LOCK.try_read().is_err(), "two readers at most");
        drop((a, b));
    });
}

/// `send` inlines `reserve`'s steps so that waking a closed receiver costs its future no
/// size (a slab task that sends must fit the slot it fitted before): 112 bytes for a `u32`
/// on 64-bit targets, `reserve` 104.
#[cfg(target_pointer_width = "64")]
#[test]
fn send_and_reserve_futures_stay_small() {
    let (tx, _rx) = mpsc::channel::<u32>(1);
    assert_eq!(
        (
            std::mem::size_of_val(&tx.send(1)),
            std::mem::size_of_val(&tx.reserve())
        ),
        (112, 104)
    );
}

#[test]
fn send_timeout_outside_a_runtime_panics_with_tokios_message() {
    let (tx, _rx) = mpsc::channel::<u32>(5);
    let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut f = pin!(tx.send_timeout(10, std::time::Duration::from_secs(1)));
        let _ = poll(f.as_mut(), Waker::noop()); // room is free: it still needs the timer
    }));
    let payload = res.unwrap_err();
    let msg = payload
        .downcast_ref::<String>()
        .cloned()
        .unwrap_or_default();
    assert!(msg.contains("there is no reactor running"), "{msg}");
    // Inside a runtime it sends.
    rt().block_on(async {
        tx.send_timeout(1, std::time::Duration::from_secs(1))
            .await
            .unwrap();
    });
}
