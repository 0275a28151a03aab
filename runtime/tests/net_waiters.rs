//! Socket waits that are abandoned (a `timeout` fires, the future is dropped) take their
//! waker with them: they keep neither their task nor its slab slot alive, so a bounded slab
//! can run any number of them.

mod support;

use std::rc::Rc;
use std::time::Duration;

use support::rt_bounded;
use tickslab_runtime::net::{TcpListener, TcpStream, UdpSocket};
use tickslab_runtime::*;

/// Runs `f` on a 4-slot bounded slab, failing (not hanging) if it takes 20 s.
fn on_four_slots<F: std::future::Future<Output = ()>>(f: F) {
    let rt = rt_bounded::<512>(4);
    rt.block_on(async {
        time::timeout(Duration::from_secs(20), f)
            .await
            .expect("an abandoned wait pinned its task's slot: claim_slab waited forever");
    });
    assert_eq!(rt.stats().slab_used, 0);
}

#[test]
fn abandoned_udp_receives_free_their_slots() {
    on_four_slots(async {
        let sock = Rc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
        for _ in 0..100 {
            let s = sock.clone();
            claim_slab()
                .await
                .spawn(async move {
                    let mut b = [0u8; 16];
                    let r = time::timeout(Duration::from_micros(200), s.recv(&mut b)).await;
                    assert!(r.is_err(), "nobody sends: the receive times out");
                })
                .await
                .unwrap();
        }
        assert_eq!(RuntimeStats::current().unwrap().slab_used, 0);
    });
}

#[test]
fn abandoned_accepts_and_readiness_waits_free_their_slots() {
    on_four_slots(async {
        let listener = Rc::new(TcpListener::bind("127.0.0.1:0").await.unwrap());
        let addr = listener.local_addr().unwrap();
        let client = Rc::new(TcpStream::connect(addr).await.unwrap());
        let (server, _) = listener.accept().await.unwrap();
        // An accepted stream starts assumed readable (tokio's): a read that finds nothing
        // clears that, so the readiness waits below wait.
        let e = server.try_read(&mut [0; 1]).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::WouldBlock);
        let server = Rc::new(server);
        for i in 0..60 {
            let (l, c) = (listener.clone(), server.clone());
            claim_slab()
                .await
                .spawn(async move {
                    let d = Duration::from_micros(200);
                    if i % 2 == 0 {
                        assert!(time::timeout(d, l.accept()).await.is_err());
                    } else {
                        assert!(time::timeout(d, c.readable()).await.is_err());
                    }
                })
                .await
                .unwrap();
        }
        drop(client);
    });
}

#[test]
fn many_receivers_on_one_socket_are_all_woken_and_the_rest_keep_waiting() {
    let rt = rt_bounded::<512>(64);
    rt.block_on(async {
        let sock = Rc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
        let addr = sock.local_addr().unwrap();
        let sender = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        // 40 receivers: more than one wake batch.
        let handles: Vec<_> = (0..40)
            .map(|_| {
                let s = sock.clone();
                spawn_slab(async move {
                    let mut b = [0u8; 8];
                    s.recv(&mut b).await.unwrap()
                })
            })
            .collect();
        yield_now().await; // everyone waits
        for _ in 0..40 {
            sender.send_to(b"x", addr).await.unwrap();
        }
        for h in handles {
            assert_eq!(h.await.unwrap(), 1, "every receiver got a datagram");
        }
    });
    assert_eq!(rt.stats().slab_used, 0);
}

/// Wakers whose `wake` drops the socket they wait on and opens another (which takes the
/// freed reactor slot): the edge's remaining waiters belong to the dropped socket, so they
/// are dropped with it, never woken on behalf of the new one.
#[test]
fn a_waker_that_drops_its_socket_and_opens_another_during_the_wake() {
    use std::cell::RefCell;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::{Context, Wake, Waker};

    thread_local! {
        static SOCKET: RefCell<Option<UdpSocket>> = const { RefCell::new(None) };
        static REPLACEMENT: RefCell<Option<UdpSocket>> = const { RefCell::new(None) };
        static REPLACEMENT_WAITER: Arc<Hostile> = Arc::new(Hostile::default());
    }
    #[derive(Default)]
    struct Hostile {
        woken: AtomicUsize,
        dropped_socket: AtomicUsize,
    }
    impl Wake for Hostile {
        fn wake(self: Arc<Self>) {
            self.woken.fetch_add(1, Ordering::SeqCst);
            if let Some(sock) = SOCKET.with(|s| s.borrow_mut().take()) {
                drop(sock);
                self.dropped_socket.fetch_add(1, Ordering::SeqCst);
                let std = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
                std.set_nonblocking(true).unwrap();
                let new = UdpSocket::from_std(std).unwrap();
                // A task waits on the new socket at once, in the same slot.
                let waker = Waker::from(REPLACEMENT_WAITER.with(Arc::clone));
                let mut buf = [0u8; 8];
                let mut recv = Box::pin(new.recv(&mut buf));
                assert!(
                    recv.as_mut()
                        .poll(&mut Context::from_waker(&waker))
                        .is_pending()
                );
                std::mem::forget(recv);
                REPLACEMENT.with(|r| *r.borrow_mut() = Some(new));
            }
        }
    }

    let rt = support::rt();
    rt.block_on(async {
        let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = sock.local_addr().unwrap();
        let (first, second) = (Arc::new(Hostile::default()), Arc::new(Hostile::default()));
        for hostile in [&first, &second] {
            let waker = Waker::from(hostile.clone());
            let mut buf = [0u8; 8];
            let mut recv = Box::pin(sock.recv(&mut buf));
            assert!(
                recv.as_mut()
                    .poll(&mut Context::from_waker(&waker))
                    .is_pending()
            );
            std::mem::forget(recv); // the wait stays registered, as a leaked future's does
        }
        SOCKET.with(|s| *s.borrow_mut() = Some(sock));
        let sender = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        sender.send_to(b"x", addr).await.unwrap();
        time::sleep(Duration::from_millis(50)).await; // the edge is dispatched meanwhile

        assert_eq!(first.woken.load(Ordering::SeqCst), 1);
        assert_eq!(first.dropped_socket.load(Ordering::SeqCst), 1);
        assert_eq!(
            second.woken.load(Ordering::SeqCst),
            0,
            "woken for a socket that was dropped (or on behalf of the one in its slot)"
        );
        assert_eq!(
            Arc::strong_count(&second),
            1,
            "its waker was dropped with the socket"
        );
        assert_eq!(
            REPLACEMENT_WAITER.with(|w| w.woken.load(Ordering::SeqCst)),
            0,
            "the dropped socket's edge woke a waiter of the socket now in its slot"
        );
        // The replacement, in the freed slot, works and sees none of the old edge.
        let new = REPLACEMENT.with(|r| r.borrow_mut().take()).unwrap();
        sender
            .send_to(b"yz", new.local_addr().unwrap())
            .await
            .unwrap();
        let mut buf = [0u8; 8];
        assert_eq!(new.recv(&mut buf).await.unwrap(), 2);
    });
}
