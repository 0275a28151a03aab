//! The counting allocator installed for real: exact counts and no-allocation regions.

use std::hint::black_box;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};

use tickslab_alloc::counting::{
    AllocStats, CountingAlloc, count_allocs, is_counting_installed, no_alloc, no_alloc_guard,
};

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc::system();

fn panic_message(e: Box<dyn std::any::Any + Send>) -> String {
    match e.downcast::<String>() {
        Ok(s) => *s,
        Err(e) => e
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .unwrap_or_default(),
    }
}

#[test]
fn installed_is_detected() {
    assert!(is_counting_installed());
}

#[test]
fn vec_with_capacity_push_loop_counts_exactly() {
    let (v, stats) = count_allocs(|| {
        let mut v = Vec::with_capacity(100);
        for i in 0..100u64 {
            v.push(i);
        }
        v
    });
    assert_eq!(
        stats,
        AllocStats {
            allocs: 1,
            deallocs: 0,
            reallocs: 0,
            bytes_allocated: 800
        }
    );
    let ((), stats) = count_allocs(|| drop(v));
    assert_eq!(
        stats,
        AllocStats {
            deallocs: 1,
            ..AllocStats::ZERO
        }
    );
}

#[test]
fn growing_vec_counts_one_alloc_then_one_realloc_per_growth() {
    let mut caps = Vec::with_capacity(64);
    let (v, stats) = count_allocs(|| {
        let mut v = Vec::new();
        for i in 0..1000u32 {
            let before = v.capacity();
            v.push(i);
            if v.capacity() != before {
                caps.push(v.capacity());
            }
        }
        v
    });
    assert_eq!(v.len(), 1000);
    assert!(caps.len() > 2, "{caps:?}");
    assert_eq!(
        stats,
        AllocStats {
            allocs: 1,
            deallocs: 0,
            reallocs: caps.len() as u64 - 1,
            bytes_allocated: caps.iter().map(|c| *c as u64 * 4).sum(),
        }
    );
}

#[test]
fn pure_arithmetic_allocates_nothing() {
    let (x, stats) = count_allocs(|| {
        let mut acc = 0u64;
        for i in 0..10_000u64 {
            acc = acc.wrapping_mul(31).wrapping_add(black_box(i));
        }
        acc
    });
    black_box(x);
    assert_eq!(stats, AllocStats::ZERO);
    assert_eq!(no_alloc(|| black_box(2u32) + 2), 4);
}

#[test]
fn no_alloc_panics_on_box_new_naming_size_and_align() {
    let err = catch_unwind(|| no_alloc(|| drop(black_box(Box::new([0u64; 3]))))).unwrap_err();
    assert_eq!(
        panic_message(err),
        "allocation of 24 bytes (align 8) inside tickslab no_alloc region"
    );
    // The region is over: allocating is fine again.
    drop(black_box(Box::new(1u8)));
}

#[test]
fn no_alloc_reports_the_first_of_several_allocations() {
    let err = catch_unwind(|| {
        no_alloc(|| {
            drop(black_box(Box::new(1u16)));
            drop(black_box(vec![0u8; 1000]));
        })
    })
    .unwrap_err();
    let msg = panic_message(err);
    assert!(
        msg.starts_with("allocation of 2 bytes (align 2) inside tickslab no_alloc region"),
        "{msg}"
    );
    assert!(msg.contains("2 allocations"), "{msg}");
}

#[test]
fn no_alloc_catches_reallocation() {
    let mut v: Vec<u32> = Vec::with_capacity(1);
    v.push(1);
    let err = catch_unwind(AssertUnwindSafe(|| no_alloc(|| v.push(2)))).unwrap_err();
    let msg = panic_message(err);
    assert!(
        msg.starts_with("reallocation to ") && msg.contains("(align 4) inside tickslab no_alloc"),
        "{msg}"
    );
}

#[test]
fn deallocation_is_allowed_inside_no_alloc() {
    let b = Box::new(5u32);
    let ((), stats) = count_allocs(|| no_alloc(|| drop(b)));
    assert_eq!(
        stats,
        AllocStats {
            deallocs: 1,
            ..AllocStats::ZERO
        }
    );
}

#[test]
fn nested_regions() {
    // Clean nesting passes.
    assert_eq!(no_alloc(|| no_alloc(|| 1) + no_alloc(|| 2)), 3);

    // An allocation in the inner region is reported by the inner region; the outer region,
    // which caught it, is still enforced afterwards (the panic's own allocations do not count).
    let inner_msg = std::cell::Cell::new(None);
    let outer = catch_unwind(AssertUnwindSafe(|| {
        no_alloc(|| {
            let r = catch_unwind(|| no_alloc(|| drop(black_box(Box::new(0u32)))));
            inner_msg.set(Some(r.unwrap_err()));
            drop(black_box(Box::new([0u8; 7])));
        })
    }));
    let inner = panic_message(inner_msg.take().unwrap());
    assert_eq!(
        inner,
        "allocation of 4 bytes (align 4) inside tickslab no_alloc region"
    );
    assert_eq!(
        panic_message(outer.unwrap_err()),
        "allocation of 7 bytes (align 1) inside tickslab no_alloc region"
    );

    // After all that the thread is out of any region.
    drop(black_box(Box::new(1u8)));
}

#[test]
fn raii_guard() {
    let v: Vec<u8> = Vec::with_capacity(16);
    {
        let _g = no_alloc_guard();
        let mut v = v;
        v.extend_from_slice(b"no growth");
        assert_eq!(v.len(), 9);
    }
    let err = catch_unwind(|| {
        let g = no_alloc_guard();
        drop(black_box(String::from("hello")));
        drop(g);
    })
    .unwrap_err();
    assert_eq!(
        panic_message(err),
        "allocation of 5 bytes (align 1) inside tickslab no_alloc region"
    );
}

#[test]
fn unrelated_panic_inside_a_region_leaves_it_cleanly() {
    let err = catch_unwind(|| no_alloc(|| panic!("boom {}", black_box(1)))).unwrap_err();
    assert_eq!(panic_message(err), "boom 1");
    let ((), stats) = count_allocs(|| drop(black_box(Box::new(1u8))));
    assert_eq!(stats.allocs, 1);
    no_alloc(|| ());
}

#[test]
fn counts_are_per_thread() {
    static GO: AtomicBool = AtomicBool::new(false);
    static DONE: AtomicBool = AtomicBool::new(false);
    let other = std::thread::spawn(|| {
        while !GO.load(Ordering::Acquire) {
            std::thread::yield_now();
        }
        let mut keep = Vec::new();
        for i in 0..100u32 {
            keep.push(black_box(Box::new(i)));
        }
        DONE.store(true, Ordering::Release);
        keep.len()
    });
    let process_before = AllocStats::process();
    let ((), mine) = count_allocs(|| {
        GO.store(true, Ordering::Release);
        while !DONE.load(Ordering::Acquire) {
            std::thread::yield_now();
        }
    });
    let process = AllocStats::process().since(&process_before);
    assert_eq!(mine, AllocStats::ZERO);
    assert!(process.allocs >= 100, "{process}");
    assert_eq!(other.join().unwrap(), 100);
}

#[test]
fn guards_are_per_thread() {
    static GO: AtomicBool = AtomicBool::new(false);
    static DONE: AtomicBool = AtomicBool::new(false);
    let other = std::thread::spawn(|| {
        while !GO.load(Ordering::Acquire) {
            std::thread::yield_now();
        }
        // Not in a region on this thread, although the main thread is in one.
        let n = black_box(vec![1u8; 64]).len();
        DONE.store(true, Ordering::Release);
        n
    });
    no_alloc(|| {
        GO.store(true, Ordering::Release);
        while !DONE.load(Ordering::Acquire) {
            std::thread::yield_now();
        }
    });
    assert_eq!(other.join().unwrap(), 64);
}

struct AllocOnDrop;
impl Drop for AllocOnDrop {
    fn drop(&mut self) {
        // Allocates while the thread's locals are being torn down.
        black_box(vec![0u8; 32]);
    }
}
thread_local! {
    static TEARDOWN: AllocOnDrop = const { AllocOnDrop };
}

#[test]
fn allocating_during_thread_teardown_is_fine() {
    let h = std::thread::spawn(|| {
        TEARDOWN.with(|_| ());
        black_box(Box::new(1u8));
    });
    h.join().unwrap();
}

/// Aborting at the allocation site: checked in a child process running `abort_child`.
#[test]
#[cfg_attr(miri, ignore)] // no process spawning under Miri
fn abort_on_violation_aborts_at_the_allocation() {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "abort_child", "--nocapture", "--test-threads=1"])
        .env("TICKSLAB_ABORT_CHILD", "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "child should abort: {stderr}");
    assert!(
        stderr.contains("allocation of 12 bytes (align 4) inside tickslab no_alloc region"),
        "{stderr}"
    );
    assert!(!stderr.contains("reached the end"), "{stderr}");
}

#[test]
fn abort_child() {
    if std::env::var_os("TICKSLAB_ABORT_CHILD").is_none() {
        return;
    }
    tickslab_alloc::counting::set_abort_on_violation(true);
    no_alloc(|| drop(black_box(Box::new([0u32; 3]))));
    eprintln!("reached the end");
}
