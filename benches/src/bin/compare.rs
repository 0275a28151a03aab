//! Quick comparison: every workload on every runtime for a fixed number of
//! iterations; prints ns/op, heap allocations per op, and tickslab's ratios.
//!
//! Run with `cargo run --release -p tickslab-benches --bin compare`.
//! An "op" is one task for `spawn_join/*` and one poll for `dispatch`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tickslab_benches::{Contender, Workload};

/// Counts allocation calls (`alloc`, `alloc_zeroed`, `realloc`), then defers to
/// the system allocator.
struct Counting;

static ALLOCS: AtomicU64 = AtomicU64::new(0);

// SAFETY: every method forwards to `System` with the caller's arguments unchanged.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded contract.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded contract.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Measured runs per (contender, workload); the fastest is reported.
const RUNS: usize = 5;

/// The ratios printed: (numerator, denominator) of ns/op.
const RATIOS: &[(Contender, Contender)] = &[
    (Contender::TickslabSlab, Contender::TokioLocalSet),
    (Contender::TickslabSlab, Contender::TokioLocalRuntime),
    (Contender::TickslabSlab, Contender::NexusSlab),
    (Contender::TickslabBoxed, Contender::TokioLocalSet),
    (Contender::TickslabBoxed, Contender::NexusBoxed),
];

/// Iterations per measured run (one iteration = one `Bench::run` unit).
fn iters(workload: Workload) -> u64 {
    match workload {
        Workload::SpawnJoin { batch: 1 } => 200_000,
        Workload::SpawnJoin { batch } => (200_000 / batch as u64).max(1),
        Workload::Dispatch => 1_000_000,
    }
}

/// One cell of the table.
#[derive(Clone, Copy)]
struct Cell {
    ns_per_op: f64,
    allocs_per_op: f64,
}

fn measure(bench: &mut dyn tickslab_benches::Bench, workload: Workload) -> Cell {
    let iters = iters(workload);
    let ops = (iters * workload.elements()) as f64;
    // Warm-up: fills slabs, free lists, queues.
    bench.run(workload, iters / 10 + 1);
    let mut best = Duration::MAX;
    let mut allocs = u64::MAX;
    for _ in 0..RUNS {
        let before = ALLOCS.load(Ordering::Relaxed);
        let elapsed = bench.run(workload, iters);
        allocs = allocs.min(ALLOCS.load(Ordering::Relaxed) - before);
        best = best.min(elapsed);
    }
    Cell {
        ns_per_op: best.as_nanos() as f64 / ops,
        allocs_per_op: allocs as f64 / ops,
    }
}

fn main() {
    let workloads = Workload::TASKS;
    // results[c][w]
    let mut results: Vec<Vec<Cell>> = Vec::new();
    for &contender in Contender::ALL {
        // One runtime per contender, dropped before the next (nexus-async-rt allows
        // one live runtime per thread).
        let mut bench = contender.build();
        results.push(
            workloads
                .iter()
                .map(|&w| measure(bench.as_mut(), w))
                .collect(),
        );
    }

    println!(
        "{:<18} {:<16} {:>10} {:>11}",
        "workload", "runtime", "ns/op", "allocs/op"
    );
    for (wi, &workload) in workloads.iter().enumerate() {
        for (ci, &contender) in Contender::ALL.iter().enumerate() {
            let cell = results[ci][wi];
            println!(
                "{:<18} {:<16} {:>10.1} {:>11.3}",
                workload.id(),
                contender.name(),
                cell.ns_per_op,
                cell.allocs_per_op
            );
        }
        println!();
    }

    let index = |c: Contender| Contender::ALL.iter().position(|&x| x == c);
    println!("ratios of ns/op (< 1: tickslab faster):");
    let mut header = format!("{:<18}", "workload");
    for (num, den) in RATIOS {
        header += &format!(" {:>30}", format!("{}/{}", num.name(), den.name()));
    }
    println!("{header}");
    for (wi, &workload) in workloads.iter().enumerate() {
        let mut line = format!("{:<18}", workload.id());
        for &(num, den) in RATIOS {
            let cell = match (index(num), index(den)) {
                (Some(n), Some(d)) => {
                    format!("{:.2}", results[n][wi].ns_per_op / results[d][wi].ns_per_op)
                }
                _ => "-".to_owned(),
            };
            line += &format!(" {cell:>30}");
        }
        println!("{line}");
    }
}
