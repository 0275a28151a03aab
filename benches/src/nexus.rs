//! nexus-async-rt 0.7 contenders: byte-slab tasks (`spawn_slab`) and boxed tasks
//! (`spawn_boxed`).
//!
//! A nexus `Runtime` borrows a `nexus_rt::World` by raw pointer for its whole life,
//! and only one nexus runtime may be alive per thread at a time.

use std::future::{Future, poll_fn};
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::mpsc::SyncSender;
use std::task::{Poll, ready};
use std::time::{Duration, Instant};

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use nexus_async_rt::channel::{mpsc, spsc};
use nexus_async_rt::{AsyncRead, AsyncWrite, Runtime, TcpListener, TcpStream, UdpSocket};
use nexus_rt::{World, WorldBuilder};
use nexus_slab::byte::bounded::Slab;

use crate::meter::{Latency, Meter, Sample};
use crate::workload::{
    CROSS_CAPACITY, MSG, NET_WARMUP, READ_BUF, localhost, note_stall, ring_with_gaps, spin_until,
    spin_until_or_stall, wake_latency,
};
use crate::{Driver, Flavor, SLAB_CAPACITY, SLAB_SLOT, Spawn};

/// A nexus-async-rt runtime together with the `World` it points into.
pub struct NexusDriver {
    // Field order matters: the runtime drops before the world it points into.
    rt: Runtime,
    _world: Box<World>,
}

impl NexusDriver {
    /// A runtime with a bounded byte slab of [`SLAB_CAPACITY`] slots of
    /// [`SLAB_SLOT`] bytes, for [`SlabSpawn`].
    pub fn with_bounded_slab() -> Self {
        let mut world = Box::new(WorldBuilder::new().build());
        // SAFETY: the slab is handed to a single-threaded runtime and only used from
        // this thread.
        let slab = unsafe { Slab::<SLAB_SLOT>::with_capacity(SLAB_CAPACITY) };
        let rt = Runtime::builder(&mut world).slab_bounded(slab).build();
        Self { rt, _world: world }
    }

    /// A runtime without a slab, for [`BoxSpawn`].
    pub fn boxed_only() -> Self {
        let mut world = Box::new(WorldBuilder::new().build());
        let rt = Runtime::new(&mut world);
        Self { rt, _world: world }
    }
}

impl Driver for NexusDriver {
    type Flavor = Nexus;

    fn run_in_task<F>(&mut self, fut: F) -> F::Output
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        self.rt
            .block_on(async move { nexus_async_rt::spawn_boxed(fut).await })
    }
}

/// `nexus_async_rt::spawn_slab`.
pub struct SlabSpawn;

impl Spawn for SlabSpawn {
    #[inline]
    fn spawn<F>(fut: F) -> impl Future<Output = F::Output> + 'static
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        nexus_async_rt::spawn_slab(fut)
    }
}

/// `nexus_async_rt::spawn_boxed`.
pub struct BoxSpawn;

impl Spawn for BoxSpawn {
    #[inline]
    fn spawn<F>(fut: F) -> impl Future<Output = F::Output> + 'static
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        nexus_async_rt::spawn_boxed(fut)
    }
}

/// `read_exact` for a nexus `TcpStream` (nexus has none), written like tickslab's and
/// tokio's: one `poll_fn` over `poll_read`.
fn read_exact<'a>(
    s: &'a mut TcpStream,
    buf: &'a mut [u8],
) -> impl Future<Output = io::Result<()>> + 'a {
    let mut filled = 0;
    poll_fn(move |cx| {
        while filled < buf.len() {
            let n = ready!(Pin::new(&mut *s).poll_read(cx, &mut buf[filled..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::UnexpectedEof.into()));
            }
            filled += n;
        }
        Poll::Ready(Ok(()))
    })
}

/// One read of whatever has come, as tokio's `read`: one `poll_fn` over `poll_read`.
fn read_some<'a>(
    s: &'a mut TcpStream,
    buf: &'a mut [u8],
) -> impl Future<Output = io::Result<usize>> + 'a {
    poll_fn(move |cx| Pin::new(&mut *s).poll_read(cx, buf))
}

/// Reads one echo of [`MSG`] bytes back in tokio's `echo` example's shape: reads into the
/// whole buffer until that many bytes came.
async fn read_echo(c: &mut TcpStream, back: &mut [u8; READ_BUF]) -> io::Result<()> {
    let mut got = 0;
    while got < MSG {
        let n = read_some(c, &mut back[got..]).await?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        got += n;
    }
    Ok(())
}

/// `write_all` for a nexus `TcpStream` as one `poll_fn` over `poll_write` (nexus's own
/// `write_all` awaits a fresh `write` future per chunk; same result, one state machine
/// more).
fn write_all<'a>(s: &'a mut TcpStream, buf: &'a [u8]) -> impl Future<Output = io::Result<()>> + 'a {
    let mut written = 0;
    poll_fn(move |cx| {
        while written < buf.len() {
            let n = ready!(Pin::new(&mut *s).poll_write(cx, &buf[written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            written += n;
        }
        Poll::Ready(Ok(()))
    })
}

/// Whether nexus runs the cross-thread workloads (`remote_wake`, `remote_wake/latency`,
/// `cross/round_trip`): after [`try_cross`] (`compare` calls it when a watchdog kills a
/// cell that hangs, its default), or with `TICKSLAB_BENCH_NEXUS_CROSS=1` in the
/// environment; never otherwise (the criterion benches, `compare --timeout 0`).
///
/// nexus-async-rt 0.7 loses cross-thread wakes here: within a few hundred round trips
/// its runtime parks in `epoll_wait(-1)` with a message in the channel, and stays there
/// (seen with gdb; a 1 ms sleeping "ticker" task in the same runtime stops ticking at the
/// same moment, so its timer is not armed either). The likely cause is the store→load
/// race between the wake path (push on the cross-thread inbox, whose link is a `Release`
/// store after the tail swap, then `parked.load`) and the runtime (`parked.store(true)`,
/// then drain), after which the task's `queued` flag swallows every later wake.
pub fn cross_enabled() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    TRY_CROSS.load(Ordering::Relaxed)
        || *ON.get_or_init(|| {
            std::env::var_os("TICKSLAB_BENCH_NEXUS_CROSS").is_some_and(|v| v == "1")
        })
}

static TRY_CROSS: AtomicBool = AtomicBool::new(false);

/// Lets nexus run the cross-thread workloads from now on (see [`cross_enabled`]): for a
/// caller that stops a run which hangs.
pub fn try_cross() {
    TRY_CROSS.store(true, Ordering::Relaxed);
}

/// nexus-async-rt's timers, sockets and cross-thread `channel::mpsc`.
///
/// nexus timers are fire-and-forget: a `Sleep` (and so a `Timeout`) registers in the
/// wheel on its first poll, even when the inner future of a timeout is already ready,
/// and stays there until its deadline whether or not it was dropped.
pub struct Nexus;

impl Flavor for Nexus {
    type GameTx = mpsc::Sender<u64>;
    type GameRx = mpsc::Receiver<u64>;
    type Udp = UdpSocket;
    type Interval = nexus_async_rt::Interval;

    #[inline]
    fn sleep(d: Duration) -> impl Future<Output = ()> + 'static {
        nexus_async_rt::sleep(d)
    }

    fn interval_at(start: Instant, period: Duration) -> Self::Interval {
        // Missed ticks: `Burst`, the default.
        nexus_async_rt::interval_at(start, period)
    }

    fn tick(interval: &mut Self::Interval) -> impl Future<Output = ()> + '_ {
        interval.tick()
    }

    async fn udp_bind() -> Self::Udp {
        UdpSocket::bind(localhost()).expect("bind")
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
        nexus_async_rt::timeout(d, f).await.ok()
    }

    #[inline]
    fn yield_now() -> impl Future<Output = ()> + 'static {
        nexus_async_rt::yield_now()
    }

    /// nexus task wakers are same-thread only (waking one from another thread pushes onto
    /// that thread's ready queue, i.e. nowhere), so the other thread rings through
    /// nexus's cross-thread wake path instead: a capacity-1 `channel::spsc`.
    async fn remote_wake<S: Spawn + 'static>(iters: u64) -> Sample {
        if iters == 0 {
            return Sample::default();
        }
        // Room for a nudge next to an unreceived request (see `STALL_AFTER`).
        let (tx, rx) = spsc::channel::<u64>(2);
        let ack = Arc::new(AtomicU64::new(0));
        let go = Arc::new(AtomicBool::new(false));
        let responder = {
            let ack = ack.clone();
            S::spawn(async move {
                let mut seen = 0;
                loop {
                    let r = rx.recv().await.expect("waker thread hung up");
                    if r == seen {
                        continue; // a nudge after a stall
                    }
                    seen = r;
                    ack.store(r, Ordering::Release);
                    if r == iters {
                        break;
                    }
                }
            })
        };
        let waker_thread = {
            let (ack, go) = (ack.clone(), go.clone());
            std::thread::spawn(move || {
                spin_until(|| go.load(Ordering::Acquire));
                for i in 1..=iters {
                    spin_until(|| tx.try_send(i).is_ok());
                    while !spin_until_or_stall(|| ack.load(Ordering::Acquire) == i) {
                        note_stall();
                        let _ = tx.try_send(i);
                    }
                }
            })
        };
        let meter = Meter::start();
        go.store(true, Ordering::Release);
        responder.await;
        let sample = meter.stop();
        waker_thread.join().expect("waker thread panicked");
        sample
    }

    /// As [`remote_wake`](Self::remote_wake), through a capacity-2 `channel::spsc`
    /// carrying the stamps.
    async fn remote_wake_latency<S: Spawn + 'static>(wakes: u64) -> Sample {
        if wakes == 0 {
            return Sample::default();
        }
        let base = Instant::now();
        let (tx, rx) = spsc::channel::<u64>(2);
        let ack = Arc::new(AtomicU64::new(0));
        let go = Arc::new(AtomicBool::new(false));
        // Allocated here, outside the window (the task first runs inside it).
        let mut nanos = Vec::with_capacity(wakes as usize);
        let responder = {
            let ack = ack.clone();
            S::spawn(async move {
                let mut seen = 0;
                while (nanos.len() as u64) < wakes {
                    let stamp = rx.recv().await.expect("waker thread hung up");
                    if stamp == seen {
                        continue; // a nudge after a stall
                    }
                    seen = stamp;
                    nanos.push(wake_latency(base, stamp));
                    ack.store(stamp, Ordering::Release);
                }
                nanos
            })
        };
        let waker_thread = {
            let (ack, go) = (ack.clone(), go.clone());
            std::thread::spawn(move || {
                ring_with_gaps(base, wakes, &go, &ack, |stamp| {
                    let _ = tx.try_send(stamp);
                });
            })
        };
        let meter = Meter::start();
        go.store(true, Ordering::Release);
        let mut nanos = responder.await;
        let mut sample = meter.stop();
        waker_thread.join().expect("waker thread panicked");
        sample.latency = Some(Latency::from_nanos(&mut nanos));
        sample
    }

    async fn tcp_echo(iters: u64) -> Sample {
        let mut listener = TcpListener::bind(localhost()).expect("bind");
        let addr = listener.local_addr().expect("local_addr");
        let server = nexus_async_rt::spawn_boxed(async move {
            let (mut s, _) = listener.accept().await.expect("accept");
            s.set_nodelay(true).expect("nodelay");
            let mut buf = [0u8; MSG];
            while read_exact(&mut s, &mut buf).await.is_ok() {
                if write_all(&mut s, &buf).await.is_err() {
                    break;
                }
            }
        });
        let mut c = TcpStream::connect(addr).expect("connect");
        c.set_nodelay(true).expect("nodelay");
        c.writable().await.expect("connect");
        let (mut out, mut back) = ([0u8; MSG], [0u8; MSG]);
        for i in 0..NET_WARMUP {
            out[0] = i as u8;
            write_all(&mut c, &out).await.expect("write");
            read_exact(&mut c, &mut back).await.expect("read");
        }
        let meter = Meter::start();
        for i in 0..iters {
            out[0] = i as u8;
            write_all(&mut c, &out).await.expect("write");
            read_exact(&mut c, &mut back).await.expect("read");
            debug_assert_eq!(back[0], i as u8);
        }
        let sample = meter.stop();
        drop(c);
        server.await;
        sample
    }

    async fn tcp_echo_buffered(iters: u64) -> Sample {
        let mut listener = TcpListener::bind(localhost()).expect("bind");
        let addr = listener.local_addr().expect("local_addr");
        let server = nexus_async_rt::spawn_boxed(async move {
            let (mut s, _) = listener.accept().await.expect("accept");
            s.set_nodelay(true).expect("nodelay");
            let mut buf = [0u8; READ_BUF];
            loop {
                let n = read_some(&mut s, &mut buf).await.unwrap_or(0);
                if n == 0 || write_all(&mut s, &buf[..n]).await.is_err() {
                    break;
                }
            }
        });
        let mut c = TcpStream::connect(addr).expect("connect");
        c.set_nodelay(true).expect("nodelay");
        c.writable().await.expect("connect");
        let (mut out, mut back) = ([0u8; MSG], [0u8; READ_BUF]);
        for i in 0..NET_WARMUP {
            out[0] = i as u8;
            write_all(&mut c, &out).await.expect("write");
            read_echo(&mut c, &mut back).await.expect("read");
        }
        let meter = Meter::start();
        for i in 0..iters {
            out[0] = i as u8;
            write_all(&mut c, &out).await.expect("write");
            read_echo(&mut c, &mut back).await.expect("read");
            debug_assert_eq!(back[0], i as u8);
        }
        let sample = meter.stop();
        drop(c);
        server.await;
        sample
    }

    async fn udp_ping_pong(iters: u64) -> Sample {
        let mut a = UdpSocket::bind(localhost()).expect("bind");
        let mut b = UdpSocket::bind(localhost()).expect("bind");
        a.connect(b.local_addr().expect("addr")).expect("connect");
        b.connect(a.local_addr().expect("addr")).expect("connect");
        let server = nexus_async_rt::spawn_boxed(async move {
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
        server.await;
        sample
    }

    async fn cross_serve(ends: SyncSender<(Self::GameTx, Self::GameRx)>) {
        // nexus channels must be made inside the runtime (they bind its cross-wake queue).
        let (game_tx, rx) = mpsc::channel::<u64>(CROSS_CAPACITY);
        let (tx, game_rx) = mpsc::channel::<u64>(CROSS_CAPACITY);
        ends.send((game_tx, game_rx)).expect("game thread gone");
        while let Ok(v) = rx.recv().await {
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
