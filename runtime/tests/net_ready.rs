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
