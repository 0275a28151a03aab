//! tokio contenders: `current_thread` + `LocalSet`, and `LocalRuntime`.
//!
//! Both runtimes are built with `enable_all()` (I/O and time drivers on), as a
//! game's I/O thread would be, like the mio-backed tickslab and nexus-async-rt.
//! `LocalRuntime` is stable in the tokio version used (1.54): no `tokio_unstable`.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::mpsc::SyncSender;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::runtime::{Builder, LocalOptions, LocalRuntime, Runtime};
use tokio::sync::mpsc;
use tokio::task::LocalSet;

use crate::meter::{Meter, Sample};
use crate::workload::{CROSS_CAPACITY, MSG, NET_WARMUP, READ_BUF, localhost};
use crate::{Driver, Flavor, Spawn, Unwrap};

/// tokio `Builder::new_current_thread()` runtime with a long-lived `LocalSet`.
pub struct CurrentThreadLocalSet {
    rt: Runtime,
    local: LocalSet,
}

impl CurrentThreadLocalSet {
    /// Builds the runtime (I/O and time drivers enabled) and its `LocalSet`.
    pub fn new() -> Self {
        let rt = Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio current_thread runtime");
        Self {
            rt,
            local: LocalSet::new(),
        }
    }
}

impl Default for CurrentThreadLocalSet {
    fn default() -> Self {
        Self::new()
    }
}

impl Driver for CurrentThreadLocalSet {
    type Flavor = Tokio;

    fn run_in_task<F>(&mut self, fut: F) -> F::Output
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        let handle = self.local.spawn_local(fut);
        self.rt
            .block_on(self.local.run_until(handle))
            .expect("benchmark task failed")
    }
}

/// tokio `LocalRuntime` (`Builder::new_current_thread().build_local(..)`).
pub struct LocalRuntimeDriver {
    rt: LocalRuntime,
}

impl LocalRuntimeDriver {
    /// Builds the runtime (I/O and time drivers enabled).
    pub fn new() -> Self {
        let rt = Builder::new_current_thread()
            .enable_all()
            .build_local(LocalOptions::default())
            .expect("tokio LocalRuntime");
        Self { rt }
    }
}

impl Default for LocalRuntimeDriver {
    fn default() -> Self {
        Self::new()
    }
}

impl Driver for LocalRuntimeDriver {
    type Flavor = Tokio;

    fn run_in_task<F>(&mut self, fut: F) -> F::Output
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        let handle = self.rt.spawn_local(fut);
        self.rt.block_on(handle).expect("benchmark task failed")
    }
}

/// `tokio::task::spawn_local` (works under both a `LocalSet` and a `LocalRuntime`).
pub struct SpawnLocal;

impl Spawn for SpawnLocal {
    #[inline]
    fn spawn<F>(fut: F) -> impl Future<Output = F::Output> + 'static
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        Unwrap(tokio::task::spawn_local(fut))
    }
}

/// tokio's timers (`tokio::time`), sockets (`tokio::net`) and `sync::mpsc` (bounded).
pub struct Tokio;

impl Flavor for Tokio {
    type GameTx = mpsc::Sender<u64>;
    type GameRx = mpsc::Receiver<u64>;
    type Udp = UdpSocket;
    type Interval = tokio::time::Interval;

    #[inline]
    fn sleep(d: Duration) -> impl Future<Output = ()> + 'static {
        tokio::time::sleep(d)
    }

    fn interval_at(start: Instant, period: Duration) -> Self::Interval {
        // Missed ticks: `Burst`, the default.
        tokio::time::interval_at(start.into(), period)
    }

    async fn tick(interval: &mut Self::Interval) {
        interval.tick().await;
    }

    async fn udp_bind() -> Self::Udp {
        UdpSocket::bind(localhost()).await.expect("bind")
    }

    fn udp_local_addr(sock: &Self::Udp) -> SocketAddr {
        sock.local_addr().expect("local_addr")
    }

    fn udp_recv_from<'a>(
        sock: &'a mut Self::Udp,
        buf: &'a mut [u8],
    ) -> impl Future<Output = io::Result<(usize, SocketAddr)>> + 'a {
        sock.recv_from(buf)
    }

    /// No batched receive in this runtime (`n/a` in the tables).
    type UdpBatch = std::convert::Infallible;

    fn udp_batch() -> Option<Self::UdpBatch> {
        None
    }

    async fn udp_recv_many(
        _sock: &mut Self::Udp,
        batch: &mut Self::UdpBatch,
        _bufs: &mut [[u8; MSG]],
    ) -> io::Result<usize> {
        match *batch {}
    }

    async fn timeout<F>(d: Duration, f: F) -> Option<F::Output>
    where
        F: Future + 'static,
    {
        tokio::time::timeout(d, f).await.ok()
    }

    #[inline]
    fn yield_now() -> impl Future<Output = ()> + 'static {
        tokio::task::yield_now()
    }

    async fn tcp_echo(iters: u64) -> Sample {
        let listener = TcpListener::bind(localhost()).await.expect("bind");
        let addr = listener.local_addr().expect("local_addr");
        let server = tokio::task::spawn_local(async move {
            let (mut s, _) = listener.accept().await.expect("accept");
            s.set_nodelay(true).expect("nodelay");
            let mut buf = [0u8; MSG];
            while s.read_exact(&mut buf).await.is_ok() {
                if s.write_all(&buf).await.is_err() {
                    break;
                }
            }
        });
        let mut c = TcpStream::connect(addr).await.expect("connect");
        c.set_nodelay(true).expect("nodelay");
        let (mut out, mut back) = ([0u8; MSG], [0u8; MSG]);
        for i in 0..NET_WARMUP {
            out[0] = i as u8;
            c.write_all(&out).await.expect("write");
            c.read_exact(&mut back).await.expect("read");
        }
        let meter = Meter::start();
        for i in 0..iters {
            out[0] = i as u8;
            c.write_all(&out).await.expect("write");
            c.read_exact(&mut back).await.expect("read");
            debug_assert_eq!(back[0], i as u8);
        }
        let sample = meter.stop();
        drop(c);
        Unwrap(server).await;
        sample
    }

    async fn tcp_echo_buffered(iters: u64) -> Sample {
        let listener = TcpListener::bind(localhost()).await.expect("bind");
        let addr = listener.local_addr().expect("local_addr");
        let server = tokio::task::spawn_local(async move {
            let (mut s, _) = listener.accept().await.expect("accept");
            s.set_nodelay(true).expect("nodelay");
            let mut buf = [0u8; READ_BUF];
            loop {
                let n = s.read(&mut buf).await.unwrap_or(0);
                if n == 0 || s.write_all(&buf[..n]).await.is_err() {
                    break;
                }
            }
        });
        let mut c = TcpStream::connect(addr).await.expect("connect");
        c.set_nodelay(true).expect("nodelay");
        let (mut out, mut back) = ([0u8; MSG], [0u8; READ_BUF]);
        for i in 0..NET_WARMUP {
            out[0] = i as u8;
            c.write_all(&out).await.expect("write");
            read_echo(&mut c, &mut back).await.expect("read");
        }
        let meter = Meter::start();
        for i in 0..iters {
            out[0] = i as u8;
            c.write_all(&out).await.expect("write");
            read_echo(&mut c, &mut back).await.expect("read");
            debug_assert_eq!(back[0], i as u8);
        }
        let sample = meter.stop();
        drop(c);
        Unwrap(server).await;
        sample
    }

    async fn udp_ping_pong(iters: u64) -> Sample {
        let a = UdpSocket::bind(localhost()).await.expect("bind");
        let b = UdpSocket::bind(localhost()).await.expect("bind");
        a.connect(b.local_addr().expect("addr"))
            .await
            .expect("connect");
        b.connect(a.local_addr().expect("addr"))
            .await
            .expect("connect");
        let server = tokio::task::spawn_local(async move {
            let mut buf = [0u8; MSG];
            loop {
                let n = b.recv(&mut buf).await.expect("recv");
                if n != MSG {
                    break; // the 1-byte goodbye
                }
                b.send(&buf).await.expect("send");
            }
        });
        let (mut out, mut back) = ([0u8; MSG], [0u8; MSG]);
        for i in 0..NET_WARMUP {
            out[0] = i as u8;
            a.send(&out).await.expect("send");
            a.recv(&mut back).await.expect("recv");
        }
        let meter = Meter::start();
        for i in 0..iters {
            out[0] = i as u8;
            a.send(&out).await.expect("send");
            let n = a.recv(&mut back).await.expect("recv");
            debug_assert_eq!((n, back[0]), (MSG, i as u8));
        }
        let sample = meter.stop();
        a.send(&[0]).await.expect("send");
        Unwrap(server).await;
        sample
    }

    async fn cross_serve(ends: SyncSender<(Self::GameTx, Self::GameRx)>) {
        let (game_tx, mut rx) = mpsc::channel::<u64>(CROSS_CAPACITY);
        let (tx, game_rx) = mpsc::channel::<u64>(CROSS_CAPACITY);
        ends.send((game_tx, game_rx)).expect("game thread gone");
        while let Some(v) = rx.recv().await {
            if tx.send(v).await.is_err() {
                break;
            }
        }
    }

    #[inline]
    fn game_try_send(tx: &Self::GameTx, v: u64) -> bool {
        tx.try_send(v).is_ok()
    }

    #[inline]
    fn game_try_recv(rx: &mut Self::GameRx) -> Option<u64> {
        rx.try_recv().ok()
    }
}

/// Reads one echo of [`MSG`] bytes back in tokio's `echo` example's shape: reads into the
/// whole buffer until that many bytes came.
async fn read_echo(c: &mut TcpStream, back: &mut [u8; READ_BUF]) -> io::Result<()> {
    let mut got = 0;
    while got < MSG {
        let n = c.read(&mut back[got..]).await?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        got += n;
    }
    Ok(())
}
