//! The pool workloads, without a runtime: tickslab's `Pool` and `SyncPool`, `Box::new`, and
//! fastalloc 1.5's `FixedPool` (the typed pool tickslab's design comes from).
//!
//! - `pool/alloc_drop`: place a 32-byte value, drop it at once, repeat. Op = one alloc +
//!   drop.
//! - `pool/batch_1000`: place [`POOL_BATCH`] values (all alive at once), then drop them all.
//!   Op = one alloc + drop.
//! - `pool/sync_return_1000`: [`POOL_BATCH`] `SyncPool` boxes allocated on the measuring
//!   thread, then dropped on the same thread (`tickslab_syncpool`) or on another thread
//!   (`tickslab_sync_xthr`, the I/O → game hand-over); op = one alloc + drop, the hand-over of
//!   the batch itself is not timed.

use std::hint::black_box;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::time::{Duration, Instant};

use tickslab::pool::{Pool, PoolBox, SyncPool, SyncPoolBox};

use crate::meter::{Meter, Sample, thread_cpu_time};
use crate::workload::POOL_BATCH;
use crate::{Bench, Workload};

/// The pooled value: 32 bytes (the arena workload's size), a newtype so that fastalloc's
/// `Poolable` can be implemented for it.
#[derive(Clone, Copy, Debug)]
pub struct Item(pub [u64; 4]);

impl fastalloc::Poolable for Item {}

/// The value for allocation `i`.
#[inline]
fn item(i: usize) -> Item {
    Item([i as u64; 4])
}

/// Runs one of the two single-thread pool workloads over `alloc`, which places a value and
/// returns an owner whose drop releases it. `held` is the batch's pre-sized storage.
#[inline]
fn run_local<B>(
    workload: Workload,
    iters: u64,
    held: &mut Vec<B>,
    mut alloc: impl FnMut(Item) -> B,
) -> Sample {
    match workload {
        Workload::PoolAllocDrop => {
            let meter = Meter::start();
            for i in 0..iters {
                drop(black_box(alloc(item(i as usize))));
            }
            meter.stop()
        }
        Workload::PoolBatch => {
            held.reserve(POOL_BATCH);
            let meter = Meter::start();
            for _ in 0..iters {
                for i in 0..POOL_BATCH {
                    held.push(black_box(alloc(item(i))));
                }
                held.clear();
            }
            meter.stop()
        }
        other => panic!("not a single-thread pool workload: {}", other.id()),
    }
}

/// tickslab's same-thread `Pool` (bounded, [`POOL_BATCH`] slots).
pub struct PoolBench {
    pool: Pool<Item>,
    held: Vec<PoolBox<Item>>,
}

impl Default for PoolBench {
    fn default() -> Self {
        PoolBench {
            pool: Pool::bounded(POOL_BATCH),
            held: Vec::new(),
        }
    }
}

impl Bench for PoolBench {
    fn run(&mut self, workload: Workload, iters: u64) -> Sample {
        let pool = &self.pool;
        run_local(workload, iters, &mut self.held, |v| {
            pool.try_alloc(v).unwrap_or_else(|_| panic!("pool full"))
        })
    }
}

/// tickslab's `SyncPool`, everything on the measuring thread.
pub struct SyncPoolBench {
    pool: SyncPool<Item>,
    held: Vec<SyncPoolBox<Item>>,
}

impl Default for SyncPoolBench {
    fn default() -> Self {
        SyncPoolBench {
            pool: SyncPool::bounded(POOL_BATCH),
            held: Vec::new(),
        }
    }
}

impl Bench for SyncPoolBench {
    fn run(&mut self, workload: Workload, iters: u64) -> Sample {
        let pool = &self.pool;
        match workload {
            Workload::PoolSyncReturn => {
                self.held.reserve(POOL_BATCH);
                let meter = Meter::start();
                for _ in 0..iters {
                    for i in 0..POOL_BATCH {
                        self.held
                            .push(black_box(pool.try_alloc(item(i)).expect("room")));
                    }
                    self.held.clear();
                }
                meter.stop()
            }
            w => run_local(w, iters, &mut self.held, |v| {
                pool.try_alloc(v).unwrap_or_else(|_| panic!("pool full"))
            }),
        }
    }
}

/// A batch handed to the dropping thread, and its answer: the time the drops took.
type Batch = Vec<SyncPoolBox<Item>>;

/// tickslab's `SyncPool`: boxes allocated on the measuring thread, dropped on another.
pub struct SyncCrossBench {
    pool: std::sync::Arc<SyncPool<Item>>,
    to_dropper: Option<SyncSender<Batch>>,
    from_dropper: Receiver<(Batch, Duration, Duration)>,
    dropper: Option<std::thread::JoinHandle<()>>,
}

impl Default for SyncCrossBench {
    fn default() -> Self {
        let (to_dropper, batches) = sync_channel::<Batch>(1);
        let (answers, from_dropper) = sync_channel(1);
        let dropper = std::thread::spawn(move || {
            for mut batch in batches {
                let (start, cpu) = (Instant::now(), thread_cpu_time());
                batch.clear(); // every box returns from this thread
                let times = (start.elapsed(), thread_cpu_time().saturating_sub(cpu));
                if answers.send((batch, times.0, times.1)).is_err() {
                    break;
                }
            }
        });
        SyncCrossBench {
            pool: std::sync::Arc::new(SyncPool::bounded(POOL_BATCH)),
            to_dropper: Some(to_dropper),
            from_dropper,
            dropper: Some(dropper),
        }
    }
}

impl Bench for SyncCrossBench {
    fn run(&mut self, workload: Workload, iters: u64) -> Sample {
        assert_eq!(workload, Workload::PoolSyncReturn, "unsupported workload");
        let tx = self.to_dropper.as_ref().expect("dropper thread");
        let mut batch = Vec::with_capacity(POOL_BATCH);
        let (mut wall, mut cpu) = (Duration::ZERO, Duration::ZERO);
        let meter = Meter::start();
        for _ in 0..iters {
            let (start, cpu0) = (Instant::now(), thread_cpu_time());
            for i in 0..POOL_BATCH {
                batch.push(black_box(self.pool.try_alloc(item(i)).expect("room")));
            }
            wall += start.elapsed();
            cpu += thread_cpu_time().saturating_sub(cpu0);
            tx.send(batch).expect("dropper thread");
            let (empty, drop_wall, drop_cpu) = self.from_dropper.recv().expect("dropper thread");
            batch = empty;
            wall += drop_wall;
            cpu += drop_cpu;
        }
        // The window's allocation counts (the hand-over channel allocates nothing once
        // warm); times are the two timed halves only.
        Sample {
            wall,
            cpu,
            ..meter.stop()
        }
    }
}

impl Drop for SyncCrossBench {
    fn drop(&mut self) {
        drop(self.to_dropper.take());
        if let Some(t) = self.dropper.take() {
            t.join().expect("dropper thread panicked");
        }
    }
}

/// `Box::new` + drop, the heap reference.
pub fn box_run(workload: Workload, iters: u64, held: &mut Vec<Box<Item>>) -> Sample {
    run_local(workload, iters, held, Box::new)
}

/// fastalloc 1.5's `FixedPool` (bounded, [`POOL_BATCH`] slots): `allocate` + handle drop.
pub struct FastallocBench {
    pool: fastalloc::FixedPool<Item>,
}

impl Default for FastallocBench {
    fn default() -> Self {
        FastallocBench {
            pool: fastalloc::FixedPool::new(POOL_BATCH).expect("a non-zero capacity"),
        }
    }
}

impl Bench for FastallocBench {
    fn run(&mut self, workload: Workload, iters: u64) -> Sample {
        let pool = &self.pool;
        // Its handles borrow the pool, so the batch storage lives in this call.
        let mut held = Vec::new();
        run_local(workload, iters, &mut held, |v| {
            pool.allocate(v).unwrap_or_else(|_| panic!("pool full"))
        })
    }
}
