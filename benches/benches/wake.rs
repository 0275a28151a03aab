//! Cross-thread benches, tickslab vs tokio vs nexus-async-rt in one run:
//! - `remote_wake`: another thread wakes a task whose runtime is parked in epoll and
//!   spins until the task acknowledges (round trip, measured on the runtime thread);
//! - `cross/round_trip`: game thread → runtime (on its own thread) → game thread through
//!   two bounded cross-thread channels (tickslab `sync::cross`, tokio `sync::mpsc`,
//!   nexus `channel::mpsc`).

use criterion::{Criterion, criterion_group, criterion_main};
use tickslab_benches::{Workload, crit};

fn wake(c: &mut Criterion) {
    crit::bench_workloads(c, Workload::WAKE);
}

criterion_group!(benches, wake);
criterion_main!(benches);
