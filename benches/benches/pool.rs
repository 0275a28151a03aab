//! Pool benches (no runtime):
//! - `pool/alloc_drop`: one 32-byte value placed and dropped: tickslab `Pool`, `SyncPool`,
//!   `Box::new`, fastalloc 1.5 `FixedPool`;
//! - `pool/batch_1000`: 1,000 values alive at once, then all dropped: the same four;
//! - `pool/sync_return_1000`: `SyncPool` boxes dropped on the allocating thread vs on another.

use criterion::{Criterion, criterion_group, criterion_main};
use tickslab_benches::{Workload, crit};

fn pool(c: &mut Criterion) {
    crit::bench_workloads(c, Workload::POOL);
}

criterion_group!(benches, pool);
criterion_main!(benches);
