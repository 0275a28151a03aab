//! [`FrameArena`] through its public API: placement, alignment, zero-sized values, chunks,
//! reset and reuse, the byte limit, trimming, threads and raw allocations.

use std::alloc::Layout;

use tickslab_alloc::arena::{ArenaConfig, ArenaFull, ArenaStats, DEFAULT_CHUNK_SIZE, FrameArena};

mod support;
use support::small;

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
fn values_are_distinct_and_writable() {
    let arena = FrameArena::new();
    let a = arena.alloc(1u64);
    let b = arena.alloc(2u8);
    let c = arena.alloc([3u16; 5]);
    *a += 10;
    *b += 10;
    c[4] = 9;
    assert_eq!((*a, *b, *c), (11, 12, [3, 3, 3, 3, 9]));
    assert_eq!(arena.stats().chunks, 1);
}

#[test]
fn nothing_allocated_until_used() {
    let arena = FrameArena::new();
    assert_eq!(arena.stats(), ArenaStats::default());
}

#[test]
fn many_small_allocations_cross_chunk_boundaries() {
    let arena = small(256);
    let refs: Vec<&mut u64> = (0..1000u64).map(|i| arena.alloc(i)).collect();
    for (i, r) in refs.iter().enumerate() {
        assert_eq!(**r, i as u64);
    }
    let s = arena.stats();
    // 32 u64 per 256-byte chunk (chunks are 16-aligned, so no padding).
    assert_eq!(s.chunks, 1000usize.div_ceil(32));
    assert_eq!(s.bytes_used, 8000);
    assert_eq!(s.chunk_bytes, s.chunks * 256);
}

#[test]
fn alignment_is_respected() {
    #[repr(align(64))]
    #[derive(Clone, Copy)]
    struct A64(#[allow(dead_code)] u8);
    #[repr(align(4096))]
    #[derive(Clone, Copy)]
    struct A4096(#[allow(dead_code)] u8);

    let arena = small(1024);
    for round in 0..3 {
        let _ = arena.alloc(1u8); // knock the cursor off alignment
        arena.alloc(1u8);
        let r2 = arena.alloc(2u16) as *const u16;
        let r8 = arena.alloc(8u64) as *const u64;
        let r16 = arena.alloc(16u128) as *const u128;
        let r64 = arena.alloc(A64(64)) as *const A64;
        let r4k = arena.alloc(A4096(round)) as *const A4096;
        assert_eq!(r2.addr() % 2, 0);
        assert_eq!(r8.addr() % 8, 0);
        assert_eq!(r16.addr() % 16, 0);
        assert_eq!(r64.addr() % 64, 0);
        assert_eq!(r4k.addr() % 4096, 0);
    }
    // Raw layouts too.
    for align in [1, 2, 8, 16, 64, 4096] {
        let layout = Layout::from_size_align(3, align).unwrap();
        // SAFETY: the pointer is only inspected, never dereferenced.
        let p = unsafe { arena.alloc_raw(layout) }.unwrap();
        assert_eq!(p.as_ptr().addr() % align, 0, "align {align}");
    }
}

#[test]
fn zero_sized_types_take_no_memory() {
    #[repr(align(256))]
    struct BigAlignZst;
    let arena = FrameArena::new();
    let _a = arena.alloc(());
    let z = arena.alloc(BigAlignZst) as *const BigAlignZst;
    assert_eq!(z.addr() % 256, 0);
    let e: &mut [u32] = arena.alloc_slice_copy(&[]);
    assert!(e.is_empty());
    assert_eq!(arena.alloc_str(""), "");
    let units = arena.alloc_slice_fill_with(1_000_000, |_| ());
    assert_eq!(units.len(), 1_000_000);
    let mut v = arena.vec::<()>();
    for _ in 0..100 {
        v.push(());
    }
    assert_eq!(v.len(), 100);
    assert_eq!(v.capacity(), usize::MAX);
    assert!(v.try_reserve(usize::MAX).is_err());
    assert_eq!(arena.stats().chunks, 0);
    assert_eq!(arena.stats().bytes_used, 0);
}

#[test]
fn large_allocation_gets_its_own_chunk() {
    let arena = small(1024);
    let a = arena.alloc(7u32);
    let big = arena.alloc_slice_fill_with(5000, |i| i as u8);
    assert_eq!(big.len(), 5000);
    assert!(big.iter().enumerate().all(|(i, b)| *b == i as u8));
    let s = arena.stats();
    assert_eq!(s.chunks, 2);
    assert_eq!(s.chunk_bytes, 1024 + 5000);
    assert_eq!(*a, 7);
}

#[test]
fn slices_and_strings() {
    let arena = FrameArena::new();
    let s = arena.alloc_slice_copy(&[1u32, 2, 3]);
    s[0] = 10;
    assert_eq!(s, &[10, 2, 3]);
    let t = arena.alloc_str("héllo");
    t.make_ascii_uppercase();
    assert_eq!(t, "HéLLO");
    let sq = arena.alloc_slice_fill_with(4, |i| (i * i) as u16);
    assert_eq!(sq, &[0, 1, 4, 9]);
}

#[test]
fn fill_with_may_allocate_from_the_arena() {
    let arena = small(64);
    let refs = arena.alloc_slice_fill_with(20, |i| &*arena.alloc(i as u32));
    assert!(refs.iter().enumerate().all(|(i, r)| **r == i as u32));
}

#[test]
fn reset_reuses_chunks_and_tracks_peak() {
    let mut arena = small(128);
    for _ in 0..3 {
        for i in 0..100u32 {
            arena.alloc(i);
        }
        arena.reset();
    }
    let s = arena.stats();
    assert_eq!(s.chunks, 4); // 400 bytes in 128-byte chunks
    assert_eq!(s.bytes_used, 0);
    assert_eq!(s.peak_bytes, 400);
    assert_eq!(s.resets, 3);
}

#[test]
fn same_shape_frames_reuse_the_same_chunks() {
    let mut arena = small(256);
    let frame = |arena: &FrameArena| {
        let mut addrs = Vec::new();
        for i in 0..50u64 {
            addrs.push((arena.alloc(i) as *const u64).addr());
            if i % 10 == 0 {
                let big = arena.alloc_slice_fill_with(300, |j| j as u8);
                addrs.push(big.as_ptr().addr());
            }
            #[repr(align(128))]
            struct A(#[allow(dead_code)] u8);
            addrs.push((arena.alloc(A(1)) as *const A).addr());
        }
        addrs
    };
    let first = frame(&arena);
    let chunks = arena.stats().chunks;
    arena.reset();
    let second = frame(&arena);
    assert_eq!(first, second);
    assert_eq!(arena.stats().chunks, chunks);
}

#[test]
fn limit_is_enforced() {
    let arena = FrameArena::with_config(ArenaConfig {
        chunk_size: 100,
        byte_limit: Some(250),
    });
    for _ in 0..25 {
        arena.alloc(0u64);
    }
    // 3 chunks: 100 + 100 + 50 (the last sized to the limit), 8-byte values: 12 + 12 + 6.
    let s = arena.stats();
    assert_eq!((s.chunks, s.chunk_bytes), (3, 250));
    for _ in 25..30 {
        arena.alloc(0u64);
    }
    let err = arena.try_alloc(0u64).unwrap_err();
    assert_eq!(
        err,
        ArenaFull {
            requested: 8,
            limit: Some(250),
            used: 250
        }
    );
    let msg = err.to_string();
    assert!(msg.contains("limit of 250 bytes"), "{msg}");
    let p = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        arena.alloc(0u64);
    }));
    let msg = panic_message(p.unwrap_err());
    assert!(msg.contains("byte limit of 250 bytes"), "{msg}");
    assert!(msg.contains("request of 8 bytes"), "{msg}");
    // A request bigger than the limit fails without touching anything.
    assert!(arena.try_alloc_slice_copy(&[0u8; 300]).is_err());
    assert_eq!(arena.stats().chunk_bytes, 250);
}

#[test]
fn limit_smaller_than_a_chunk() {
    let arena = FrameArena::with_config(ArenaConfig {
        chunk_size: DEFAULT_CHUNK_SIZE,
        byte_limit: Some(64),
    });
    assert!(arena.try_alloc_slice_copy(&[1u8; 64]).is_ok());
    assert_eq!(arena.stats().chunk_bytes, 64);
    assert!(arena.try_alloc(1u8).is_err());
}

#[test]
fn overflowing_requests_are_errors_not_ub() {
    let arena = FrameArena::with_config(ArenaConfig {
        chunk_size: 64,
        byte_limit: Some(1 << 20),
    });
    let e = arena
        .try_alloc_slice_fill_with(usize::MAX / 2, |_| 0u64)
        .unwrap_err();
    assert_eq!(e.requested, usize::MAX);
    let layout = Layout::from_size_align(isize::MAX as usize - 4095, 4096).unwrap();
    // SAFETY: only the error is inspected.
    let e = unsafe { arena.alloc_raw(layout) }.unwrap_err();
    assert_eq!(e.requested, layout.size());
    let mut v = arena.vec::<u64>();
    v.push(1);
    assert!(v.try_reserve(usize::MAX).is_err());
    assert!(v.try_reserve(usize::MAX / 16).is_err());
    assert_eq!(v.as_slice(), &[1]);
}

#[test]
#[cfg_attr(miri, ignore)] // Miri reports huge allocations as resource exhaustion
fn huge_request_without_limit_is_an_error() {
    let arena = FrameArena::new();
    let layout = Layout::from_size_align(isize::MAX as usize - 4095, 4096).unwrap();
    // SAFETY: only the error is inspected.
    let e = unsafe { arena.alloc_raw(layout) }.unwrap_err();
    assert_eq!(e.limit, None);
    assert!(e.to_string().contains("no byte limit"));
}

#[test]
#[should_panic(expected = "chunk_size must not be zero")]
fn zero_chunk_size_is_refused() {
    let _ = FrameArena::with_config(ArenaConfig {
        chunk_size: 0,
        byte_limit: None,
    });
}

#[test]
fn trim_returns_unused_chunks() {
    let mut arena = small(64);
    for i in 0..64u64 {
        arena.alloc(i);
    }
    assert_eq!(arena.stats().chunks, 8);
    arena.trim(0); // the 8 chunks are in use: nothing to free
    assert_eq!(arena.stats().chunks, 8);
    arena.reset();
    arena.alloc(1u8);
    arena.trim(3);
    assert_eq!(arena.stats().chunks, 3);
    assert_eq!(arena.stats().chunk_bytes, 3 * 64);
    arena.reset();
    arena.trim(0);
    assert_eq!(arena.stats().chunks, 0);
    assert_eq!(*arena.alloc(5u16), 5);
    assert_eq!(arena.stats().chunks, 1);
}

#[test]
fn arena_can_move_to_another_thread() {
    let mut arena = small(64);
    arena.alloc(1u32);
    arena.reset();
    let arena = std::thread::spawn(move || {
        assert_eq!(*arena.alloc(2u32), 2);
        arena
    })
    .join()
    .unwrap();
    assert_eq!(arena.stats().chunks, 1);
}

#[test]
fn references_from_a_frame_can_go_to_scoped_threads() {
    let arena = FrameArena::new();
    let x = arena.alloc(1u32);
    let y = arena.alloc_slice_copy(&[1u8, 2]);
    std::thread::scope(|s| {
        s.spawn(|| *x += 1);
        s.spawn(|| y[1] = 5);
    });
    assert_eq!((*x, &*y), (2, &[1u8, 5][..]));
}

#[test]
fn raw_allocations_hold_values_with_destructors_managed_by_the_caller() {
    let mut arena = FrameArena::new();
    let layout = Layout::new::<String>();
    // SAFETY: the block is used only within this frame, and the `String` placed in it is
    // dropped before the reset.
    unsafe {
        let p = arena.alloc_raw(layout).unwrap().cast::<String>();
        p.as_ptr().write(String::from("task"));
        assert_eq!(*p.as_ptr(), "task");
        p.as_ptr().drop_in_place();
    }
    arena.reset();
}
