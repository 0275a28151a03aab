//! UDP batches over loopback: `recv_many`, `send_many_to` and `send_many` (one `recvmmsg` /
//! `sendmmsg` per call on Linux), their `poll_`/`try_` forms, batch and buffer limits,
//! truncation, errors, and mixing with the single-datagram calls.
//!
//! Loopback delivery is not promised to be complete when `send_to` returns, so no test
//! assumes that a batch is all queued at once: receivers loop until they have every
//! datagram, and the assertions are on order, contents, the per-call limits (never more
//! than the batch's capacity or the buffers given) and call counts that a one-datagram-per-
//! call implementation could not reach. Every wait is under a hang guard; nothing asserts
//! speed.

mod support;

use std::future::{Future, poll_fn};
use std::io::{self, ErrorKind};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use tickslab_runtime::net::{RecvBatch, SendBatch, UdpSocket};
use tickslab_runtime::time::timeout;
use tickslab_runtime::*;

use support::rt;

/// Only detects hangs.
const GUARD: Duration = Duration::from_secs(10);
const LOCALHOST: (Ipv4Addr, u16) = (Ipv4Addr::LOCALHOST, 0);

/// Runs `f` on a fresh runtime under the hang guard.
fn run<F: Future>(f: F) -> F::Output {
    rt().block_on(async { timeout(GUARD, f).await.expect("the test hung (10 s guard)") })
}

/// Datagram `i` of a test: 8 bytes of sequence number, then `len - 8` bytes of `i as u8`.
fn datagram(i: usize, len: usize) -> Vec<u8> {
    let mut d = vec![i as u8; len.max(8)];
    d[..8].copy_from_slice(&(i as u64).to_le_bytes());
    d.truncate(len);
    d
}

/// The sequence number at the front of a received datagram.
fn seq(buf: &[u8]) -> usize {
    u64::from_le_bytes(buf[..8].try_into().unwrap()) as usize
}

/// Sends datagrams `0..count` of `len` bytes from a plain std socket.
fn send_from_std(to: SocketAddr, count: usize, len: usize) -> SocketAddr {
    let tx = std::net::UdpSocket::bind(LOCALHOST).unwrap();
    for i in 0..count {
        tx.send_to(&datagram(i, len), to).unwrap();
    }
    tx.local_addr().unwrap()
}

/// Receives `count` datagrams with `recv_many` through `batch` and `bufs` slots of
/// `len` bytes, checking every call's limits and that datagrams `0..count` arrive in
/// order, whole, from `from`. Returns the number of calls.
async fn recv_all<const N: usize>(
    sock: &UdpSocket,
    batch: &mut RecvBatch<N>,
    slots: usize,
    count: usize,
    from: SocketAddr,
) -> usize {
    let mut bufs = vec![[0u8; 64]; slots];
    let (mut next, mut calls) = (0, 0);
    while next < count {
        let n = sock.recv_many(batch, &mut bufs).await.unwrap();
        calls += 1;
        assert!(n >= 1, "recv_many returned 0 for {slots} buffers");
        assert!(
            n <= N.min(slots),
            "{n} datagrams into {N} headers, {slots} buffers"
        );
        assert_eq!(batch.received(), n);
        assert_eq!(batch.iter().len(), n);
        assert_eq!(batch.get(n), None);
        for (i, meta) in batch.iter().enumerate() {
            assert_eq!(batch.get(i), Some(meta));
            assert_eq!((meta.len, meta.addr, meta.truncated), (64, from, false));
            assert_eq!(bufs[i][..], datagram(next, 64)[..]);
            next += 1;
        }
    }
    assert_eq!(next, count);
    calls
}

/// What is queued on `sock` right now must be nothing.
fn assert_drained<const N: usize>(sock: &UdpSocket, batch: &mut RecvBatch<N>) {
    let mut buf = [[0u8; 64]; 1];
    let err = sock.try_recv_many(batch, &mut buf).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::WouldBlock, "{err}");
    assert_eq!(batch.received(), 0);
}

// ---- receiving -------------------------------------------------------------------------------

#[test]
fn a_batch_of_one_receives_one_datagram_per_call() {
    run(async {
        let rx = UdpSocket::bind(LOCALHOST).await.unwrap();
        let from = send_from_std(rx.local_addr().unwrap(), 5, 64);
        let mut batch = RecvBatch::<1>::new();
        assert_eq!(batch.capacity(), 1);
        // Five buffers, one header: one datagram per call, five calls.
        assert_eq!(recv_all(&rx, &mut batch, 5, 5, from).await, 5);
        assert_drained(&rx, &mut batch);
    });
}

#[test]
fn a_batch_of_32_takes_32_datagrams_in_fewer_calls_than_datagrams() {
    run(async {
        let rx = UdpSocket::bind(LOCALHOST).await.unwrap();
        let from = send_from_std(rx.local_addr().unwrap(), 32, 64);
        let mut batch = RecvBatch::<32>::new();
        let calls = recv_all(&rx, &mut batch, 32, 32, from).await;
        // One datagram per call would take 32 calls.
        assert!(calls < 32, "{calls} calls for 32 datagrams");
        println!("32 datagrams in {calls} recv_many call(s)");
        assert_drained(&rx, &mut batch);
    });
}

#[test]
fn more_datagrams_than_the_batch_take_several_calls() {
    run(async {
        let rx = UdpSocket::bind(LOCALHOST).await.unwrap();
        let from = send_from_std(rx.local_addr().unwrap(), 100, 64);
        let mut batch = RecvBatch::<32>::new();
        // 64 buffers but 32 headers: at most 32 per call, so at least 4 calls.
        let calls = recv_all(&rx, &mut batch, 64, 100, from).await;
        assert!((4..100).contains(&calls), "{calls} calls for 100 datagrams");
        assert_drained(&rx, &mut batch);
    });
}

#[test]
fn partial_batches_fewer_buffers_or_fewer_datagrams() {
    run(async {
        let rx = UdpSocket::bind(LOCALHOST).await.unwrap();
        let to = rx.local_addr().unwrap();
        let mut batch = RecvBatch::<32>::new();
        // Fewer buffers than headers: at most 5 per call.
        let from = send_from_std(to, 32, 64);
        let calls = recv_all(&rx, &mut batch, 5, 32, from).await;
        assert!((7..32).contains(&calls), "{calls} calls");
        // Fewer datagrams than either: the call returns what is there.
        let from = send_from_std(to, 3, 64);
        let calls = recv_all(&rx, &mut batch, 32, 3, from).await;
        assert!(calls <= 3);
        assert_drained(&rx, &mut batch);
        // No buffers (or no headers): 0 at once, nothing consumed, no wait.
        let mut none: [[u8; 64]; 0] = [];
        assert_eq!(rx.recv_many(&mut batch, &mut none).await.unwrap(), 0);
        assert_eq!(rx.try_recv_many(&mut batch, &mut none).unwrap(), 0);
        let from = send_from_std(to, 1, 64);
        let mut one = [[0u8; 64]; 1];
        assert_eq!(
            rx.recv_many(&mut RecvBatch::<0>::new(), &mut one)
                .await
                .unwrap(),
            0
        );
        assert_eq!(rx.recv_many(&mut batch, &mut one).await.unwrap(), 1);
        assert_eq!(batch.get(0).unwrap().addr, from);
    });
}

#[test]
fn a_datagram_longer_than_its_buffer_is_truncated_and_flagged() {
    run(async {
        let rx = UdpSocket::bind(LOCALHOST).await.unwrap();
        let tx = std::net::UdpSocket::bind(LOCALHOST).unwrap();
        let to = rx.local_addr().unwrap();
        let (long, short, empty) = (datagram(1, 100), datagram(2, 16), datagram(3, 0));
        for d in [&long, &short, &empty, &long] {
            tx.send_to(d, to).unwrap();
        }
        // Buffers of 64, 64, 64 and 0 bytes.
        let mut slots = [[0u8; 64]; 3];
        let mut zero = [0u8; 0];
        let [a, b, c] = &mut slots;
        let mut bufs: [&mut [u8]; 4] = [a, b, c, &mut zero];
        let mut batch = RecvBatch::<4>::new();
        let mut metas = Vec::new();
        while metas.len() < 4 {
            let first = metas.len();
            let n = rx.recv_many(&mut batch, &mut bufs[first..]).await.unwrap();
            assert_eq!(batch.received(), n);
            for (i, meta) in batch.iter().enumerate() {
                let expected = [&long, &short, &empty, &long][first + i];
                assert_eq!(bufs[first + i][..meta.len], expected[..meta.len]);
                metas.push(meta);
            }
        }
        let lens: Vec<_> = metas.iter().map(|m| m.len).collect();
        assert_eq!(lens, [64, 16, 0, 0]);
        let truncated: Vec<_> = metas.iter().map(|m| m.truncated).collect();
        if cfg!(any(target_os = "linux", target_os = "android")) {
            assert_eq!(truncated, [true, false, false, true]);
        } else {
            assert_eq!(truncated, [false; 4]);
        }
        // The rest of a truncated datagram is gone: nothing more is queued.
        assert_drained(&rx, &mut batch);
        // The kernel writes nothing past a buffer: a canary right after it stays intact.
        tx.send_to(&long, to).unwrap();
        let mut area = [0xA5u8; 128];
        let head = &mut area[..64];
        let n = rx.recv_many(&mut batch, &mut [head]).await.unwrap();
        assert_eq!((n, batch.get(0).unwrap().len), (1, 64));
        assert_eq!(area[..64], long[..64]);
        assert!(area[64..].iter().all(|&b| b == 0xA5), "{:?}", &area[64..]);
    });
}

#[test]
fn recv_many_waits_for_the_first_datagram() {
    run(async {
        let rx = UdpSocket::bind(LOCALHOST).await.unwrap();
        let to = rx.local_addr().unwrap();
        let sender = spawn(async move {
            // Runs once the receiver below is waiting.
            let tx = UdpSocket::bind(LOCALHOST).await.unwrap();
            tx.send_to(&datagram(0, 64), to).await.unwrap();
            tx.local_addr().unwrap()
        });
        let mut batch = RecvBatch::<8>::new();
        let mut bufs = [[0u8; 64]; 8];
        assert_drained(&rx, &mut batch);
        let n = rx.recv_many(&mut batch, &mut bufs).await.unwrap();
        assert!(n >= 1);
        let from = sender.await.unwrap();
        assert_eq!(batch.get(0).unwrap().addr, from);
        assert_eq!(seq(&bufs[0]), 0);
    });
}

#[test]
fn poll_recv_many_and_try_recv_many() {
    run(async {
        let rx = UdpSocket::bind(LOCALHOST).await.unwrap();
        let to = rx.local_addr().unwrap();
        let mut batch = RecvBatch::<16>::new();
        let mut bufs = [[0u8; 64]; 16];
        assert_drained(&rx, &mut batch);
        let from = send_from_std(to, 10, 64);
        let mut got = 0;
        while got < 10 {
            let n = poll_fn(|cx| rx.poll_recv_many(cx, &mut batch, &mut bufs[got..]))
                .await
                .unwrap();
            for i in 0..n {
                assert_eq!(seq(&bufs[got + i]), got + i);
                assert_eq!(batch.get(i).unwrap().addr, from);
            }
            got += n;
        }
        // try_: what is queued, or WouldBlock; readiness then waits for the next event.
        let from = send_from_std(to, 10, 64);
        let mut got = 0;
        while got < 10 {
            rx.readable().await.unwrap();
            match rx.try_recv_many(&mut batch, &mut bufs) {
                Ok(n) => {
                    for (i, (buf, meta)) in bufs.iter().zip(batch.iter()).enumerate() {
                        assert_eq!((seq(buf), meta.addr), (got + i, from));
                    }
                    assert_eq!(batch.received(), n);
                    got += n;
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(e) => panic!("{e}"),
            }
        }
        assert_drained(&rx, &mut batch);
    });
}

#[test]
fn batches_mix_with_single_recv_from_in_order() {
    run(async {
        let rx = UdpSocket::bind(LOCALHOST).await.unwrap();
        let from = send_from_std(rx.local_addr().unwrap(), 40, 64);
        let mut batch = RecvBatch::<4>::new();
        let mut bufs = [[0u8; 64]; 4];
        let mut one = [0u8; 64];
        let mut next = 0;
        while next < 40 {
            if next % 3 == 0 {
                let (n, addr) = rx.recv_from(&mut one).await.unwrap();
                assert_eq!((n, addr, seq(&one)), (64, from, next));
                next += 1;
            } else {
                let n = rx.recv_many(&mut batch, &mut bufs).await.unwrap();
                for (i, buf) in bufs[..n].iter().enumerate() {
                    assert_eq!(seq(buf), next + i);
                }
                next += n;
            }
        }
        assert_eq!(next, 40);
        assert_drained(&rx, &mut batch);
    });
}

// ---- sending ---------------------------------------------------------------------------------

#[test]
fn send_many_to_gives_each_datagram_its_own_destination() {
    run(async {
        let tx = UdpSocket::bind(LOCALHOST).await.unwrap();
        let (a, b) = (
            UdpSocket::bind(LOCALHOST).await.unwrap(),
            UdpSocket::bind(LOCALHOST).await.unwrap(),
        );
        let (to_a, to_b) = (a.local_addr().unwrap(), b.local_addr().unwrap());
        // 50 datagrams, even ones to `a`, odd ones to `b`, 16 per call at most.
        let out: Vec<(Vec<u8>, SocketAddr)> = (0..50)
            .map(|i| (datagram(i, 64), if i % 2 == 0 { to_a } else { to_b }))
            .collect();
        let mut batch = SendBatch::<16>::new();
        assert_eq!(batch.capacity(), 16);
        let (mut sent, mut calls) = (0, 0);
        while sent < out.len() {
            let n = tx.send_many_to(&mut batch, &out[sent..]).await.unwrap();
            assert!((1..=16).contains(&n), "{n}");
            sent += n;
            calls += 1;
        }
        // At most 16 per call, and more than one per call (loopback never fills the send
        // buffer: a sent datagram stops counting against it on delivery).
        assert!((4..50).contains(&calls), "{calls} calls for 50 datagrams");
        let from = tx.local_addr().unwrap();
        let mut rb = RecvBatch::<32>::new();
        for (sock, first) in [(&a, 0), (&b, 1)] {
            let mut bufs = [[0u8; 64]; 32];
            let mut expect = first;
            while expect < 50 {
                let n = sock.recv_many(&mut rb, &mut bufs).await.unwrap();
                assert_eq!(rb.iter().len(), n);
                for (i, meta) in rb.iter().enumerate() {
                    assert_eq!((meta.len, meta.addr), (64, from));
                    assert_eq!(bufs[i][..], datagram(expect, 64)[..]);
                    expect += 2;
                }
            }
            assert_drained(sock, &mut rb);
        }
    });
}

#[test]
fn send_many_on_a_connected_socket_and_the_poll_and_try_forms() {
    run(async {
        let (a, b) = (
            UdpSocket::bind(LOCALHOST).await.unwrap(),
            UdpSocket::bind(LOCALHOST).await.unwrap(),
        );
        a.connect(b.local_addr().unwrap()).await.unwrap();
        let out: Vec<Vec<u8>> = (0..30).map(|i| datagram(i, 64)).collect();
        let mut batch = SendBatch::<8>::new();
        // send_many, then poll_send_many, then try_send_many, 10 datagrams each.
        let mut sent = 0;
        while sent < 10 {
            sent += a.send_many(&mut batch, &out[sent..10]).await.unwrap();
        }
        while sent < 20 {
            sent += poll_fn(|cx| a.poll_send_many(cx, &mut batch, &out[sent..20]))
                .await
                .unwrap();
        }
        while sent < 30 {
            a.writable().await.unwrap();
            match a.try_send_many(&mut batch, &out[sent..30]) {
                Ok(n) => sent += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(e) => panic!("{e}"),
            }
        }
        // And the addressed forms' poll_ and try_ variants, 5 datagrams each.
        let to = [(datagram(30, 64), b.local_addr().unwrap())];
        let more: Vec<_> = (30..40).map(|i| (datagram(i, 64), to[0].1)).collect();
        let mut sent = 0;
        while sent < 5 {
            sent += poll_fn(|cx| a.poll_send_many_to(cx, &mut batch, &more[sent..5]))
                .await
                .unwrap();
        }
        while sent < 10 {
            a.writable().await.unwrap();
            match a.try_send_many_to(&mut batch, &more[sent..10]) {
                Ok(n) => sent += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(e) => panic!("{e}"),
            }
        }
        // Nothing to send: 0 at once.
        let nothing: [Vec<u8>; 0] = [];
        assert_eq!(a.send_many(&mut batch, &nothing).await.unwrap(), 0);
        assert_eq!(a.try_send_many_to(&mut batch, &to[..0]).unwrap(), 0);
        assert_eq!(
            a.send_many(&mut SendBatch::<0>::new(), &out).await.unwrap(),
            0
        );
        let from = a.local_addr().unwrap();
        let mut rb = RecvBatch::<32>::new();
        recv_all(&b, &mut rb, 32, 40, from).await;
        assert_drained(&b, &mut rb);
    });
}

// ---- errors ----------------------------------------------------------------------------------

#[test]
fn send_many_without_a_peer_fails() {
    run(async {
        let s = UdpSocket::bind(LOCALHOST).await.unwrap();
        let mut batch = SendBatch::<4>::new();
        let err = s.send_many(&mut batch, &[b"nowhere"]).await.unwrap_err();
        if cfg!(target_os = "linux") {
            assert_eq!(err.raw_os_error(), Some(89), "EDESTADDRREQ expected: {err}");
        }
        // The socket still works.
        let to = s.local_addr().unwrap();
        assert_eq!(
            s.send_many_to(&mut batch, &[(b"self", to)]).await.unwrap(),
            1
        );
        let mut buf = [0u8; 16];
        assert_eq!(s.recv_from(&mut buf).await.unwrap(), (4, to));
    });
}

#[test]
fn a_failing_datagram_ends_the_call_and_its_error_comes_next() {
    run(async {
        let tx = UdpSocket::bind(LOCALHOST).await.unwrap();
        let rx = UdpSocket::bind(LOCALHOST).await.unwrap();
        let good = rx.local_addr().unwrap();
        // An IPv6 destination on an IPv4 socket: that datagram cannot be sent.
        let bad: SocketAddr = (Ipv6Addr::LOCALHOST, good.port()).into();
        let out = [
            (datagram(0, 64), good),
            (datagram(1, 64), good),
            (datagram(2, 64), bad),
            (datagram(3, 64), good),
        ];
        let mut batch = SendBatch::<8>::new();
        assert_eq!(tx.send_many_to(&mut batch, &out).await.unwrap(), 2);
        let err = tx.send_many_to(&mut batch, &out[2..]).await.unwrap_err();
        assert_ne!(err.kind(), ErrorKind::WouldBlock, "{err}");
        assert_eq!(tx.send_many_to(&mut batch, &out[3..]).await.unwrap(), 1);
        // Too large for UDP: an error too.
        let huge = [(vec![0u8; 70_000], good)];
        assert!(tx.send_many_to(&mut batch, &huge).await.is_err());
        // 0, 1 and 3 arrived.
        let mut bufs = [[0u8; 64]; 8];
        let mut rb = RecvBatch::<8>::new();
        let mut seqs = Vec::new();
        while seqs.len() < 3 {
            let n = rx.recv_many(&mut rb, &mut bufs).await.unwrap();
            seqs.extend(bufs[..n].iter().map(|b| seq(b)));
        }
        assert_eq!(seqs, [0, 1, 3]);
        assert_drained(&rx, &mut rb);
    });
}

#[test]
fn connected_recv_many_reports_refused_and_recovers() {
    run(async {
        let s = UdpSocket::bind(LOCALHOST).await.unwrap();
        let closed = {
            let gone = std::net::UdpSocket::bind(LOCALHOST).unwrap();
            gone.local_addr().unwrap()
        };
        s.connect(closed).await.unwrap();
        let mut sb = SendBatch::<4>::new();
        assert_eq!(s.send_many(&mut sb, &[b"anyone?"]).await.unwrap(), 1);
        let mut rb = RecvBatch::<4>::new();
        let mut bufs = [[0u8; 64]; 4];
        // Linux reports the ICMP port unreachable to the next call on a connected socket.
        let err = s.recv_many(&mut rb, &mut bufs).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionRefused, "{err}");
        assert_eq!(rb.received(), 0);
        assert_eq!(rb.get(0), None);
        assert_drained(&s, &mut rb);
        // Connected to a live peer, it receives only from that peer.
        let peer = UdpSocket::bind(LOCALHOST).await.unwrap();
        let other = UdpSocket::bind(LOCALHOST).await.unwrap();
        s.connect(peer.local_addr().unwrap()).await.unwrap();
        let to = s.local_addr().unwrap();
        other.send_to(b"stranger", to).await.unwrap();
        peer.send_to(&datagram(7, 64), to).await.unwrap();
        let n = s.recv_many(&mut rb, &mut bufs).await.unwrap();
        assert_eq!(n, 1);
        assert_eq!(rb.get(0).unwrap().addr, peer.local_addr().unwrap());
        assert_eq!(seq(&bufs[0]), 7);
    });
}

#[test]
fn batches_on_a_socket_outliving_its_runtime_fail_cleanly() {
    let sock = rt().block_on(async { UdpSocket::bind(LOCALHOST).await.unwrap() });
    let to = sock.local_addr().unwrap();
    let mut rb = RecvBatch::<4>::new();
    let mut sb = SendBatch::<4>::new();
    let mut bufs = [[0u8; 8]; 4];
    let gone = |e: io::Error| assert!(e.to_string().contains("shut down"), "{e}");
    gone(sock.try_recv_many(&mut rb, &mut bufs).unwrap_err());
    // Writable before the shutdown: the `try_` send still reaches the socket (tokio's
    // `try_io` rule); the waiting calls below fail.
    assert_eq!(sock.try_send_many_to(&mut sb, &[(b"x", to)]).unwrap(), 1);
    rt().block_on(async {
        gone(sock.recv_many(&mut rb, &mut bufs).await.unwrap_err());
        gone(sock.send_many_to(&mut sb, &[(b"x", to)]).await.unwrap_err());
        gone(sock.send_many(&mut sb, &[b"x"]).await.unwrap_err());
    });
}

#[test]
fn ipv6_loopback_batches_when_available() {
    run(async {
        let Ok(rx) = UdpSocket::bind("[::1]:0").await else {
            println!("no IPv6 loopback here: skipped");
            return;
        };
        let tx = UdpSocket::bind("[::1]:0").await.unwrap();
        let to = rx.local_addr().unwrap();
        let out: Vec<_> = (0..8).map(|i| (datagram(i, 64), to)).collect();
        let mut sb = SendBatch::<8>::new();
        let mut sent = 0;
        while sent < 8 {
            sent += tx.send_many_to(&mut sb, &out[sent..]).await.unwrap();
        }
        let mut rb = RecvBatch::<8>::new();
        recv_all(&rx, &mut rb, 8, 8, tx.local_addr().unwrap()).await;
    });
}

/// The size the module docs of `RecvBatch` state: about 110 bytes per datagram, no buffers.
#[cfg(all(target_os = "linux", target_pointer_width = "64"))]
#[test]
fn a_batch_of_32_is_a_few_kilobytes_of_headers() {
    let (recv, send) = (size_of::<RecvBatch<32>>(), size_of::<SendBatch<32>>());
    println!("RecvBatch<32>: {recv} bytes, SendBatch<32>: {send} bytes");
    assert!(recv <= 32 * 110 + 8 && send <= 32 * 110, "{recv}, {send}");
}
