//! Model checks of the thread-safe semaphore (`batch_semaphore.rs`) with loom: the
//! lock-free fast path racing the queue, a release on another thread waking a waiter, and
//! a waiter cancelled while a release hands it a permit. Loom runs every interleaving of
//! the atomics and the lock (up to `LOOM_MAX_PREEMPTIONS` preemptions); each must end with
//! no lost wakeup and every permit accounted for. The semaphore carries `Mutex`, `RwLock`,
//! `OnceCell` and the bounded `mpsc` channel's capacity, so this is their wake/cancel race.
//!
//! Run: `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 cargo test -p tickslab-runtime --lib
//! --release sync::loom_tests`.

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Wake, Waker};

use loom::sync::Arc;

use super::batch_semaphore::RawSemaphore;

struct Flag(AtomicBool);

impl Wake for Flag {
    fn wake(self: std::sync::Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
    }
}

fn flag_waker() -> (std::sync::Arc<Flag>, Waker) {
    let flag = std::sync::Arc::new(Flag(AtomicBool::new(false)));
    (flag.clone(), Waker::from(flag))
}

#[test]
fn a_waiting_acquire_is_woken_by_a_release_on_another_thread() {
    loom::model(|| {
        let sem = Arc::new(RawSemaphore::new(1));
        sem.try_acquire(1).unwrap();
        let remote = {
            let sem = sem.clone();
            loom::thread::spawn(move || sem.release(1))
        };
        let (flag, waker) = flag_waker();
        let mut cx = Context::from_waker(&waker);
        let mut acquire = pin!(sem.acquire(1));
        if acquire.as_mut().poll(&mut cx).is_ready() {
            remote.join().unwrap();
            assert_eq!(sem.available_permits(), 0);
            return;
        }
        remote.join().unwrap();
        assert!(flag.0.load(Ordering::SeqCst), "the wakeup was lost");
        assert!(matches!(
            acquire.as_mut().poll(&mut cx),
            Poll::Ready(Ok(()))
        ));
        assert_eq!(sem.available_permits(), 0);
    });
}

#[test]
fn a_cancelled_waiter_passes_the_permit_it_was_handed_on() {
    loom::model(|| {
        let sem = Arc::new(RawSemaphore::new(0));
        let (flag_b, waker_b) = flag_waker();
        let (_, waker_a) = flag_waker();
        let mut b = pin!(sem.acquire(1));
        {
            let mut a = pin!(sem.acquire(1));
            assert!(
                a.as_mut()
                    .poll(&mut Context::from_waker(&waker_a))
                    .is_pending()
            );
            assert!(
                b.as_mut()
                    .poll(&mut Context::from_waker(&waker_b))
                    .is_pending()
            );
            let remote = {
                let sem = sem.clone();
                loom::thread::spawn(move || sem.release(1))
            };
            // `a` is dropped while the release may be handing it the permit.
            drop(a);
            remote.join().unwrap();
        }
        assert!(
            flag_b.0.load(Ordering::SeqCst),
            "the permit did not reach b"
        );
        assert!(matches!(
            b.as_mut().poll(&mut Context::from_waker(&waker_b)),
            Poll::Ready(Ok(()))
        ));
        assert_eq!(sem.available_permits(), 0);
    });
}

#[test]
fn the_fast_path_and_the_queue_never_lose_or_duplicate_a_permit() {
    loom::model(|| {
        let sem = Arc::new(RawSemaphore::new(1));
        let remote = {
            let sem = sem.clone();
            loom::thread::spawn(move || {
                // A newcomer on the fast path, then it gives the permit back.
                if sem.try_acquire(1).is_ok() {
                    sem.release(1);
                }
            })
        };
        let (flag, waker) = flag_waker();
        let mut cx = Context::from_waker(&waker);
        let mut acquire = pin!(sem.acquire(1));
        let first = acquire.as_mut().poll(&mut cx);
        remote.join().unwrap();
        if first.is_pending() {
            assert!(flag.0.load(Ordering::SeqCst), "the wakeup was lost");
            assert!(matches!(
                acquire.as_mut().poll(&mut cx),
                Poll::Ready(Ok(()))
            ));
        }
        assert_eq!(sem.available_permits(), 0, "exactly one permit, held by us");
        sem.release(1);
        assert_eq!(sem.available_permits(), 1);
    });
}

#[test]
fn close_races_a_waiter_and_a_release() {
    loom::model(|| {
        let sem = Arc::new(RawSemaphore::new(0));
        let (flag, waker) = flag_waker();
        let mut cx = Context::from_waker(&waker);
        let mut acquire = pin!(sem.acquire(2));
        assert!(acquire.as_mut().poll(&mut cx).is_pending());
        let releaser = {
            let sem = sem.clone();
            loom::thread::spawn(move || sem.release(1))
        };
        sem.close();
        releaser.join().unwrap();
        assert!(
            flag.0.load(Ordering::SeqCst),
            "the close did not wake the waiter"
        );
        assert!(matches!(
            acquire.as_mut().poll(&mut cx),
            Poll::Ready(Err(_))
        ));
        assert_eq!(sem.available_permits(), 1, "the partial permit came back");
    });
}

#[test]
fn two_releasers_fill_a_waiter_that_needs_both() {
    loom::model(|| {
        let sem = Arc::new(RawSemaphore::new(0));
        let (flag, waker) = flag_waker();
        let mut cx = Context::from_waker(&waker);
        let mut acquire = pin!(sem.acquire(2));
        let first = acquire.as_mut().poll(&mut cx);
        let releasers: Vec<_> = (0..2)
            .map(|_| {
                let sem = sem.clone();
                loom::thread::spawn(move || sem.release(1))
            })
            .collect();
        for r in releasers {
            r.join().unwrap();
        }
        assert!(first.is_pending());
        assert!(flag.0.load(Ordering::SeqCst), "the wakeup was lost");
        assert!(matches!(
            acquire.as_mut().poll(&mut cx),
            Poll::Ready(Ok(()))
        ));
        assert_eq!(sem.available_permits(), 0);
    });
}
