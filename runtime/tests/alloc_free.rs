//! Exact heap-allocation counts on the task hot paths, with a counting global allocator.
//!
//! After warm-up, slab tasks must cost zero allocations: spawn, poll, complete, join, free,
//! and self-waking polls. Boxed spawns are counted and printed for comparison.
//!
//! Why a file of its own (not in `tasks.rs`): a test binary has exactly one
//! `#[global_allocator]`, so counting-allocator tests get their own binaries.

mod support;

use std::future::poll_fn;
use std::task::Poll;

use tickslab_alloc::counting::CountingAlloc;
use tickslab_runtime::*;

use support::{allocs_during, rt_bounded};

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc::system();

const N: usize = if cfg!(miri) { 200 } else { 100_000 };

#[test]
fn slab_spawn_poll_complete_join_allocates_nothing_after_warmup() {
    let rt = rt_bounded::<256>(1024);
    let (sum, stats) = rt.block_on(async {
        for i in 0..100u64 {
            spawn_slab(async move { i }).await.unwrap(); // warm-up
        }
        allocs_during(async {
            let mut sum = 0u64;
            for i in 0..N as u64 {
                let h = spawn_slab(async move {
                    yield_now().await;
                    i
                });
                sum += h.await.unwrap();
            }
            sum
        })
        .await
    });
    assert_eq!(sum, (N as u64) * (N as u64 - 1) / 2);
    println!("spawn_slab + poll + complete + join, {N} cycles: {stats}");
    assert_eq!(stats.allocs + stats.reallocs, 0, "{stats}");
}

#[test]
fn slab_batches_and_claims_allocate_nothing_after_warmup() {
    let rt = rt_bounded::<256>(1024);
    let stats = rt.block_on(async {
        let mut handles = Vec::with_capacity(1000);
        let batch = async |handles: &mut Vec<JoinHandle<usize>>| {
            for i in 0..1000 {
                let claim = claim_slab().await;
                handles.push(claim.spawn(async move { i }));
            }
            let mut sum = 0;
            for h in handles.drain(..) {
                sum += h.await.unwrap();
            }
            assert_eq!(sum, 999 * 1000 / 2);
        };
        batch(&mut handles).await; // warm-up
        let ((), stats) = allocs_during(async {
            for _ in 0..(N / 1000).max(1) {
                batch(&mut handles).await;
            }
        })
        .await;
        stats
    });
    println!("batches of 1000 claim + spawn + join: {stats}");
    assert_eq!(stats.allocs + stats.reallocs, 0, "{stats}");
}

#[test]
fn self_waking_polls_allocate_nothing() {
    let rt = rt_bounded::<256>(16);
    let (polls, stats) = rt.block_on(async {
        spawn_slab(async {}).await.unwrap(); // warm-up
        allocs_during(async {
            let mut left = N;
            spawn_slab(poll_fn(move |cx| {
                if left == 0 {
                    return Poll::Ready(N);
                }
                left -= 1;
                cx.waker().wake_by_ref();
                Poll::Pending
            }))
            .await
            .unwrap()
        })
        .await
    });
    assert_eq!(polls, N);
    println!("{N} self-waking polls: {stats}");
    assert_eq!(stats.allocs + stats.reallocs, 0, "{stats}");
}

#[test]
fn cloned_wakers_and_the_root_waker_allocate_nothing() {
    let rt = rt_bounded::<256>(16);
    let stats = rt.block_on(async {
        spawn_slab(async {}).await.unwrap();
        let ((), stats) = allocs_during(async {
            for _ in 0..(N / 10) {
                // A task woken through a clone of its waker, joined by the root.
                let h = spawn_slab(async {
                    let mut woke = false;
                    poll_fn(move |cx| {
                        if woke {
                            return Poll::Ready(());
                        }
                        woke = true;
                        #[allow(clippy::waker_clone_wake)] // the clone is what is measured
                        cx.waker().clone().wake();
                        Poll::Pending
                    })
                    .await
                });
                h.await.unwrap();
            }
        })
        .await;
        stats
    });
    println!("clone + wake + join cycles: {stats}");
    assert_eq!(stats.allocs + stats.reallocs, 0, "{stats}");
}

#[test]
fn boxed_spawn_costs_one_allocation_each() {
    let rt = rt_bounded::<256>(16);
    let stats = rt.block_on(async {
        spawn(async {}).await.unwrap();
        let ((), stats) = allocs_during(async {
            for i in 0..1000u32 {
                assert_eq!(spawn(async move { i }).await.unwrap(), i);
            }
        })
        .await;
        stats
    });
    println!("1000 boxed spawn + join: {stats}");
    assert_eq!(stats.allocs, 1000, "one block per boxed task: {stats}");
    assert_eq!(stats.deallocs, 1000);
}

#[test]
fn forbid_alloc_in_slab_polls_reports_an_allocating_task_and_spares_clean_ones() {
    let rt = Runtime::builder()
        .slab_bounded::<256>(16)
        .forbid_alloc_in_slab_polls(true)
        .build();
    rt.block_on(async {
        let clean = spawn_slab(async {
            yield_now().await;
            1 + 1
        });
        assert_eq!(clean.await.unwrap(), 2);
        let dirty = spawn_slab(async {
            #[allow(clippy::useless_vec)] // the heap allocation is the point
            let v = vec![1u8; 100];
            v.len()
        });
        let err = dirty.await.unwrap_err();
        assert!(err.is_panic());
        let msg = err.to_string();
        assert!(
            msg.contains("100 bytes") && msg.contains("no_alloc"),
            "{msg}"
        );
        // Boxed tasks are not policed.
        assert_eq!(spawn(async { vec![0u8; 10].len() }).await.unwrap(), 10);
    });
}
