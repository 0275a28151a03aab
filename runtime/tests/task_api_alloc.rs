//! Exact allocation counts for `JoinSet` and `task_local!`: a `JoinSet` that has held `n`
//! tasks spawns into the slab and joins `n` again with zero allocations, and a task-local
//! scope allocates nothing. A file of its own for the counting global allocator.

mod support;

use tickslab_alloc::counting::CountingAlloc;
use tickslab_runtime::task::{self, JoinSet};

use support::{allocs_during, rt_bounded};

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc::system();

tickslab_runtime::task_local! {
    static DEPTH: u32;
}

#[test]
fn join_set_round_trips_allocate_nothing_after_warm_up() {
    let rt = rt_bounded::<256>(64);
    rt.block_on(async {
        let mut set = JoinSet::new();
        let round = |set: &mut JoinSet<u32>| {
            for i in 0..32u32 {
                set.spawn_slab(async move {
                    task::yield_now().await;
                    i
                });
            }
        };
        // Warm-up: the set's vector grows to 32 handles once.
        round(&mut set);
        while set.join_next().await.is_some() {}
        let (sum, stats) = allocs_during(async {
            let mut sum = 0;
            for _ in 0..10 {
                round(&mut set);
                while let Some(res) = set.join_next().await {
                    sum += res.unwrap();
                }
            }
            sum
        })
        .await;
        assert_eq!(sum, 10 * (0..32).sum::<u32>());
        assert_eq!(stats.allocs + stats.reallocs, 0, "{stats}");
    });
}

#[test]
fn task_local_scope_allocates_nothing() {
    let rt = rt_bounded::<256>(8);
    rt.block_on(async {
        let (v, stats) = allocs_during(DEPTH.scope(3, async {
            task::yield_now().await;
            DEPTH.get() + DEPTH.sync_scope(4, || DEPTH.get())
        }))
        .await;
        assert_eq!(v, 7);
        assert_eq!(stats.allocs + stats.reallocs, 0, "{stats}");
    });
}
