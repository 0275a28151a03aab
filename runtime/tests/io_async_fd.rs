//! `io::unix::AsyncFd`: readiness guards, clearing without losing an edge, abandoned
//! waits, `try_io`, interest-limited registration, shutdown, and misuse (no runtime, a bad
//! descriptor, `into_inner`).
#![cfg(unix)]

mod support;

use std::future::Future;
use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Wake, Waker};

use support::rt;
use tickslab_runtime::io::unix::AsyncFd;
use tickslab_runtime::io::{Interest, Ready};

fn pair() -> (UnixStream, UnixStream) {
    let (a, b) = UnixStream::pair().unwrap();
    a.set_nonblocking(true).unwrap();
    b.set_nonblocking(true).unwrap();
    (a, b)
}

/// Counts its wakes; `Arc::strong_count` says whether someone still holds it.
#[derive(Default)]
struct Counter(AtomicUsize);

impl Wake for Counter {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn poll_once<F: Future>(f: std::pin::Pin<&mut F>, waker: &Waker) -> Poll<F::Output> {
    f.poll(&mut Context::from_waker(waker))
}

/// Waits until the reactor has seen `b`'s last write arrive on `a` (through a duplicate of
/// `a`'s descriptor, registered on its own): the event for `a` came in the same turn.
async fn settle(a: &UnixStream) {
    let dup = AsyncFd::try_new(a.try_clone().unwrap()).unwrap();
    dup.readable().await.unwrap().retain_ready();
}

#[test]
fn readable_then_would_block_clears_until_the_next_write() {
    rt().block_on(async {
        let (a, mut b) = pair();
        let afd = AsyncFd::try_new(a).unwrap();
        b.write_all(b"x").unwrap();
        let mut guard = afd.readable().await.unwrap();
        assert!(guard.ready().is_readable());
        let mut buf = [0; 8];
        let n = guard
            .try_io(|fd| fd.get_ref().read(&mut buf))
            .unwrap()
            .unwrap();
        assert_eq!(&buf[..n], b"x");
        // Still marked readable: no WouldBlock seen yet.
        afd.readable().await.unwrap().retain_ready();
        // The next read blocks: the guard clears the readiness.
        assert!(guard.try_io(|fd| fd.get_ref().read(&mut buf)).is_err());
        assert_eq!(guard.ready(), Ready::EMPTY);
        let waker = Waker::from(Arc::new(Counter::default()));
        let mut wait = pin!(afd.readable());
        assert!(poll_once(wait.as_mut(), &waker).is_pending());
        b.write_all(b"y").unwrap();
        let guard = wait.await.unwrap();
        assert!(guard.ready().is_readable());
    });
}

#[test]
fn clearing_a_stale_guard_keeps_an_edge_that_came_after_it() {
    rt().block_on(async {
        let (a, mut b) = pair();
        let a2 = a.try_clone().unwrap();
        let afd = AsyncFd::try_new(a).unwrap();
        b.write_all(b"1").unwrap();
        let mut guard = afd.readable().await.unwrap();
        let mut buf = [0; 8];
        assert_eq!((&a2).read(&mut buf).unwrap(), 1);
        // A new event arrives while the guard is held ...
        b.write_all(b"2").unwrap();
        settle(&a2).await;
        // ... so clearing the guard's (older) readiness must not forget it.
        guard.clear_ready();
        let waker = Waker::from(Arc::new(Counter::default()));
        let mut wait = pin!(afd.readable());
        assert!(
            poll_once(wait.as_mut(), &waker).is_ready(),
            "the edge that came after the guard was lost"
        );
    });
}

#[test]
fn an_abandoned_wait_gives_its_waker_back() {
    rt().block_on(async {
        let (a, _b) = pair();
        let afd = AsyncFd::try_new(a).unwrap();
        let counter = Arc::new(Counter::default());
        let waker = Waker::from(counter.clone());
        for _ in 0..3 {
            let mut wait = pin!(afd.readable());
            assert!(poll_once(wait.as_mut(), &waker).is_pending());
            assert_eq!(Arc::strong_count(&counter), 3, "the wait stored its waker");
        }
        // Each dropped wait took its waker out of the reactor.
        assert_eq!(Arc::strong_count(&counter), 2);
        // Also a wait on both directions (the socket is writable, so fill it first).
        while afd.get_ref().write(&[0; 4096]).is_ok() {}
        afd.try_io(Interest::WRITABLE, |mut s| s.write(&[0; 4096]))
            .unwrap_err();
        {
            let mut ready = pin!(afd.ready(Interest::READABLE | Interest::WRITABLE));
            assert!(poll_once(ready.as_mut(), &waker).is_pending());
            assert_eq!(Arc::strong_count(&counter), 4, "one waker per direction");
        }
        assert_eq!(Arc::strong_count(&counter), 2);
    });
}

#[test]
fn poll_read_ready_keeps_only_the_last_waker() {
    rt().block_on(async {
        let (a, mut b) = pair();
        let afd = AsyncFd::try_new(a).unwrap();
        let (first, second) = (Arc::new(Counter::default()), Arc::new(Counter::default()));
        let w1 = Waker::from(first.clone());
        let w2 = Waker::from(second.clone());
        assert!(
            afd.poll_read_ready(&mut Context::from_waker(&w1))
                .is_pending()
        );
        assert!(
            afd.poll_read_ready(&mut Context::from_waker(&w2))
                .is_pending()
        );
        assert_eq!(
            Arc::strong_count(&first),
            2,
            "the second poll replaced the first waker"
        );
        b.write_all(b"x").unwrap();
        afd.readable().await.unwrap().retain_ready();
        assert_eq!(first.0.load(Ordering::SeqCst), 0);
        assert_eq!(second.0.load(Ordering::SeqCst), 1);
        let guard = std::future::poll_fn(|cx| afd.poll_read_ready(cx))
            .await
            .unwrap();
        assert_eq!(guard.ready(), Ready::READABLE);
    });
}

#[test]
fn clear_ready_matching_forgets_only_what_it_names() {
    rt().block_on(async {
        let (a, mut b) = pair();
        let mut afd = AsyncFd::try_new(a).unwrap();
        b.write_all(b"x").unwrap();
        let mut guard = afd
            .ready(Interest::READABLE | Interest::WRITABLE)
            .await
            .unwrap();
        assert_eq!(guard.ready(), Ready::READABLE | Ready::WRITABLE);
        guard.clear_ready_matching(Ready::READABLE);
        assert_eq!(guard.ready(), Ready::WRITABLE);
        guard.clear_ready_matching(Ready::WRITABLE);
        assert_eq!(guard.ready(), Ready::EMPTY);
        // Both were cleared in the reactor: try_io calls nothing.
        let mut called = false;
        let r = afd.try_io(Interest::READABLE, |_| {
            called = true;
            Ok(())
        });
        assert_eq!(r.unwrap_err().kind(), io::ErrorKind::WouldBlock);
        assert!(!called);
        // The mutable guard does the same.
        b.write_all(b"y").unwrap();
        let mut guard = afd.readable_mut().await.unwrap();
        guard.get_inner_mut().read_exact(&mut [0; 2]).unwrap();
        guard.clear_ready_matching(Ready::READABLE);
        assert_eq!(guard.ready(), Ready::EMPTY);
    });
}

#[test]
fn try_io_calls_only_when_ready_and_clears_on_would_block() {
    rt().block_on(async {
        let (a, mut b) = pair();
        let afd = AsyncFd::try_new(a).unwrap();
        afd.writable().await.unwrap().retain_ready();
        let out = afd
            .try_io(Interest::WRITABLE, |mut s| s.write(b"w"))
            .unwrap();
        assert_eq!(out, 1);
        assert!(afd.try_io(Interest::READABLE, |_| Ok(())).is_err());
        b.write_all(b"r").unwrap();
        afd.readable().await.unwrap().retain_ready();
        let mut buf = [0; 4];
        assert_eq!(
            afd.try_io(Interest::READABLE, |mut s| s.read(&mut buf))
                .unwrap(),
            1
        );
        // A WouldBlock clears it: the closure is not called next time.
        let e = afd
            .try_io(Interest::READABLE, |mut s| s.read(&mut buf))
            .unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
        let mut called = false;
        let _ = afd.try_io(Interest::READABLE, |_| {
            called = true;
            Ok(())
        });
        assert!(!called);
        // Errors other than WouldBlock keep the readiness and reach the caller.
        let e = afd
            .try_io(Interest::WRITABLE, |_| -> io::Result<()> {
                Err(io::ErrorKind::Other.into())
            })
            .unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::Other);
        assert!(afd.try_io(Interest::WRITABLE, |_| Ok(())).is_ok());
    });
}

#[test]
fn async_io_retries_after_would_block() {
    rt().block_on(async {
        let (a, b) = pair();
        let afd = AsyncFd::try_new(a).unwrap();
        let writer = tickslab_runtime::spawn(async move {
            tickslab_runtime::task::yield_now().await;
            (&b).write_all(b"late").unwrap();
            b
        });
        let mut buf = [0; 8];
        let mut calls = 0;
        let n = afd
            .async_io(Interest::READABLE, |mut s| {
                calls += 1;
                s.read(&mut buf)
            })
            .await
            .unwrap();
        assert_eq!(&buf[..n], b"late");
        assert!(calls >= 1);
        drop(writer.await.unwrap());
    });
}

#[test]
fn an_interest_limited_registration_never_reports_the_other_direction() {
    rt().block_on(async {
        let (a, mut b) = pair();
        let afd = AsyncFd::try_with_interest(a, Interest::READABLE).unwrap();
        b.write_all(b"x").unwrap();
        let guard = afd
            .ready(Interest::READABLE | Interest::WRITABLE)
            .await
            .unwrap();
        assert_eq!(
            guard.ready(),
            Ready::READABLE,
            "writable was never registered"
        );
        drop(guard);
        assert!(afd.try_io(Interest::WRITABLE, |_| Ok(())).is_err());
    });
}

#[test]
fn into_inner_keeps_the_descriptor_open_and_drop_closes_it() {
    rt().block_on(async {
        let (a, b) = pair();
        let afd = AsyncFd::try_new(a).unwrap();
        let a = afd.into_inner();
        // Registering it again works (it left epoll).
        let afd = AsyncFd::try_new(a).unwrap();
        (&b).write_all(b"x").unwrap();
        assert_eq!(afd.get_ref().read(&mut [0; 1]).unwrap(), 1);
        drop(afd);
        b.set_nonblocking(false).unwrap();
        assert_eq!(
            (&b).read(&mut [0; 1]).unwrap(),
            0,
            "dropping closed the peer"
        );
    });
}

#[derive(Debug)]
struct Invalid;

impl std::os::fd::AsRawFd for Invalid {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        -1
    }
}

#[test]
fn a_failed_registration_gives_the_value_back() {
    rt().block_on(async {
        let original = Arc::new(Invalid);
        let err = AsyncFd::try_new(original.clone()).unwrap_err();
        assert!(!err.to_string().is_empty());
        let (back, cause) = err.into_parts();
        assert!(Arc::ptr_eq(&original, &back));
        assert_eq!(cause.raw_os_error(), Some(libc_ebadf()));
        let err = AsyncFd::try_with_interest(Invalid, Interest::WRITABLE).unwrap_err();
        let as_io: io::Error = err.into();
        assert_eq!(as_io.raw_os_error(), Some(libc_ebadf()));
    });
}

fn libc_ebadf() -> i32 {
    9 // EBADF on Linux and the BSDs
}

#[test]
fn outside_a_runtime_the_constructor_panics_at_the_caller() {
    let (a, _b) = pair();
    let err = std::panic::catch_unwind(move || AsyncFd::try_new(a)).unwrap_err();
    let msg = err.downcast_ref::<&str>().copied().unwrap_or_default();
    assert!(msg.contains("no reactor running"), "{msg}");
}

#[test]
fn after_shutdown_waits_and_try_io_fail_and_clearing_is_harmless() {
    let rt = rt();
    let (a, _b) = pair();
    let afd = {
        let _enter = rt.enter();
        AsyncFd::try_new(a).unwrap()
    };
    let mut write_guard = rt.block_on(afd.writable()).unwrap();
    let waker = Waker::from(Arc::new(Counter::default()));
    let mut pending = Box::pin(afd.readable());
    assert!(poll_once(pending.as_mut(), &waker).is_pending());
    drop(rt);
    write_guard.clear_ready();
    assert!(
        futures_util::FutureExt::now_or_never(pending)
            .unwrap()
            .is_err()
    );
    let fresh = futures_util::FutureExt::now_or_never(afd.readable()).unwrap();
    assert!(fresh.is_err());
    assert!(afd.try_io(Interest::WRITABLE, |_| Ok(())).is_err());
    let polled = afd.poll_write_ready(&mut Context::from_waker(&waker));
    assert!(matches!(polled, Poll::Ready(Err(_))));
}

fn panic_text(err: Box<dyn std::any::Any + Send>) -> String {
    err.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or(err.downcast_ref::<String>().cloned())
        .unwrap_or_default()
}

#[test]
fn a_runtime_without_its_io_driver_refuses_registrations_with_tokio_s_panic() {
    let rt = tickslab_runtime::Runtime::builder()
        .io_driver(false)
        .build();
    rt.block_on(async {
        let (a, _b) = pair();
        let err = std::panic::catch_unwind(move || AsyncFd::try_new(a)).unwrap_err();
        assert!(panic_text(err).contains("IO is disabled"));
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let err = std::panic::catch_unwind(move || tickslab_runtime::net::UdpSocket::from_std(udp))
            .unwrap_err();
        assert!(panic_text(err).contains("Call `enable_io`"));
        let err = std::panic::catch_unwind(|| {
            tickslab_runtime::signal::unix::signal(
                tickslab_runtime::signal::unix::SignalKind::user_defined2(),
            )
        })
        .unwrap_err();
        assert!(panic_text(err).contains("IO is disabled"));
        // Timers and tasks still work.
        tickslab_runtime::task::yield_now().await;
    });
    // The default builder has its driver on.
    rt_with_io_works();
}

fn rt_with_io_works() {
    rt().block_on(async {
        let (a, _b) = pair();
        assert!(AsyncFd::try_new(a).is_ok());
    });
}
