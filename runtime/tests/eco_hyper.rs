//! Feature `hyper`: hyper 1.x's HTTP/1 client and server on tickslab sockets with no glue:
//! `TcpStream` is `hyper::rt::Read + Write` itself, `tickslab::hyper::Timer` drives hyper's
//! timeouts, `tickslab::hyper::Executor` spawns its background futures. Plus the thread rule
//! of the timer's sleeps. All on loopback, each test bounded by a guard that only detects
//! hangs.
#![cfg(feature = "hyper")]

mod support;

use std::cell::Cell;
use std::convert::Infallible;
use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::rt::{Executor as _, Timer as _};
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};

use tickslab_runtime::hyper::{Executor, Timer};
use tickslab_runtime::io::{AsyncReadExt, AsyncWriteExt};
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

/// Answers `GET /asset/<n>` with `n` bytes, and echoes any other request's body.
async fn assets(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path().to_owned();
    if let Some(n) = path.strip_prefix("/asset/") {
        let n: usize = n.parse().unwrap_or(0);
        return Ok(Response::new(Full::new(Bytes::from(vec![b'a'; n]))));
    }
    let body = req.into_body().collect().await.unwrap().to_bytes();
    Ok(Response::new(Full::new(body)))
}

/// An HTTP/1 server with our timer; counts the connections it accepted.
async fn server(header_timeout: Option<Duration>) -> (SocketAddr, Rc<Cell<usize>>) {
    let listener = TcpListener::bind(LOCALHOST).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Rc::new(Cell::new(0));
    let count = accepted.clone();
    spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            count.set(count.get() + 1);
            spawn(async move {
                let _ = hyper::server::conn::http1::Builder::new()
                    .timer(Timer)
                    .header_read_timeout(header_timeout)
                    .serve_connection(stream, service_fn(assets))
                    .await;
            });
        }
    });
    (addr, accepted)
}

/// A client connection: the request sender, and its connection task.
async fn client(
    addr: SocketAddr,
) -> (
    hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    JoinHandle<()>,
) {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (sender, conn) = hyper::client::conn::http1::handshake(stream).await.unwrap();
    let task = spawn(async move {
        conn.await.unwrap();
    });
    (sender, task)
}

#[test]
fn client_and_server_round_trip() {
    run(async {
        let (addr, _) = server(None).await;
        let (mut sender, conn) = client(addr).await;
        let req = Request::post("/echo")
            .header("host", "localhost")
            .body(Full::new(Bytes::from_static(b"hello, tickslab")))
            .unwrap();
        let res = sender.send_request(req).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let body = res.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(&body[..], b"hello, tickslab");
        drop(sender);
        conn.await.unwrap(); // the client connection ends cleanly
    });
}

#[test]
fn one_keep_alive_connection_serves_many_requests() {
    run(async {
        let (addr, accepted) = server(None).await;
        let (mut sender, _conn) = client(addr).await;
        for i in 0..200usize {
            // Sizes from empty to 300 KiB: partial writes and reads on both sides.
            let n = (i * 1543) % (300 * 1024);
            let req = Request::get(format!("/asset/{n}"))
                .header("host", "localhost")
                .body(Full::new(Bytes::new()))
                .unwrap();
            sender.ready().await.unwrap();
            let res = sender.send_request(req).await.unwrap();
            assert_eq!(res.status(), StatusCode::OK);
            let body = res.into_body().collect().await.unwrap().to_bytes();
            assert_eq!(body.len(), n, "request {i}");
            assert!(body.iter().all(|&b| b == b'a'));
        }
        assert_eq!(accepted.get(), 1, "every request went over one connection");
    });
}

#[test]
fn the_header_read_timeout_fires_through_our_timer() {
    run(async {
        let listener = TcpListener::bind(LOCALHOST).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let served = spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            hyper::server::conn::http1::Builder::new()
                .timer(Timer)
                .header_read_timeout(Duration::from_millis(50))
                .serve_connection(stream, service_fn(assets))
                .await
        });
        let mut stream = TcpStream::connect(addr).await.unwrap();
        // Half a request head, and then nothing.
        stream
            .write_all(b"GET / HTTP/1.1\r\nHost: loc")
            .await
            .unwrap();
        let err = served
            .await
            .unwrap()
            .expect_err("the server gave up on the headers");
        assert!(err.is_timeout(), "{err:?}");
        // The server closed the connection.
        let mut buf = [0u8; 256];
        let n = stream.read(&mut buf).await.unwrap_or(0);
        assert!(
            n == 0 || buf[..n].starts_with(b"HTTP/1.1 408"),
            "{:?}",
            String::from_utf8_lossy(&buf[..n])
        );
    });
}

#[test]
fn the_header_timer_restarts_per_request_and_closes_an_idle_connection() {
    // On a paused clock (hyper reads it through `Timer::now`), so no test timing matters.
    let rt = tickslab_runtime::Runtime::builder()
        .slab_bounded::<256>(256)
        .start_paused(true)
        .build();
    rt.block_on(async {
        let (addr, accepted) = server(Some(Duration::from_millis(200))).await;
        let (mut sender, conn) = client(addr).await;
        for _ in 0..5 {
            // 5 x 150 ms is well past the 200 ms timeout: each request restarts it.
            tickslab_runtime::time::advance(Duration::from_millis(150)).await;
            let req = Request::get("/asset/3")
                .header("host", "localhost")
                .body(Full::new(Bytes::new()))
                .unwrap();
            sender.ready().await.unwrap();
            let res = sender.send_request(req).await.unwrap();
            assert_eq!(res.into_body().collect().await.unwrap().to_bytes(), "aaa");
        }
        // hyper arms the timer while it waits for the next request head too: idle past it,
        // the server closes the connection and the client's connection task ends.
        tickslab_runtime::time::advance(Duration::from_millis(250)).await;
        conn.await.unwrap();
        assert!(sender.ready().await.is_err(), "the connection is closed");
        assert_eq!(accepted.get(), 1);
    });
}

#[test]
fn timer_sleeps_fire_and_reset_in_place() {
    run(async {
        let timer = Timer;
        let start = Instant::now();
        timer.sleep(Duration::from_millis(5)).await;
        assert!(start.elapsed() >= Duration::from_millis(5), "never early");

        let mut sleep = timer.sleep(Duration::from_secs(3600));
        let before: *const () = (&*sleep as *const dyn hyper::rt::Sleep).cast();
        timer.reset(&mut sleep, timer.now());
        let after: *const () = (&*sleep as *const dyn hyper::rt::Sleep).cast();
        assert_eq!(before, after, "our sleeps are reset in place, not replaced");
        sleep.await; // would hang (and trip the guard) if the reset did not take
    });
}

#[test]
fn the_executor_runs_hyper_futures_in_the_slab_or_boxed() {
    run(async {
        let ran = Rc::new(Cell::new(0));
        let r = ran.clone();
        Executor.execute(async move { r.set(r.get() + 1) });
        // Larger than a slab slot (256 bytes): boxed instead.
        let r = ran.clone();
        let big = [7u8; 4096];
        Executor.execute(async move {
            tickslab_runtime::yield_now().await;
            r.set(r.get() + usize::from(big[4095] == 7));
        });
        while ran.get() < 2 {
            tickslab_runtime::yield_now().await;
        }
    });
}

fn poll_once(fut: Pin<&mut (dyn Future<Output = ()> + Send + Sync)>) -> Poll<()> {
    fut.poll(&mut Context::from_waker(Waker::noop()))
}

#[test]
fn a_sleep_polled_or_dropped_on_another_thread_panics_and_the_runtime_goes_on() {
    run(async {
        let polled = Timer.sleep(Duration::from_secs(3600));
        let msg = std::thread::spawn(move || {
            let mut polled = polled;
            let err = catch_unwind(AssertUnwindSafe(|| {
                let fut: Pin<&mut (dyn Future<Output = ()> + Send + Sync)> = polled.as_mut();
                poll_once(fut)
            }))
            .expect_err("polling on another thread panics");
            std::mem::forget(polled); // leave it armed; dropping it here would panic too
            panic_message(err)
        })
        .join()
        .unwrap();
        assert!(
            msg.contains("thread other than the one that created it"),
            "{msg}"
        );

        let mut armed = Timer.sleep(Duration::from_secs(3600));
        assert!(poll_once(armed.as_mut()).is_pending()); // armed on this runtime's wheel
        let err = std::thread::spawn(move || drop(armed)).join().unwrap_err();
        let msg = panic_message(err);
        assert!(msg.contains("dropped on a thread other"), "{msg}");

        // Nothing of the runtime was touched from there: timers go on working.
        Timer.sleep(Duration::from_millis(1)).await;
    });
}

fn panic_message(err: Box<dyn std::any::Any + Send>) -> String {
    err.downcast_ref::<String>()
        .cloned()
        .or_else(|| err.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}
