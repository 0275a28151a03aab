//! Readiness as tokio 1.54 reports it: an accepted stream starts readable and writable, a
//! fresh Unix pair writable only (no driver turn needed), and readiness waits
//! (`readable`, `writable`, `ready`) spend no coop budget (the operation after them does).

mod support;

use std::future::Future;
use std::io::ErrorKind;
use std::pin::pin;
use std::task::{Context, Waker};

use support::rt;
use tickslab_runtime::io::Interest;
use tickslab_runtime::net::{TcpListener, TcpStream, UnixStream};
use tickslab_runtime::task::coop;

fn ready_now<F: Future>(f: F) -> Option<F::Output> {
    let mut f = pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        std::task::Poll::Ready(v) => Some(v),
        std::task::Poll::Pending => None,
    }
}

#[test]
fn an_accepted_stream_starts_readable_and_writable_until_told_otherwise() {
    rt().block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let _client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (server, _) = listener.accept().await.unwrap();
        // Before any driver turn: both directions are worth a try.
        assert!(ready_now(server.readable()).is_some());
        assert!(ready_now(server.writable()).is_some());
        // The read finds nothing: readable is cleared, writable stays.
        assert_eq!(
            server.try_read(&mut [0; 4]).unwrap_err().kind(),
            ErrorKind::WouldBlock
        );
        assert!(ready_now(server.readable()).is_none());
        let r = ready_now(server.ready(Interest::READABLE | Interest::WRITABLE)).unwrap();
        assert!(r.unwrap().is_writable());
    });
}

#[test]
fn a_fresh_unix_pair_is_writable_but_not_readable() {
    rt().block_on(async {
        let (a, b) = UnixStream::pair().unwrap();
        assert!(ready_now(a.writable()).is_some());
        assert_eq!(a.try_write(b"hi").unwrap(), 2);
        assert!(ready_now(b.writable()).is_some());
        let (c, _d) = UnixStream::pair().unwrap();
        assert!(ready_now(c.readable()).is_none());
        assert_eq!(
            c.try_read(&mut [0; 1]).unwrap_err().kind(),
            ErrorKind::WouldBlock
        );
        // The peer's bytes arrive through the driver as usual.
        b.readable().await.unwrap();
        assert_eq!(b.try_read(&mut [0; 8]).unwrap(), 2);
    });
}

#[test]
fn readiness_waits_spend_no_budget() {
    rt().block_on(async {
        let (a, _b) = UnixStream::pair().unwrap();
        // Far more waits than the budget holds: none of them is turned away.
        for _ in 0..(coop::BUDGET as usize * 4) {
            assert!(
                ready_now(a.writable()).is_some(),
                "a writable wait spent budget"
            );
        }
        assert!(coop::has_budget_remaining());
    });
}

#[test]
fn after_its_runtime_is_gone_a_stream_reads_what_was_queued_then_reports_the_shutdown() {
    use std::io::Write;
    let rt = rt();
    let (server, mut client) = rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        client.write_all(b"hello").unwrap();
        let (server, _) = listener.accept().await.unwrap();
        (server, client)
    });
    // The bytes are queued before the runtime goes (loopback: a peek waits for them).
    let dup = std::net::TcpStream::from(
        std::os::fd::AsFd::as_fd(&server)
            .try_clone_to_owned()
            .unwrap(),
    );
    let mut peek = [0u8; 8];
    while !matches!(dup.peek(&mut peek), Ok(n) if n >= 5) {
        std::thread::yield_now();
    }
    drop(rt);
    // Readiness seen before the shutdown still lets `try_read` reach the socket (tokio's).
    let mut buf = [0u8; 8];
    assert_eq!(server.try_read(&mut buf).unwrap(), 5);
    assert_eq!(&buf[..5], b"hello");
    // Nothing more: the `WouldBlock` clears readiness, and from then on the shutdown shows.
    assert_eq!(
        server.try_read(&mut buf).unwrap_err().kind(),
        ErrorKind::WouldBlock
    );
    client.write_all(b"late").unwrap();
    let err = server.try_read(&mut buf).unwrap_err();
    assert!(tickslab_runtime::io::is_rt_shutdown_err(&err), "{err:?}");
    // An `async` read on another runtime fails the same way instead of waiting forever.
    let err = rt_read(&server);
    assert!(tickslab_runtime::io::is_rt_shutdown_err(&err), "{err:?}");
}

fn rt_read(server: &TcpStream) -> std::io::Error {
    rt().block_on(async {
        let mut buf = [0u8; 8];
        loop {
            server.readable().await?;
            server.try_read(&mut buf)?;
        }
        #[allow(unreachable_code)]
        Ok::<(), std::io::Error>(())
    })
    .unwrap_err()
}
