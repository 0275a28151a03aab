//! Task benches: the same workloads on tickslab, tokio and nexus-async-rt, in one run.
//!
//! Groups (see `tickslab_benches::Workload`):
//! - `spawn_join/1`: spawn + first poll → ready + join of one trivial task, per task;
//! - `spawn_join/1000`: 1,000 tasks spawned, then all joined (throughput in tasks);
//! - `dispatch`: a self-waking task, per poll.
//!
//! Each runtime is built once per group (outside the measurement) and reused for
//! every sample; `iter_custom` times only the work inside the runtime.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tickslab_benches::{Contender, Workload};

fn tasks(c: &mut Criterion) {
    for &workload in Workload::TASKS {
        let mut group = c.benchmark_group(workload.id());
        if workload.elements() > 1 {
            group.throughput(Throughput::Elements(workload.elements()));
        }
        for &contender in Contender::ALL {
            // Built per contender and dropped before the next one: nexus-async-rt
            // allows a single live runtime per thread.
            let mut bench = contender.build();
            group.bench_function(contender.name(), |b| {
                b.iter_custom(|iters| bench.run(workload, iters));
            });
        }
        group.finish();
    }
}

criterion_group!(benches, tasks);
criterion_main!(benches);
