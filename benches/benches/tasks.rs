//! Task benches: the same workloads on tickslab, tokio and nexus-async-rt, in one run.
//!
//! Groups (see `tickslab_benches::Workload`):
//! - `spawn_join/1`: spawn + first poll → ready + join of one trivial task, per task;
//! - `spawn_join/1000`: 1,000 tasks spawned, then all joined (throughput in tasks);
//! - `dispatch`: a self-waking task, per poll;
//! - `dispatch/timers_1`, `dispatch/timers_1000`: the same with 1 / 1,000 timers armed
//!   (tasks holding 1 h timeouts).

use criterion::{Criterion, criterion_group, criterion_main};
use tickslab_benches::{Workload, crit};

fn tasks(c: &mut Criterion) {
    crit::bench_workloads(c, Workload::TASKS);
}

criterion_group!(benches, tasks);
criterion_main!(benches);
