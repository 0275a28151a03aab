//! Unix sockets: streams (connect, accept, pair, halves, end of stream), datagrams (paths,
//! pairs, unbound senders), readiness, and the bad paths (nothing listening, no such file,
//! path in use, no runtime); abandoned waits free their task's slot.
//!
//! Every test runs under a generous `timeout` that only detects hangs.

mod support;

use std::future::{Future, poll_fn};
use std::io::ErrorKind;
use std::net::Shutdown;
use std::path::PathBuf;
use std::pin::pin;
use std::rc::Rc;
use std::task::Poll;
use std::time::Duration;

use tickslab_runtime::io::{AsyncReadExt, AsyncWriteExt, Interest};
use tickslab_runtime::net::{UnixDatagram, UnixListener, UnixStream};
use tickslab_runtime::time::timeout;
use tickslab_runtime::*;

use support::{rt, rt_bounded};

const GUARD: Duration = Duration::from_secs(30);

fn run<F: Future>(f: F) -> F::Output {
    rt().block_on(async { timeout(GUARD, f).await.expect("the test hung (30 s guard)") })
}

/// A fresh socket path in a fresh directory (removed with it).
struct TempPath {
    dir: PathBuf,
}

impl TempPath {
    fn new(name: &str) -> TempPath {
        let dir = std::env::temp_dir().join(format!("tickslab-unix-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempPath { dir }
    }

    fn join(&self, file: &str) -> PathBuf {
        self.dir.join(file)
    }
}

impl Drop for TempPath {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn poll_once<F: Future>(f: F) -> Option<F::Output> {
    let mut f = pin!(f);
    poll_fn(|cx| {
        Poll::Ready(match f.as_mut().poll(cx) {
            Poll::Ready(v) => Some(v),
            Poll::Pending => None,
        })
    })
    .await
}

#[test]
fn stream_connects_accepts_and_echoes() {
    let tmp = TempPath::new("echo");
    let path = tmp.join("s.sock");
    run(async {
        let listener = UnixListener::bind(&path).unwrap();
        assert_eq!(
            listener.local_addr().unwrap().as_pathname(),
            Some(path.as_path())
        );
        let server = spawn(async move {
            let (mut s, addr) = listener.accept().await.unwrap();
            assert!(addr.is_unnamed(), "a connecting socket has no name");
            let mut buf = vec![0u8; 256 * 1024];
            let mut total = 0;
            loop {
                let n = s.read(&mut buf).await.unwrap();
                if n == 0 {
                    break;
                }
                s.write_all(&buf[..n]).await.unwrap();
                total += n;
            }
            s.shutdown().await.unwrap();
            total
        });
        let mut c = UnixStream::connect(&path).await.unwrap();
        assert_eq!(c.peer_addr().unwrap().as_pathname(), Some(path.as_path()));
        // More than the socket buffers hold: both sides must wait for room.
        let data: Vec<u8> = (0..1_000_000u32).map(|i| i as u8).collect();
        let (mut r, mut w) = c.split();
        let write = async {
            w.write_all(&data).await.unwrap();
            w.shutdown().await.unwrap();
        };
        let read = async {
            let mut back = Vec::new();
            let mut buf = [0u8; 8192];
            loop {
                let n = r.read(&mut buf).await.unwrap();
                if n == 0 {
                    break back;
                }
                back.extend_from_slice(&buf[..n]);
            }
        };
        let ((), back) = join2(write, read).await;
        assert_eq!(back, data);
        assert_eq!(server.await.unwrap(), data.len());
        assert_eq!(c.try_read(&mut [0; 4]).unwrap(), 0, "end of stream");
    });
}

async fn join2<A: Future, B: Future>(a: A, b: B) -> (A::Output, B::Output) {
    let (mut a, mut b) = (pin!(a), pin!(b));
    let (mut ra, mut rb) = (None, None);
    poll_fn(|cx| {
        if ra.is_none()
            && let Poll::Ready(v) = a.as_mut().poll(cx)
        {
            ra = Some(v);
        }
        if rb.is_none()
            && let Poll::Ready(v) = b.as_mut().poll(cx)
        {
            rb = Some(v);
        }
        if ra.is_some() && rb.is_some() {
            Poll::Ready((ra.take().unwrap(), rb.take().unwrap()))
        } else {
            Poll::Pending
        }
    })
    .await
}

#[test]
fn stream_bad_paths() {
    let tmp = TempPath::new("bad");
    run(async {
        // No such file.
        let err = UnixStream::connect(tmp.join("missing.sock"))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound);
        // A socket file nobody listens on any more.
        let stale = tmp.join("stale.sock");
        drop(UnixListener::bind(&stale).unwrap());
        let err = UnixStream::connect(&stale).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionRefused);
        // The path is in use (the file stays after the listener is dropped, as in std).
        assert_eq!(
            UnixListener::bind(&stale).unwrap_err().kind(),
            ErrorKind::AddrInUse
        );
        assert_eq!(
            UnixDatagram::bind(&stale).unwrap_err().kind(),
            ErrorKind::AddrInUse
        );
        // The peer is gone: writes fail with BrokenPipe, reads see end of stream.
        let (mut a, b) = UnixStream::pair().unwrap();
        drop(b);
        assert_eq!(a.read(&mut [0; 8]).await.unwrap(), 0);
        let err = a.write_all(&[0; 1024]).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::BrokenPipe);
    });
    // Outside a runtime: tokio's panic.
    for made in [
        std::panic::catch_unwind(|| drop(UnixStream::pair())),
        std::panic::catch_unwind(|| drop(UnixDatagram::unbound())),
    ] {
        let err = made.unwrap_err();
        let msg = err.downcast_ref::<&str>().copied().unwrap_or_default();
        assert!(msg.contains("there is no reactor running"), "{msg}");
    }
}

#[test]
fn owned_halves_split_and_reunite() {
    run(async {
        let (a, mut b) = UnixStream::pair().unwrap();
        let (mut r, mut w) = a.into_split();
        w.write_all(b"to b").await.unwrap();
        let mut buf = [0; 4];
        b.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"to b");
        b.write_all(b"to a").await.unwrap();
        r.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"to a");

        let (c, _d) = UnixStream::pair().unwrap();
        let (other_r, other_w) = c.into_split();
        let err = r.reunite(other_w).unwrap_err();
        let (r, _other_w) = (err.0, err.1);
        let a = r.reunite(w).unwrap();
        drop(other_r);
        // Reunited without shutting down: still writable.
        let mut a = a;
        a.write_all(b"more").await.unwrap();
        b.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"more");

        // Dropping an owned write half shuts the write side down.
        let (_r, w) = a.into_split();
        drop(w);
        assert_eq!(b.read(&mut buf).await.unwrap(), 0);
    });
}

#[test]
fn stream_readiness_and_try_calls() {
    run(async {
        let (a, b) = UnixStream::pair().unwrap();
        assert!(a.ready(Interest::WRITABLE).await.unwrap().is_writable());
        assert!(poll_once(a.ready(Interest::READABLE)).await.is_none());
        b.writable().await.unwrap();
        assert_eq!(b.try_write(b"xyz").unwrap(), 3);
        a.readable().await.unwrap();
        let mut buf = [0; 8];
        assert_eq!(a.try_read(&mut buf).unwrap(), 3);
        assert_eq!(
            a.try_read(&mut buf).unwrap_err().kind(),
            ErrorKind::WouldBlock
        );
        // Fill the pipe: try_write ends with WouldBlock, and writable waits.
        let chunk = [7u8; 64 * 1024];
        let mut written = 0;
        loop {
            match b.try_write(&chunk) {
                Ok(n) => written += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) => panic!("{e}"),
            }
        }
        assert!(poll_once(b.writable()).await.is_none());
        // Draining the other end makes room.
        let mut sink = vec![0u8; 1 << 20];
        let mut read = 0;
        while read < written {
            a.readable().await.unwrap();
            match a.try_read(&mut sink) {
                Ok(n) => read += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(e) => panic!("{e}"),
            }
        }
        b.writable().await.unwrap();
        assert!(b.try_write(b"room again").is_ok());
        // into_std and back.
        let std_a = a.into_std().unwrap();
        let a = UnixStream::from_std(std_a).unwrap();
        assert!(a.local_addr().unwrap().is_unnamed());
    });
}

#[test]
fn datagrams_by_path_pair_and_unbound() {
    let tmp = TempPath::new("dgram");
    let (pa, pb) = (tmp.join("a.sock"), tmp.join("b.sock"));
    run(async {
        let a = UnixDatagram::bind(&pa).unwrap();
        let b = UnixDatagram::bind(&pb).unwrap();
        a.send_to(b"one", &pb).await.unwrap();
        let mut buf = [0; 16];
        let (n, from) = b.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"one");
        assert_eq!(from.as_pathname(), Some(pa.as_path()));

        // An unbound sender: the receiver sees an unnamed address.
        let u = UnixDatagram::unbound().unwrap();
        u.send_to(b"anon", &pb).await.unwrap();
        let (n, from) = b.recv_from(&mut buf).await.unwrap();
        assert_eq!((&buf[..n], from.is_unnamed()), (&b"anon"[..], true));

        // Connected: send/recv.
        u.connect(&pa).unwrap();
        u.send(b"hi a").await.unwrap();
        assert_eq!(a.recv(&mut buf).await.unwrap(), 4);
        assert_eq!(u.peer_addr().unwrap().as_pathname(), Some(pa.as_path()));

        // A pair, and the try_ forms.
        let (x, y) = UnixDatagram::pair().unwrap();
        assert_eq!(
            y.try_recv(&mut buf).unwrap_err().kind(),
            ErrorKind::WouldBlock
        );
        x.try_send(b"t").unwrap();
        y.readable().await.unwrap();
        assert_eq!(y.try_recv(&mut buf).unwrap(), 1);
        assert!(y.ready(Interest::WRITABLE).await.unwrap().is_writable());

        // Bad paths: nobody at the path; shut down.
        let err = a.send_to(b"x", tmp.join("nobody.sock")).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound);
        x.shutdown(Shutdown::Write).unwrap();
        assert!(x.send(b"after shutdown").await.is_err());
    });
}

/// A datagram socket fills its peer's queue: sends then wait for room (the writable
/// interest added on the first blocked send must bring the edge), and every datagram
/// arrives.
#[test]
fn datagram_sends_wait_for_room_and_lose_nothing() {
    run(async {
        let (tx, rx) = UnixDatagram::pair().unwrap();
        const N: u32 = 5_000;
        let sender = spawn(async move {
            for i in 0..N {
                tx.send(&i.to_le_bytes()).await.unwrap();
            }
        });
        // Let the sender fill the queue before receiving.
        for _ in 0..10 {
            yield_now().await;
        }
        let mut buf = [0; 4];
        for i in 0..N {
            rx.recv(&mut buf).await.unwrap();
            assert_eq!(u32::from_le_bytes(buf), i);
        }
        sender.await.unwrap();
    });
}

#[test]
fn abandoned_unix_waits_free_their_slots() {
    let rt = rt_bounded::<512>(4);
    rt.block_on(async {
        timeout(Duration::from_secs(20), async {
            let (a, _b) = UnixStream::pair().unwrap();
            let (d, _e) = UnixDatagram::pair().unwrap();
            let (a, d) = (Rc::new(a), Rc::new(d));
            let tmp = TempPath::new("abandon");
            let listener = Rc::new(UnixListener::bind(tmp.join("l.sock")).unwrap());
            for i in 0..90 {
                let (a, d, l) = (a.clone(), d.clone(), listener.clone());
                claim_slab()
                    .await
                    .spawn(async move {
                        let t = Duration::from_micros(200);
                        let mut buf = [0; 8];
                        match i % 3 {
                            0 => assert!(timeout(t, a.ready(Interest::READABLE)).await.is_err()),
                            1 => assert!(timeout(t, d.recv(&mut buf)).await.is_err()),
                            _ => assert!(timeout(t, l.accept()).await.is_err()),
                        }
                    })
                    .await
                    .unwrap();
            }
        })
        .await
        .expect("an abandoned wait pinned its task's slot: claim_slab waited forever");
    });
    assert_eq!(rt.stats().slab_used, 0);
}

#[test]
fn unix_socket_binds_listens_connects_and_makes_datagrams() {
    use tickslab_runtime::net::UnixSocket;
    let tmp = TempPath::new("socket");
    let (lp, cp, dp) = (tmp.join("l.sock"), tmp.join("c.sock"), tmp.join("d.sock"));
    run(async {
        let l = UnixSocket::new_stream().unwrap();
        l.bind(&lp).unwrap();
        let listener = l.listen(64).unwrap();
        // A client bound to a path of its own before connecting.
        let c = UnixSocket::new_stream().unwrap();
        c.bind(&cp).unwrap();
        let mut client = c.connect(&lp).await.unwrap();
        let (mut server, peer) = listener.accept().await.unwrap();
        assert_eq!(peer.as_pathname(), Some(cp.as_path()));
        client.write_all(b"via UnixSocket").await.unwrap();
        let mut buf = [0; 14];
        server.read_exact(&mut buf).await.unwrap();

        let d = UnixSocket::new_datagram().unwrap();
        d.bind(&dp).unwrap();
        let d = d.datagram().unwrap();
        UnixDatagram::unbound()
            .unwrap()
            .send_to(b"dg", &dp)
            .await
            .unwrap();
        assert_eq!(d.recv(&mut buf).await.unwrap(), 2);

        // The wrong kind for the call: tokio's errors, before anything is registered.
        let err = UnixSocket::new_datagram().unwrap().listen(8).unwrap_err();
        assert_eq!(
            err.to_string(),
            "listen cannot be called on a datagram socket"
        );
        let err = UnixSocket::new_stream().unwrap().datagram().unwrap_err();
        assert_eq!(
            err.to_string(),
            "datagram cannot be called on a stream socket"
        );
        let err = UnixSocket::new_datagram()
            .unwrap()
            .connect(&lp)
            .await
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "connect cannot be called on a datagram socket"
        );
        // Nobody at the path.
        let err = UnixSocket::new_stream()
            .unwrap()
            .connect(tmp.join("none.sock"))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound);
    });
}

#[cfg(target_os = "linux")]
#[test]
fn abstract_names_leave_no_file() {
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::net::SocketAddr as StdAddr;
    run(async {
        let name = format!("tickslab-test-{}", std::process::id());
        let addr = StdAddr::from_abstract_name(name.as_bytes()).unwrap();
        let listener = UnixListener::bind_addr(&addr).unwrap();
        assert_eq!(
            listener.local_addr().unwrap().as_abstract_name(),
            Some(name.as_bytes())
        );
        let _client = UnixStream::connect_addr(&addr).await.unwrap();
        let (_server, _) = listener.accept().await.unwrap();
        // The name is taken while the listener lives.
        assert_eq!(
            UnixListener::bind_addr(&addr).unwrap_err().kind(),
            ErrorKind::AddrInUse
        );
        let d = UnixDatagram::bind_addr(
            &StdAddr::from_abstract_name(format!("{name}-d").as_bytes()).unwrap(),
        )
        .unwrap();
        let std_addr: StdAddr = d.local_addr().unwrap().into();
        assert!(std_addr.as_abstract_name().is_some());
    });
}

#[test]
fn unix_buf_mut_calls_append_to_the_buffer() {
    run(async {
        let (x, y) = UnixDatagram::pair().unwrap();
        x.send(b"dgram").await.unwrap();
        let mut buf = Vec::with_capacity(64);
        assert_eq!(y.recv_buf(&mut buf).await.unwrap(), 5);
        assert_eq!(buf, b"dgram");
        assert_eq!(
            y.try_recv_buf(&mut buf).unwrap_err().kind(),
            ErrorKind::WouldBlock
        );
        let (mut a, b) = UnixStream::pair().unwrap();
        a.write_all(b"abc").await.unwrap();
        b.readable().await.unwrap();
        let mut got = Vec::new();
        assert_eq!(b.try_read_buf(&mut got).unwrap(), 3);
        assert_eq!(got, b"abc");
    });
}

/// futures-io's traits, natively on the Unix stream and its halves (as on TCP), driven by
/// futures-util's helpers.
#[test]
fn unix_stream_speaks_futures_io_natively() {
    use futures_util::io::{
        AsyncBufReadExt as _, AsyncReadExt as FutReadExt, AsyncWriteExt as FutWriteExt, BufReader,
    };
    run(async {
        let (mut a, b) = UnixStream::pair().unwrap();
        FutWriteExt::write_all(&mut a, b"one\ntwo\n").await.unwrap();
        let (r, mut w) = b.into_split();
        let mut reader = BufReader::new(r);
        let mut line = String::new();
        reader.read_line(&mut line).await.unwrap();
        reader.read_line(&mut line).await.unwrap();
        assert_eq!(line, "one\ntwo\n");
        FutWriteExt::write_all(&mut w, b"back").await.unwrap();
        FutWriteExt::close(&mut w).await.unwrap();
        drop(w);
        let mut got = Vec::new();
        FutReadExt::read_to_end(&mut a, &mut got).await.unwrap();
        assert_eq!(got, b"back");
        let (mut r, mut w) = a.split();
        FutWriteExt::write_all(&mut w, b"x").await.unwrap();
        FutWriteExt::close(&mut w).await.unwrap();
        assert_eq!(FutReadExt::read(&mut r, &mut [0u8; 1]).await.unwrap(), 0);
        let mut x = [0u8; 1];
        FutReadExt::read_exact(&mut reader.into_inner(), &mut x)
            .await
            .unwrap();
        assert_eq!(&x, b"x");
    });
}

/// tokio#6767: a path that starts with a NUL byte is an abstract name, in `bind` and
/// `connect` as in `bind_addr`.
#[cfg(target_os = "linux")]
#[test]
fn a_leading_nul_names_an_abstract_socket() {
    run(async {
        let name = format!("\0tickslab-nul-{}", std::process::id());
        let listener = UnixListener::bind(&name).unwrap();
        let _client = UnixStream::connect(&name).await.unwrap();
        let (server, _) = listener.accept().await.unwrap();
        assert_eq!(
            server.local_addr().unwrap().as_abstract_name(),
            Some(&name.as_bytes()[1..])
        );
        assert!(!std::path::Path::new(&name[1..]).exists());
    });
}

#[cfg(any(target_os = "linux", target_os = "android"))]
#[test]
fn peer_credentials_name_this_process() {
    run(async {
        let (a, b) = UnixStream::pair().unwrap();
        let (ca, cb) = (a.peer_cred().unwrap(), b.peer_cred().unwrap());
        assert_eq!(ca, cb);
        // /proc/self belongs to this process's effective user and group.
        use std::os::unix::fs::MetadataExt;
        let me = std::fs::metadata("/proc/self").unwrap();
        assert_eq!((ca.uid(), ca.gid()), (me.uid(), me.gid()));
        assert_eq!(ca.pid(), Some(std::process::id() as i32));
        // Taken at connection time: still there once the peer is gone.
        drop(b);
        assert_eq!(a.peer_cred().unwrap(), ca);
    });
}

/// As on TCP (and tokio): a short read clears readiness until the next edge, which still
/// comes for bytes written afterwards; end of stream follows a short last read.
#[test]
fn a_short_stream_read_waits_for_the_next_edge() {
    run(async {
        let (mut a, mut b) = UnixStream::pair().unwrap();
        let mut buf = [0u8; 64];
        a.write_all(b"hello").await.unwrap();
        let n = b.read(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"hello");
        a.write_all(b"world").await.unwrap();
        assert_eq!(
            b.try_read(&mut buf).unwrap_err().kind(),
            ErrorKind::WouldBlock
        );
        let n = b.read(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"world");
        a.write_all(b"bye").await.unwrap();
        drop(a);
        let mut got = Vec::new();
        b.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"bye");
    });
}
