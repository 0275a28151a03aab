//! Feature `quinn`: quinn 0.11 endpoints on the tickslab thread through
//! `tickslab::quinn::Runtime`: QUIC echo on loopback (rustls with the `ring` provider, an
//! rcgen self-signed certificate), many streams and datagrams; connects from another thread
//! through `Runtime::with_handle`; and the thread rule of the timers and sockets handed to
//! quinn. Each test is bounded by a guard that only detects hangs.
#![cfg(feature = "quinn")]

mod support;

use std::future::Future;
use std::io::IoSliceMut;
use std::net::{Ipv4Addr, SocketAddr};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use quinn::udp::{RecvMeta, Transmit};
use quinn::{ClientConfig, Endpoint, EndpointConfig, Runtime as _, ServerConfig};
use rustls::pki_types::{CertificateDer, PrivatePkcs8KeyDer};

use tickslab_runtime::quinn::Runtime;
use tickslab_runtime::time::timeout;
use tickslab_runtime::{JoinHandle, spawn};

use support::rt;

/// Only detects hangs.
const GUARD: Duration = Duration::from_secs(30);
const LOCALHOST: (Ipv4Addr, u16) = (Ipv4Addr::LOCALHOST, 0);

fn run<F: Future>(f: F) -> F::Output {
    rt().block_on(async { timeout(GUARD, f).await.expect("the test hung (30 s guard)") })
}

/// A self-signed certificate for "localhost": the server's config and a client config
/// that trusts it.
fn configs() -> (ServerConfig, ClientConfig) {
    let key = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let cert = CertificateDer::from(key.cert);
    let private = PrivatePkcs8KeyDer::from(key.signing_key.serialize_der());
    let mut server = ServerConfig::with_single_cert(vec![cert.clone()], private.into()).unwrap();
    let mut transport = quinn::TransportConfig::default();
    transport.datagram_receive_buffer_size(Some(1 << 20));
    server.transport_config(Arc::new(transport));
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert).unwrap();
    let client = ClientConfig::with_root_certificates(Arc::new(roots)).unwrap();
    (server, client)
}

fn udp() -> std::net::UdpSocket {
    std::net::UdpSocket::bind(LOCALHOST).unwrap()
}

/// A server endpoint that echoes every bidirectional stream (message by message, in 64-byte
/// messages) and every datagram; returns its address and the accept task.
fn echo_server(server: ServerConfig) -> (SocketAddr, JoinHandle<()>) {
    let endpoint = Endpoint::new(
        EndpointConfig::default(),
        Some(server),
        udp(),
        Arc::new(Runtime::new()),
    )
    .unwrap();
    let addr = endpoint.local_addr().unwrap();
    let task = spawn(async move {
        while let Some(incoming) = endpoint.accept().await {
            spawn(async move {
                let conn = incoming.await.unwrap();
                let c = conn.clone();
                spawn(async move {
                    while let Ok(d) = c.read_datagram().await {
                        c.send_datagram(d).unwrap();
                    }
                });
                while let Ok((mut send, mut recv)) = conn.accept_bi().await {
                    spawn(async move {
                        let mut msg = [0u8; 64];
                        while recv.read_exact(&mut msg).await.is_ok() {
                            send.write_all(&msg).await.unwrap();
                        }
                        let _ = send.finish();
                    });
                }
            });
        }
    });
    (addr, task)
}

fn client_endpoint(client: ClientConfig, runtime: Runtime) -> Endpoint {
    let mut endpoint =
        Endpoint::new(EndpointConfig::default(), None, udp(), Arc::new(runtime)).unwrap();
    endpoint.set_default_client_config(client);
    endpoint
}

fn message(i: usize) -> [u8; 64] {
    let mut m = [i as u8; 64];
    m[..8].copy_from_slice(&(i as u64).to_le_bytes());
    m
}

#[test]
fn quic_echo_round_trips_on_loopback() {
    run(async {
        let (server, client) = configs();
        let (addr, _server) = echo_server(server);
        let endpoint = client_endpoint(client, Runtime::new());
        let conn = endpoint.connect(addr, "localhost").unwrap().await.unwrap();
        let (mut send, mut recv) = conn.open_bi().await.unwrap();
        for i in 0..500 {
            send.write_all(&message(i)).await.unwrap();
            let mut back = [0u8; 64];
            recv.read_exact(&mut back).await.unwrap();
            assert_eq!(back, message(i), "message {i}");
        }
        send.finish().unwrap();
        assert!(
            recv.read_to_end(64).await.unwrap().is_empty(),
            "the echo ends"
        );

        // Datagrams too.
        for i in 0..50u8 {
            conn.send_datagram(vec![i; 100].into()).unwrap();
            assert_eq!(&conn.read_datagram().await.unwrap()[..], &[i; 100][..]);
        }
        conn.close(0u32.into(), b"done");
        endpoint.wait_idle().await;
    });
}

#[test]
fn many_streams_at_once_on_one_connection() {
    run(async {
        let (server, client) = configs();
        let (addr, _server) = echo_server(server);
        let endpoint = client_endpoint(client, Runtime::new());
        let conn = endpoint.connect(addr, "localhost").unwrap().await.unwrap();
        let streams: Vec<_> = (0..32)
            .map(|s| {
                let conn = conn.clone();
                spawn(async move {
                    let (mut send, mut recv) = conn.open_bi().await.unwrap();
                    for i in 0..20 {
                        send.write_all(&message(s * 1000 + i)).await.unwrap();
                        let mut back = [0u8; 64];
                        recv.read_exact(&mut back).await.unwrap();
                        assert_eq!(back, message(s * 1000 + i));
                    }
                })
            })
            .collect();
        for s in streams {
            s.await.unwrap();
        }
    });
}

#[test]
fn connect_from_another_thread_through_the_handle() {
    let rt = rt();
    let handle = rt.handle();
    rt.block_on(async move {
        let (server, client) = configs();
        let (addr, _server) = echo_server(server);
        let endpoint = client_endpoint(client, Runtime::with_handle(handle));
        // `connect` spawns quinn's connection driver from that thread: it goes through the
        // handle to this runtime.
        let e = endpoint.clone();
        let connecting = std::thread::spawn(move || e.connect(addr, "localhost").unwrap())
            .join()
            .unwrap();
        let conn = timeout(GUARD, connecting).await.unwrap().unwrap();
        let (mut send, mut recv) = conn.open_bi().await.unwrap();
        send.write_all(&message(7)).await.unwrap();
        let mut back = [0u8; 64];
        recv.read_exact(&mut back).await.unwrap();
        assert_eq!(back, message(7));
    });
}

#[test]
fn without_a_handle_a_spawn_off_the_runtime_panics_saying_so() {
    let err = catch_unwind(|| Runtime::new().spawn(Box::pin(async {}))).unwrap_err();
    let msg = err.downcast_ref::<&str>().copied().unwrap_or_default();
    assert!(msg.contains("outside a tickslab runtime"), "{msg}");
}

#[test]
fn an_endpoint_made_outside_a_runtime_is_an_error() {
    let err = Endpoint::new(
        EndpointConfig::default(),
        None,
        udp(),
        Arc::new(Runtime::new()),
    )
    .unwrap_err();
    assert!(err.to_string().contains("runtime"), "{err}");
}

#[test]
fn sockets_and_timers_used_on_another_thread_fail_loudly() {
    run(async {
        let runtime = Runtime::new();
        let a = runtime.wrap_udp_socket(udp()).unwrap();
        let b = udp();
        let to = b.local_addr().unwrap();
        let transmit = move |contents: &'static [u8]| Transmit {
            destination: to,
            ecn: None,
            contents,
            segment_size: None,
            src_ip: None,
        };
        // quinn-udp's offloads, as the kernel offers them (informational).
        println!(
            "GSO segments {}, GRO segments {}, may fragment {}",
            a.max_transmit_segments(),
            a.max_receive_segments(),
            a.may_fragment()
        );
        // A fresh socket's readiness is not known yet: quinn's way, wait on the poller.
        let mut poller = a.clone().create_io_poller();
        std::future::poll_fn(|cx| poller.as_mut().poll_writable(cx))
            .await
            .unwrap();
        a.try_send(&transmit(b"here")).unwrap();
        let mut buf = [0u8; 8];
        assert_eq!(b.recv(&mut buf).unwrap(), 4);

        // Another thread: an io::Error naming the rule, from send and receive alike.
        let a2 = a.clone();
        let (send, recv) = std::thread::spawn(move || {
            let send = a2.try_send(&transmit(b"there")).unwrap_err();
            let mut buf = [0u8; 64];
            let mut bufs = [IoSliceMut::new(&mut buf)];
            let mut meta = [RecvMeta::default()];
            let recv = match a2.poll_recv(
                &mut Context::from_waker(Waker::noop()),
                &mut bufs,
                &mut meta,
            ) {
                Poll::Ready(Err(e)) => e,
                other => panic!("{other:?}"),
            };
            (send.to_string(), recv.to_string())
        })
        .join()
        .unwrap();
        assert!(send.contains("thread other than"), "{send}");
        assert!(recv.contains("thread other than"), "{recv}");
        // The address needs no thread.
        assert!(a.local_addr().unwrap().ip().is_loopback());

        // A timer polled there panics, and leaks rather than touch the wheel from there.
        let mut timer = runtime.new_timer(Instant::now() + Duration::from_secs(3600));
        assert!(
            timer
                .as_mut()
                .poll(&mut Context::from_waker(Waker::noop()))
                .is_pending()
        );
        let err = std::thread::spawn(move || {
            let err = catch_unwind(AssertUnwindSafe(|| {
                timer.as_mut().poll(&mut Context::from_waker(Waker::noop()))
            }))
            .unwrap_err();
            std::mem::forget(timer); // dropping it here would panic as well
            err
        })
        .join()
        .unwrap();
        let msg = err.downcast_ref::<String>().cloned().unwrap_or_default();
        assert!(msg.contains("thread other than"), "{msg}");

        // Here all still works: a timer fires, the socket sends.
        let mut timer = runtime.new_timer(Instant::now());
        std::future::poll_fn(|cx| timer.as_mut().poll(cx)).await;
        a.try_send(&transmit(b"again")).unwrap();

        // The socket's last reference dropped on another thread: a panic naming it, and the
        // socket leaks rather than leave the reactor from there.
        drop(poller);
        let err = std::thread::spawn(move || drop(a)).join().unwrap_err();
        let msg = err.downcast_ref::<String>().cloned().unwrap_or_default();
        assert!(msg.contains("socket dropped on a thread other"), "{msg}");
        let mut timer = runtime.new_timer(Instant::now());
        std::future::poll_fn(|cx| timer.as_mut().poll(cx)).await;
    });
}
