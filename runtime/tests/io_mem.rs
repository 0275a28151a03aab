//! In-memory streams and `split` as tokio's: `Send + Sync` halves and duplex ends that work
//! across threads, vectored writes that stop at the buffer's room, a re-entrant use that
//! panics (never deadlocks, never two `&mut`), zero capacities refused at the caller.

mod support;

use std::cell::Cell;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use support::rt;
use tickslab_runtime::io::{
    self as tio, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, DuplexStream, ReadBuf,
    ReadHalf, SimplexStream, WriteHalf,
};

fn send_sync<T: Send + Sync>() {}

#[test]
fn halves_and_duplex_ends_are_send_and_sync_as_tokio_s() {
    send_sync::<DuplexStream>();
    send_sync::<ReadHalf<DuplexStream>>();
    send_sync::<WriteHalf<DuplexStream>>();
    send_sync::<ReadHalf<SimplexStream>>();
    send_sync::<WriteHalf<SimplexStream>>();
}

#[test]
fn a_duplex_end_serves_a_runtime_on_another_thread() {
    let (mut here, there) = tio::duplex(8);
    let echo = std::thread::spawn(move || {
        rt().block_on(async move {
            let (mut r, mut w) = tio::split(there);
            let mut buf = [0u8; 64];
            let mut total = 0;
            loop {
                let n = r.read(&mut buf).await.unwrap();
                if n == 0 {
                    break total;
                }
                total += n;
                w.write_all(&buf[..n]).await.unwrap();
            }
        })
    });
    rt().block_on(async move {
        let msg = [7u8; 100]; // more than the 8-byte buffers: waits and wakes across threads
        let (mut r, mut w) = tio::split(here);
        let writer = tickslab_runtime::spawn(async move {
            w.write_all(&msg).await.unwrap();
            w.shutdown().await.unwrap();
            w
        });
        let mut back = Vec::new();
        r.read_to_end(&mut back).await.unwrap();
        assert_eq!(back, msg);
        here = r.unsplit(writer.await.unwrap());
        drop(here);
    });
    assert_eq!(echo.join().unwrap(), 100);
}

#[test]
fn vectored_writes_fill_the_room_in_order() {
    rt().block_on(async {
        let (mut a, mut b) = tio::duplex(10);
        assert!(a.is_write_vectored());
        let bufs = [
            IoSlice::new(b"abcd"),
            IoSlice::new(b""),
            IoSlice::new(b"efghij"),
        ];
        assert_eq!(a.write_vectored(&bufs).await.unwrap(), 10);
        // Full: the next vectored write waits; an empty one does not.
        let waker = futures_util::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        let more = [IoSlice::new(b"k")];
        assert!(
            Pin::new(&mut a)
                .poll_write_vectored(&mut cx, &more)
                .is_pending()
        );
        assert!(matches!(
            Pin::new(&mut a).poll_write_vectored(&mut cx, &[IoSlice::new(b"")]),
            Poll::Ready(Ok(0))
        ));
        let mut got = [0u8; 10];
        b.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"abcdefghij");
        // Part of a slice, when the room ends inside it.
        assert_eq!(
            a.write_vectored(&[IoSlice::new(&[1; 12])]).await.unwrap(),
            10
        );
        drop(b);
        let e = a.write_vectored(&bufs).await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::BrokenPipe);

        let (mut r, mut w) = tio::simplex(4);
        assert_eq!(w.write_vectored(&bufs).await.unwrap(), 4);
        let mut got = [0u8; 4];
        r.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"abcd");
    });
}

/// A stream whose write polls its own read half (through the slot), once.
struct Reentrant {
    other: Rc<Cell<Option<ReadHalf<Reentrant>>>>,
}

impl AsyncRead for Reentrant {
    fn poll_read(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        _buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Reentrant {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if let Some(mut r) = self.other.take() {
            let mut b = [0u8; 1];
            let _ = Pin::new(&mut r).poll_read(cx, &mut ReadBuf::new(&mut b));
        }
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[test]
fn a_stream_reaching_its_other_half_panics_and_the_halves_stay_usable() {
    let slot = Rc::new(Cell::new(None));
    let (r, mut w) = tio::split(Reentrant {
        other: slot.clone(),
    });
    slot.set(Some(r));
    let waker = futures_util::task::noop_waker();
    let mut cx = Context::from_waker(&waker);
    let panic = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _ = Pin::new(&mut w).poll_write(&mut cx, b"x");
    }))
    .unwrap_err();
    let msg = panic.downcast_ref::<&str>().copied().unwrap_or_default();
    assert!(msg.contains("re-entrantly"), "{msg}");
    // The slot was emptied and its half dropped while unwinding; the lock was released.
    assert!(matches!(
        Pin::new(&mut w).poll_write(&mut cx, b"yz"),
        Poll::Ready(Ok(2))
    ));
}

#[test]
fn zero_capacities_panic_at_the_caller() {
    type Ctor = fn();
    let cases: [(&str, Ctor); 4] = [
        ("duplex", || drop(tio::duplex(0))),
        ("simplex", || drop(tio::simplex(0))),
        ("new_unsplit", || drop(SimplexStream::new_unsplit(0))),
        ("BufReader", || {
            drop(tio::BufReader::with_capacity(0, tio::empty()))
        }),
    ];
    for (name, f) in cases {
        let err = std::panic::catch_unwind(f).expect_err(name);
        assert!(err.downcast_ref::<&str>().is_some() || err.downcast_ref::<String>().is_some());
    }
}

/// A waker that owns a duplex end: dropping it closes that end (locking its pipes).
struct Owner(#[allow(dead_code)] DuplexStream);

impl std::task::Wake for Owner {
    fn wake(self: std::sync::Arc<Self>) {}
}

#[test]
fn a_replaced_waker_is_dropped_after_the_pipe_is_unlocked() {
    // The waker owns the peer: replacing it drops the peer, which locks the same pipes.
    let (mut reader, peer) = tio::duplex(1);
    let waker = std::task::Waker::from(std::sync::Arc::new(Owner(peer)));
    let mut buf = [0u8; 1];
    let mut rb = ReadBuf::new(&mut buf);
    assert!(
        Pin::new(&mut reader)
            .poll_read(&mut Context::from_waker(&waker), &mut rb)
            .is_pending()
    );
    drop(waker);
    let noop = futures_util::task::noop_waker();
    let mut cx = Context::from_waker(&noop);
    // This poll replaces the owner: the peer is dropped, closing the pipe, without a panic.
    assert!(
        Pin::new(&mut reader)
            .poll_read(&mut cx, &mut rb)
            .is_pending()
    );
    assert!(matches!(
        Pin::new(&mut reader).poll_read(&mut cx, &mut rb),
        Poll::Ready(Ok(()))
    ));
    assert!(rb.filled().is_empty(), "end of stream");

    let (mut writer, peer) = tio::duplex(1);
    let waker = std::task::Waker::from(std::sync::Arc::new(Owner(peer)));
    let mut wcx = Context::from_waker(&waker);
    assert!(matches!(
        Pin::new(&mut writer).poll_write(&mut wcx, b"x"),
        Poll::Ready(Ok(1))
    ));
    assert!(
        Pin::new(&mut writer)
            .poll_write(&mut wcx, b"y")
            .is_pending()
    );
    drop(waker);
    let v = [IoSlice::new(b"y")];
    assert!(
        Pin::new(&mut writer)
            .poll_write_vectored(&mut cx, &v)
            .is_pending()
    );
    let r = Pin::new(&mut writer).poll_write_vectored(&mut cx, &v);
    assert!(matches!(r, Poll::Ready(Err(ref e)) if e.kind() == io::ErrorKind::BrokenPipe));
}

#[test]
fn a_busy_duplex_loop_spends_the_task_budget() {
    rt().block_on(async {
        let other = tickslab_runtime::spawn(tickslab_runtime::task::yield_now());
        let busy = tickslab_runtime::spawn(async {
            let (mut tx, mut rx) = tio::duplex(8192);
            let mut buf = [0u8; 4096];
            loop {
                tx.write_all(&[3; 4096]).await.unwrap();
                let _ = rx.read(&mut buf).await.unwrap();
            }
        });
        other.await.unwrap(); // hangs if the loop never gives way
        busy.abort();
    });
}
