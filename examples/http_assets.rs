//! An HTTP/1 asset server and client on loopback, with hyper 1.x on tickslab and no glue:
//! the socket is `hyper::rt::Read + Write` itself, `tickslab::hyper::Timer` runs hyper's
//! header-read timeout, `tickslab::hyper::Executor` is there for builders that spawn.
//!
//! `cargo run --release --features hyper --example http_assets [-- --requests N]`
//!
//! The client fetches `N` assets (4 KiB each by default; 20,000 requests) over one
//! keep-alive connection, then prints requests per second and the heap allocations per
//! request after warm-up: twice, with hyper's header-read timeout on (our `Timer`) and off,
//! so the difference is what the timer costs. tickslab's own share of the I/O path is zero
//! (`runtime/tests/eco_alloc.rs` asserts it); the rest is hyper's (requests, header maps,
//! bodies) and the test program's.

use std::convert::Infallible;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};

use tickslab::alloc::counting::{AllocStats, CountingAlloc};
use tickslab::hyper::Timer;
use tickslab::net::{TcpListener, TcpStream};
use tickslab::{Runtime, spawn};

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc::system();

const ASSET: usize = 4096;
const WARMUP: usize = 500;

/// Serves `GET /asset/<name>`: the same 4 KiB for every name (a cheap clone of `Bytes`).
async fn asset(req: Request<Incoming>, data: Bytes) -> Result<Response<Full<Bytes>>, Infallible> {
    let status = if req.uri().path().starts_with("/asset/") {
        200
    } else {
        404
    };
    let mut res = Response::new(Full::new(if status == 200 { data } else { Bytes::new() }));
    *res.status_mut() = status.try_into().unwrap();
    Ok(res)
}

/// Accepts connections for ever, one task per connection.
async fn serve(listener: TcpListener, header_timeout: bool) {
    let data = Bytes::from(vec![b'x'; ASSET]);
    loop {
        let (stream, _) = listener.accept().await.expect("accept");
        stream.set_nodelay(true).expect("nodelay");
        let data = data.clone();
        spawn(async move {
            let mut builder = hyper::server::conn::http1::Builder::new();
            if header_timeout {
                builder
                    .timer(Timer)
                    .header_read_timeout(Duration::from_secs(10));
            } else {
                builder.header_read_timeout(None);
            }
            let service = service_fn(move |req| asset(req, data.clone()));
            if let Err(e) = builder.serve_connection(stream, service).await {
                eprintln!("server connection: {e}");
            }
        });
    }
}

/// What one run measured.
struct Run {
    requests: usize,
    elapsed: Duration,
    stats: AllocStats,
}

/// Fetches `requests` assets over one connection; measures after `WARMUP`.
async fn fetch(addr: SocketAddr, requests: usize) -> Run {
    let stream = TcpStream::connect(addr).await.expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let (mut sender, conn) = hyper::client::conn::http1::handshake(stream)
        .await
        .expect("handshake");
    spawn(async move {
        if let Err(e) = conn.await {
            eprintln!("client connection: {e}");
        }
    });
    let mut before = AllocStats::current_thread();
    let mut start = Instant::now();
    for i in 0..WARMUP + requests {
        if i == WARMUP {
            before = AllocStats::current_thread();
            start = Instant::now();
        }
        let req = Request::get("/asset/logo.png")
            .header("host", "assets.local")
            .body(Full::new(Bytes::new()))
            .expect("request");
        sender.ready().await.expect("ready");
        let res = sender.send_request(req).await.expect("response");
        assert_eq!(res.status(), 200);
        let body = res.into_body().collect().await.expect("body").to_bytes();
        assert_eq!(body.len(), ASSET);
    }
    Run {
        requests,
        elapsed: start.elapsed(),
        stats: AllocStats::current_thread().since(&before),
    }
}

fn run(requests: usize, header_timeout: bool) -> Run {
    let rt = Runtime::builder().slab_bounded::<1024>(64).build();
    rt.block_on(async {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        spawn(serve(listener, header_timeout));
        fetch(addr, requests).await
    })
}

fn main() {
    let mut requests = 20_000;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--requests" => {
                requests = args
                    .next()
                    .and_then(|n| n.parse().ok())
                    .expect("--requests N")
            }
            other => panic!("unknown argument {other:?} (try --requests N)"),
        }
    }
    println!(
        "HTTP/1 on loopback, one keep-alive connection, {ASSET} B assets, server and client \
         as tasks of one tickslab runtime"
    );
    let mut per_request = [0.0; 2];
    for (i, header_timeout) in [true, false].into_iter().enumerate() {
        let r = run(requests, header_timeout);
        let allocs = (r.stats.allocs + r.stats.reallocs) as f64 / r.requests as f64;
        per_request[i] = allocs;
        println!(
            "  header-read timeout {:>3}: {:>8.0} requests/s, {:.2} allocations per request \
             (client and server together; {})",
            if header_timeout { "on" } else { "off" },
            r.requests as f64 / r.elapsed.as_secs_f64(),
            allocs,
            r.stats,
        );
    }
    println!(
        "  attributable to tickslab: {:.2} per request, the boxed sleep hyper's `Timer` trait \
         asks for each request head (hyper drops its header timer after each head); the \
         socket reads and writes allocate nothing (runtime/tests/eco_alloc.rs)",
        per_request[0] - per_request[1]
    );
}
