//! The thread-safe `sync::mpsc` and `sync::oneshot`: tokio's behaviour, including the bad
//! paths (closed and dropped halves, dropped waiting senders, permits outliving a close,
//! blocking calls from plain threads, values never lost nor duplicated across threads).
//! In the spirit of tokio's `tests/sync_mpsc.rs` and `sync_oneshot.rs` (written anew).

mod support;

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Wake, Waker};
use std::thread;
use std::time::Duration;

use tickslab_runtime::sync::mpsc::error::{SendTimeoutError, TryRecvError, TrySendError};
use tickslab_runtime::sync::{mpsc, oneshot};
use tickslab_runtime::*;

use support::rt;

/// A waker that counts its wakes.
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

fn poll<F: Future>(f: std::pin::Pin<&mut F>, w: &Waker) -> Poll<F::Output> {
    f.poll(&mut Context::from_waker(w))
}

fn assert_send_sync<T: Send + Sync>() {}

#[test]
fn halves_are_send_and_sync() {
    assert_send_sync::<mpsc::Sender<u8>>();
    assert_send_sync::<mpsc::Receiver<u8>>();
    assert_send_sync::<mpsc::UnboundedSender<u8>>();
    assert_send_sync::<mpsc::UnboundedReceiver<u8>>();
    assert_send_sync::<mpsc::Permit<'static, u8>>();
    assert_send_sync::<mpsc::OwnedPermit<u8>>();
    assert_send_sync::<oneshot::Sender<u8>>();
    assert_send_sync::<oneshot::Receiver<u8>>();
}

#[test]
fn bounded_send_recv_and_none_after_senders_go() {
    let rt = rt();
    rt.block_on(async {
        let (tx, mut rx) = mpsc::channel(2);
        let tx2 = tx.clone();
        tx.send(1).await.unwrap();
        tx2.try_send(2).unwrap();
        assert!(matches!(tx.try_send(3), Err(TrySendError::Full(3))));
        assert_eq!(tx.capacity(), 0);
        assert_eq!(tx.max_capacity(), 2);
        assert_eq!(rx.len(), 2);
        assert_eq!(rx.recv().await, Some(1));
        assert_eq!(tx.capacity(), 1);
        drop((tx, tx2));
        assert_eq!(rx.recv().await, Some(2));
        assert_eq!(rx.recv().await, None);
        assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
    });
}

#[test]
fn waiting_senders_are_served_in_order_and_try_send_cannot_overtake() {
    let rt = rt();
    rt.block_on(async {
        let (tx, mut rx) = mpsc::channel(1);
        tx.send(0).await.unwrap();
        let (w1, w2) = (counting_waker(), counting_waker());
        let mut a = pin!(tx.send(1));
        let mut b = pin!(tx.send(2));
        assert!(poll(a.as_mut(), &w1.1).is_pending());
        assert!(poll(b.as_mut(), &w2.1).is_pending());
        assert_eq!(rx.recv().await, Some(0));
        // The slot went to `a` (first waiter): a `try_send` finds no room.
        assert!(matches!(tx.try_send(9), Err(TrySendError::Full(9))));
        assert_eq!(w1.0.0.load(Ordering::SeqCst), 1);
        assert_eq!(w2.0.0.load(Ordering::SeqCst), 0);
        assert!(poll(a.as_mut(), &w1.1).is_ready());
        assert_eq!(rx.recv().await, Some(1));
        assert!(poll(b.as_mut(), &w2.1).is_ready());
        assert_eq!(rx.recv().await, Some(2));
    });
}

#[test]
fn a_dropped_woken_sender_passes_the_room_on() {
    let rt = rt();
    rt.block_on(async {
        let (tx, mut rx) = mpsc::channel(1);
        tx.send(0).await.unwrap();
        let (w1, w2) = (counting_waker(), counting_waker());
        let mut b = pin!(tx.send(2));
        {
            let mut a = pin!(tx.send(1));
            assert!(poll(a.as_mut(), &w1.1).is_pending());
            assert!(poll(b.as_mut(), &w2.1).is_pending());
            assert_eq!(rx.recv().await, Some(0));
            assert_eq!(w1.0.0.load(Ordering::SeqCst), 1);
            // `a` is dropped holding the room it was handed.
        }
        assert_eq!(w2.0.0.load(Ordering::SeqCst), 1, "the wakeup went on to b");
        assert!(poll(b.as_mut(), &w2.1).is_ready());
        assert_eq!(rx.recv().await, Some(2));
    });
}

#[test]
fn close_fails_waiting_senders_but_keeps_buffered_and_permitted_messages() {
    let rt = rt();
    rt.block_on(async {
        let (tx, mut rx) = mpsc::channel(2);
        tx.send(1).await.unwrap();
        let permit = tx.reserve().await.unwrap();
        let w = counting_waker();
        let mut waiting = pin!(tx.send(3));
        assert!(poll(waiting.as_mut(), &w.1).is_pending());
        rx.close();
        assert_eq!(w.0.0.load(Ordering::SeqCst), 1);
        match poll(waiting.as_mut(), &w.1) {
            Poll::Ready(Err(e)) => assert_eq!(e.0, 3),
            other => panic!("expected a closed error, got {other:?}"),
        }
        assert!(tx.is_closed());
        assert!(matches!(tx.try_send(4), Err(TrySendError::Closed(4))));
        assert!(tx.reserve().await.is_err());
        assert_eq!(rx.recv().await, Some(1));
        // The permit taken before the close can still send: `recv` waits for it.
        {
            let mut next = pin!(rx.recv());
            let wr = counting_waker();
            assert!(poll(next.as_mut(), &wr.1).is_pending());
            permit.send(2);
            assert_eq!(wr.0.0.load(Ordering::SeqCst), 1);
            assert_eq!(poll(next.as_mut(), &wr.1), Poll::Ready(Some(2)));
        }
        assert_eq!(rx.recv().await, None, "closed, empty, no permit out");
    });
}

#[test]
fn an_unused_permit_after_close_ends_the_stream() {
    let rt = rt();
    rt.block_on(async {
        let (tx, mut rx) = mpsc::channel::<u8>(1);
        let permit = tx.clone().reserve_owned().await.unwrap();
        rx.close();
        let mut next = pin!(rx.recv());
        let w = counting_waker();
        assert!(poll(next.as_mut(), &w.1).is_pending());
        let sender = permit.release();
        assert_eq!(w.0.0.load(Ordering::SeqCst), 1);
        assert_eq!(poll(next.as_mut(), &w.1), Poll::Ready(None));
        drop((sender, tx));
    });
}

#[test]
fn dropping_the_receiver_drops_buffered_values_and_fails_senders() {
    let rt = rt();
    rt.block_on(async {
        let item = Arc::new(());
        let (tx, rx) = mpsc::channel(4);
        tx.send(item.clone()).await.unwrap();
        tx.send(item.clone()).await.unwrap();
        let closed = tx.closed();
        drop(rx);
        closed.await;
        assert_eq!(Arc::strong_count(&item), 1, "buffered values dropped");
        let e = tx.send(item.clone()).await.unwrap_err();
        drop(e);
        assert_eq!(Arc::strong_count(&item), 1);
    });
}

#[test]
fn owned_permit_and_weak_sender() {
    let rt = rt();
    rt.block_on(async {
        let (tx, mut rx) = mpsc::channel(1);
        let weak = tx.downgrade();
        let permit = tx.reserve_owned().await.unwrap();
        let tx = permit.send(5);
        assert_eq!(rx.recv().await, Some(5));
        let strong = weak.upgrade().expect("a strong sender is alive");
        drop((tx, strong));
        assert!(weak.upgrade().is_none());
        assert_eq!(rx.recv().await, None);
        let (tx, _rx) = mpsc::channel::<u8>(1);
        tx.try_send(1).unwrap();
        let tx = match tx.try_reserve_owned() {
            Err(TrySendError::Full(tx)) => tx,
            _ => panic!("expected Full"),
        };
        assert!(tx.try_reserve().is_err());
    });
}

#[test]
fn recv_many_takes_what_is_there_up_to_the_limit() {
    let rt = rt();
    rt.block_on(async {
        let (tx, mut rx) = mpsc::channel(8);
        for i in 0..5 {
            tx.send(i).await.unwrap();
        }
        let mut buf = Vec::new();
        assert_eq!(rx.recv_many(&mut buf, 0).await, 0);
        assert_eq!(rx.recv_many(&mut buf, 3).await, 3);
        assert_eq!(rx.recv_many(&mut buf, 10).await, 2);
        assert_eq!(buf, [0, 1, 2, 3, 4]);
        drop(tx);
        assert_eq!(rx.recv_many(&mut buf, 10).await, 0);
    });
}

#[test]
fn send_timeout_hands_the_value_back() {
    let rt = rt();
    rt.block_on(async {
        let (tx, mut rx) = mpsc::channel(1);
        tx.send(1).await.unwrap();
        match tx.send_timeout(2, Duration::from_millis(5)).await {
            Err(SendTimeoutError::Timeout(2)) => {}
            other => panic!("expected a timeout, got {other:?}"),
        }
        assert_eq!(rx.recv().await, Some(1));
        tx.send_timeout(3, Duration::from_millis(5)).await.unwrap();
        rx.close();
        assert!(matches!(
            tx.send_timeout(4, Duration::from_millis(5)).await,
            Err(SendTimeoutError::Closed(4))
        ));
    });
}

#[test]
fn blocking_send_and_recv_between_plain_threads_and_the_runtime() {
    const N: u64 = if cfg!(miri) { 50 } else { 5_000 };
    let (tx, mut rx) = mpsc::channel::<u64>(4);
    let (back_tx, mut back_rx) = mpsc::unbounded_channel::<u64>();
    let producers: Vec<_> = (0..3)
        .map(|p| {
            let tx = tx.clone();
            thread::spawn(move || {
                for i in 0..N {
                    tx.blocking_send(p * N + i).unwrap();
                }
            })
        })
        .collect();
    drop(tx);
    let consumer = thread::spawn(move || {
        let mut sum = 0;
        let mut n = 0;
        while let Some(v) = back_rx.blocking_recv() {
            sum += v;
            n += 1;
        }
        (n, sum)
    });
    let rt = rt();
    rt.block_on(async move {
        while let Some(v) = rx.recv().await {
            back_tx.send(v).unwrap();
        }
    });
    for p in producers {
        p.join().unwrap();
    }
    let total = 3 * N;
    assert_eq!(consumer.join().unwrap(), (total, total * (total - 1) / 2));
}

#[test]
fn unbounded_send_recv_close_and_drop() {
    let rt = rt();
    rt.block_on(async {
        let (tx, mut rx) = mpsc::unbounded_channel();
        for i in 0..100 {
            tx.send(i).unwrap();
        }
        assert_eq!(rx.len(), 100);
        for i in 0..50 {
            assert_eq!(rx.recv().await, Some(i));
        }
        rx.close();
        assert!(tx.is_closed());
        assert_eq!(tx.send(7).unwrap_err().0, 7);
        let mut n = 50;
        while let Some(v) = rx.recv().await {
            assert_eq!(v, n);
            n += 1;
        }
        assert_eq!(n, 100);
        assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
    });
}

#[test]
fn a_receiver_woken_from_another_thread() {
    let rt = rt();
    let (tx, mut rx) = mpsc::unbounded_channel::<u32>();
    let sender = thread::spawn(move || {
        thread::sleep(Duration::from_millis(5));
        tx.send(7).unwrap();
    });
    assert_eq!(rt.block_on(async move { rx.recv().await }), Some(7));
    sender.join().unwrap();
}

#[test]
fn oneshot_send_recv_and_errors() {
    let rt = rt();
    rt.block_on(async {
        let (tx, rx) = oneshot::channel();
        tx.send(1).unwrap();
        assert_eq!(rx.await, Ok(1));

        let (tx, rx) = oneshot::channel::<u8>();
        drop(tx);
        assert!(rx.await.is_err());

        let (tx, rx) = oneshot::channel();
        drop(rx);
        assert!(tx.is_closed());
        assert_eq!(tx.send(3), Err(3));

        let (tx, mut rx) = oneshot::channel();
        assert_eq!(rx.try_recv(), Err(oneshot::error::TryRecvError::Empty));
        tx.send(4).unwrap();
        rx.close();
        assert_eq!(
            rx.try_recv(),
            Ok(4),
            "a value sent before close stays readable"
        );
        assert_eq!(rx.try_recv(), Err(oneshot::error::TryRecvError::Closed));

        let (mut tx, mut rx) = oneshot::channel::<u8>();
        let closed = spawn(async move {
            tx.closed().await;
            tx.is_closed()
        });
        rx.close();
        assert!(closed.await.unwrap());
    });
}

#[test]
fn oneshot_across_threads_both_ways() {
    let (tx, rx) = oneshot::channel::<u32>();
    let (tx2, rx2) = oneshot::channel::<u32>();
    let t = thread::spawn(move || {
        let v = rx.blocking_recv().unwrap();
        tx2.send(v + 1).unwrap();
    });
    let rt = rt();
    let got = rt.block_on(async move {
        tx.send(41).unwrap();
        rx2.await
    });
    assert_eq!(got, Ok(42));
    t.join().unwrap();
}

#[test]
fn oneshot_drop_of_the_receiver_drops_a_sent_value_and_wakes_closed() {
    let item = Arc::new(());
    let (mut tx, rx) = oneshot::channel::<Arc<()>>();
    let (count, waker) = counting_waker();
    let mut closed = pin!(tx.closed());
    assert!(poll(closed.as_mut(), &waker).is_pending());
    drop(rx);
    assert_eq!(count.0.load(Ordering::SeqCst), 1);
    assert!(poll(closed.as_mut(), &waker).is_ready());
    let (tx, rx) = oneshot::channel::<Arc<()>>();
    tx.send(item.clone()).unwrap();
    drop(rx);
    assert_eq!(Arc::strong_count(&item), 1);
}

#[test]
fn a_panicking_destructor_does_not_stop_the_receiver_dropping_the_rest() {
    static DROPS: AtomicUsize = AtomicUsize::new(0);
    struct A(bool);
    impl Drop for A {
        fn drop(&mut self) {
            DROPS.fetch_add(1, Ordering::SeqCst);
            if self.0 {
                panic!("destructor panics");
            }
        }
    }
    let (tx, rx) = mpsc::unbounded_channel();
    tx.send(A(true)).unwrap();
    tx.send(A(false)).unwrap();
    tx.send(A(false)).unwrap();
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(rx)));
    assert!(r.is_err());
    assert_eq!(
        DROPS.load(Ordering::SeqCst),
        3,
        "every value dropped with the receiver"
    );
    drop(tx);
}

#[test]
fn dropping_the_receiver_releases_its_waker() {
    let (count, waker) = counting_waker();
    let (_tx, mut rx) = mpsc::channel::<()>(1);
    assert!(rx.poll_recv(&mut Context::from_waker(&waker)).is_pending());
    assert_eq!(Arc::strong_count(&count), 3);
    drop(rx);
    assert_eq!(Arc::strong_count(&count), 2, "the stored waker was dropped");
}

#[test]
fn no_bounds_on_t_and_debug_impls() {
    struct NoTraits;
    let (tx, rx) = mpsc::channel::<NoTraits>(1);
    let (utx, urx) = mpsc::unbounded_channel::<NoTraits>();
    let _ = format!("{tx:?} {rx:?} {utx:?} {urx:?}");
}

#[test]
fn blocking_calls_from_a_task_panic_with_a_clear_message() {
    let rt = rt();
    let (tx, mut rx) = mpsc::channel::<u8>(1);
    let r = rt.block_on(async move {
        spawn(async move {
            let _ = rx.blocking_recv();
        })
        .await
    });
    let msg = r.unwrap_err().into_panic();
    let msg = msg
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| msg.downcast_ref::<&str>().copied())
        .unwrap_or_default();
    assert!(msg.contains("Cannot block the current thread"), "{msg}");
    assert!(tx.is_closed(), "the receiver was dropped by the unwinding");
}

#[test]
fn oneshot_a_closed_receiver_completes_with_an_error_when_nothing_was_sent() {
    let rt = rt();
    rt.block_on(async {
        let (tx, mut rx) = oneshot::channel::<u8>();
        rx.close();
        assert_eq!(tx.send(1), Err(1));
        assert!(rx.await.is_err(), "no hang after close");
        let (_tx, mut rx) = oneshot::channel::<u8>();
        rx.close();
        assert_eq!(rx.try_recv(), Err(oneshot::error::TryRecvError::Closed));
    });
}

#[test]
fn reserve_many_holds_room_and_gives_back_what_is_not_used() {
    let rt = rt();
    rt.block_on(async {
        let (tx, mut rx) = mpsc::channel::<u32>(4);
        assert!(tx.reserve_many(5).await.is_err(), "more than the capacity");
        let mut permits = tx.reserve_many(3).await.unwrap();
        assert_eq!(permits.len(), 3);
        assert_eq!(tx.capacity(), 1);
        permits.next().unwrap().send(1);
        drop(permits); // two unused go back
        assert_eq!(tx.capacity(), 3);
        assert!(tx.try_reserve_many(4).is_err());
        for (i, p) in tx.try_reserve_many(3).unwrap().enumerate() {
            p.send(10 + i as u32);
        }
        let mut got = Vec::new();
        assert_eq!(rx.recv_many(&mut got, 10).await, 4);
        assert_eq!(got, [1, 10, 11, 12]);
    });
}

#[test]
fn weak_and_strong_counts() {
    let (tx, rx) = mpsc::channel::<u8>(1);
    let weak = tx.downgrade();
    let weak2 = weak.clone();
    assert_eq!((tx.strong_count(), tx.weak_count()), (1, 2));
    assert_eq!((rx.sender_strong_count(), rx.sender_weak_count()), (1, 2));
    drop(weak2);
    let tx2 = weak.upgrade().unwrap();
    assert_eq!((weak.strong_count(), weak.weak_count()), (2, 1));
    drop((tx, tx2));
    assert!(weak.upgrade().is_none());
    let (utx, urx) = mpsc::unbounded_channel::<u8>();
    let uweak = utx.downgrade();
    assert_eq!((urx.sender_strong_count(), urx.sender_weak_count()), (1, 1));
    drop(utx);
    assert!(uweak.upgrade().is_none());
    assert_eq!(uweak.strong_count(), 0);
}
