//! Timer benches, tickslab vs tokio vs nexus-async-rt in one run:
//! - `timers/sleep_10k`: 10,000 tasks each sleeping 1 ms, joined; reported as the runtime
//!   thread's CPU time (the wall time is mostly the millisecond of sleeping);
//! - `timers/timeout_ready`: a timeout around a ready future;
//! - `timers/timeout_armed`: a timeout around `yield_now()` (armed, then cancelled).

use criterion::{Criterion, criterion_group, criterion_main};
use tickslab_benches::{Workload, crit};

fn timers(c: &mut Criterion) {
    crit::bench_workloads(c, Workload::TIMERS);
}

criterion_group!(benches, timers);
criterion_main!(benches);
