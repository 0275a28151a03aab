//! tickslab contenders: byte-slab tasks (`spawn_slab`), boxed tasks (`spawn`), and
//! frames (`Runtime::frame`); the [`Tickslab`] flavor (timers, sockets, `sync::cross`).

use std::cell::Cell;
use std::future::Future;
use std::hint::black_box;
use std::io;
use std::net::SocketAddr;
use std::sync::mpsc::SyncSender;
use std::time::{Duration, Instant};

use tickslab::Runtime;
use tickslab::io::{AsyncReadExt, AsyncWriteExt};
use tickslab::net::{RecvBatch, TcpListener, TcpStream, UdpSocket};
use tickslab::sync::cross;

use crate::arena::value;
use crate::meter::{Meter, Sample};
use crate::workload::{
    ARENA_ALLOCS, CROSS_CAPACITY, FRAME_TASKS, MSG, NET_WARMUP, READ_BUF, UDP_BATCH, localhost,
};
use crate::{Bench, Driver, Flavor, SLAB_CAPACITY, SLAB_SLOT, Spawn, Unwrap, Workload};

/// A tickslab runtime.
pub struct TickslabDriver {
    rt: Runtime,
}

impl TickslabDriver {
    /// A runtime with a bounded byte slab of [`SLAB_CAPACITY`] slots of
    /// [`SLAB_SLOT`] bytes, for [`SlabSpawn`].
    pub fn with_bounded_slab() -> Self {
        let rt = Runtime::builder()
            .slab_bounded::<SLAB_SLOT>(SLAB_CAPACITY)
            .build();
        Self { rt }
    }

    /// A runtime without a slab, for [`BoxSpawn`].
    pub fn boxed_only() -> Self {
        let rt = Runtime::builder().build();
        Self { rt }
    }
}

impl Driver for TickslabDriver {
    type Flavor = Tickslab;

    fn run_in_task<F>(&mut self, fut: F) -> F::Output
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        self.rt
            .block_on(async move { Unwrap(tickslab::spawn(fut)).await })
    }
}

/// `tickslab::spawn_slab`.
pub struct SlabSpawn;

impl Spawn for SlabSpawn {
    #[inline]
    fn spawn<F>(fut: F) -> impl Future<Output = F::Output> + 'static
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        Unwrap(tickslab::spawn_slab(fut))
    }
}

/// `tickslab::spawn` (Box-allocated task).
pub struct BoxSpawn;

impl Spawn for BoxSpawn {
    #[inline]
    fn spawn<F>(fut: F) -> impl Future<Output = F::Output> + 'static
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        Unwrap(tickslab::spawn(fut))
    }
}

/// tickslab's timers (`tickslab::time`), sockets (`tickslab::net`) and `sync::cross`.
pub struct Tickslab;

impl Flavor for Tickslab {
    type GameTx = cross::Sender<u64>;
    type GameRx = cross::Receiver<u64>;
    type Udp = UdpSocket;
    type Interval = tickslab::time::Interval;

    #[inline]
    fn sleep(d: Duration) -> impl Future<Output = ()> + 'static {
        tickslab::time::sleep(d)
    }

    fn interval_at(start: Instant, period: Duration) -> Self::Interval {
        // Missed ticks: `Burst`, the default.
        tickslab::time::interval_at(start.into(), period)
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

    type UdpBatch = RecvBatch<UDP_BATCH>;

    fn udp_batch() -> Option<Self::UdpBatch> {
        Some(RecvBatch::new())
    }

    fn udp_recv_many<'a>(
        sock: &'a mut Self::Udp,
        batch: &'a mut Self::UdpBatch,
        bufs: &'a mut [[u8; MSG]],
    ) -> impl Future<Output = io::Result<usize>> + 'a {
        sock.recv_many(batch, bufs)
    }

    async fn timeout<F>(d: Duration, f: F) -> Option<F::Output>
    where
        F: Future + 'static,
    {
        tickslab::time::timeout(d, f).await.ok()
    }

    #[inline]
    fn yield_now() -> impl Future<Output = ()> + 'static {
        tickslab::yield_now()
    }

    async fn tcp_echo(iters: u64) -> Sample {
        let listener = TcpListener::bind(localhost()).await.expect("bind");
        let addr = listener.local_addr().expect("local_addr");
        let server = tickslab::spawn(async move {
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
        let server = tickslab::spawn(async move {
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
        let server = tickslab::spawn(async move {
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
        let (game_tx, mut rx) = cross::channel::<u64>(CROSS_CAPACITY);
        let (tx, game_rx) = cross::channel::<u64>(CROSS_CAPACITY);
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

/// The frame contender: `Runtime::frame` with `Frame::alloc` and `Frame::spawn`.
pub struct FrameBench {
    rt: Runtime,
}

impl FrameBench {
    /// A runtime with the default frame arena (64 KiB chunks) and a bounded slab like
    /// [`TickslabDriver::with_bounded_slab`]: a frame task's future goes into the arena,
    /// its task block (header + a pointer to the future) into a slab slot, or into a heap
    /// block when the runtime has no slab.
    pub fn new() -> Self {
        Self {
            rt: Runtime::builder()
                .slab_bounded::<SLAB_SLOT>(SLAB_CAPACITY)
                .build(),
        }
    }

    /// One frame of [`ARENA_ALLOCS`] allocations.
    #[inline]
    fn alloc_frame(&mut self) {
        self.rt.frame(|f| {
            for i in 0..ARENA_ALLOCS {
                black_box(f.alloc(value(i)));
            }
        });
    }

    /// One frame of [`FRAME_TASKS`] tasks reading frame data and writing `acc`.
    #[inline]
    fn tasks_frame(&mut self, input: &[u64; FRAME_TASKS], acc: &Cell<u64>) {
        self.rt.frame(|f| {
            let input: &[u64] = f.alloc_slice_copy(input);
            for x in input {
                // `x` borrows frame data.
                drop(f.spawn(async move {
                    acc.set(acc.get() + *x * 3);
                }));
            }
        });
    }
}

impl Default for FrameBench {
    fn default() -> Self {
        Self::new()
    }
}

impl Bench for FrameBench {
    fn run(&mut self, workload: Workload, iters: u64) -> Sample {
        match workload {
            Workload::ArenaAlloc => {
                self.alloc_frame(); // warm: the arena's chunk
                let meter = Meter::start();
                for _ in 0..iters {
                    self.alloc_frame();
                }
                meter.stop()
            }
            Workload::FrameTasks => {
                let input = std::array::from_fn(|i| i as u64);
                let acc = Cell::new(0);
                self.tasks_frame(&input, &acc); // warm: arena chunk, task list
                let meter = Meter::start();
                for _ in 0..iters {
                    self.tasks_frame(&input, &acc);
                }
                let sample = meter.stop();
                black_box(acc.get());
                sample
            }
            other => panic!("tickslab_frame does not run {}", other.id()),
        }
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
