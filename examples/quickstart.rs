//! A tour of the task API, counting heap allocations as it goes.
//!
//! `cargo run --release --example quickstart`

use std::time::Instant;

use tickslab::alloc::counting::{AllocStats, CountingAlloc};
use tickslab::{Runtime, SpawnErrorKind, claim_slab, spawn, spawn_slab, try_spawn_slab, yield_now};

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc::system();

const TASKS: u64 = 1_000_000;

fn main() {
    // 1,024 slots of 256 bytes, allocated once, here.
    let rt = Runtime::builder().slab_bounded::<256>(1024).build();

    rt.block_on(async {
        // Warm up, then measure: spawn + poll + complete + join, in the slab.
        spawn_slab(async {}).await.unwrap();
        let before = AllocStats::current_thread();
        let start = Instant::now();
        let mut sum = 0;
        for i in 0..TASKS {
            sum += spawn_slab(async move { i }).await.unwrap();
        }
        let elapsed = start.elapsed();
        let allocs = AllocStats::current_thread().since(&before);
        assert_eq!(sum, TASKS * (TASKS - 1) / 2);
        println!(
            "spawn_slab: {TASKS} tasks spawned and joined in {elapsed:?} ({:.0} ns/task), {} heap allocations",
            elapsed.as_nanos() as f64 / TASKS as f64,
            allocs.allocs
        );

        // The same with boxed tasks, for comparison.
        let before = AllocStats::current_thread();
        let start = Instant::now();
        for i in 0..TASKS / 10 {
            spawn(async move { i }).await.unwrap();
        }
        let elapsed = start.elapsed();
        let allocs = AllocStats::current_thread().since(&before);
        println!(
            "spawn (boxed): {} tasks in {elapsed:?} ({:.0} ns/task), {} heap allocations",
            TASKS / 10,
            elapsed.as_nanos() as f64 / (TASKS / 10) as f64,
            allocs.allocs
        );

        // Backpressure: a producer far faster than the 1,024 slots waits for room.
        let done = std::rc::Rc::new(std::cell::Cell::new(0u64));
        let produce = |n: u64| {
            let done = done.clone();
            async move {
                for _ in 0..n {
                    let claim = claim_slab().await; // waits while all slots are taken
                    let done = done.clone();
                    drop(claim.spawn(async move {
                        yield_now().await;
                        done.set(done.get() + 1);
                    }));
                }
                while done.get() < n {
                    yield_now().await;
                }
                done.set(0);
            }
        };
        produce(2_000).await; // warm-up: the waiter list gets its capacity
        let before = AllocStats::current_thread();
        produce(100_000).await;
        println!(
            "100,000 detached tasks through claim_slab().await backpressure: {} heap allocations",
            AllocStats::current_thread().since(&before).allocs,
        );

        // A full slab hands the future back instead of dropping it.
        let mut held = Vec::new();
        while let Ok(h) = try_spawn_slab(std::future::pending::<()>()) {
            held.push(h);
        }
        let err = try_spawn_slab(async { "not lost" }).unwrap_err();
        assert!(matches!(err.kind(), SpawnErrorKind::SlabFull { .. }));
        let message = err.to_string();
        let back = spawn(err.into_future()).await.unwrap();
        println!("full slab: {message}; the future comes back: {back:?}");
        for h in &held {
            h.abort();
        }
        for h in held {
            assert!(h.await.unwrap_err().is_cancelled());
        }

        // A panicking task is reported through its handle; the runtime keeps going.
        std::panic::set_hook(Box::new(|info| eprintln!("(a task panicked: {info})")));
        let err = spawn_slab(async { panic!("a bug in one task") }).await.unwrap_err();
        let _ = std::panic::take_hook();
        println!("panicking task: {err}");
    });

    let stats = rt.stats();
    println!(
        "runtime: {} tasks spawned, {} completed, {} polls, slab peak {}/{} slots",
        stats.tasks_spawned,
        stats.tasks_completed,
        stats.polls,
        stats.slab_peak,
        stats.slab_capacity.unwrap_or(0)
    );
}
