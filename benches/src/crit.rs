//! Criterion glue shared by the bench targets: one group per workload, one function per
//! contender that supports it, all in the same run.

use criterion::{Criterion, Throughput};

use crate::{Contender, Family, Workload};

/// Adds one criterion group per workload, each running every contender that supports it
/// (except nexus-async-rt on `dispatch/timers_*`, see below).
///
/// Each contender is built once per group (outside the measurement) and reused for every
/// sample; `iter_custom` reports only the measured window of each run (wall time, or the
/// runtime thread's CPU time for `timers/sleep_10k`, see [`Workload::metric`]). Ops per
/// iteration above one are reported as throughput in elements.
pub fn bench_workloads(c: &mut Criterion, workloads: &[Workload]) {
    for &workload in workloads {
        let mut group = c.benchmark_group(workload.id());
        if workload.elements() > 1 {
            group.throughput(Throughput::Elements(workload.elements()));
        }
        if workload == Workload::SleepBatch {
            // An iteration takes milliseconds (10,000 sleeps of 1 ms).
            group.sample_size(10);
        }
        for &contender in Contender::ALL {
            if !contender.supports(workload) {
                continue;
            }
            if matches!(workload, Workload::DispatchTimers { .. })
                && contender.family() == Family::Nexus
            {
                // A nexus timer keeps its waker, and so its task's slab slot, until its
                // deadline even once dropped: every run leaves its holder tasks' slots
                // taken for an hour, and criterion's hundreds of runs on one instance
                // fill the slab (`compare`, 6 runs per fresh instance, does not).
                continue;
            }
            // Built per contender and dropped before the next one: nexus-async-rt
            // allows a single live runtime per thread.
            let mut bench = contender.build();
            group.bench_function(contender.name(), |b| {
                b.iter_custom(|iters| workload.metric(&bench.run(workload, iters)));
            });
        }
        group.finish();
    }
}
