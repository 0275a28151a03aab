//! TCP and UDP over loopback: happy paths, concurrency, large transfers, readiness, and the
//! error paths (refused, address in use, peer closed or reset, runtime gone, no runtime).
//!
//! Every test runs under a generous `timeout` that only detects hangs; nothing asserts
//! speed. Every loop is bounded.

mod support;

use std::cell::Cell;
use std::future::{Future, poll_fn};
use std::io::{self, ErrorKind};
use std::net::{Ipv4Addr, SocketAddr};
use std::pin::pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use tickslab_runtime::io::{AsyncRead, AsyncReadExt, AsyncWriteExt, ReadBuf};
use tickslab_runtime::net::{TcpListener, TcpStream, UdpSocket};
use tickslab_runtime::time::{sleep, timeout};
use tickslab_runtime::*;

use support::rt;

/// Only detects hangs.
const GUARD: Duration = Duration::from_secs(10);
const LOCALHOST: (Ipv4Addr, u16) = (Ipv4Addr::LOCALHOST, 0);

/// Runs `f` on a fresh runtime under the hang guard.
fn run<F: Future>(f: F) -> F::Output {
    rt().block_on(async { timeout(GUARD, f).await.expect("the test hung (10 s guard)") })
}

/// Polls both futures until both are done (they share the caller's waker).
async fn join<A: Future, B: Future>(a: A, b: B) -> (A::Output, B::Output) {
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

/// A connected pair: (client, server side, listener address).
async fn pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind(LOCALHOST).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (client, accepted) = join(TcpStream::connect(addr), listener.accept()).await;
    (client.unwrap(), accepted.unwrap().0)
}

/// Reads until end of stream (bounded by `limit` bytes).
async fn read_to_end(r: &mut (impl AsyncRead + Unpin), limit: usize) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        let n = r.read(&mut buf).await?;
        if n == 0 {
            return Ok(out);
        }
        out.extend_from_slice(&buf[..n]);
        assert!(out.len() <= limit, "more than {limit} bytes");
    }
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

/// A port nothing listens on (bound, read, then closed).
fn closed_port() -> SocketAddr {
    let l = std::net::TcpListener::bind(LOCALHOST).unwrap();
    l.local_addr().unwrap()
}

fn closed_udp_port() -> SocketAddr {
    let s = std::net::UdpSocket::bind(LOCALHOST).unwrap();
    s.local_addr().unwrap()
}

// ---- TCP happy paths ------------------------------------------------------------------------

#[test]
fn tcp_echo_addresses_and_nodelay() {
    run(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        assert_eq!(addr.ip(), Ipv4Addr::LOCALHOST);
        assert_ne!(addr.port(), 0);
        let server = spawn(async move {
            let (mut s, peer) = listener.accept().await.unwrap();
            assert_eq!(s.peer_addr().unwrap(), peer);
            let mut buf = [0u8; 64];
            for _ in 0..100 {
                let n = s.read(&mut buf).await.unwrap();
                if n == 0 {
                    return;
                }
                s.write_all(&buf[..n]).await.unwrap();
            }
            panic!("the client never closed");
        });
        let mut c = TcpStream::connect(addr).await.unwrap();
        assert_eq!(c.peer_addr().unwrap(), addr);
        assert_eq!(c.local_addr().unwrap().ip(), Ipv4Addr::LOCALHOST);
        c.set_nodelay(true).unwrap();
        assert!(c.nodelay().unwrap());
        c.set_nodelay(false).unwrap();
        assert!(!c.nodelay().unwrap());
        c.flush().await.unwrap();
        for i in 0..20u8 {
            let msg = [i; 17];
            c.write_all(&msg).await.unwrap();
            let mut back = [0u8; 17];
            c.read_exact(&mut back).await.unwrap();
            assert_eq!(back, msg);
        }
        drop(c);
        server.await.unwrap();
    });
}

#[test]
fn tcp_connect_tries_each_address_and_accepts_strings() {
    run(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        // The first address is refused, the second works.
        let addrs = [closed_port(), addr];
        let (c, a) = join(TcpStream::connect(&addrs[..]), listener.accept()).await;
        let (c, (s, peer)) = (c.unwrap(), a.unwrap());
        assert_eq!(c.local_addr().unwrap(), peer);
        assert_eq!(s.local_addr().unwrap(), addr);
        let (c2, a2) = join(
            TcpStream::connect(format!("127.0.0.1:{}", addr.port())),
            listener.accept(),
        )
        .await;
        assert_eq!(c2.unwrap().local_addr().unwrap(), a2.unwrap().1);
    });
}

#[test]
fn tcp_poll_accept_and_poll_peek() {
    run(async {
        let listener = TcpListener::bind(LOCALHOST).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let client = spawn(async move {
            let mut c = TcpStream::connect(addr).await.unwrap();
            c.write_all(b"ping").await.unwrap();
            c
        });
        let (s, _) = poll_fn(|cx| listener.poll_accept(cx)).await.unwrap();
        let mut buf = [0u8; 4];
        let mut rb = ReadBuf::new(&mut buf);
        let n = poll_fn(|cx| s.poll_peek(cx, &mut rb)).await.unwrap();
        assert_eq!(rb.filled(), &b"ping"[..n]);
        let _c = client.await.unwrap();
    });
}

#[test]
fn tcp_echo_with_borrowed_split() {
    run(async {
        let listener = TcpListener::bind(LOCALHOST).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let (mut r, mut w) = s.split();
            assert_eq!(r.peer_addr().unwrap(), w.peer_addr().unwrap());
            assert_eq!(r.local_addr().unwrap(), w.local_addr().unwrap());
            let mut buf = [0u8; 4096];
            let mut echoed = 0;
            for _ in 0..100_000 {
                let n = r.read(&mut buf).await.unwrap();
                if n == 0 {
                    w.shutdown().await.unwrap();
                    return echoed;
                }
                w.write_all(&buf[..n]).await.unwrap();
                echoed += n;
            }
            panic!("the client never closed");
        });
        let mut c = TcpStream::connect(addr).await.unwrap();
        let data = pattern(256 * 1024, 3);
        let (mut r, mut w) = c.split();
        // Write everything and read the echo at the same time: neither side blocks the other.
        let (wrote, got) = join(
            async {
                for chunk in data.chunks(1000) {
                    w.write_all(chunk).await?;
                }
                w.shutdown().await
            },
            read_to_end(&mut r, data.len()),
        )
        .await;
        wrote.unwrap();
        assert!(got.unwrap() == data, "echo differs");
        assert_eq!(server.await.unwrap(), data.len());
    });
}

#[test]
fn tcp_echo_with_owned_split_and_reunite() {
    run(async {
        let listener = TcpListener::bind(LOCALHOST).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = spawn(async move {
            let (s, _) = listener.accept().await.unwrap();
            let (mut r, mut w) = s.into_split();
            let mut buf = [0u8; 4096];
            for _ in 0..100_000 {
                let n = r.read(&mut buf).await.unwrap();
                if n == 0 {
                    return; // dropping `w` shuts the write side down: the client sees EOF
                }
                w.write_all(&buf[..n]).await.unwrap();
            }
            panic!("the client never closed");
        });
        let c = TcpStream::connect(addr).await.unwrap();
        let (mut r, w) = c.into_split();
        assert_eq!(r.peer_addr().unwrap(), addr);
        assert_eq!(w.peer_addr().unwrap(), addr);
        assert_eq!(r.local_addr().unwrap(), w.local_addr().unwrap());
        let data = Rc::new(pattern(300_000, 9));
        let writer = spawn({
            let data = data.clone();
            async move {
                let mut w = w;
                for chunk in data.chunks(777) {
                    w.write_all(chunk).await.unwrap();
                }
                // Dropped here: shutdown(Write), as in tokio.
            }
        });
        let got = read_to_end(&mut r, data.len()).await.unwrap();
        assert!(got == *data, "echo differs");
        writer.await.unwrap();
        server.await.unwrap();

        // Reunite: the same stream's halves come back together; others are refused.
        let (a, _b) = pair().await;
        let (c, _d) = pair().await;
        let (ar, aw) = a.into_split();
        let (cr, cw) = c.into_split();
        let err = ar.reunite(cw).unwrap_err();
        assert!(
            err.to_string().contains("not from the same socket"),
            "{err}"
        );
        let (ar, cw) = (err.0, err.1);
        let a = aw.reunite(ar).unwrap();
        let c = cr.reunite(cw).unwrap();
        // Reuniting did not shut anything down: both still write.
        let (mut a, mut c) = (a, c);
        a.write_all(b"a").await.unwrap();
        c.write_all(b"c").await.unwrap();
    });
}

#[test]
fn owned_write_half_forget_keeps_the_write_side_open() {
    run(async {
        let (client, mut server) = pair().await;
        let (_r, w) = client.into_split();
        w.forget();
        // No FIN arrived: nothing to read yet.
        let mut buf = [0u8; 1];
        let r = timeout(Duration::from_millis(50), server.read(&mut buf)).await;
        assert!(r.is_err(), "expected no data and no EOF, got {r:?}");
    });
}

#[test]
fn fifty_concurrent_clients() {
    const CLIENTS: usize = 50;
    const ROUNDS: usize = 20;
    run(async {
        let listener = TcpListener::bind(LOCALHOST).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let acceptor = spawn(async move {
            let mut conns = Vec::new();
            for _ in 0..CLIENTS {
                let (mut s, _) = listener.accept().await.unwrap();
                conns.push(spawn(async move {
                    let mut buf = [0u8; 256];
                    let mut total = 0;
                    for _ in 0..10_000 {
                        let n = s.read(&mut buf).await.unwrap();
                        if n == 0 {
                            return total;
                        }
                        s.write_all(&buf[..n]).await.unwrap();
                        total += n;
                    }
                    panic!("a client never closed");
                }));
            }
            let mut total = 0;
            for c in conns {
                total += c.await.unwrap();
            }
            total
        });
        let clients: Vec<_> = (0..CLIENTS)
            .map(|id| {
                spawn(async move {
                    let mut c = TcpStream::connect(addr).await.unwrap();
                    c.set_nodelay(true).unwrap();
                    for round in 0..ROUNDS {
                        let msg = [(id * 7 + round) as u8; 40];
                        c.write_all(&msg).await.unwrap();
                        let mut back = [0u8; 40];
                        c.read_exact(&mut back).await.unwrap();
                        assert_eq!(back, msg, "client {id} round {round}");
                        if round % 5 == 0 {
                            yield_now().await;
                        }
                    }
                })
            })
            .collect();
        for c in clients {
            c.await.unwrap();
        }
        assert_eq!(acceptor.await.unwrap(), CLIENTS * ROUNDS * 40);
    });
}

#[test]
fn large_transfer_16_mib_with_partial_writes() {
    // More than loopback buffers hold by default (4 MiB send + 6 MiB receive at most), so
    // the writer must see partial writes and wait for the reader.
    const LEN: usize = 16 << 20;
    run(async {
        let (client, mut server) = pair().await;
        let data = Rc::new(pattern(LEN, 1));
        let writes = Rc::new(Cell::new(0usize));
        let writer = spawn({
            let (data, writes) = (data.clone(), writes.clone());
            async move {
                let mut c = client;
                let mut off = 0;
                // One `write` call per step, the whole rest each time: the kernel takes
                // what fits, so this makes many partial writes and waits in between.
                for _ in 0..1_000_000 {
                    if off == LEN {
                        break;
                    }
                    let n = c.write(&data[off..]).await.unwrap();
                    assert!(n > 0);
                    off += n;
                    writes.set(writes.get() + 1);
                }
                assert_eq!(off, LEN);
                c.shutdown().await.unwrap();
            }
        });
        // Let the writer fill the buffers before the reader starts.
        sleep(Duration::from_millis(20)).await;
        let got = read_to_end(&mut server, LEN).await.unwrap();
        writer.await.unwrap();
        assert_eq!(got.len(), LEN);
        assert!(got == *data, "transfer corrupted");
        println!("16 MiB in {} write calls", writes.get());
        assert!(writes.get() > 1, "expected partial writes");
    });
}

#[test]
fn peek_does_not_consume() {
    run(async {
        let (mut client, mut server) = pair().await;
        client.write_all(b"hello").await.unwrap();
        assert_eq!(server.peek(&mut []).await.unwrap(), 0);
        let mut buf = [0u8; 16];
        let mut n = 0;
        for _ in 0..100 {
            n = server.peek(&mut buf).await.unwrap();
            if n == 5 {
                break;
            }
            sleep(Duration::from_millis(1)).await;
        }
        assert_eq!(&buf[..n], b"hello");
        // Peeking again sees the same bytes; reading consumes them.
        let mut again = [0u8; 16];
        assert_eq!(server.peek(&mut again).await.unwrap(), 5);
        let mut read = [0u8; 5];
        server.read_exact(&mut read).await.unwrap();
        assert_eq!(&read, b"hello");
        assert_eq!(
            server.try_read(&mut buf).unwrap_err().kind(),
            ErrorKind::WouldBlock
        );
    });
}

#[test]
fn readable_try_read_and_writable_try_write_loops() {
    run(async {
        let (client, server) = pair().await;
        // Nothing sent yet: would block (without waiting).
        let mut buf = [0u8; 1024];
        assert_eq!(
            server.try_read(&mut buf).unwrap_err().kind(),
            ErrorKind::WouldBlock
        );
        // An empty read or write never waits.
        let mut server = server;
        assert_eq!(server.read(&mut []).await.unwrap(), 0);
        assert_eq!(server.write(&[]).await.unwrap(), 0);
        let sender = spawn(async move {
            let mut sent = 0;
            for i in 0..50u8 {
                let msg = [i; 100];
                let mut off = 0;
                for _ in 0..1000 {
                    if off == msg.len() {
                        break;
                    }
                    client.writable().await.unwrap();
                    match client.try_write(&msg[off..]) {
                        Ok(n) => off += n,
                        Err(e) if e.kind() == ErrorKind::WouldBlock => continue,
                        Err(e) => panic!("{e}"),
                    }
                }
                sent += off;
                if i % 10 == 0 {
                    sleep(Duration::from_millis(2)).await;
                }
            }
            sent
        });
        let mut got = Vec::new();
        let mut would_block = 0;
        for _ in 0..100_000 {
            if got.len() == 5000 {
                break;
            }
            server.readable().await.unwrap();
            match server.try_read(&mut buf) {
                Ok(0) => panic!("early EOF"),
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == ErrorKind::WouldBlock => would_block += 1,
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!(sender.await.unwrap(), 5000);
        assert_eq!(got.len(), 5000);
        for (i, chunk) in got.chunks(100).enumerate() {
            assert!(chunk.iter().all(|&b| b == i as u8), "message {i}");
        }
        println!("readable/try_read: {would_block} spurious wakes");
    });
}

#[test]
fn shutdown_gives_eof_and_keeps_the_other_direction() {
    run(async {
        let (mut client, mut server) = pair().await;
        client.write_all(b"last words").await.unwrap();
        client.shutdown().await.unwrap();
        let got = read_to_end(&mut server, 100).await.unwrap();
        assert_eq!(got, b"last words");
        // End of stream stays end of stream.
        let mut buf = [0u8; 8];
        for _ in 0..3 {
            assert_eq!(server.read(&mut buf).await.unwrap(), 0);
            assert_eq!(server.try_read(&mut buf).unwrap(), 0);
        }
        // Half-closed: the server still writes and the client still reads.
        server.write_all(b"reply").await.unwrap();
        let mut reply = [0u8; 5];
        client.read_exact(&mut reply).await.unwrap();
        assert_eq!(&reply, b"reply");
        drop(server);
        assert_eq!(client.read(&mut buf).await.unwrap(), 0);
        // read_exact past the end: UnexpectedEof.
        let err = client.read_exact(&mut buf).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::UnexpectedEof);
    });
}

// ---- TCP error paths -------------------------------------------------------------------------

#[test]
fn connect_to_a_closed_port_is_refused() {
    run(async {
        let addr = closed_port();
        for _ in 0..3 {
            let err = TcpStream::connect(addr).await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::ConnectionRefused, "{err}");
        }
        // A failed connect leaves nothing registered.
        assert_eq!(RuntimeStats::current().unwrap().sockets, 0);
    });
}

#[test]
fn binding_an_address_in_use_fails() {
    run(async {
        let l = TcpListener::bind(LOCALHOST).await.unwrap();
        let err = TcpListener::bind(l.local_addr().unwrap())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::AddrInUse, "{err}");
        let u = UdpSocket::bind(LOCALHOST).await.unwrap();
        let err = UdpSocket::bind(u.local_addr().unwrap()).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::AddrInUse, "{err}");
        // The listener still works.
        let addr = l.local_addr().unwrap();
        let (c, a) = join(TcpStream::connect(addr), l.accept()).await;
        c.unwrap();
        a.unwrap();
    });
}

#[test]
fn bad_addresses_are_errors() {
    run(async {
        let none: &[SocketAddr] = &[];
        let err = TcpStream::connect(none).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
        let err = TcpListener::bind(none).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
        let err = UdpSocket::bind(none).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
        // Not an address (no port: parsed, never looked up).
        let err = TcpStream::connect("127.0.0.1").await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
        let u = UdpSocket::bind(LOCALHOST).await.unwrap();
        let err = u.send_to(b"x", none).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
        let err = u.connect(none).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
        // A non-local address cannot be bound.
        let err = TcpListener::bind("192.0.2.1:0").await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::AddrNotAvailable, "{err}");
    });
}

#[test]
fn read_after_the_peer_closed_is_end_of_stream() {
    run(async {
        let (mut client, server) = pair().await;
        drop(server);
        let mut buf = [0u8; 16];
        assert_eq!(client.read(&mut buf).await.unwrap(), 0);
        assert_eq!(client.read(&mut buf).await.unwrap(), 0);
        client.readable().await.unwrap(); // end of stream is "readable", at once
    });
}

#[test]
fn writing_to_a_reset_connection_fails() {
    run(async {
        let (mut client, server) = pair().await;
        client.write_all(b"unread").await.unwrap();
        server.readable().await.unwrap();
        // Closing with unread data sends a reset.
        drop(server);
        let mut err = None;
        for _ in 0..1000 {
            match client.write_all(&[0u8; 1024]).await {
                Ok(()) => sleep(Duration::from_millis(1)).await,
                Err(e) => {
                    err = Some(e);
                    break;
                }
            }
        }
        let err = err.expect("writes kept succeeding after a reset");
        assert!(
            matches!(
                err.kind(),
                ErrorKind::BrokenPipe | ErrorKind::ConnectionReset
            ),
            "{err:?}"
        );
        // Later calls fail or report end of stream; nothing hangs or panics.
        assert!(client.write_all(b"more").await.is_err());
        let mut buf = [0u8; 8];
        match client.read(&mut buf).await {
            Ok(0) => {}
            Ok(n) => panic!("read {n} bytes from a reset connection"),
            Err(e) => assert_eq!(e.kind(), ErrorKind::ConnectionReset, "{e}"),
        }
    });
}

#[test]
fn a_reset_wakes_a_waiting_reader_with_an_error() {
    run(async {
        let (mut client, server) = pair().await;
        server.set_ttl(64).unwrap();
        assert_eq!(server.ttl().unwrap(), 64);
        client.write_all(b"unread").await.unwrap();
        let reader = spawn(async move {
            let mut buf = [0u8; 8];
            client.read(&mut buf).await
        });
        server.readable().await.unwrap();
        yield_now().await; // the reader waits now
        drop(server); // unread data: a reset
        let err = reader.await.unwrap().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionReset, "{err}");
    });
}

// ---- runtime boundaries ----------------------------------------------------------------------

fn assert_runtime_gone(e: &io::Error) {
    assert!(e.to_string().contains("shut down"), "{e}");
}

#[test]
fn sockets_outliving_their_runtime_fail_cleanly() {
    let rt1 = rt();
    let (listener, mut client, server, udp) = rt1.block_on(async {
        let listener = TcpListener::bind(LOCALHOST).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (c, a) = join(TcpStream::connect(addr), listener.accept()).await;
        let udp = UdpSocket::bind(LOCALHOST).await.unwrap();
        (listener, c.unwrap(), a.unwrap().0, udp)
    });
    // A task still waiting on a socket when the runtime goes is cancelled, not hung.
    rt1.block_on(async {
        let (c, s) = pair().await;
        spawn(async move {
            let mut c = c;
            let mut buf = [0u8; 1];
            let _ = c.read(&mut buf).await;
            drop(s);
        });
        yield_now().await;
    });
    drop(rt1);

    // Outside any runtime: the non-waiting calls report the runtime gone, except where
    // readiness seen before the shutdown still lets the syscall run (tokio's: the client was
    // writable).
    let mut buf = [0u8; 8];
    assert_runtime_gone(&client.try_read(&mut buf).unwrap_err());
    assert_eq!(client.try_write(b"x").unwrap(), 1);
    assert_runtime_gone(&udp.try_recv_from(&mut buf).unwrap_err());
    // Addresses still work (they do not touch the reactor).
    assert!(listener.local_addr().is_ok());
    assert!(server.peer_addr().is_ok());

    // In another runtime: every waiting call fails at once.
    rt().block_on(async {
        timeout(GUARD, async {
            assert_runtime_gone(&client.read(&mut buf).await.unwrap_err());
            assert_runtime_gone(&client.write(b"x").await.unwrap_err());
            assert_runtime_gone(&client.readable().await.unwrap_err());
            assert_runtime_gone(&server.writable().await.unwrap_err());
            assert_runtime_gone(&server.peek(&mut buf).await.unwrap_err());
            assert_runtime_gone(&listener.accept().await.unwrap_err());
            assert_runtime_gone(&udp.recv_from(&mut buf).await.unwrap_err());
            assert_runtime_gone(
                &udp.send_to(b"x", udp.local_addr().unwrap())
                    .await
                    .unwrap_err(),
            );
            // New sockets in this runtime are fine.
            let (mut a, mut b) = pair().await;
            a.write_all(b"ok").await.unwrap();
            let mut two = [0u8; 2];
            b.read_exact(&mut two).await.unwrap();
        })
        .await
        .unwrap();
    });
    drop((listener, client, server, udp)); // deregisters from a dead reactor: no panic
}

#[test]
fn sockets_need_a_runtime() {
    /// Runs `f`, which must panic with tokio's message, at this file's line (the caller).
    fn assert_no_runtime<R>(f: impl FnOnce() -> R) {
        let err = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
            Ok(_) => panic!("a socket was made outside a runtime"),
            Err(e) => e,
        };
        let msg = err
            .downcast_ref::<String>()
            .map(String::as_str)
            .or(err.downcast_ref::<&str>().copied())
            .unwrap_or_default();
        assert!(msg.contains("there is no reactor running"), "{msg}");
    }
    let std_listener = std::net::TcpListener::bind(LOCALHOST).unwrap();
    let addr = std_listener.local_addr().unwrap();
    let std_stream = std::net::TcpStream::connect(addr).unwrap();
    assert_no_runtime(|| TcpStream::from_std(std_stream));
    assert_no_runtime(|| TcpListener::try_from(std_listener));
    let std_udp = std::net::UdpSocket::bind(LOCALHOST).unwrap();
    assert_no_runtime(|| UdpSocket::from_std(std_udp));
    // The async constructors, polled outside a runtime, panic at once too.
    let mut cx = Context::from_waker(Waker::noop());
    assert_no_runtime(|| pin!(TcpListener::bind(LOCALHOST)).poll(&mut cx).is_ready());
    assert_no_runtime(|| pin!(UdpSocket::bind(LOCALHOST)).poll(&mut cx).is_ready());
    let l = std::net::TcpListener::bind(LOCALHOST).unwrap();
    let to = l.local_addr().unwrap();
    assert_no_runtime(|| pin!(TcpStream::connect(to)).poll(&mut cx).is_ready());
    drop(l); // holds the aborted connection from the poll above
    // From std, inside a runtime: works.
    let l = std::net::TcpListener::bind(LOCALHOST).unwrap();
    run(async {
        let l = TcpListener::from_std(l).unwrap();
        let addr = l.local_addr().unwrap();
        let std_c = std::net::TcpStream::connect(addr).unwrap();
        let mut c = TcpStream::from_std(std_c).unwrap();
        let (mut s, _) = l.accept().await.unwrap();
        c.write_all(b"std").await.unwrap();
        let mut buf = [0u8; 3];
        s.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"std");
    });
}

#[test]
fn dropping_sockets_deregisters_them_and_slots_are_reused() {
    run(async {
        let sockets = || RuntimeStats::current().unwrap().sockets;
        assert_eq!(sockets(), 0);
        let (a, b) = pair().await;
        assert_eq!(sockets(), 2); // the listener is gone already
        let u = UdpSocket::bind(LOCALHOST).await.unwrap();
        assert_eq!(sockets(), 3);
        drop((a, b, u));
        assert_eq!(sockets(), 0);
        // Churn: sockets come and go (stale events for dropped ones are ignored).
        let target = UdpSocket::bind(LOCALHOST).await.unwrap();
        let to = target.local_addr().unwrap();
        for i in 0..300u32 {
            let s = UdpSocket::bind(LOCALHOST).await.unwrap();
            s.send_to(&i.to_le_bytes(), to).await.unwrap();
            let mut buf = [0u8; 4];
            let (n, from) = target.recv_from(&mut buf).await.unwrap();
            assert_eq!(
                (n, from, u32::from_le_bytes(buf)),
                (4, s.local_addr().unwrap(), i)
            );
        }
        assert_eq!(sockets(), 1);
    });
}

// ---- UDP -------------------------------------------------------------------------------------

#[test]
fn udp_echo_send_to_recv_from_peek_from() {
    run(async {
        let server = UdpSocket::bind(LOCALHOST).await.unwrap();
        let server_addr = server.local_addr().unwrap();
        let echo = spawn(async move {
            let mut buf = [0u8; 1500];
            for _ in 0..100 {
                let (n, from) = server.recv_from(&mut buf).await.unwrap();
                if &buf[..n] == b"bye" {
                    return;
                }
                server.send_to(&buf[..n], from).await.unwrap();
            }
            panic!("no bye");
        });
        let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let me = client.local_addr().unwrap();
        for i in 0..50u8 {
            let msg = [i; 33];
            assert_eq!(client.send_to(&msg, server_addr).await.unwrap(), 33);
            let mut buf = [0u8; 64];
            let (n, from) = client.peek_from(&mut buf).await.unwrap();
            assert_eq!((n, from), (33, server_addr));
            assert_eq!(buf[..n], msg);
            let mut buf2 = [0u8; 64];
            let (n, from) = client.recv_from(&mut buf2).await.unwrap();
            assert_eq!((n, from), (33, server_addr));
            assert_eq!(buf2[..n], msg);
        }
        // A datagram longer than the buffer is truncated.
        client.send_to(&[7u8; 100], server_addr).await.unwrap();
        let mut small = [0u8; 10];
        let (n, _) = client.recv_from(&mut small).await.unwrap();
        assert_eq!((n, small), (10, [7u8; 10]));
        client
            .send_to(b"bye", ("127.0.0.1", server_addr.port()))
            .await
            .unwrap();
        echo.await.unwrap();
        assert_ne!(me.port(), 0);
    });
}

#[test]
fn udp_try_variants_and_readiness() {
    run(async {
        let a = UdpSocket::bind(LOCALHOST).await.unwrap();
        let b = UdpSocket::bind(LOCALHOST).await.unwrap();
        let (a_addr, b_addr) = (a.local_addr().unwrap(), b.local_addr().unwrap());
        let mut buf = [0u8; 64];
        assert_eq!(
            b.try_recv_from(&mut buf).unwrap_err().kind(),
            ErrorKind::WouldBlock
        );
        // Writable comes with the first event; then try_send_to sends without waiting.
        a.writable().await.unwrap();
        let mut sent = 0;
        for i in 0..20u8 {
            for _ in 0..100 {
                match a.try_send_to(&[i; 8], b_addr) {
                    Ok(n) => {
                        sent += n;
                        break;
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => a.writable().await.unwrap(),
                    Err(e) => panic!("{e}"),
                }
            }
        }
        assert_eq!(sent, 160);
        let mut got = 0;
        for _ in 0..10_000 {
            if got == 20 {
                break;
            }
            b.readable().await.unwrap();
            match b.try_recv_from(&mut buf) {
                Ok((n, from)) => {
                    assert_eq!((n, from), (8, a_addr));
                    assert_eq!(buf[..8], [got as u8; 8]);
                    got += 1;
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!(got, 20);
        assert_eq!(
            b.try_recv_from(&mut buf).unwrap_err().kind(),
            ErrorKind::WouldBlock
        );
        // The poll forms.
        poll_fn(|cx| a.poll_send_ready(cx)).await.unwrap();
        let n = poll_fn(|cx| a.poll_send_to(cx, b"poll", b_addr))
            .await
            .unwrap();
        assert_eq!(n, 4);
        poll_fn(|cx| b.poll_recv_ready(cx)).await.unwrap();
        let mut rb = ReadBuf::new(&mut buf);
        let from = poll_fn(|cx| b.poll_recv_from(cx, &mut rb)).await.unwrap();
        assert_eq!((rb.filled(), from), (&b"poll"[..], a_addr));
        // Options.
        a.set_broadcast(true).unwrap();
        assert!(a.broadcast().unwrap());
        a.set_ttl(10).unwrap();
        assert_eq!(a.ttl().unwrap(), 10);
        assert!(a.take_error().unwrap().is_none());
    });
}

#[test]
fn connected_udp_send_recv_and_peer_filtering() {
    run(async {
        let a = UdpSocket::bind(LOCALHOST).await.unwrap();
        let b = UdpSocket::bind(LOCALHOST).await.unwrap();
        let stranger = UdpSocket::bind(LOCALHOST).await.unwrap();
        let (a_addr, b_addr) = (a.local_addr().unwrap(), b.local_addr().unwrap());
        // Not connected yet.
        assert_eq!(a.peer_addr().unwrap_err().kind(), ErrorKind::NotConnected);
        assert!(a.send(b"x").await.is_err());
        assert!(a.try_send(b"x").is_err());

        a.connect(b_addr).await.unwrap();
        b.connect(a_addr).await.unwrap();
        assert_eq!(a.peer_addr().unwrap(), b_addr);
        assert_eq!(b.peer_addr().unwrap(), a_addr);
        // A connected socket only hears from its peer.
        stranger.send_to(b"noise", b_addr).await.unwrap();
        for i in 0..50u8 {
            assert_eq!(a.send(&[i; 20]).await.unwrap(), 20);
            let mut buf = [0u8; 32];
            assert_eq!(b.peek(&mut buf).await.unwrap(), 20);
            let n = b.recv(&mut buf).await.unwrap();
            assert_eq!(buf[..n], [i; 20]);
            b.send(&buf[..n]).await.unwrap();
            let n = a.recv(&mut buf).await.unwrap();
            assert_eq!(buf[..n], [i; 20]);
        }
        // The try forms.
        a.writable().await.unwrap();
        a.try_send(b"try").unwrap();
        let mut buf = [0u8; 8];
        let mut n = None;
        for _ in 0..1000 {
            b.readable().await.unwrap();
            match b.try_recv(&mut buf) {
                Ok(k) => {
                    n = Some(k);
                    break;
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!(&buf[..n.unwrap()], b"try");
        assert_eq!(a.try_send(b"p").unwrap(), 1);
        let mut rb = ReadBuf::new(&mut buf);
        poll_fn(|cx| b.poll_recv(cx, &mut rb)).await.unwrap();
        assert_eq!(rb.filled(), b"p");
        let sent = poll_fn(|cx| b.poll_send(cx, b"q")).await.unwrap();
        assert_eq!(sent, 1);
        assert_eq!(a.recv(&mut buf).await.unwrap(), 1);
        assert_eq!(
            b.try_recv(&mut buf).unwrap_err().kind(),
            ErrorKind::WouldBlock
        );
    });
}

#[test]
fn connected_udp_to_a_closed_port_reports_refused_and_recovers() {
    run(async {
        let s = UdpSocket::bind(LOCALHOST).await.unwrap();
        s.connect(closed_udp_port()).await.unwrap();
        s.send(b"anyone?").await.unwrap();
        let mut buf = [0u8; 16];
        // Linux reports the ICMP port unreachable to the next call on a connected socket.
        let err = s.recv(&mut buf).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionRefused, "{err}");
        // The error was consumed: nothing more to read, and no busy loop on stale state.
        assert_eq!(
            s.try_recv(&mut buf).unwrap_err().kind(),
            ErrorKind::WouldBlock
        );
        let r = timeout(Duration::from_millis(30), s.recv(&mut buf)).await;
        assert!(r.is_err(), "expected a wait, got {r:?}");
        // The socket lives on: connect it to a live peer and talk.
        let peer = UdpSocket::bind(LOCALHOST).await.unwrap();
        s.connect(peer.local_addr().unwrap()).await.unwrap();
        s.send(b"hi").await.unwrap();
        let (n, from) = peer.recv_from(&mut buf).await.unwrap();
        assert_eq!((&buf[..n], from), (&b"hi"[..], s.local_addr().unwrap()));
        peer.send_to(b"yo", from).await.unwrap();
        assert_eq!(s.recv(&mut buf).await.unwrap(), 2);
        // And writes still go out after the write-side error bits were seen.
        for _ in 0..100 {
            s.send(b"more").await.unwrap();
        }
    });
}

#[test]
fn udp_sharing_one_socket_between_a_sender_and_a_receiver_task() {
    run(async {
        let sock = Rc::new(UdpSocket::bind(LOCALHOST).await.unwrap());
        let echo = UdpSocket::bind(LOCALHOST).await.unwrap();
        let echo_addr = echo.local_addr().unwrap();
        sock.connect(echo_addr).await.unwrap();
        let echo_task = spawn(async move {
            let mut buf = [0u8; 16];
            for _ in 0..100 {
                let (n, from) = echo.recv_from(&mut buf).await.unwrap();
                echo.send_to(&buf[..n], from).await.unwrap();
            }
        });
        let receiver = spawn({
            let sock = sock.clone();
            async move {
                let mut buf = [0u8; 16];
                let mut sum = 0u64;
                for _ in 0..100 {
                    let n = sock.recv(&mut buf).await.unwrap();
                    sum += u64::from(buf[..n][0]);
                }
                sum
            }
        });
        for i in 0..100u8 {
            sock.send(&[i]).await.unwrap();
            if i % 8 == 0 {
                sleep(Duration::from_millis(1)).await;
            }
        }
        assert_eq!(receiver.await.unwrap(), (0..100u64).sum());
        echo_task.await.unwrap();
    });
}

#[test]
fn ipv6_loopback_when_available() {
    run(async {
        let Ok(l) = TcpListener::bind("[::1]:0").await else {
            println!("no IPv6 loopback here: skipped");
            return;
        };
        let addr = l.local_addr().unwrap();
        let (c, a) = join(TcpStream::connect(addr), l.accept()).await;
        let (mut c, (mut s, _)) = (c.unwrap(), a.unwrap());
        c.write_all(b"six").await.unwrap();
        let mut buf = [0u8; 3];
        s.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"six");
        let u = UdpSocket::bind("[::1]:0").await.unwrap();
        u.send_to(b"v6", u.local_addr().unwrap()).await.unwrap();
        let (n, _) = u.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"v6");
    });
}

/// Two tasks waiting to receive on one socket are both woken; neither waits forever.
#[test]
fn two_receivers_on_one_udp_socket_both_get_a_datagram() {
    run(async {
        let server = Rc::new(UdpSocket::bind(LOCALHOST).await.unwrap());
        let client = UdpSocket::bind(LOCALHOST).await.unwrap();
        let addr = server.local_addr().unwrap();
        let got = Rc::new(Cell::new(0u32));
        let receivers: Vec<_> = (0..2)
            .map(|_| {
                let (server, got) = (server.clone(), got.clone());
                spawn(async move {
                    let mut buf = [0u8; 16];
                    let (n, _) = server.recv_from(&mut buf).await.unwrap();
                    got.set(got.get() + u32::from(buf[0]));
                    n
                })
            })
            .collect();
        // Let both register as waiters before anything arrives.
        for _ in 0..3 {
            yield_now().await;
        }
        client.send_to(&[1], addr).await.unwrap();
        client.send_to(&[2], addr).await.unwrap();
        for r in receivers {
            assert_eq!(r.await.unwrap(), 1);
        }
        assert_eq!(got.get(), 3);
    });
}
