//! Same-runtime loopback hints (`UdpSocket`'s and `TcpStream`'s "Loopback inside one
//! runtime"): a datagram sent to a UDP socket of the same runtime, or bytes written to a TCP
//! stream whose other end is of the same runtime, make the receiver readable at once, before
//! any `epoll_wait`; a hint never wakes the wrong socket, and a reader it wakes for nothing
//! just waits again.
//!
//! "At once" is observed deterministically: inside one poll of the test's own future, with
//! no await in between, so the driver cannot have looked at epoll.

mod support;

use std::future::{Future, poll_fn};
use std::io::ErrorKind;
use std::net::{Ipv4Addr, SocketAddr};
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use tickslab_runtime::io::{AsyncReadExt, AsyncWriteExt};
use tickslab_runtime::net::{TcpListener, TcpStream, UdpSocket};
use tickslab_runtime::time::timeout;

use support::rt;

const GUARD: Duration = Duration::from_secs(10);

fn run<F: Future>(f: F) -> F::Output {
    rt().block_on(async { timeout(GUARD, f).await.expect("the test hung (10 s guard)") })
}

/// Whether `sock` reports readable on one poll, right now.
fn readable_now(sock: &UdpSocket) -> bool {
    let mut cx = Context::from_waker(Waker::noop());
    matches!(
        pin!(sock.readable()).as_mut().poll(&mut cx),
        Poll::Ready(Ok(()))
    )
}

/// Empties `sock`'s readiness: a `WouldBlock` clears it.
fn drain(sock: &UdpSocket) {
    let mut buf = [0u8; 64];
    while sock.try_recv_from(&mut buf).is_ok() {}
}

async fn bound(ip: Ipv4Addr) -> UdpSocket {
    UdpSocket::bind((ip, 0)).await.unwrap()
}

#[test]
fn a_connected_send_makes_the_peer_readable_before_epoll_says_so() {
    run(async {
        let (a, b) = (
            bound(Ipv4Addr::LOCALHOST).await,
            bound(Ipv4Addr::LOCALHOST).await,
        );
        a.connect(b.local_addr().unwrap()).await.unwrap();
        drain(&b);
        assert!(!readable_now(&b), "drained: not readable");
        a.try_send(b"ping").unwrap();
        assert!(readable_now(&b), "the send hinted its peer");
        let mut buf = [0u8; 8];
        assert_eq!(b.try_recv_from(&mut buf).unwrap().0, 4);
        assert_eq!(&buf[..4], b"ping");
        // The same through `send().await` (ready at once: one poll).
        drain(&b);
        a.send(b"pong").await.unwrap();
        assert!(readable_now(&b));
    });
}

#[test]
fn send_to_hints_a_socket_bound_to_the_exact_address_or_to_the_wildcard() {
    run(async {
        let sender = bound(Ipv4Addr::LOCALHOST).await;
        let exact = bound(Ipv4Addr::LOCALHOST).await;
        drain(&exact);
        sender
            .send_to(b"x", exact.local_addr().unwrap())
            .await
            .unwrap();
        assert!(readable_now(&exact));

        let wildcard = bound(Ipv4Addr::UNSPECIFIED).await;
        let port = wildcard.local_addr().unwrap().port();
        drain(&wildcard);
        let to = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        sender.try_send_to(b"y", to).unwrap();
        assert!(
            readable_now(&wildcard),
            "127.0.0.1:port reaches 0.0.0.0:port"
        );
        let mut buf = [0u8; 4];
        assert_eq!(wildcard.try_recv_from(&mut buf).unwrap().0, 1);
    });
}

/// The hint names its socket by generation: a peer dropped and its reactor slot taken by a
/// new socket elsewhere is not woken by sends to the old address.
#[test]
fn a_hint_to_a_closed_peer_never_wakes_the_socket_that_took_its_slot() {
    run(async {
        let a = bound(Ipv4Addr::LOCALHOST).await;
        let b = bound(Ipv4Addr::LOCALHOST).await;
        let b_addr = b.local_addr().unwrap();
        a.connect(b_addr).await.unwrap();
        drop(b);
        let c = bound(Ipv4Addr::LOCALHOST).await; // the freed slot, another port
        assert_ne!(c.local_addr().unwrap(), b_addr);
        drain(&c);
        // Nobody is bound at b's address now: the kernel may answer with an ICMP error
        // later, which is not what this test looks at.
        let _ = a.try_send(b"to nobody");
        assert!(!readable_now(&c), "a stale hint woke another socket");
    });
}

/// A reader woken by a hint for a datagram that is not there (its buffer was full and the
/// kernel dropped it, or another reader took it) meets `WouldBlock`, and waits for the next
/// real datagram, which still comes.
#[test]
fn a_hint_that_finds_nothing_costs_one_would_block_and_the_next_datagram_comes() {
    run(async {
        let a = bound(Ipv4Addr::LOCALHOST).await;
        let std_b = std::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        socket2::SockRef::from(&std_b)
            .set_recv_buffer_size(1)
            .unwrap();
        let other_reader = std_b.try_clone().unwrap();
        let b = UdpSocket::from_std(std_b).unwrap();
        a.connect(b.local_addr().unwrap()).await.unwrap();
        // More than b's tiny buffer holds: the kernel drops most (the sends succeed).
        for _ in 0..64 {
            a.try_send(&[7u8; 512]).unwrap();
        }
        // Another reader of the same socket takes what was kept.
        let mut buf = [0u8; 512];
        while other_reader.recv(&mut buf).is_ok() {}
        assert!(readable_now(&b), "hinted");
        let err = b.try_recv_from(&mut buf).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::WouldBlock);
        assert!(!readable_now(&b), "the WouldBlock cleared the hint");
        let sender = tickslab_runtime::spawn(async move {
            tickslab_runtime::task::yield_now().await;
            a.send(b"ok").await.unwrap();
        });
        let (n, _) = b.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"ok");
        sender.await.unwrap();
    });
}

/// A ping-pong between two tasks of one runtime keeps every datagram, in order.
#[test]
fn a_loopback_ping_pong_inside_one_runtime_keeps_every_datagram_in_order() {
    run(async {
        let a = bound(Ipv4Addr::LOCALHOST).await;
        let b = bound(Ipv4Addr::LOCALHOST).await;
        a.connect(b.local_addr().unwrap()).await.unwrap();
        b.connect(a.local_addr().unwrap()).await.unwrap();
        let server = tickslab_runtime::spawn(async move {
            let mut buf = [0u8; 8];
            for i in 0u32..2_000 {
                let n = b.recv(&mut buf).await.unwrap();
                assert_eq!(&buf[..n], &i.to_le_bytes());
                b.send(&buf[..n]).await.unwrap();
            }
        });
        let mut buf = [0u8; 8];
        for i in 0u32..2_000 {
            a.send(&i.to_le_bytes()).await.unwrap();
            let n = poll_fn(|cx| {
                let mut rb = tickslab_runtime::io::ReadBuf::new(&mut buf);
                a.poll_recv(cx, &mut rb).map_ok(|()| rb.filled().len())
            })
            .await
            .unwrap();
            assert_eq!(&buf[..n], &i.to_le_bytes());
        }
        server.await.unwrap();
    });
}

/// Whether `stream` reports readable on one poll, right now.
fn stream_readable_now(stream: &TcpStream) -> bool {
    let mut cx = Context::from_waker(Waker::noop());
    matches!(
        pin!(stream.readable()).as_mut().poll(&mut cx),
        Poll::Ready(Ok(()))
    )
}

/// A connected pair of one runtime: (client, accepted).
async fn tcp_pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap())
        .await
        .unwrap();
    let (accepted, _) = listener.accept().await.unwrap();
    (client, accepted)
}

/// Clears `stream`'s read readiness (a `WouldBlock`; nothing is queued).
fn clear_read(stream: &TcpStream) {
    let mut buf = [0u8; 16];
    assert_eq!(
        stream.try_read(&mut buf).unwrap_err().kind(),
        ErrorKind::WouldBlock
    );
    assert!(!stream_readable_now(stream));
}

#[test]
fn a_tcp_write_makes_the_other_end_readable_before_epoll_says_so_both_ways() {
    run(async {
        let (client, accepted) = tcp_pair().await;
        clear_read(&accepted);
        clear_read(&client);
        client.try_write(b"ping").unwrap();
        assert!(stream_readable_now(&accepted), "client -> accepted hinted");
        let mut buf = [0u8; 8];
        assert_eq!(accepted.try_read(&mut buf).unwrap(), 4);
        accepted.try_write(b"pong").unwrap();
        assert!(stream_readable_now(&client), "accepted -> client hinted");
        assert_eq!(client.try_read(&mut buf).unwrap(), 4);
        assert_eq!(&buf[..4], b"pong");
    });
}

/// A hint names the other end by generation: once that end is closed and its slot taken by
/// another socket, writes to the old connection wake nobody.
#[test]
fn a_tcp_hint_to_a_closed_end_never_wakes_the_socket_that_took_its_slot() {
    run(async {
        let (client, accepted) = tcp_pair().await;
        drop(accepted);
        let other = bound(Ipv4Addr::LOCALHOST).await; // the freed slot, starts not readable
        assert!(!readable_now(&other));
        // The first write after the peer closed still succeeds (the reset comes later).
        let _ = client.try_write(b"late");
        assert!(!readable_now(&other), "a stale hint woke another socket");
    });
}

/// An echo between two tasks of one runtime, through `read_exact` / `write_all`, keeps every
/// byte in order; and the end of stream still comes.
#[test]
fn a_loopback_tcp_echo_inside_one_runtime_keeps_every_byte_and_ends() {
    run(async {
        let (mut client, mut accepted) = tcp_pair().await;
        let server = tickslab_runtime::spawn(async move {
            let mut buf = [0u8; 64];
            let mut echoed = 0usize;
            loop {
                let n = accepted.read(&mut buf).await.unwrap();
                if n == 0 {
                    break echoed;
                }
                accepted.write_all(&buf[..n]).await.unwrap();
                echoed += n;
            }
        });
        let mut back = [0u8; 8];
        for i in 0u64..2_000 {
            client.write_all(&i.to_le_bytes()).await.unwrap();
            client.read_exact(&mut back).await.unwrap();
            assert_eq!(u64::from_le_bytes(back), i);
        }
        client.shutdown().await.unwrap();
        assert_eq!(server.await.unwrap(), 16_000);
    });
}
