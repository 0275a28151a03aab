//! Channel behaviour: `oneshot`, bounded `mpsc` (same thread) and `cross` (between
//! threads): values, errors that hand the value back, close and drop-first cases, waiting
//! senders (FIFO, dropped waiters pass their wakeup on), wakes of a parked runtime from
//! another thread, and counted contention between game threads and the runtime.
//!
//! No test asserts on time: sleeps only make an interleaving likely. Sizes shrink under
//! Miri, which runs this file (`cargo +nightly miri test -p tickslab-runtime --test
//! channels`).

mod support;

use std::cell::Cell;
use std::future::{Future, poll_fn};
use std::pin::{Pin, pin};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use tickslab_runtime::sync::cross;
use tickslab_runtime::sync::local::mpsc::error::{SendError, TryRecvError, TrySendError};
use tickslab_runtime::sync::local::oneshot::error::{
    RecvError, TryRecvError as OneshotTryRecvError,
};
use tickslab_runtime::sync::local::{mpsc, oneshot};
use tickslab_runtime::*;

use support::{DropCounter, rt_bounded};

const fn scaled(n: usize) -> usize {
    if cfg!(miri) { n / 100 + 4 } else { n }
}

fn rt() -> Runtime {
    rt_bounded::<512>(64)
}

/// A waker that counts its wakes, for polling futures by hand.
#[derive(Default)]
struct CountingWaker(AtomicUsize);

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn counting_waker() -> (Arc<CountingWaker>, Waker) {
    let w = Arc::new(CountingWaker::default());
    (w.clone(), Waker::from(w))
}

impl CountingWaker {
    fn wakes(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

fn poll_once<F: Future>(f: Pin<&mut F>, waker: &Waker) -> Poll<F::Output> {
    f.poll(&mut Context::from_waker(waker))
}

/// Every message created and dropped, by count and by sum of values: at the end both
/// must match, which proves no message was lost (never dropped) or duplicated (dropped
/// twice).
#[derive(Default)]
struct Ledger {
    created: AtomicU64,
    created_sum: AtomicU64,
    dropped: AtomicU64,
    dropped_sum: AtomicU64,
}

impl Ledger {
    fn check(&self) {
        let created = self.created.load(Ordering::SeqCst);
        assert_eq!(
            created,
            self.dropped.load(Ordering::SeqCst),
            "messages lost or duplicated"
        );
        assert_eq!(
            self.created_sum.load(Ordering::SeqCst),
            self.dropped_sum.load(Ordering::SeqCst),
            "messages lost or duplicated"
        );
    }
}

/// A counted message.
struct Msg {
    v: u64,
    ledger: Arc<Ledger>,
}

impl Msg {
    fn new(v: u64, ledger: &Arc<Ledger>) -> Msg {
        ledger.created.fetch_add(1, Ordering::SeqCst);
        ledger.created_sum.fetch_add(v, Ordering::SeqCst);
        Msg {
            v,
            ledger: ledger.clone(),
        }
    }
}

impl Drop for Msg {
    fn drop(&mut self) {
        self.ledger.dropped.fetch_add(1, Ordering::SeqCst);
        self.ledger.dropped_sum.fetch_add(self.v, Ordering::SeqCst);
    }
}

/// Sends from a thread that must not block: retries a full channel with a yield. Returns
/// the message back if the channel closed.
fn game_send<T>(tx: &cross::Sender<T>, mut msg: T) -> Result<(), T> {
    loop {
        match tx.try_send(msg) {
            Ok(()) => return Ok(()),
            Err(TrySendError::Full(m)) => {
                msg = m;
                std::thread::yield_now();
            }
            Err(TrySendError::Closed(m)) => return Err(m),
        }
    }
}

// ---- oneshot ---------------------------------------------------------------------------------

#[test]
fn oneshot_send_then_receive() {
    let rt = rt();
    let got = rt.block_on(async {
        let (tx, rx) = oneshot::channel();
        assert!(!tx.is_closed());
        tx.send("hi").unwrap();
        rx.await
    });
    assert_eq!(got, Ok("hi"));
}

#[test]
fn oneshot_receiver_waits_for_a_send_from_another_task() {
    let rt = rt();
    let got = rt.block_on(async {
        let (tx, rx) = oneshot::channel::<u32>();
        spawn_slab(async move {
            for _ in 0..3 {
                yield_now().await;
            }
            tx.send(7).unwrap();
        });
        rx.await
    });
    assert_eq!(got, Ok(7));
}

#[test]
fn oneshot_sender_dropped_without_sending_is_an_error() {
    let rt = rt();
    rt.block_on(async {
        let (tx, rx) = oneshot::channel::<u32>();
        spawn_slab(async move {
            yield_now().await;
            drop(tx);
        });
        assert_eq!(rx.await, Err(RecvError::default_for_test()));
    });
    let (tx, mut rx) = oneshot::channel::<u32>();
    drop(tx);
    assert_eq!(rx.try_recv(), Err(OneshotTryRecvError::Closed));
    assert!(rx.is_terminated());
}

/// `RecvError` has no public constructor (as in tokio): get one from a real channel.
trait DefaultForTest {
    fn default_for_test() -> Self;
}
impl DefaultForTest for RecvError {
    fn default_for_test() -> Self {
        let (tx, rx) = oneshot::channel::<()>();
        drop(tx);
        let mut rx = pin!(rx);
        let (_, waker) = counting_waker();
        match poll_once(rx.as_mut(), &waker) {
            Poll::Ready(Err(e)) => e,
            other => panic!("expected RecvError, got {other:?}"),
        }
    }
}

#[test]
fn oneshot_send_after_receiver_dropped_hands_the_value_back() {
    let (tx, rx) = oneshot::channel::<String>();
    drop(rx);
    assert!(tx.is_closed());
    assert_eq!(tx.send("back".to_string()), Err("back".to_string()));
}

#[test]
fn oneshot_try_recv_empty_then_value_then_closed() {
    let (tx, mut rx) = oneshot::channel::<u8>();
    assert_eq!(rx.try_recv(), Err(OneshotTryRecvError::Empty));
    assert!(rx.is_empty() && !rx.is_terminated());
    tx.send(3).unwrap();
    assert!(!rx.is_empty());
    assert_eq!(rx.try_recv(), Ok(3));
    assert_eq!(rx.try_recv(), Err(OneshotTryRecvError::Closed));
    assert!(rx.is_terminated());
}

#[test]
fn oneshot_close_refuses_sends_but_keeps_a_value_sent_before() {
    let (tx, mut rx) = oneshot::channel::<u8>();
    rx.close();
    assert!(tx.is_closed());
    assert_eq!(tx.send(1), Err(1));
    assert_eq!(rx.try_recv(), Err(OneshotTryRecvError::Closed));

    let (tx, mut rx) = oneshot::channel::<u8>();
    tx.send(2).unwrap();
    rx.close();
    assert_eq!(rx.try_recv(), Ok(2));
}

#[test]
fn oneshot_sender_closed_future_completes_when_the_receiver_goes() {
    let rt = rt();
    let done = rt.block_on(async {
        let (mut tx, mut rx) = oneshot::channel::<u8>();
        let waiter = spawn_slab(async move {
            tx.closed().await;
            tx.is_closed()
        });
        yield_now().await;
        rx.close();
        let first = waiter.await.unwrap();

        let (mut tx, rx) = oneshot::channel::<u8>();
        let waiter = spawn_slab(async move {
            tx.closed().await;
            tx.send(9)
        });
        yield_now().await;
        drop(rx);
        (first, waiter.await.unwrap())
    });
    assert_eq!(done, (true, Err(9)));
}

#[test]
fn oneshot_unreceived_value_drops_with_the_receiver() {
    let drops = Rc::new(Cell::new(0));
    let (tx, rx) = oneshot::channel();
    tx.send(DropCounter(drops.clone())).ok().unwrap();
    assert_eq!(drops.get(), 0);
    drop(rx);
    assert_eq!(drops.get(), 1);
}

// ---- mpsc ------------------------------------------------------------------------------------

#[test]
fn mpsc_is_fifo_and_reports_len_and_capacity() {
    let rt = rt();
    rt.block_on(async {
        let (tx, mut rx) = mpsc::channel::<u32>(3);
        assert_eq!(
            (tx.capacity(), tx.max_capacity(), rx.max_capacity()),
            (3, 3, 3)
        );
        for i in 0..3 {
            tx.send(i).await.unwrap();
        }
        assert_eq!((rx.len(), tx.capacity()), (3, 0));
        for i in 0..3 {
            assert_eq!(rx.recv().await, Some(i));
        }
        assert!(rx.is_empty());
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
        let tx2 = tx.clone();
        assert!(tx.same_channel(&tx2));
        drop((tx, tx2));
        assert!(rx.is_closed());
        assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
        assert_eq!(rx.recv().await, None);
    });
}

#[test]
fn mpsc_try_send_full_and_closed_hand_the_value_back() {
    let (tx, mut rx) = mpsc::channel::<String>(1);
    tx.try_send("a".into()).unwrap();
    match tx.try_send("b".into()) {
        Err(TrySendError::Full(v)) => assert_eq!(v, "b"),
        other => panic!("expected Full, got {other:?}"),
    }
    rx.close();
    assert!(tx.is_closed());
    match tx.try_send("c".into()) {
        Err(e @ TrySendError::Closed(_)) => {
            assert!(e.is_closed() && !e.is_full());
            assert_eq!(e.into_inner(), "c");
        }
        other => panic!("expected Closed, got {other:?}"),
    }
    // Closed, but what was buffered before still comes out, then the end.
    assert_eq!(rx.try_recv(), Ok("a".to_string()));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
    drop(rx);
    let rt = rt();
    let err = rt.block_on(tx.send("d".into()));
    assert_eq!(err, Err(SendError("d".to_string())));
}

#[test]
fn mpsc_waiting_senders_are_served_in_order() {
    let rt = rt();
    let got = rt.block_on(async {
        let (tx, mut rx) = mpsc::channel::<u32>(1);
        tx.send(0).await.unwrap();
        // Three tasks queue up behind the full slot, in spawn order.
        let mut handles = Vec::new();
        for id in 1..=3u32 {
            let tx = tx.clone();
            handles.push(spawn_slab(async move {
                tx.send(id * 10).await.unwrap();
                tx.send(id * 10 + 1).await.unwrap();
            }));
            yield_now().await;
        }
        drop(tx);
        let mut got = Vec::new();
        while let Some(v) = rx.recv().await {
            got.push(v);
        }
        for h in handles {
            h.await.unwrap();
        }
        got
    });
    // Each freed slot went to the first waiter; a sender that sent re-queues at the back.
    assert_eq!(got, vec![0, 10, 20, 30, 11, 21, 31]);
}

#[test]
fn mpsc_recv_drains_then_ends_when_all_senders_are_gone() {
    let rt = rt();
    let got = rt.block_on(async {
        let (tx, mut rx) = mpsc::channel::<u32>(8);
        let tx2 = tx.clone();
        tx.send(1).await.unwrap();
        tx2.send(2).await.unwrap();
        drop(tx);
        spawn_slab(async move {
            yield_now().await;
            tx2.send(3).await.unwrap();
            // Dropping the last sender wakes the waiting receiver.
        });
        let mut got = Vec::new();
        while let Some(v) = rx.recv().await {
            got.push(v);
        }
        got
    });
    assert_eq!(got, vec![1, 2, 3]);
}

#[test]
fn mpsc_close_keeps_the_buffer_and_fails_waiting_senders() {
    let rt = rt();
    rt.block_on(async {
        let (tx, mut rx) = mpsc::channel::<u32>(2);
        tx.send(1).await.unwrap();
        tx.send(2).await.unwrap();
        let waiting = {
            let tx = tx.clone();
            spawn_slab(async move { tx.send(3).await })
        };
        yield_now().await; // the task is now waiting for room
        rx.close();
        assert_eq!(waiting.await.unwrap(), Err(SendError(3)));
        assert_eq!(tx.try_send(4), Err(TrySendError::Closed(4)));
        assert_eq!(rx.recv().await, Some(1));
        assert_eq!(rx.recv().await, Some(2));
        assert_eq!(
            rx.recv().await,
            None,
            "closed and drained, though a sender lives"
        );
    });
}

#[test]
fn mpsc_dropped_receiver_drops_buffer_and_wakes_waiting_senders() {
    let drops = Rc::new(Cell::new(0));
    let rt = rt();
    let d = drops.clone();
    rt.block_on(async move {
        let (tx, rx) = mpsc::channel::<DropCounter>(2);
        tx.send(DropCounter(d.clone())).await.ok().unwrap();
        tx.send(DropCounter(d.clone())).await.ok().unwrap();
        let waiting = {
            let (tx, d) = (tx.clone(), d.clone());
            spawn_slab(async move {
                match tx.send(DropCounter(d)).await {
                    Err(SendError(v)) => drop(v), // the value comes back, then drops here
                    Ok(()) => panic!("sent into a dropped receiver"),
                }
            })
        };
        yield_now().await;
        assert_eq!(d.get(), 0);
        drop(rx);
        assert_eq!(
            d.get(),
            2,
            "the buffered messages dropped with the receiver"
        );
        waiting.await.unwrap();
        assert_eq!(d.get(), 3);
        assert!(tx.is_closed());
    });
    assert_eq!(drops.get(), 3);
}

#[test]
fn mpsc_dropped_notified_sender_passes_its_slot_on() {
    let (tx, mut rx) = mpsc::channel::<u32>(1);
    tx.try_send(0).unwrap();
    let (wa, waker_a) = counting_waker();
    let (wb, waker_b) = counting_waker();
    let mut a = Box::pin(tx.send(1));
    let mut b = pin!(tx.send(2));
    assert!(poll_once(a.as_mut(), &waker_a).is_pending());
    assert!(poll_once(b.as_mut(), &waker_b).is_pending());
    // A receive frees the slot and reserves it for `a`, the first waiter.
    assert_eq!(rx.try_recv(), Ok(0));
    assert_eq!((wa.wakes(), wb.wakes()), (1, 0));
    assert_eq!(
        tx.try_send(9),
        Err(TrySendError::Full(9)),
        "the slot is reserved"
    );
    // `a` gives up without sending: its slot must go to `b`, or `b` would sleep forever.
    drop(a);
    assert_eq!(wb.wakes(), 1, "the reserved slot was passed on");
    assert_eq!(poll_once(b.as_mut(), &waker_b), Poll::Ready(Ok(())));
    assert_eq!(rx.try_recv(), Ok(2));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    // No reservation is left behind.
    assert_eq!(tx.capacity(), 1);
}

#[test]
fn mpsc_dropped_queued_sender_unlinks_itself() {
    let (tx, mut rx) = mpsc::channel::<u32>(1);
    tx.try_send(0).unwrap();
    let wakers: Vec<_> = (0..3).map(|_| counting_waker()).collect();
    let mut a = pin!(tx.send(1));
    let mut b = Box::pin(tx.send(2));
    let mut c = pin!(tx.send(3));
    assert!(poll_once(a.as_mut(), &wakers[0].1).is_pending());
    assert!(poll_once(b.as_mut(), &wakers[1].1).is_pending());
    assert!(poll_once(c.as_mut(), &wakers[2].1).is_pending());
    // Polling again while queued keeps the place in the queue.
    assert!(poll_once(b.as_mut(), &wakers[1].1).is_pending());
    drop(b); // unlinks from the middle of the list
    assert_eq!(rx.try_recv(), Ok(0));
    assert_eq!(poll_once(a.as_mut(), &wakers[0].1), Poll::Ready(Ok(())));
    assert_eq!(rx.try_recv(), Ok(1));
    assert_eq!(wakers[2].0.wakes(), 1);
    assert_eq!(poll_once(c.as_mut(), &wakers[2].1), Poll::Ready(Ok(())));
    assert_eq!(rx.try_recv(), Ok(3));
    assert_eq!(wakers[1].0.wakes(), 0);
}

#[test]
fn mpsc_messages_may_hold_senders_of_their_own_channel() {
    // Dropping the receiver drops buffered messages; a message that holds a `Sender` of
    // the same channel runs the sender's drop from inside that: no borrow is held then.
    struct Carrier(#[allow(dead_code)] mpsc::Sender<Carrier>);
    let (tx, rx) = mpsc::channel::<Carrier>(4);
    tx.try_send(Carrier(tx.clone())).ok().unwrap();
    tx.try_send(Carrier(tx.clone())).ok().unwrap();
    drop(tx);
    drop(rx);
}

#[test]
fn mpsc_many_producers_counted() {
    let n = scaled(10_000) as u64;
    let producers = 4u64;
    let rt = rt();
    let (count, sum) = rt.block_on(async move {
        let (tx, mut rx) = mpsc::channel::<u64>(16);
        for p in 0..producers {
            let tx = tx.clone();
            spawn_slab(async move {
                for i in 0..n {
                    if i % 3 == 0 {
                        // Mix the non-waiting path in.
                        let mut v = p * n + i;
                        loop {
                            match tx.try_send(v) {
                                Ok(()) => break,
                                Err(TrySendError::Full(back)) => {
                                    v = back;
                                    yield_now().await;
                                }
                                Err(TrySendError::Closed(_)) => panic!("closed"),
                            }
                        }
                    } else {
                        tx.send(p * n + i).await.unwrap();
                    }
                }
            });
        }
        drop(tx);
        let mut last = vec![None::<u64>; producers as usize];
        let (mut count, mut sum) = (0u64, 0u64);
        while let Some(v) = rx.recv().await {
            let p = (v / n) as usize;
            assert!(last[p] < Some(v), "per-producer order");
            last[p] = Some(v);
            count += 1;
            sum += v;
        }
        (count, sum)
    });
    let total = producers * n;
    assert_eq!(count, total);
    assert_eq!(sum, total * (total - 1) / 2);
}

// ---- cross: single-thread semantics ----------------------------------------------------------

#[test]
fn cross_ends_are_send_and_the_sender_is_sync_and_clone() {
    fn send<T: Send>() {}
    fn sync<T: Sync>() {}
    fn clone<T: Clone>() {}
    send::<cross::Sender<String>>();
    sync::<cross::Sender<String>>();
    clone::<cross::Sender<String>>();
    send::<cross::Receiver<String>>();
    send::<cross::SendFuture<'static, String>>();
    send::<cross::Recv<'static, String>>();
}

#[test]
fn cross_try_send_full_and_closed_are_distinct_and_hand_the_value_back() {
    let (tx, mut rx) = cross::channel::<String>(2);
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    tx.try_send("a".into()).unwrap();
    tx.try_send("b".into()).unwrap();
    assert_eq!((tx.len(), tx.capacity(), tx.max_capacity()), (2, 0, 2));
    match tx.try_send("c".into()) {
        Err(e @ TrySendError::Full(_)) => assert_eq!(e.into_inner(), "c"),
        other => panic!("expected Full, got {other:?}"),
    }
    assert_eq!(rx.try_recv(), Ok("a".to_string()));
    drop(rx);
    assert!(tx.is_closed());
    assert_eq!(tx.len(), 0, "the receiver's drop dropped what was buffered");
    match tx.try_send("d".into()) {
        Err(e @ TrySendError::Closed(_)) => assert_eq!(e.into_inner(), "d"),
        other => panic!("expected Closed, got {other:?}"),
    }
    let rt = rt();
    assert_eq!(
        rt.block_on(tx.send("e".into())),
        Err(SendError("e".to_string()))
    );
}

#[test]
fn cross_recv_drains_then_disconnects_when_all_senders_are_gone() {
    let (tx, mut rx) = cross::channel::<u32>(4);
    let tx2 = tx.clone();
    assert!(tx.same_channel(&tx2));
    tx.try_send(1).unwrap();
    tx2.try_send(2).unwrap();
    drop((tx, tx2));
    assert!(rx.is_closed());
    assert_eq!(rx.try_recv(), Ok(1));
    let rt = rt();
    assert_eq!(rt.block_on(rx.recv()), Some(2));
    assert_eq!(rt.block_on(rx.recv()), None);
    assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
}

#[test]
fn cross_drain_takes_what_is_there_now() {
    let (tx, mut rx) = cross::channel::<u32>(8);
    for i in 0..3 {
        tx.try_send(i).unwrap();
    }
    let mut drain = rx.drain();
    assert_eq!(drain.next(), Some(0));
    // Messages arriving during the drain wait for the next one.
    tx.try_send(10).unwrap();
    tx.try_send(11).unwrap();
    assert_eq!(drain.collect::<Vec<_>>(), vec![1, 2]);
    assert_eq!(rx.drain().collect::<Vec<_>>(), vec![10, 11]);
    assert_eq!(rx.drain().count(), 0);
}

#[test]
fn cross_close_keeps_the_buffer_and_refuses_sends() {
    let (tx, mut rx) = cross::channel::<u32>(4);
    tx.try_send(1).unwrap();
    rx.close();
    assert!(tx.is_closed() && rx.is_closed());
    assert_eq!(tx.try_send(2), Err(TrySendError::Closed(2)));
    assert_eq!(rx.try_recv(), Ok(1));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
    let rt = rt();
    assert_eq!(
        rt.block_on(rx.recv()),
        None,
        "closed and drained, though a sender lives"
    );
}

#[test]
fn cross_receiver_drop_drops_the_buffered_messages() {
    let ledger = Arc::new(Ledger::default());
    let (tx, rx) = cross::channel::<Msg>(4);
    for i in 1..=3 {
        tx.try_send(Msg::new(i, &ledger)).ok().unwrap();
    }
    assert_eq!(ledger.dropped.load(Ordering::SeqCst), 0);
    drop(rx);
    assert_eq!(ledger.dropped.load(Ordering::SeqCst), 3);
    ledger.check();
}

#[test]
fn cross_dropped_notified_sender_passes_the_wakeup_on() {
    let (tx, mut rx) = cross::channel::<u32>(1);
    tx.try_send(0).unwrap();
    let (wa, waker_a) = counting_waker();
    let (wb, waker_b) = counting_waker();
    let mut a = Box::pin(tx.send(1));
    let mut b = pin!(tx.send(2));
    assert!(poll_once(a.as_mut(), &waker_a).is_pending());
    assert!(poll_once(b.as_mut(), &waker_b).is_pending());
    assert_eq!(rx.try_recv(), Ok(0));
    assert_eq!(
        (wa.wakes(), wb.wakes()),
        (1, 0),
        "one wake per freed slot, in order"
    );
    drop(a);
    assert_eq!(wb.wakes(), 1, "the dropped waiter passed its wakeup on");
    assert_eq!(poll_once(b.as_mut(), &waker_b), Poll::Ready(Ok(())));
    assert_eq!(rx.try_recv(), Ok(2));
}

#[test]
fn cross_woken_sender_that_lost_the_slot_waits_again() {
    let (tx, mut rx) = cross::channel::<u32>(1);
    tx.try_send(0).unwrap();
    let (wa, waker_a) = counting_waker();
    let mut a = pin!(tx.send(1));
    assert!(poll_once(a.as_mut(), &waker_a).is_pending());
    assert_eq!(rx.try_recv(), Ok(0));
    assert_eq!(wa.wakes(), 1);
    tx.try_send(5).unwrap(); // the game thread got there first
    assert!(poll_once(a.as_mut(), &waker_a).is_pending());
    assert_eq!(rx.try_recv(), Ok(5));
    assert_eq!(wa.wakes(), 2, "queued again, woken again");
    assert_eq!(poll_once(a.as_mut(), &waker_a), Poll::Ready(Ok(())));
    assert_eq!(rx.try_recv(), Ok(1));
}

#[test]
fn cross_close_wakes_waiting_senders_with_their_value() {
    let (tx, mut rx) = cross::channel::<u32>(1);
    tx.try_send(0).unwrap();
    let (wa, waker_a) = counting_waker();
    let mut a = pin!(tx.send(1));
    assert!(poll_once(a.as_mut(), &waker_a).is_pending());
    rx.close();
    assert_eq!(wa.wakes(), 1);
    assert_eq!(
        poll_once(a.as_mut(), &waker_a),
        Poll::Ready(Err(SendError(1)))
    );
    assert_eq!(rx.try_recv(), Ok(0));
}

// ---- cross: between threads ------------------------------------------------------------------

#[test]
fn cross_try_send_from_another_thread_wakes_a_parked_runtime() {
    let rt = rt();
    let (tx, mut rx) = cross::channel::<u32>(4);
    let registered = Arc::new(AtomicBool::new(false));
    let r = registered.clone();
    let game = std::thread::spawn(move || {
        while !r.load(Ordering::Acquire) {
            std::thread::yield_now();
        }
        // Makes it likely (not certain) that the runtime is asleep in epoll by now.
        std::thread::sleep(Duration::from_millis(20));
        tx.try_send(42).unwrap();
        tx // dropped by the joiner, after the message was received
    });
    let got = rt.block_on(async move {
        // The receiving task is the only one; the runtime is otherwise idle.
        spawn_slab(async move {
            let mut recv = pin!(rx.recv());
            // Poll once (registering the waker) before the game thread may send.
            poll_fn(|cx| {
                let p = recv.as_mut().poll(cx);
                registered.store(true, Ordering::Release);
                p
            })
            .await
        })
        .await
        .unwrap()
    });
    assert_eq!(got, Some(42));
    drop(game.join().unwrap());
    let s = rt.stats();
    println!("runtime stats: {s:?}");
    assert!(
        s.remote_wakes >= 1,
        "the game thread's send woke the task: {s:?}"
    );
}

#[test]
fn cross_async_send_is_woken_by_the_game_threads_receives() {
    let n = scaled(4_000) as u64;
    let rt = rt();
    let (tx, mut rx) = cross::channel::<u64>(2);
    let game = std::thread::spawn(move || {
        let (mut count, mut sum) = (0u64, 0u64);
        let mut next = [0u64, 1];
        let mut take = |v: u64| {
            let p = (v % 2) as usize;
            assert_eq!(v, next[p], "per-producer order");
            next[p] += 2;
            count += 1;
            sum += v;
        };
        let mut round = 0u64;
        loop {
            round += 1;
            if round.is_multiple_of(4) {
                for v in rx.drain() {
                    take(v);
                }
            } else {
                match rx.try_recv() {
                    Ok(v) => take(v),
                    Err(TryRecvError::Empty) => {}
                    Err(TryRecvError::Disconnected) => break,
                }
            }
            if round.is_multiple_of(256) {
                // Let the senders fill the ring and the runtime fall asleep sometimes.
                std::thread::sleep(Duration::from_millis(1));
            }
            std::thread::yield_now();
        }
        (count, sum)
    });
    rt.block_on(async move {
        let handles: Vec<_> = (0..2u64)
            .map(|p| {
                let tx = tx.clone();
                spawn_slab(async move {
                    for i in 0..n / 2 {
                        tx.send(i * 2 + p).await.unwrap();
                    }
                })
            })
            .collect();
        drop(tx);
        for h in handles {
            h.await.unwrap();
        }
    });
    assert_eq!(game.join().unwrap(), (n, n * (n - 1) / 2));
}

/// Two game threads, each sending `n` counted messages to the runtime with `try_send` and
/// receiving `n` from it (sent with `send().await`) with `drain`/`try_recv`.
#[test]
fn cross_two_game_threads_each_way_counted() {
    let n = scaled(20_000) as u64;
    const DOWN: u64 = 1 << 40;
    let ledger = Arc::new(Ledger::default());
    let rt = rt();
    let (up_tx, mut up_rx) = cross::channel::<Msg>(8);
    let mut downs = Vec::new();
    let mut games = Vec::new();
    for k in 0..2u64 {
        let (down_tx, mut down_rx) = cross::channel::<Msg>(8);
        downs.push(down_tx);
        let (up_tx, ledger) = (up_tx.clone(), ledger.clone());
        games.push(std::thread::spawn(move || {
            let mut next_up = 0u64;
            let mut pending: Option<Msg> = None;
            let (mut count, mut sum) = (0u64, 0u64);
            let mut up_tx = Some(up_tx);
            loop {
                let mut progress = false;
                if let Some(tx) = &up_tx {
                    if pending.is_none() && next_up < n {
                        pending = Some(Msg::new(k * n + next_up + 1, &ledger));
                        next_up += 1;
                    }
                    if let Some(m) = pending.take() {
                        match tx.try_send(m) {
                            Ok(()) => progress = true,
                            Err(TrySendError::Full(m)) => pending = Some(m),
                            Err(TrySendError::Closed(_)) => panic!("the runtime closed early"),
                        }
                    }
                    if pending.is_none() && next_up == n {
                        up_tx = None; // done sending: drop our sender
                    }
                }
                let mut take = |m: Msg| {
                    assert_eq!(m.v, DOWN + k * n + count, "order");
                    count += 1;
                    sum += m.v;
                    progress = true;
                };
                for m in down_rx.drain() {
                    take(m);
                }
                let down_done = match down_rx.try_recv() {
                    Ok(m) => {
                        take(m);
                        false
                    }
                    Err(TryRecvError::Empty) => false,
                    Err(TryRecvError::Disconnected) => true,
                };
                if up_tx.is_none() && down_done {
                    return (count, sum);
                }
                if !progress {
                    std::thread::yield_now();
                }
            }
        }));
    }
    drop(up_tx);
    let (up_count, up_sum) = rt.block_on({
        let ledger = ledger.clone();
        async move {
            let handles: Vec<_> = downs
                .into_iter()
                .enumerate()
                .map(|(k, tx)| {
                    let ledger = ledger.clone();
                    spawn_slab(async move {
                        for i in 0..n {
                            let m = Msg::new(DOWN + k as u64 * n + i, &ledger);
                            tx.send(m).await.expect("the game thread hung up");
                        }
                    })
                })
                .collect();
            let (mut count, mut sum) = (0u64, 0u64);
            let mut next = [1u64, n + 1];
            while let Some(m) = up_rx.recv().await {
                let k = ((m.v - 1) / n) as usize;
                assert_eq!(m.v, next[k], "per-thread order");
                next[k] += 1;
                count += 1;
                sum += m.v;
            }
            for h in handles {
                h.await.unwrap();
            }
            (count, sum)
        }
    });
    let total = 2 * n;
    assert_eq!((up_count, up_sum), (total, total * (total + 1) / 2));
    for (k, game) in games.into_iter().enumerate() {
        let k = k as u64;
        let (count, sum) = game.join().unwrap();
        assert_eq!(count, n);
        assert_eq!(sum, n * (DOWN + k * n) + n * (n - 1) / 2);
    }
    ledger.check();
    assert_eq!(ledger.created.load(Ordering::SeqCst), 4 * n);
}

#[test]
fn cross_game_threads_drop_their_senders_first() {
    let n = scaled(2_000) as u64;
    let ledger = Arc::new(Ledger::default());
    let rt = rt();

    // Case 1: both game threads finish and drop their senders before the runtime even
    // starts receiving: everything is buffered, then the end.
    let (tx, mut rx) = cross::channel::<Msg>(64);
    let games: Vec<_> = (0..2u64)
        .map(|k| {
            let (tx, ledger) = (tx.clone(), ledger.clone());
            std::thread::spawn(move || {
                for i in 0..32 {
                    tx.try_send(Msg::new(k * 32 + i, &ledger)).ok().unwrap();
                }
            })
        })
        .collect();
    drop(tx);
    for g in games {
        g.join().unwrap();
    }
    let (count, sum) = rt.block_on(async {
        let (mut count, mut sum) = (0u64, 0u64);
        while let Some(m) = rx.recv().await {
            count += 1;
            sum += m.v;
        }
        (count, sum)
    });
    assert_eq!((count, sum), (64, 63 * 64 / 2));
    assert_eq!(rx.try_recv().err(), Some(TryRecvError::Disconnected));

    // Case 2: they drop their senders while the runtime is receiving (and asleep).
    let (tx, mut rx) = cross::channel::<Msg>(4);
    let games: Vec<_> = (0..2u64)
        .map(|k| {
            let (tx, ledger) = (tx.clone(), ledger.clone());
            std::thread::spawn(move || {
                for i in 0..n {
                    if game_send(&tx, Msg::new(k * n + i, &ledger)).is_err() {
                        panic!("closed");
                    }
                }
                drop(tx);
            })
        })
        .collect();
    drop(tx);
    let (count, sum) = rt.block_on(async {
        let (mut count, mut sum) = (0u64, 0u64);
        while let Some(m) = rx.recv().await {
            count += 1;
            sum += m.v;
        }
        (count, sum)
    });
    for g in games {
        g.join().unwrap();
    }
    let total = 2 * n;
    assert_eq!((count, sum), (total, total * (total - 1) / 2));
    drop(rx);
    ledger.check();
}

#[test]
fn cross_runtime_receiver_drops_first_while_game_threads_send() {
    let n = scaled(4_000) as u64;
    assert!(n > 40);
    let ledger = Arc::new(Ledger::default());
    let returned = Arc::new(AtomicU64::new(0));
    let rt = rt();
    let (tx, mut rx) = cross::channel::<Msg>(8);
    let games: Vec<_> = (0..2u64)
        .map(|k| {
            let (tx, ledger, returned) = (tx.clone(), ledger.clone(), returned.clone());
            std::thread::spawn(move || {
                for i in 0..n {
                    if let Err(m) = game_send(&tx, Msg::new(k * n + i, &ledger)) {
                        // The value came back: count it, and stop.
                        returned.fetch_add(1, Ordering::SeqCst);
                        drop(m);
                        return true;
                    }
                }
                false
            })
        })
        .collect();
    drop(tx);
    let received = rt.block_on(async move {
        let mut received = 0u64;
        while received < n / 2 {
            rx.recv().await.expect("senders are alive");
            received += 1;
        }
        // Drop the receiver with messages buffered and senders still sending.
        drop(rx);
        received
    });
    for g in games {
        assert!(
            g.join().unwrap(),
            "every game thread saw Closed and got its value back"
        );
    }
    let created = ledger.created.load(Ordering::SeqCst);
    let returned = returned.load(Ordering::SeqCst);
    assert_eq!(returned, 2);
    assert!(received + returned <= created);
    println!(
        "created {created}, received {received}, returned {returned}, dropped in the channel {}",
        created - received - returned
    );
    ledger.check();
}

#[test]
fn cross_game_receiver_drops_first_while_runtime_senders_wait() {
    let n = scaled(4_000) as u64;
    let keep = n / 4;
    let ledger = Arc::new(Ledger::default());
    let rt = rt();
    let (tx, mut rx) = cross::channel::<Msg>(4);
    let game = std::thread::spawn(move || {
        let mut received = 0u64;
        while received < keep {
            match rx.try_recv() {
                Ok(_) => received += 1,
                Err(TryRecvError::Empty) => std::thread::yield_now(),
                Err(TryRecvError::Disconnected) => panic!("disconnected early"),
            }
        }
        // Drop the receiver while the runtime's senders wait for room.
        drop(rx);
        received
    });
    let returned = rt.block_on({
        let ledger = ledger.clone();
        async move {
            let handles: Vec<_> = (0..2u64)
                .map(|k| {
                    let (tx, ledger) = (tx.clone(), ledger.clone());
                    spawn_slab(async move {
                        for i in 0..n {
                            if let Err(SendError(m)) = tx.send(Msg::new(k * n + i, &ledger)).await {
                                assert_eq!(m.v, k * n + i, "the value came back");
                                return 1u64;
                            }
                        }
                        0
                    })
                })
                .collect();
            drop(tx);
            let mut returned = 0;
            for h in handles {
                returned += h.await.unwrap();
            }
            returned
        }
    });
    let received = game.join().unwrap();
    assert_eq!(received, keep);
    assert_eq!(
        returned, 2,
        "both waiting senders were woken with their value"
    );
    ledger.check();
}

#[test]
#[cfg_attr(miri, ignore = "leaks on purpose")]
fn leaked_waiting_send_futures_are_harmless() {
    // Leaking a pinned future is safe Rust: its node stays linked, in leaked (valid)
    // memory, and the channel keeps working around it, then dies with it linked.
    let (tx, mut rx) = mpsc::channel::<u32>(1);
    tx.try_send(0).unwrap();
    let (_, waker) = counting_waker();
    let mut leaked = Box::pin(tx.send(1));
    assert!(poll_once(leaked.as_mut(), &waker).is_pending());
    std::mem::forget(leaked);
    assert_eq!(rx.try_recv(), Ok(0)); // the slot goes to the leaked waiter...
    assert_eq!(tx.try_send(2), Err(TrySendError::Full(2))); // ...and stays reserved
    drop((tx, rx));

    let (tx, mut rx) = cross::channel::<u32>(1);
    tx.try_send(0).unwrap();
    let mut leaked = Box::pin(tx.send(1));
    assert!(poll_once(leaked.as_mut(), &waker).is_pending());
    std::mem::forget(leaked);
    assert_eq!(rx.try_recv(), Ok(0));
    tx.try_send(2).unwrap();
    drop((tx, rx));
}
