//! A QUIC echo on loopback with quinn 0.11 on tickslab: both endpoints are tasks of one
//! tickslab runtime, through `tickslab::quinn::Runtime`, in safe code, with no glue.
//!
//! `cargo run --release --features quinn --example quic_echo [-- --messages N] [--tokio]`
//!
//! The client sends `N` 64-byte messages (50,000 by default) one at a time on one
//! bidirectional stream and waits for each echo, then prints round trips per second and the
//! heap allocations per message after warm-up. Those are quinn's (packet buffers, frames,
//! crypto); what quinn calls on tickslab per datagram (send, receive, poller, timer) allocates
//! nothing, which `runtime/tests/eco_alloc.rs` asserts. `--tokio` runs the same program on
//! a tokio current-thread runtime with quinn's own `TokioRuntime`, for comparison.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use quinn::{ClientConfig, Endpoint, EndpointConfig, ServerConfig};
use rustls::pki_types::{CertificateDer, PrivatePkcs8KeyDer};

use tickslab::Runtime;
use tickslab::alloc::counting::{AllocStats, CountingAlloc};

/// Which runtime runs the endpoints (and the example's own tasks).
#[derive(Clone, Copy, PartialEq)]
enum On {
    Tickslab,
    Tokio,
}

impl On {
    fn quinn(self) -> Arc<dyn quinn::Runtime> {
        match self {
            On::Tickslab => Arc::new(tickslab::quinn::Runtime::new()),
            On::Tokio => Arc::new(quinn::TokioRuntime),
        }
    }

    fn spawn(self, f: impl std::future::Future<Output = ()> + Send + 'static) {
        match self {
            On::Tickslab => drop(tickslab::spawn(f)),
            On::Tokio => drop(tokio::spawn(f)),
        }
    }
}

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc::system();

const MSG: usize = 64;
const WARMUP: usize = 1_000;

/// A self-signed certificate for "localhost": the server's config, and a client config
/// that trusts it.
fn configs() -> (ServerConfig, ClientConfig) {
    let key = rcgen::generate_simple_self_signed(vec!["localhost".into()]).expect("rcgen");
    let cert = CertificateDer::from(key.cert);
    let private = PrivatePkcs8KeyDer::from(key.signing_key.serialize_der());
    let server = ServerConfig::with_single_cert(vec![cert.clone()], private.into()).expect("cert");
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert).expect("root");
    let client = ClientConfig::with_root_certificates(Arc::new(roots)).expect("roots");
    (server, client)
}

fn endpoint(on: On, server: Option<ServerConfig>) -> Endpoint {
    let socket = std::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
    Endpoint::new(EndpointConfig::default(), server, socket, on.quinn()).expect("endpoint")
}

/// Echoes every message of every bidirectional stream of every connection.
async fn serve(on: On, endpoint: Endpoint) {
    while let Some(incoming) = endpoint.accept().await {
        on.spawn(async move {
            let Ok(conn) = incoming.await else { return };
            while let Ok((mut send, mut recv)) = conn.accept_bi().await {
                on.spawn(async move {
                    let mut msg = [0u8; MSG];
                    while recv.read_exact(&mut msg).await.is_ok() {
                        if send.write_all(&msg).await.is_err() {
                            return;
                        }
                    }
                    let _ = send.finish();
                });
            }
        });
    }
}

async fn client(
    on: On,
    mut endpoint: Endpoint,
    client: ClientConfig,
    addr: SocketAddr,
    messages: usize,
) {
    endpoint.set_default_client_config(client);
    let conn = endpoint
        .connect(addr, "localhost")
        .expect("connect")
        .await
        .expect("handshake");
    let (mut send, mut recv) = conn.open_bi().await.expect("stream");
    let mut before = AllocStats::current_thread();
    let mut start = Instant::now();
    for i in 0..WARMUP + messages {
        if i == WARMUP {
            before = AllocStats::current_thread();
            start = Instant::now();
        }
        let mut msg = [i as u8; MSG];
        msg[..8].copy_from_slice(&(i as u64).to_le_bytes());
        send.write_all(&msg).await.expect("send");
        let mut back = [0u8; MSG];
        recv.read_exact(&mut back).await.expect("echo");
        assert_eq!(back, msg);
    }
    let elapsed = start.elapsed();
    let stats = AllocStats::current_thread().since(&before);
    let name = match on {
        On::Tickslab => "tickslab (tickslab::quinn::Runtime)",
        On::Tokio => "tokio current-thread (quinn::TokioRuntime)",
    };
    println!(
        "QUIC echo on loopback (quinn 0.11, rustls/ring), both endpoints on one {name} \
         runtime: {messages} round trips of {MSG} B"
    );
    println!(
        "  {:.0} round trips/s ({:.1} us each), {:.2} allocations per message \
         (client and server together, all quinn's; {stats})",
        messages as f64 / elapsed.as_secs_f64(),
        elapsed.as_secs_f64() * 1e6 / messages as f64,
        (stats.allocs + stats.reallocs) as f64 / messages as f64,
    );
    if on == On::Tickslab {
        println!(
            "  attributable to tickslab: 0 (runtime/tests/eco_alloc.rs: what quinn calls on \
             tickslab per datagram allocates nothing)"
        );
    }
    send.finish().expect("finish");
    conn.close(0u32.into(), b"done");
    endpoint.wait_idle().await;
}

fn main() {
    let mut messages = 50_000;
    let mut on = On::Tickslab;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--messages" => {
                messages = args
                    .next()
                    .and_then(|n| n.parse().ok())
                    .expect("--messages N")
            }
            "--tokio" => on = On::Tokio,
            other => panic!("unknown argument {other:?} (try --messages N, --tokio)"),
        }
    }
    let (server_config, client_config) = configs();
    let run = async move {
        let server = endpoint(on, Some(server_config));
        let addr = server.local_addr().expect("addr");
        on.spawn(serve(on, server));
        client(on, endpoint(on, None), client_config, addr, messages).await;
    };
    match on {
        On::Tickslab => Runtime::builder()
            .slab_bounded::<512>(256)
            .build()
            .block_on(run),
        On::Tokio => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio")
            .block_on(run),
    }
}
