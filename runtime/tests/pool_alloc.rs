//! Exact heap-allocation counts of the pools once warm: `CountingAlloc` is this binary's
//! global allocator. Every figure is an exact number of allocation calls on the measuring
//! thread (and, for cross-thread returns, on the dropping thread too).

mod support;

use std::sync::Arc;

use support::allocs_during;
use tickslab_alloc::arena::ArenaConfig;
use tickslab_alloc::counting::{AllocStats, CountingAlloc, count_allocs};
use tickslab_runtime::pool::{
    BufPool, Growth, Pool, PoolConfig, SyncBufPool, SyncPool, SyncPoolBox, TaskArenas,
};
use tickslab_runtime::sync::cross;
use tickslab_runtime::{spawn_slab, yield_now};

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc::system();

const N: usize = if cfg!(miri) { 200 } else { 100_000 };

#[derive(Clone, Copy)]
struct Msg(#[allow(dead_code, reason = "only its size matters")] [u64; 4]);

#[test]
fn pool_alloc_and_drop_allocate_nothing() {
    let (pool, made) = count_allocs(|| Pool::<Msg>::bounded(64));
    // The shared state, the chunk, the free stack, the chunk list.
    assert_eq!(made.allocs, 4);
    let ((), stats) = count_allocs(|| {
        for i in 0..N {
            let b = pool.try_alloc(Msg([i as u64; 4])).unwrap();
            std::hint::black_box(&b);
        }
    });
    assert_eq!(stats.allocs + stats.reallocs, 0);
    assert_eq!(stats.deallocs, 0);
}

#[test]
fn growing_pool_allocates_only_when_it_grows() {
    let pool = Pool::<u64>::growing(16, Growth::Exponential);
    let mut held = Vec::with_capacity(64);
    let ((), grow) = count_allocs(|| {
        for i in 0..64 {
            held.push(pool.try_alloc(i).unwrap());
        }
    });
    // Two grows (16 -> 32 -> 64): a chunk and a larger free stack each, and the chunk
    // list's vector growing once (capacity 1 -> 4); the old stacks are freed.
    assert_eq!((grow.allocs, grow.reallocs), (4, 1));
    held.clear();
    let ((), warm) = count_allocs(|| {
        for _ in 0..10 {
            for i in 0..64 {
                held.push(pool.try_alloc(i).unwrap());
            }
            held.clear();
        }
    });
    assert!(warm.is_allocation_free(), "{warm}");
}

#[test]
fn recycling_pool_keeps_buffers_so_takes_allocate_nothing() {
    let pool: Pool<Vec<u8>> =
        Pool::recycling_with(PoolConfig::bounded(8), || Vec::with_capacity(1500));
    pool.prefill();
    let ((), stats) = count_allocs(|| {
        for i in 0..N {
            let mut v = pool.try_take().unwrap();
            v.extend_from_slice(&[i as u8; 1200]);
        }
    });
    assert!(stats.is_allocation_free(), "{stats}");
}

#[test]
fn waiting_allocations_allocate_nothing() {
    let rt = support::rt_bounded::<512>(64);
    let pool: Pool<Msg> = Pool::bounded(2);
    let run = |rounds: usize| {
        let pool = pool.clone();
        async move {
            // Four tasks share two slots: half of the allocations wait.
            let mut tasks = Vec::with_capacity(4);
            for _ in 0..4 {
                let pool = pool.clone();
                tasks.push(spawn_slab(async move {
                    for i in 0..rounds {
                        let b = pool.alloc(Msg([i as u64; 4])).await;
                        yield_now().await;
                        drop(b);
                    }
                }));
            }
            for t in tasks {
                t.await.unwrap();
            }
        }
    };
    rt.block_on(run(2)); // warm: the runtime's queues and slab
    let ((), stats) = rt.block_on(allocs_during(run(N / 100)));
    assert_eq!(
        stats.allocs + stats.reallocs,
        1,
        "the Vec of 4 handles only: {stats}"
    );
    assert!(pool.stats().full > 0, "allocations did wait");
}

#[test]
fn sync_pool_returns_from_another_thread_without_allocating() {
    let pool = Arc::new(SyncPool::<Msg>::bounded(64));
    let (to_game, mut from_io) = cross::channel::<SyncPoolBox<Msg>>(64);
    let game = std::thread::spawn(move || {
        // The game thread's allocations while receiving and dropping every box.
        let before = AllocStats::current_thread();
        let mut n = 0;
        while n < N {
            for b in from_io.drain() {
                std::hint::black_box(&*b);
                n += 1;
            }
            std::thread::yield_now();
        }
        AllocStats::current_thread().since(&before)
    });
    let rt = support::rt();
    let p = pool.clone();
    let ((), io) = rt.block_on(allocs_during(async move {
        for i in 0..N {
            let b = p.alloc(Msg([i as u64; 4])).await;
            to_game.send(b).await.unwrap();
        }
    }));
    let game = game.join().unwrap();
    assert!(io.is_allocation_free(), "I/O thread: {io}");
    assert!(game.is_allocation_free(), "game thread: {game}");
    assert_eq!(pool.len(), 0);
}

#[test]
fn sync_pool_same_thread_allocates_nothing() {
    let pool = SyncPool::<Msg>::bounded(8);
    let ((), stats) = count_allocs(|| {
        for i in 0..N {
            std::hint::black_box(pool.try_alloc(Msg([i as u64; 4])).unwrap());
        }
    });
    assert!(stats.is_allocation_free(), "{stats}");
}

#[test]
fn buffer_pools_allocate_every_buffer_up_front() {
    let (bufs, made) = count_allocs(|| BufPool::new(16, 1500));
    // The pool's 4 blocks, the factory's box, and 16 buffers.
    assert_eq!(made.allocs, 4 + 1 + 16);
    let ((), stats) = count_allocs(|| {
        for i in 0..N {
            let mut b = bufs.try_alloc().unwrap();
            b[0] = i as u8;
            b.set_filled(1);
        }
    });
    assert!(stats.is_allocation_free(), "{stats}");

    let sync = SyncBufPool::new(16, 1500);
    let ((), stats) = count_allocs(|| {
        for _ in 0..N / 10 {
            let held: [_; 16] = std::array::from_fn(|_| sync.try_alloc().unwrap());
            std::thread::scope(|s| {
                s.spawn(move || drop(held));
            });
        }
    });
    // Spawning the scoped threads allocates (std's thread bookkeeping); the pool does not:
    // the same loop without the pool costs the same.
    let ((), baseline) = count_allocs(|| {
        for _ in 0..N / 10 {
            let held = [(); 16].map(|()| String::new());
            std::thread::scope(|s| {
                s.spawn(move || drop(held));
            });
        }
    });
    assert_eq!(stats.allocs, baseline.allocs);
}

#[test]
fn task_arenas_allocate_nothing_once_warm() {
    let rt = support::rt_bounded::<512>(64);
    let arenas = TaskArenas::new(4, ArenaConfig::DEFAULT);
    let run = |tasks: usize| {
        let arenas = arenas.clone();
        async move {
            for t in 0..tasks {
                let a = arenas.clone();
                let h = spawn_slab(async move {
                    let mem = a.scope().await;
                    let xs = mem.alloc_slice_fill_with(64, |i| (i + t) as u32);
                    let mut v = mem.vec::<u64>();
                    v.extend(xs.iter().map(|&x| u64::from(x)));
                    yield_now().await; // held across an await
                    v.iter().sum::<u64>()
                });
                h.await.unwrap();
            }
        }
    };
    rt.block_on(run(2)); // warm: the arena's chunk
    let ((), stats) = rt.block_on(allocs_during(run(N / 100)));
    assert!(stats.is_allocation_free(), "{stats}");
}

#[cfg(not(miri))] // sockets: mio's epoll is not available under Miri
#[test]
fn udp_receive_into_pooled_buffers_allocates_nothing() {
    use tickslab_runtime::net::UdpSocket;
    let rt = support::rt();
    let bufs = BufPool::new(8, 1500);
    let ((), stats) = rt.block_on(async {
        let rx = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let tx = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let to = rx.local_addr().unwrap();
        let round = |n: usize| {
            let (rx, tx, bufs) = (&rx, &tx, &bufs);
            async move {
                for i in 0..n {
                    tx.send_to(&[i as u8; 64], to).await.unwrap();
                    let mut buf = bufs.alloc().await;
                    let (len, _) = rx.recv_from(&mut buf).await.unwrap();
                    buf.set_filled(len);
                    assert_eq!(buf.filled()[0], i as u8);
                }
            }
        };
        round(100).await; // warm
        allocs_during(round(10_000)).await
    });
    assert!(stats.is_allocation_free(), "{stats}");
}
