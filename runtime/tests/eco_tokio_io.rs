//! Feature `tokio-io`: crates written against tokio's `AsyncRead` / `AsyncWrite` take a
//! tickslab socket as it is: tokio-util's `Framed<_, LengthDelimitedCodec>` (on the stream
//! and on its owned halves), tokio-tungstenite's WebSocket, tokio-rustls's TLS, hyper through
//! hyper-util's `TokioIo`, tokio's own `AsyncReadExt` / `AsyncWriteExt`. All on loopback, on one tickslab thread, each test bounded by a guard
//! that only detects hangs.
#![cfg(feature = "tokio-io")]

mod support;

use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;
use tokio_util::codec::{Framed, FramedRead, FramedWrite, LengthDelimitedCodec};

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

/// Frames of every size from 1 byte to 1 MiB (partial reads and writes, back-pressure).
fn frame(i: usize) -> Bytes {
    let len = match i % 4 {
        0 => 1,
        1 => 1 + i * 37 % 5000,
        2 => 64 * 1024 + i,
        _ => 1 << 20,
    };
    Bytes::from((0..len).map(|b| (b ^ i) as u8).collect::<Vec<u8>>())
}

/// Echoes frames until the peer closes; returns how many.
async fn echo_frames(stream: TcpStream) -> usize {
    let mut framed = Framed::new(stream, LengthDelimitedCodec::new());
    let mut n = 0;
    while let Some(f) = framed.next().await {
        framed.send(f.unwrap().freeze()).await.unwrap();
        n += 1;
    }
    n
}

#[test]
fn framed_length_delimited_echo_on_the_socket_itself() {
    run(async {
        let (addr, server) = serve_one(echo_frames).await;
        let stream = TcpStream::connect(addr).await.unwrap();
        let mut client = Framed::new(stream, LengthDelimitedCodec::new());
        for i in 0..40 {
            let msg = frame(i);
            client.send(msg.clone()).await.unwrap();
            let back = client.next().await.unwrap().unwrap();
            assert_eq!(back, msg, "frame {i}");
        }
        // Closing the sink shuts the write side down (FIN): the server sees the end.
        SinkExt::<Bytes>::close(&mut client).await.unwrap();
        assert!(
            client.next().await.is_none(),
            "the server closes after the FIN"
        );
        assert_eq!(server.await.unwrap(), 40);
    });
}

#[test]
fn framed_read_and_write_on_owned_halves_in_two_tasks() {
    run(async {
        let (addr, server) = serve_one(echo_frames).await;
        let (read, write) = TcpStream::connect(addr).await.unwrap().into_split();
        let writer = spawn(async move {
            let mut sink = FramedWrite::new(write, LengthDelimitedCodec::new());
            for i in 0..40 {
                sink.send(frame(i)).await.unwrap();
            }
            SinkExt::<Bytes>::close(&mut sink).await.unwrap(); // FIN through tokio's `poll_shutdown`
        });
        let mut frames = FramedRead::new(read, LengthDelimitedCodec::new());
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
fn framed_on_borrowed_halves() {
    run(async {
        let (addr, server) = serve_one(echo_frames).await;
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let (read, write) = stream.split();
        let mut sink = FramedWrite::new(write, LengthDelimitedCodec::new());
        let mut frames = FramedRead::new(read, LengthDelimitedCodec::new());
        for i in 0..8 {
            sink.send(frame(i)).await.unwrap();
            assert_eq!(frames.next().await.unwrap().unwrap(), frame(i));
        }
        SinkExt::<Bytes>::close(&mut sink).await.unwrap();
        assert!(frames.next().await.is_none());
        assert_eq!(server.await.unwrap(), 8);
    });
}

#[test]
fn a_frame_over_the_codec_limit_is_an_error_not_a_hang() {
    run(async {
        let (addr, server) = serve_one(|stream| async move {
            let codec = LengthDelimitedCodec::builder()
                .max_frame_length(1024)
                .new_codec();
            let mut framed = Framed::new(stream, codec);
            framed.next().await.unwrap().unwrap_err().to_string()
        })
        .await;
        let stream = TcpStream::connect(addr).await.unwrap();
        let mut client = Framed::new(stream, LengthDelimitedCodec::new());
        client.send(Bytes::from(vec![0u8; 4096])).await.unwrap();
        let err = server.await.unwrap();
        assert!(err.contains("frame size too big"), "{err}");
    });
}

#[test]
fn tokio_read_ext_reads_to_end_and_sees_end_of_stream() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    run(async {
        let (addr, server) = serve_one(|mut stream| async move {
            let mut got = Vec::new();
            stream.read_to_end(&mut got).await.unwrap();
            stream.write_all(&got).await.unwrap();
            stream.shutdown().await.unwrap();
            got.len()
        })
        .await;
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let data: Vec<u8> = (0..300_000u32).map(|i| i as u8).collect();
        stream.write_all(&data).await.unwrap();
        AsyncWriteExt::shutdown(&mut stream).await.unwrap();
        let mut back = Vec::new();
        stream.read_to_end(&mut back).await.unwrap();
        assert_eq!(back, data);
        assert_eq!(server.await.unwrap(), data.len());
        // At the end of stream, a read adds nothing to the buffer.
        let mut buf = [0u8; 8];
        assert_eq!(stream.read(&mut buf).await.unwrap(), 0);
    });
}

#[test]
fn a_reset_connection_is_an_error() {
    use tokio::io::AsyncWriteExt;
    run(async {
        let (addr, server) = serve_one(|stream| async move {
            // Closing with unread data in the receive buffer resets the connection (RST).
            stream.readable().await.unwrap();
            drop(stream);
        })
        .await;
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.write_all(b"unread").await.unwrap();
        server.await.unwrap();
        let chunk = vec![0u8; 64 * 1024];
        let mut failed = None;
        for _ in 0..64 {
            if let Err(e) = stream.write_all(&chunk).await {
                failed = Some(e);
                break;
            }
            tickslab_runtime::yield_now().await;
        }
        let e = failed.expect("writing to a reset connection fails");
        assert!(
            matches!(
                e.kind(),
                std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe
            ),
            "{e}"
        );
    });
}

#[test]
fn websocket_echo_with_tokio_tungstenite() {
    run(async {
        let (addr, server) = serve_one(|stream| async move {
            let mut ws = tokio_tungstenite::accept_async(stream).await.unwrap();
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
        let (mut ws, response) = tokio_tungstenite::client_async("ws://localhost/lobby", stream)
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
        // The close handshake completes: the stream ends.
        while let Some(m) = ws.next().await {
            assert!(matches!(m, Ok(Message::Close(_))), "{m:?}");
        }
        assert_eq!(server.await.unwrap(), 50);
    });
}

/// A self-signed certificate for "localhost": a TLS acceptor and a connector trusting it.
fn tls() -> (tokio_rustls::TlsAcceptor, tokio_rustls::TlsConnector) {
    use std::sync::Arc;

    use rustls::pki_types::{CertificateDer, PrivatePkcs8KeyDer};
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let key = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let cert = CertificateDer::from(key.cert);
    let private = PrivatePkcs8KeyDer::from(key.signing_key.serialize_der());
    let server = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], private.into())
        .unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert).unwrap();
    let client = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    (
        tokio_rustls::TlsAcceptor::from(Arc::new(server)),
        tokio_rustls::TlsConnector::from(Arc::new(client)),
    )
}

#[test]
fn tls_echo_with_tokio_rustls_on_the_socket_itself() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    run(async {
        let (acceptor, connector) = tls();
        let (addr, server) = serve_one(move |stream| async move {
            let mut tls = acceptor.accept(stream).await.unwrap();
            let mut got = Vec::new();
            tls.read_to_end(&mut got).await.unwrap();
            tls.write_all(&got).await.unwrap();
            tls.shutdown().await.unwrap();
            got.len()
        })
        .await;
        let stream = TcpStream::connect(addr).await.unwrap();
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        let mut tls = connector.connect(name, stream).await.unwrap();
        let data: Vec<u8> = (0..200_000u32).map(|i| (i * 7) as u8).collect();
        tls.write_all(&data).await.unwrap();
        tls.shutdown().await.unwrap(); // close_notify, then FIN
        let mut back = Vec::new();
        tls.read_to_end(&mut back).await.unwrap();
        assert_eq!(back, data);
        assert_eq!(server.await.unwrap(), data.len());
    });
}

#[test]
fn hyper_through_hyper_utils_tokio_io_adapter() {
    use http_body_util::{BodyExt, Full};
    use hyper_util::rt::TokioIo;
    run(async {
        let (addr, server) = serve_one(|stream| async move {
            let service = hyper::service::service_fn(
                |req: hyper::Request<hyper::body::Incoming>| async move {
                    let body = req.into_body().collect().await?.to_bytes();
                    Ok::<_, hyper::Error>(hyper::Response::new(Full::new(body)))
                },
            );
            hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
                .unwrap();
        })
        .await;
        let stream = TcpStream::connect(addr).await.unwrap();
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .unwrap();
        let conn = spawn(conn);
        for i in 0..20 {
            let body = Bytes::from(format!("asset {i}"));
            let req = hyper::Request::post("/")
                .header("host", "localhost")
                .body(Full::new(body.clone()))
                .unwrap();
            sender.ready().await.unwrap();
            let res = sender.send_request(req).await.unwrap();
            assert_eq!(res.into_body().collect().await.unwrap().to_bytes(), body);
        }
        drop(sender);
        conn.await.unwrap().unwrap();
        server.await.unwrap();
    });
}
