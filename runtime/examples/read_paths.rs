//! What each way of reading a tickslab `TcpStream` costs: a 64-byte TCP ping-pong whose
//! client reads the echo through one of the paths, the rest (the server's echo, the client's
//! write) the same in every run, so the differences between paths are what each costs per
//! read.
//!
//! ```sh
//! cargo run -p tickslab-runtime --release --features tokio-io,hyper --example read_paths \
//!     -- --path tokio-io --iters 100000
//! ```
//!
//! Paths: `native` (tickslab's `AsyncReadExt::read_exact`), `tokio-io` (tokio's
//! `AsyncReadExt::read_exact` on the stream itself, feature `tokio-io`), `hyper`
//! (`hyper::rt::Read::poll_read` into a `ReadBuf`, feature `hyper`), `futures-io`
//! (futures-util's `read_exact` on the stream's native futures-io impl) and `compat` (tokio's
//! `read_exact` on `stream.compat()`, tokio-util's adapter over futures-io, no feature). Prints wall time
//! per round trip; under callgrind, `--toggle-collect='*callgrind_measured*'` counts only
//! the measured loop (run with N and 2N iterations and take the difference per round trip,
//! as `benches/callgrind.sh` does).

use std::future::poll_fn;
use std::net::Ipv4Addr;
use std::pin::Pin;
use std::time::Instant;

use tickslab_runtime::io::{AsyncReadExt, AsyncWriteExt};
use tickslab_runtime::net::{TcpListener, TcpStream};
use tickslab_runtime::{Runtime, spawn};

const MSG: usize = 64;
const WARMUP: usize = 1_000;

/// Reads exactly `buf.len()` bytes from `c` through `path`.
async fn read_via(path: &str, c: &mut TcpStream, buf: &mut [u8; MSG]) {
    match path {
        "native" => AsyncReadExt::read_exact(c, buf).await.map(drop).unwrap(),
        "tokio-io" => {
            tokio::io::AsyncReadExt::read_exact(c, buf).await.unwrap();
        }
        "hyper" => {
            let mut filled = 0;
            while filled < MSG {
                let mut rb = hyper::rt::ReadBuf::new(&mut buf[filled..]);
                poll_fn(|cx| hyper::rt::Read::poll_read(Pin::new(&mut *c), cx, rb.unfilled()))
                    .await
                    .unwrap();
                assert!(!rb.filled().is_empty(), "end of stream");
                filled += rb.filled().len();
            }
        }
        other => read_futures_io(other, c, buf).await,
    }
}

async fn read_futures_io(path: &str, c: &mut TcpStream, buf: &mut [u8; MSG]) {
    use tokio_util::compat::FuturesAsyncReadCompatExt;
    match path {
        "futures-io" => futures_util::io::AsyncReadExt::read_exact(c, buf)
            .await
            .unwrap(),
        "compat" => {
            tokio::io::AsyncReadExt::read_exact(&mut c.compat(), buf)
                .await
                .unwrap();
        }
        other => panic!("unknown path {other:?}"),
    }
}

/// The measured loop (callgrind collects only inside this function).
#[inline(never)]
fn callgrind_measured(rt: &Runtime, path: &str, iters: usize) -> f64 {
    rt.block_on(async {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            s.set_nodelay(true).unwrap();
            let mut buf = [0u8; MSG];
            while s.read_exact(&mut buf).await.is_ok() {
                s.write_all(&buf).await.unwrap();
            }
        });
        let mut c = TcpStream::connect(addr).await.unwrap();
        c.set_nodelay(true).unwrap();
        let mut start = Instant::now();
        for i in 0..WARMUP + iters {
            if i == WARMUP {
                start = Instant::now();
            }
            let msg = [i as u8; MSG];
            c.write_all(&msg).await.unwrap();
            let mut back = [0u8; MSG];
            read_via(path, &mut c, &mut back).await;
            assert_eq!(back, msg);
        }
        let ns = start.elapsed().as_nanos() as f64 / iters as f64;
        drop(c);
        server.await.unwrap();
        ns
    })
}

fn main() {
    let (mut path, mut iters) = (String::from("native"), 100_000);
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--path" => path = args.next().expect("--path P"),
            "--iters" => iters = args.next().and_then(|n| n.parse().ok()).expect("--iters N"),
            other => panic!("unknown argument {other:?} (--path P, --iters N)"),
        }
    }
    let rt = Runtime::builder().slab_bounded::<256>(16).build();
    let ns = callgrind_measured(&rt, &path, iters);
    println!("{path}: {iters} round trips of {MSG} B, {ns:.0} ns each");
}
