//! `sync::watch` and `sync::broadcast`: tokio's behaviour on the bad paths. watch: the
//! sender dropped (with and without an unseen value), `borrow_and_update`, `mark_*`,
//! `wait_for`, `send` with no receiver, `closed()`. broadcast: lag (`Lagged(n)` then the
//! oldest value held), every receiver sees every value, values dropped once all read them,
//! closed after the senders go, `resubscribe`, receivers woken from another thread. In the
//! spirit of tokio's `tests/sync_watch.rs` and `sync_broadcast.rs` (written anew).

mod support;

use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Wake, Waker};
use std::thread;

use tickslab_runtime::sync::broadcast::error::{RecvError, TryRecvError};
use tickslab_runtime::sync::{broadcast, watch};
use tickslab_runtime::*;

use support::rt;

struct Count(AtomicUsize);

impl Wake for Count {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn waker() -> (Arc<Count>, Waker) {
    let c = Arc::new(Count(AtomicUsize::new(0)));
    (c.clone(), Waker::from(c))
}

fn poll<F: Future>(f: Pin<&mut F>, w: &Waker) -> Poll<F::Output> {
    f.poll(&mut Context::from_waker(w))
}

fn assert_send_sync<T: Send + Sync>() {}

#[test]
fn halves_are_send_and_sync() {
    assert_send_sync::<watch::Sender<u8>>();
    assert_send_sync::<watch::Receiver<u8>>();
    assert_send_sync::<broadcast::Sender<u8>>();
    assert_send_sync::<broadcast::Receiver<u8>>();
}

#[test]
fn watch_changed_borrow_and_marks() {
    let rt = rt();
    rt.block_on(async {
        let (tx, mut rx) = watch::channel(1);
        assert!(!rx.has_changed().unwrap());
        assert!(!rx.borrow().has_changed());
        tx.send(2).unwrap();
        assert!(rx.has_changed().unwrap());
        assert!(rx.borrow().has_changed());
        {
            let r = rx.borrow_and_update();
            assert!(r.has_changed());
            assert_eq!(*r, 2);
        }
        assert!(!rx.has_changed().unwrap());
        rx.mark_changed();
        assert!(rx.has_changed().unwrap());
        rx.changed().await.unwrap(); // completes at once: marked changed
        rx.mark_unchanged();
        assert!(!rx.has_changed().unwrap());
        tx.send_modify(|v| *v += 10);
        assert!(!tx.send_if_modified(|_| false));
        rx.changed().await.unwrap();
        assert_eq!(*rx.borrow(), 12);
        assert_eq!(tx.send_replace(3), 12);
        assert_eq!(*tx.borrow(), 3);
    });
}

#[test]
fn watch_sender_dropped_with_and_without_an_unseen_value() {
    let rt = rt();
    rt.block_on(async {
        let (tx, mut rx) = watch::channel(0);
        tx.send(1).unwrap();
        drop(tx);
        // An unseen value comes first, then the error.
        assert!(rx.changed().await.is_ok());
        assert!(rx.changed().await.is_err());
        assert!(rx.has_changed().is_err());
        assert_eq!(*rx.borrow(), 1, "the last value stays readable");

        let (tx, mut rx) = watch::channel(0);
        let (c, w) = waker();
        let mut changed = pin!(rx.changed());
        assert!(poll(changed.as_mut(), &w).is_pending());
        drop(tx);
        assert_eq!(c.0.load(Ordering::SeqCst), 1, "the waiter is woken");
        assert!(matches!(poll(changed.as_mut(), &w), Poll::Ready(Err(_))));
    });
}

#[test]
fn watch_send_without_receivers_and_closed() {
    let rt = rt();
    rt.block_on(async {
        let (tx, rx) = watch::channel(0);
        let rx2 = tx.subscribe();
        assert_eq!(tx.receiver_count(), 2);
        drop(rx);
        assert!(!tx.is_closed());
        let waiter = spawn({
            let tx = tx.clone();
            async move { tx.closed().await }
        });
        yield_now().await;
        drop(rx2);
        waiter.await.unwrap();
        assert!(tx.is_closed());
        assert_eq!(tx.send(5).unwrap_err().0, 5);
        tx.send_replace(6); // works without receivers
        assert_eq!(*tx.borrow(), 6);
    });
}

#[test]
fn watch_wait_for_checks_the_current_value_then_waits() {
    let rt = rt();
    rt.block_on(async {
        let (tx, mut rx) = watch::channel(0);
        assert_eq!(*rx.wait_for(|v| *v == 0).await.unwrap(), 0);
        let setter = spawn(async move {
            for i in 1..=5 {
                tx.send(i).unwrap();
                yield_now().await;
            }
        });
        assert_eq!(*rx.wait_for(|v| *v >= 3).await.unwrap(), 3);
        setter.await.unwrap();
        assert!(
            rx.wait_for(|v| *v == 100).await.is_err(),
            "the sender is gone"
        );
    });
}

#[test]
fn watch_values_from_another_thread() {
    let (tx, mut rx) = watch::channel(0u32);
    let t = thread::spawn(move || {
        for i in 1..=100 {
            tx.send(i).unwrap();
        }
    });
    let rt = rt();
    let last = rt.block_on(async move {
        while rx.changed().await.is_ok() {}
        *rx.borrow()
    });
    t.join().unwrap();
    assert_eq!(last, 100);
}

#[test]
fn broadcast_every_receiver_sees_every_value() {
    let rt = rt();
    rt.block_on(async {
        let (tx, mut a) = broadcast::channel(4);
        let mut b = tx.subscribe();
        assert_eq!(tx.send(1).unwrap(), 2);
        tx.send(2).unwrap();
        assert_eq!(a.len(), 2);
        assert_eq!((a.recv().await, a.recv().await), (Ok(1), Ok(2)));
        assert_eq!((b.recv().await, b.try_recv()), (Ok(1), Ok(2)));
        assert_eq!(a.try_recv(), Err(TryRecvError::Empty));
        // A late subscriber sees only what comes next.
        let mut c = b.resubscribe();
        tx.send(3).unwrap();
        assert_eq!(c.recv().await, Ok(3));
        assert_eq!(tx.receiver_count(), 3);
    });
}

#[test]
fn broadcast_lag_reports_the_missed_count_then_resumes_at_the_oldest() {
    let rt = rt();
    rt.block_on(async {
        let (tx, mut rx) = broadcast::channel(2);
        for i in 0..5 {
            tx.send(i).unwrap();
        }
        assert_eq!(rx.len(), 5, "tokio counts the overwritten ones too");
        assert_eq!(rx.recv().await, Err(RecvError::Lagged(3)));
        assert_eq!(rx.len(), 2);
        assert_eq!(rx.recv().await, Ok(3));
        assert_eq!(rx.recv().await, Ok(4));
        for i in 5..8 {
            tx.send(i).unwrap();
        }
        assert_eq!(rx.try_recv(), Err(TryRecvError::Lagged(1)));
        assert_eq!(rx.try_recv(), Ok(6));
    });
}

#[test]
fn broadcast_values_are_dropped_once_every_receiver_read_them() {
    let item = Arc::new(());
    let (tx, mut a) = broadcast::channel(4);
    let mut b = tx.subscribe();
    tx.send(item.clone()).unwrap();
    assert_eq!(Arc::strong_count(&item), 2);
    drop(a.try_recv().unwrap());
    assert_eq!(Arc::strong_count(&item), 2, "b has not read it");
    drop(b.try_recv().unwrap());
    assert_eq!(Arc::strong_count(&item), 1, "the last reader moved it out");
    tx.send(item.clone()).unwrap();
    drop(a);
    drop(b);
    assert_eq!(
        Arc::strong_count(&item),
        1,
        "dropped receivers give up their claim"
    );
    assert!(tx.send(item.clone()).is_err(), "no receiver left");
}

#[test]
fn broadcast_closed_after_the_senders_go_and_waiters_woken() {
    let rt = rt();
    rt.block_on(async {
        let (tx, mut rx) = broadcast::channel::<u8>(2);
        let tx2 = tx.clone();
        tx.send(1).unwrap();
        drop(tx);
        let (c, w) = waker();
        assert_eq!(rx.recv().await, Ok(1));
        {
            let mut recv = pin!(rx.recv());
            assert!(poll(recv.as_mut(), &w).is_pending());
            drop(tx2);
            assert_eq!(c.0.load(Ordering::SeqCst), 1);
            assert_eq!(poll(recv.as_mut(), &w), Poll::Ready(Err(RecvError::Closed)));
        }
        assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
    });
}

#[test]
fn broadcast_a_dropped_recv_unlinks_and_the_others_still_wake() {
    let (tx, mut a) = broadcast::channel::<u8>(2);
    let mut b = tx.subscribe();
    let (cb, wb) = waker();
    let mut rb = pin!(b.recv());
    {
        let (_, wa) = waker();
        let mut ra = pin!(a.recv());
        assert!(poll(ra.as_mut(), &wa).is_pending());
        assert!(poll(rb.as_mut(), &wb).is_pending());
    }
    tx.send(9).unwrap();
    assert_eq!(cb.0.load(Ordering::SeqCst), 1);
    assert_eq!(poll(rb.as_mut(), &wb), Poll::Ready(Ok(9)));
    assert_eq!(a.try_recv(), Ok(9), "the dropped future lost nothing");
}

#[test]
fn broadcast_across_threads_with_blocking_recv() {
    const N: u32 = if cfg!(miri) { 20 } else { 1_000 };
    let (tx, rx) = broadcast::channel::<u32>(8);
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let mut rx = rx.resubscribe();
            thread::spawn(move || {
                let (mut got, mut lagged) = (0u64, 0u64);
                loop {
                    match rx.blocking_recv() {
                        Ok(_) => got += 1,
                        Err(RecvError::Lagged(n)) => lagged += n,
                        Err(RecvError::Closed) => return got + lagged,
                    }
                }
            })
        })
        .collect();
    drop(rx);
    for i in 0..N {
        tx.send(i).unwrap();
    }
    drop(tx);
    for r in readers {
        assert_eq!(
            r.join().unwrap(),
            N as u64,
            "each value read or counted as lagged"
        );
    }
}

#[test]
fn watch_a_panicking_modify_notifies_nobody() {
    let (tx, mut rx) = watch::channel("one");
    let mut rx2 = rx.clone();
    rx2.borrow_and_update();
    let (c, w) = waker();
    let mut changed = pin!(rx2.changed());
    assert!(poll(changed.as_mut(), &w).is_pending());
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        tx.send_modify(|v| {
            *v = "panicked";
            panic!("modify panics");
        })
    }));
    assert!(r.is_err());
    assert_eq!(c.0.load(Ordering::SeqCst), 0);
    assert!(poll(changed.as_mut(), &w).is_pending());
    assert_eq!(
        *rx.borrow(),
        "panicked",
        "the lock is not poisoned for readers"
    );
    tx.send_modify(|v| *v = "three");
    assert!(matches!(poll(changed.as_mut(), &w), Poll::Ready(Ok(()))));
    assert_eq!(*rx.borrow_and_update(), "three");
}

#[test]
fn watch_reopened_after_subscribe() {
    let (tx, rx) = watch::channel(0);
    drop(rx);
    assert!(tx.is_closed());
    let rx = tx.subscribe();
    assert!(!tx.is_closed());
    drop(rx);
    assert!(tx.is_closed());
}

#[test]
fn broadcast_len_counts_lagged_values_like_tokio() {
    let (tx, mut rx) = broadcast::channel(3); // 4 slots
    for v in [10, 20, 30, 40] {
        tx.send(v).unwrap();
    }
    assert_eq!(rx.len(), 4);
    assert_eq!(rx.try_recv(), Ok(10));
    tx.send(50).unwrap();
    tx.send(60).unwrap();
    assert_eq!(rx.len(), 5);
    assert_eq!(rx.try_recv(), Err(TryRecvError::Lagged(1)));
}

#[test]
fn broadcast_a_panicking_clone_skips_that_value() {
    #[derive(Debug, PartialEq)]
    struct V(u8);
    impl Clone for V {
        fn clone(&self) -> V {
            assert_ne!(self.0, 0, "clone panics");
            V(self.0)
        }
    }
    let (tx, mut rx) = broadcast::channel(4);
    let _other = tx.subscribe(); // so that `rx` clones instead of moving
    tx.send(V(0)).unwrap();
    tx.send(V(1)).unwrap();
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| rx.try_recv()));
    assert!(r.is_err());
    assert_eq!(rx.try_recv(), Ok(V(1)));
}

/// A waker whose drop sends on the channel it waits on.
struct SendOnDrop(broadcast::Sender<()>);

impl Wake for SendOnDrop {
    fn wake(self: Arc<Self>) {}
}

impl Drop for SendOnDrop {
    fn drop(&mut self) {
        let _ = self.0.send(());
    }
}

#[test]
fn broadcast_a_waker_that_sends_when_dropped_does_not_deadlock() {
    let (tx, mut rx) = broadcast::channel(16);
    {
        let mut recv = Box::pin(rx.recv());
        let w = Waker::from(Arc::new(SendOnDrop(tx.clone())));
        assert!(poll(recv.as_mut(), &w).is_pending());
        drop(w);
        // Replacing the stored waker drops it (after the lock): its send re-enters the
        // channel, and the next poll finds the value.
        let _ = poll(recv.as_mut(), Waker::noop());
        assert_eq!(poll(recv.as_mut(), Waker::noop()), Poll::Ready(Ok(())));
    }
    let mut recv = Box::pin(rx.recv());
    let w = Waker::from(Arc::new(SendOnDrop(tx.clone())));
    assert!(poll(recv.as_mut(), &w).is_pending());
    drop(w);
    tx.send(()).unwrap(); // wakes (and drops) the stored waker, which sends again
}

#[test]
fn broadcast_resubscribe_to_a_closed_channel_and_sender_drop_keeps_values() {
    let (tx, mut rx) = broadcast::channel(2);
    tx.send(1).unwrap();
    tx.send(2).unwrap();
    drop(tx);
    let mut late = rx.resubscribe();
    assert_eq!(late.try_recv(), Err(TryRecvError::Closed));
    assert_eq!(rx.try_recv(), Ok(1));
    assert_eq!(rx.try_recv(), Ok(2));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
}

#[test]
fn senders_made_without_a_receiver() {
    let tx = watch::Sender::new(1);
    assert!(tx.is_closed());
    let mut rx = tx.subscribe();
    tx.send(2).unwrap();
    assert!(rx.has_changed().unwrap());
    assert_eq!(*rx.borrow_and_update(), 2);

    let tx = broadcast::Sender::<u8>::new(4);
    assert_eq!(tx.receiver_count(), 0);
    assert!(tx.send(1).is_err());
    let mut rx = tx.subscribe();
    tx.send(2).unwrap();
    assert_eq!(rx.try_recv(), Ok(2));
}

#[test]
fn broadcast_weak_senders_do_not_keep_the_channel_open() {
    let (tx, mut rx) = broadcast::channel::<u8>(2);
    let weak = tx.downgrade();
    assert_eq!((tx.strong_count(), tx.weak_count()), (1, 1));
    let weak2 = weak.clone();
    assert_eq!(rx.sender_weak_count(), 2);
    let strong = weak.upgrade().expect("a strong sender is alive");
    assert_eq!(rx.sender_strong_count(), 2);
    strong.send(1).unwrap();
    drop((tx, strong));
    assert!(weak.upgrade().is_none(), "closed for good");
    assert_eq!(rx.try_recv(), Ok(1));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
    drop(weak2);
    assert_eq!(weak.weak_count(), 1);
}
