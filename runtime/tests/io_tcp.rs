//! The io traits on TCP: `poll_read` into an uninitialized `ReadBuf` as tokio code does it,
//! vectored writes, and the halves, over loopback.
//!
//! Every test runs under a generous `timeout` that only detects hangs.

mod support;

use std::future::{Future, poll_fn};
use std::io::IoSlice;
use std::mem::MaybeUninit;
use std::net::Ipv4Addr;
use std::pin::Pin;
use std::time::Duration;

use tickslab_runtime::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tickslab_runtime::net::{TcpListener, TcpStream};
use tickslab_runtime::time::timeout;

use support::rt;

/// Only detects hangs.
const GUARD: Duration = Duration::from_secs(10);

fn run<F: Future>(f: F) -> F::Output {
    rt().block_on(async { timeout(GUARD, f).await.expect("the test hung (10 s guard)") })
}

/// A connected pair: (client, server side).
async fn pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let client = TcpStream::connect(addr).await.unwrap();
    let (server, _) = listener.accept().await.unwrap();
    (client, server)
}

/// Reads until `want` bytes came, through `poll_read` on one `ReadBuf` over
/// uninitialized memory: the shape of tokio code that reads into spare capacity.
async fn read_uninit<R: AsyncRead + Unpin>(r: &mut R, want: usize) -> Vec<u8> {
    let mut storage = vec![MaybeUninit::<u8>::uninit(); want + 16];
    let mut buf = ReadBuf::uninit(&mut storage);
    while buf.filled().len() < want {
        let before = buf.filled().len();
        poll_fn(|cx| Pin::new(&mut *r).poll_read(cx, &mut buf))
            .await
            .unwrap();
        assert!(buf.filled().len() > before, "early end of stream");
        // The stream initializes what it reads into, no more than the unfilled part.
        assert!(buf.initialized().len() >= buf.filled().len());
    }
    buf.filled().to_vec()
}

#[test]
fn tcp_reads_into_an_uninitialized_read_buf() {
    run(async {
        let (mut client, mut server) = pair().await;
        client.write_all(b"hello, uninit").await.unwrap();
        assert_eq!(read_uninit(&mut server, 13).await, b"hello, uninit");
        client.shutdown().await.unwrap();
        // End of stream: ready with nothing added.
        let mut storage = [MaybeUninit::<u8>::uninit(); 4];
        let mut buf = ReadBuf::uninit(&mut storage);
        poll_fn(|cx| Pin::new(&mut server).poll_read(cx, &mut buf))
            .await
            .unwrap();
        assert_eq!(buf.filled(), b"");
    });
}

#[test]
fn tcp_read_with_no_room_is_ready_and_reads_nothing() {
    run(async {
        let (mut client, mut server) = pair().await;
        client.write_all(b"x").await.unwrap();
        let mut empty: [u8; 0] = [];
        let mut buf = ReadBuf::new(&mut empty);
        poll_fn(|cx| Pin::new(&mut server).poll_read(cx, &mut buf))
            .await
            .unwrap();
        assert_eq!(buf.filled(), b"");
        let mut one = [0u8; 1];
        server.read_exact(&mut one).await.unwrap();
        assert_eq!(&one, b"x", "the byte was still there");
    });
}

#[test]
fn tcp_vectored_writes_on_the_stream_and_its_halves() {
    run(async {
        let (mut client, mut server) = pair().await;
        assert!(client.is_write_vectored());
        let bufs = [IoSlice::new(b"ab"), IoSlice::new(b""), IoSlice::new(b"cd")];
        let n = poll_fn(|cx| Pin::new(&mut client).poll_write_vectored(cx, &bufs))
            .await
            .unwrap();
        assert_eq!(n, 4, "loopback takes 4 bytes at once");
        let none = poll_fn(|cx| Pin::new(&mut client).poll_write_vectored(cx, &[]))
            .await
            .unwrap();
        assert_eq!(none, 0);
        {
            let (_, mut w) = client.split();
            assert!(w.is_write_vectored());
            let n = poll_fn(|cx| Pin::new(&mut w).poll_write_vectored(cx, &[IoSlice::new(b"e")]))
                .await
                .unwrap();
            assert_eq!(n, 1);
        }
        let (r, mut w) = client.into_split();
        let n = poll_fn(|cx| Pin::new(&mut w).poll_write_vectored(cx, &[IoSlice::new(b"f")]))
            .await
            .unwrap();
        assert_eq!(n, 1);
        drop((r, w));
        let mut got = [0u8; 6];
        server.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"abcdef");
        assert_eq!(server.read(&mut got).await.unwrap(), 0);
    });
}

#[test]
fn tcp_halves_read_through_read_buf() {
    run(async {
        let (mut client, server) = pair().await;
        let (mut r, _w) = server.into_split();
        client.write_all(b"owned").await.unwrap();
        assert_eq!(read_uninit(&mut r, 5).await, b"owned");
        let mut server = r.reunite(_w).unwrap();
        client.write_all(b"borrowed").await.unwrap();
        let (mut r, _) = server.split();
        assert_eq!(read_uninit(&mut r, 8).await, b"borrowed");
    });
}

/// futures-io's traits, natively on the stream and its halves, driven by futures-util's
/// helpers (the traits smol-ecosystem crates and futures codecs take).
#[test]
fn tcp_speaks_futures_io_natively() {
    use futures_util::io::{
        AsyncBufReadExt as _, AsyncReadExt as FutReadExt, AsyncWriteExt as FutWriteExt, BufReader,
    };
    run(async {
        let (mut client, server) = pair().await;
        FutWriteExt::write_all(&mut client, b"one\ntwo\n")
            .await
            .unwrap();
        FutWriteExt::flush(&mut client).await.unwrap();
        // futures-util's BufReader over the owned read half.
        let (r, mut w) = server.into_split();
        let mut reader = BufReader::new(r);
        let mut line = String::new();
        reader.read_line(&mut line).await.unwrap();
        reader.read_line(&mut line).await.unwrap();
        assert_eq!(line, "one\ntwo\n");
        FutWriteExt::write_all(&mut w, b"back").await.unwrap();
        // close = FIN: the peer reads end of stream, and dropping the half does not
        // shut down again.
        FutWriteExt::close(&mut w).await.unwrap();
        drop(w);
        let mut got = Vec::new();
        FutReadExt::read_to_end(&mut client, &mut got)
            .await
            .unwrap();
        assert_eq!(got, b"back");
        // Borrowed halves too.
        let (mut r, mut w) = client.split();
        FutWriteExt::write_all(&mut w, b"x").await.unwrap();
        FutWriteExt::close(&mut w).await.unwrap();
        let mut one = [0u8; 1];
        assert_eq!(FutReadExt::read(&mut r, &mut one).await.unwrap(), 0);
        let mut server = reader.into_inner();
        let mut x = [0u8; 1];
        FutReadExt::read_exact(&mut server, &mut x).await.unwrap();
        assert_eq!(&x, b"x");
        assert_eq!(FutReadExt::read(&mut server, &mut x).await.unwrap(), 0);
    });
}

/// As tokio on epoll: a read that got less than it asked for emptied the socket, so the
/// stream waits for the next edge instead of paying a `recv` for its `WouldBlock`; the
/// edge of data sent afterwards still wakes the next read, and a short read that ends with
/// the peer's FIN is followed by end of stream, not a wait.
#[test]
fn a_short_read_waits_for_the_next_edge_and_end_of_stream_still_comes() {
    use std::io::{ErrorKind, Write};
    run(async {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
        let mut peer = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut buf = [0u8; 64];

        peer.write_all(b"hello").unwrap();
        let n = stream.read(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"hello");
        // On loopback the bytes are in our receive buffer once `write_all` returns; the
        // short read cleared readiness, so `try_read` waits for the driver to see their edge.
        peer.write_all(b"world").unwrap();
        let err = stream.try_read(&mut buf).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::WouldBlock);
        let n = stream.read(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"world");

        peer.write_all(b"bye").unwrap();
        peer.shutdown(std::net::Shutdown::Write).unwrap();
        let mut got = Vec::new();
        loop {
            let n = stream.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
        assert_eq!(got, b"bye");
    });
}

/// As tokio on epoll: a write that placed less than it had filled the send buffer, so the
/// stream waits for the edge of freed space; once the peer drains, that edge lets the rest
/// through, byte for byte.
#[test]
fn a_short_write_waits_for_the_edge_of_freed_space() {
    use std::io::{ErrorKind, Read};
    run(async {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
        let mut peer = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (mut stream, _) = listener.accept().await.unwrap();
        let data: Vec<u8> = (0..64 << 20).map(|i| (i % 251) as u8).collect();
        // Far more than loopback's buffers hold: this write is short.
        let sent = stream.write(&data).await.unwrap();
        assert!(0 < sent && sent < data.len(), "sent {sent}");
        // The peer drains some of it: space frees, but until the driver sees that edge the
        // stream does not try again.
        let mut drained = vec![0u8; sent.min(1 << 20)];
        peer.read_exact(&mut drained).unwrap();
        assert_eq!(drained[..], data[..drained.len()]);
        let err = stream.try_write(&data[sent..]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::WouldBlock);

        // The rest goes through while a thread drains; every byte arrives in order.
        let reader = std::thread::spawn(move || {
            let mut all = drained;
            peer.read_to_end(&mut all).unwrap();
            all
        });
        stream.write_all(&data[sent..]).await.unwrap();
        stream.shutdown().await.unwrap();
        drop(stream);
        let all = reader.join().unwrap();
        assert_eq!(all.len(), data.len());
        assert!(all == data);
    });
}
