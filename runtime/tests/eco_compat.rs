//! With no tickslab feature at all: the crates written against tokio's traits reach a
//! tickslab socket through tokio-util's compat adapter over tickslab's native futures-io
//! impls (`stream.compat()`), and the crates written against futures-io take it as it is:
//! tokio-util's `Framed<_, LengthDelimitedCodec>` through `.compat()` (stream and owned
//! halves), async-tungstenite's WebSocket echo. On loopback, each test bounded by a guard
//! that only detects hangs.

mod support;

use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use async_tungstenite::tungstenite::Message;
use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use tokio_util::codec::{Framed, FramedRead, FramedWrite, LengthDelimitedCodec};
use tokio_util::compat::{FuturesAsyncReadCompatExt, FuturesAsyncWriteCompatExt};

use tickslab_runtime::net::{TcpListener, TcpStream};
use tickslab_runtime::time::timeout;
use tickslab_runtime::{JoinHandle, spawn};

use support::rt;

/// Only detects hangs.
const GUARD: Duration = Duration::from_secs(30);
const LOCALHOST: (Ipv4Addr, u16) = (Ipv4Addr::LOCALHOST, 0);

fn run<F: Future>(f: F) -> F::Output {
    rt().block_on(async { timeout(GUARD, f).await.expect("the test hung (30 s guard)") })
}

/// A listener and a task that accepts one connection and runs `serve` on it.
async fn serve_one<F, Fut>(serve: F) -> (SocketAddr, JoinHandle<Fut::Output>)
where
    F: FnOnce(TcpStream) -> Fut + 'static,
    Fut: Future + 'static,
{
    let listener = TcpListener::bind(LOCALHOST).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        serve(stream).await
    });
    (addr, task)
}

/// Frames from 1 byte to 1 MiB (partial reads and writes, back-pressure).
fn frame(i: usize) -> Bytes {
    let len = match i % 4 {
        0 => 1,
        1 => 1 + i * 37 % 5000,
        2 => 64 * 1024 + i,
        _ => 1 << 20,
    };
    Bytes::from((0..len).map(|b| (b ^ i) as u8).collect::<Vec<u8>>())
}

/// Echoes frames (through `.compat()`) until the peer closes; returns how many.
async fn echo_frames(stream: TcpStream) -> usize {
    let mut framed = Framed::new(stream.compat(), LengthDelimitedCodec::new());
    let mut n = 0;
    while let Some(f) = framed.next().await {
        framed.send(f.unwrap().freeze()).await.unwrap();
        n += 1;
    }
    n
}

#[test]
fn framed_length_delimited_echo_through_compat() {
    run(async {
        let (addr, server) = serve_one(echo_frames).await;
        let stream = TcpStream::connect(addr).await.unwrap();
        let mut client = Framed::new(stream.compat(), LengthDelimitedCodec::new());
        for i in 0..40 {
            let msg = frame(i);
            client.send(msg.clone()).await.unwrap();
            assert_eq!(client.next().await.unwrap().unwrap(), msg, "frame {i}");
        }
        // Closing the sink shuts the write side down (futures-io's `poll_close`: FIN).
        SinkExt::<Bytes>::close(&mut client).await.unwrap();
        assert!(
            client.next().await.is_none(),
            "the server closes after the FIN"
        );
        assert_eq!(server.await.unwrap(), 40);
    });
}

#[test]
fn framed_read_and_write_on_owned_halves_through_compat() {
    run(async {
        let (addr, server) = serve_one(echo_frames).await;
        let (read, write) = TcpStream::connect(addr).await.unwrap().into_split();
        let writer = spawn(async move {
            let mut sink = FramedWrite::new(write.compat_write(), LengthDelimitedCodec::new());
            for i in 0..40 {
                sink.send(frame(i)).await.unwrap();
            }
            SinkExt::<Bytes>::close(&mut sink).await.unwrap();
        });
        let mut frames = FramedRead::new(read.compat(), LengthDelimitedCodec::new());
        let mut i = 0;
        while let Some(f) = frames.next().await {
            assert_eq!(f.unwrap(), frame(i), "frame {i}");
            i += 1;
        }
        assert_eq!(i, 40);
        writer.await.unwrap();
        assert_eq!(server.await.unwrap(), 40);
    });
}

#[test]
fn a_frame_over_the_codec_limit_is_an_error_through_compat() {
    run(async {
        let (addr, server) = serve_one(|stream| async move {
            let codec = LengthDelimitedCodec::builder()
                .max_frame_length(1024)
                .new_codec();
            let mut framed = Framed::new(stream.compat(), codec);
            framed.next().await.unwrap().unwrap_err().to_string()
        })
        .await;
        let stream = TcpStream::connect(addr).await.unwrap();
        let mut client = Framed::new(stream.compat(), LengthDelimitedCodec::new());
        client.send(Bytes::from(vec![0u8; 4096])).await.unwrap();
        let err = server.await.unwrap();
        assert!(err.contains("frame size too big"), "{err}");
    });
}

#[test]
fn websocket_echo_with_async_tungstenite_over_futures_io() {
    run(async {
        let (addr, server) = serve_one(|stream| async move {
            let mut ws = async_tungstenite::accept_async(stream).await.unwrap();
            let mut n = 0;
            while let Some(msg) = ws.next().await {
                // tungstenite answers a close itself; the stream then ends.
                if let m @ (Message::Text(_) | Message::Binary(_)) = msg.unwrap() {
                    ws.send(m).await.unwrap();
                    n += 1;
                }
            }
            n
        })
        .await;
        let stream = TcpStream::connect(addr).await.unwrap();
        let (mut ws, response) = async_tungstenite::client_async("ws://localhost/lobby", stream)
            .await
            .unwrap();
        assert_eq!(response.status(), 101);
        for i in 0..50 {
            let msg = if i % 2 == 0 {
                Message::text(format!("hello {i}"))
            } else {
                Message::binary(frame(i % 3).to_vec())
            };
            ws.send(msg.clone()).await.unwrap();
            assert_eq!(ws.next().await.unwrap().unwrap(), msg, "message {i}");
        }
        ws.close(None).await.unwrap();
        while let Some(m) = ws.next().await {
            assert!(matches!(m, Ok(Message::Close(_))), "{m:?}");
        }
        assert_eq!(server.await.unwrap(), 50);
    });
}

#[test]
fn a_futures_io_line_codec_on_the_stream_itself() {
    use futures_util::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    run(async {
        let (addr, server) = serve_one(|stream| async move {
            // futures-util's BufReader and `lines()` over the native futures-io impl.
            let (read, mut write) = stream.into_split();
            let mut lines = BufReader::new(read).lines();
            let mut n = 0;
            while let Some(line) = lines.next().await {
                let line = line.unwrap();
                let reply = format!("{}\n", line.to_uppercase());
                write.write_all(reply.as_bytes()).await.unwrap();
                n += 1;
            }
            n
        })
        .await;
        let stream = TcpStream::connect(addr).await.unwrap();
        let (read, mut write) = stream.into_split();
        let mut lines = BufReader::new(read).lines();
        for i in 0..100 {
            write
                .write_all(format!("player {i} joined\n").as_bytes())
                .await
                .unwrap();
            let back = lines.next().await.unwrap().unwrap();
            assert_eq!(back, format!("PLAYER {i} JOINED"));
        }
        write.close().await.unwrap(); // FIN: the server's `lines()` ends
        assert!(lines.next().await.is_none());
        assert_eq!(server.await.unwrap(), 100);
    });
}

#[test]
fn futures_util_combinators_drive_tickslab_futures() {
    use futures_util::future::FutureExt;
    use futures_util::stream::FuturesUnordered;
    use tickslab_runtime::time::sleep;
    run(async {
        // join!: both run concurrently on the one task.
        let (a, b) = futures_util::join!(
            async {
                sleep(Duration::from_millis(2)).await;
                1
            },
            spawn(async { 2 })
        );
        assert_eq!((a, b.unwrap()), (1, 2));

        // select!: the first to finish wins, the other is dropped (its timer cancelled).
        let mut short = sleep(Duration::from_millis(1)).fuse();
        let mut long = sleep(Duration::from_secs(3600)).fuse();
        let winner = futures_util::select! {
            () = short => "short",
            () = long => "long",
        };
        assert_eq!(winner, "short");

        // FuturesUnordered of join handles: completion order, not spawn order.
        let mut all: FuturesUnordered<_> = (0..10u64)
            .map(|i| {
                spawn(async move {
                    sleep(Duration::from_millis(10 - i)).await;
                    i
                })
            })
            .collect();
        let mut done = Vec::new();
        while let Some(r) = all.next().await {
            done.push(r.unwrap());
        }
        done.sort_unstable();
        assert_eq!(done, (0..10).collect::<Vec<_>>());
    });
}

#[test]
fn sockets_expose_their_descriptors_for_options_tickslab_does_not_wrap() {
    use std::os::fd::{AsFd, AsRawFd};
    use tickslab_runtime::net::UdpSocket;
    run(async {
        let listener = TcpListener::bind(LOCALHOST).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let stream = TcpStream::connect(addr).await.unwrap();
        let udp = UdpSocket::bind(LOCALHOST).await.unwrap();
        // The descriptor is the socket's own: a duplicate of it reports the same address.
        let dup = |fd: std::os::fd::BorrowedFd<'_>| fd.try_clone_to_owned().unwrap();
        let l = std::net::TcpListener::from(dup(listener.as_fd()));
        assert_eq!(l.local_addr().unwrap(), addr);
        let s = std::net::TcpStream::from(dup(stream.as_fd()));
        assert_eq!(s.local_addr().unwrap(), stream.local_addr().unwrap());
        let u = std::net::UdpSocket::from(dup(udp.as_fd()));
        assert_eq!(u.local_addr().unwrap(), udp.local_addr().unwrap());
        assert_eq!(udp.as_raw_fd(), udp.as_fd().as_raw_fd());
        assert_ne!(stream.as_raw_fd(), listener.as_raw_fd());
    });
}
