//! Frame benches:
//! - `frame/alloc_1000`: 1,000 allocations of 32 bytes, released at once: tickslab frame
//!   (`Runtime::frame` + `Frame::alloc`), tickslab `FrameArena`, `Box::new`, bumpalo;
//! - `frame/tasks_100`: 100 tasks per frame reading shared input: tickslab
//!   `Frame::spawn` (borrowing frame data) vs `'static` tasks with `Rc`s on tickslab
//!   (`spawn_slab`, `spawn`), tokio (`spawn_local`) and nexus-async-rt (`spawn_slab`,
//!   `spawn_boxed`).

use criterion::{Criterion, criterion_group, criterion_main};
use tickslab_benches::{Workload, crit};

fn frame(c: &mut Criterion) {
    crit::bench_workloads(c, Workload::FRAME);
}

criterion_group!(benches, frame);
criterion_main!(benches);
