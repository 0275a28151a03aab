//! Exact allocation counts for `process`: after warm-up, waiting for a child's exit (its
//! pidfd registered with the reactor, the wait, the reaping) allocates nothing. Spawning
//! allocates what std's `Command::spawn` does (reported, not asserted: it is std's; none for
//! a command built once, with no environment changes, on Linux's `posix_spawn` path).
//!
//! A file of its own: a test binary has one `#[global_allocator]`.
#![cfg(all(target_os = "linux", not(miri)))]

mod support;

use tickslab_alloc::counting::{AllocStats, CountingAlloc};
use tickslab_runtime::process::Command;

use support::rt;

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc::system();

fn add(a: AllocStats, b: AllocStats) -> AllocStats {
    AllocStats {
        allocs: a.allocs + b.allocs,
        deallocs: a.deallocs + b.deallocs,
        reallocs: a.reallocs + b.reallocs,
        bytes_allocated: a.bytes_allocated + b.bytes_allocated,
    }
}

#[test]
fn waiting_for_a_child_allocates_nothing_after_warmup() {
    const WARMUP: usize = 5;
    const ROUNDS: usize = 50;
    assert!(tickslab_alloc::counting::is_counting_installed());
    rt().block_on(async {
        let mut cmd = Command::new("true");
        let mut waits = AllocStats::default();
        let mut spawns = AllocStats::default();
        for round in 0..WARMUP + ROUNDS {
            let before = AllocStats::current_thread();
            let mut child = cmd.spawn().unwrap();
            let spawned = AllocStats::current_thread();
            assert!(child.wait().await.unwrap().success());
            let waited = AllocStats::current_thread();
            assert_eq!(child.try_wait().unwrap().map(|s| s.success()), Some(true));
            drop(child);
            let dropped = AllocStats::current_thread();
            if round >= WARMUP {
                spawns = add(spawns, spawned.since(&before));
                waits = add(add(waits, waited.since(&spawned)), dropped.since(&waited));
            }
        }
        println!("{ROUNDS} spawns (std's Command::spawn): {spawns}");
        println!("{ROUNDS} waits, try_waits and drops: {waits}");
        assert_eq!(waits.allocs + waits.reallocs + waits.deallocs, 0, "{waits}");
    });
}
