//! `yield_now` as tokio's: the yielder resumes only after the runtime has polled its sockets
//! and fired its due timers ("defer"), even while other tasks keep the run queue busy; and
//! outside a runtime it is a plain self-wake.

mod support;

use std::cell::Cell;
use std::future::Future;
use std::pin::pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use tickslab_runtime::net::UdpSocket;
use tickslab_runtime::{spawn, time, yield_now};

/// A task that yields forever, counting its polls: it keeps the run queue non-empty, so the
/// runtime never parks (where it would look at the sockets anyway).
fn spawn_spinner() -> Rc<Cell<usize>> {
    let spins = Rc::new(Cell::new(0));
    let counter = spins.clone();
    spawn(async move {
        loop {
            counter.set(counter.get() + 1);
            yield_now().await;
        }
    });
    spins
}

#[test]
fn a_yield_lets_the_driver_see_a_datagram_that_arrived() {
    support::rt().block_on(async {
        let rx = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let tx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let _spins = spawn_spinner();
        yield_now().await; // the registration's first events
        // Nothing queued: this clears the socket's readiness, so only an event sets it again.
        let mut buf = [0u8; 8];
        let err = rx.try_recv(&mut buf).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::WouldBlock);
        // Loopback delivery is synchronous: the datagram is queued when `send_to` returns.
        tx.send_to(b"ping", rx.local_addr().unwrap()).unwrap();
        yield_now().await;
        let n = rx
            .try_recv(&mut buf)
            .expect("the yield let the driver see the datagram");
        assert_eq!(&buf[..n], b"ping");
    });
}

#[test]
// Under Miri this one fails (its virtual clock and `thread::sleep`; not investigated yet):
// the Miri-relevant path, `with_core` from `yield_now`, is covered by the other tests.
#[cfg_attr(miri, ignore)]
fn a_yield_lets_due_timers_fire_while_tasks_keep_the_queue_busy() {
    support::rt().block_on(async {
        let _spins = spawn_spinner();
        let mut sleep = pin!(time::sleep(Duration::from_millis(1)));
        let mut noop = Context::from_waker(Waker::noop());
        assert!(sleep.as_mut().poll(&mut noop).is_pending()); // armed
        std::thread::sleep(Duration::from_millis(5));
        yield_now().await;
        assert!(
            sleep.as_mut().poll(&mut noop).is_ready(),
            "the yield let the timers fire"
        );
    });
}

#[test]
fn a_spawned_yielder_resumes_after_the_root_that_an_event_woke() {
    // tokio's `coop_budget_udp_send_recv` in small: while the root waits for a datagram, a
    // yielding task runs once per driver turn, and the root (woken by the event) runs before
    // the yielder's next turn.
    support::rt().block_on(async {
        let rx = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let tx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = rx.local_addr().unwrap();
        let mut buf = [0u8; 8];
        let _ = rx.try_recv(&mut buf); // readiness cleared: the next recv waits for an event
        let spins = Rc::new(Cell::new(0usize));
        let counter = spins.clone();
        spawn(async move {
            loop {
                // The datagram goes out while the root waits for it.
                if counter.get() == 0 {
                    tx.send_to(b"x", addr).unwrap();
                }
                counter.set(counter.get() + 1);
                yield_now().await;
            }
        });
        assert_eq!(rx.recv(&mut buf).await.unwrap(), 1);
        assert_eq!(
            spins.get(),
            1,
            "the root ran before the yielder's second turn"
        );
    });
}

#[test]
fn outside_a_runtime_a_yield_is_one_self_wake() {
    let woken = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    struct Count(std::sync::Arc<std::sync::atomic::AtomicUsize>);
    impl std::task::Wake for Count {
        fn wake(self: std::sync::Arc<Self>) {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    }
    let waker = Waker::from(std::sync::Arc::new(Count(woken.clone())));
    let mut cx = Context::from_waker(&waker);
    let mut y = pin!(yield_now());
    assert!(y.as_mut().poll(&mut cx).is_pending());
    assert_eq!(woken.load(std::sync::atomic::Ordering::SeqCst), 1);
    assert_eq!(y.as_mut().poll(&mut cx), Poll::Ready(()));
    assert_eq!(woken.load(std::sync::atomic::Ordering::SeqCst), 1);
}

#[test]
fn a_yield_in_a_dropped_runtimes_leftover_context_does_not_panic() {
    // A forgotten enter guard keeps a dead runtime current: a yield there only wakes.
    let rt = support::rt();
    std::mem::forget(rt.enter());
    drop(rt);
    let mut cx = Context::from_waker(Waker::noop());
    let mut y = pin!(yield_now());
    assert!(y.as_mut().poll(&mut cx).is_pending());
    assert!(y.as_mut().poll(&mut cx).is_ready());
}
