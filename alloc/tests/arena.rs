//! The frame arena under the counting allocator: after warm-up, frames allocate nothing.

use std::alloc::Layout;

use tickslab_alloc::arena::{ArenaConfig, ArenaFull, FrameArena};
use tickslab_alloc::counting::{AllocStats, CountingAlloc, count_allocs, no_alloc};

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc::system();

#[repr(C, align(64))]
#[derive(Clone, Copy)]
struct CacheLine([u8; 64]);

#[repr(C, align(4096))]
#[derive(Clone, Copy)]
struct Page(u8);

/// A frame touching every allocation path, including one allocation bigger than a chunk and
/// over-aligned ones. Returns a checksum so nothing is optimized away.
fn frame(arena: &FrameArena, n: usize) -> u64 {
    let mut sum = 0u64;
    let ids = arena.alloc_slice_fill_with(n, |i| i as u32);
    let name = arena.alloc_str("entity-name");
    let line = arena.alloc(CacheLine([1; 64]));
    let page = arena.alloc(Page(3));
    let big = arena.alloc_slice_copy(&[7u8; 100_000]);
    let mut events = arena.vec();
    for i in 0..n as u64 {
        events.push(i * 2);
        if i % 16 == 0 {
            sum += *arena.alloc(i);
        }
    }
    let mut raw_ok = true;
    for align in [1usize, 2, 8, 16, 64, 4096] {
        let layout = Layout::from_size_align(24, align).unwrap();
        // SAFETY: the pointer is written and read within this frame only.
        unsafe {
            let p = arena.alloc_raw(layout).unwrap();
            raw_ok &= p.as_ptr().addr().is_multiple_of(align);
            p.as_ptr().write_bytes(0xEE, 24);
        }
    }
    assert!(raw_ok);
    assert_eq!((line as *const CacheLine).addr() % 64, 0);
    assert_eq!((page as *const Page).addr() % 4096, 0);
    sum += ids.iter().map(|&i| i as u64).sum::<u64>();
    sum += events.iter().sum::<u64>();
    sum += name.len() as u64 + line.0[63] as u64 + page.0 as u64 + big[99_999] as u64;
    sum
}

#[test]
fn warm_frames_make_zero_system_allocations() {
    let mut arena = FrameArena::with_config(ArenaConfig {
        chunk_size: 16 * 1024,
        byte_limit: None,
    });
    let (first, warm_up) = count_allocs(|| frame(&arena, 5000));
    assert!(warm_up.allocs > 0);
    let chunks = arena.stats().chunks;
    arena.reset();
    for _ in 0..5 {
        let (sum, stats) = count_allocs(|| frame(&arena, 5000));
        assert_eq!(sum, first);
        assert_eq!(stats, AllocStats::ZERO, "a warm frame allocated");
        arena.reset();
    }
    // And under a no-allocation guard, which panics on any allocation.
    no_alloc(|| {
        frame(&arena, 5000);
    });
    arena.reset();
    // A smaller frame also fits in the retained chunks.
    let (_, stats) = count_allocs(|| frame(&arena, 100));
    assert_eq!(stats, AllocStats::ZERO);
    assert_eq!(arena.stats().chunks, chunks);
    assert_eq!(arena.stats().resets, 7);
}

#[test]
fn first_allocation_costs_one_chunk_and_the_chunk_list() {
    let arena = FrameArena::new();
    let (_, stats) = count_allocs(|| {
        arena.alloc(1u32);
    });
    assert_eq!(stats.allocs, 2);
    // The 64 KiB chunk, plus a few bytes for the list of chunks.
    assert!(
        (64 * 1024..64 * 1024 + 512).contains(&stats.bytes_allocated),
        "{stats}"
    );
    let (_, stats) = count_allocs(|| {
        for i in 0..1000u32 {
            arena.alloc(i);
        }
    });
    assert_eq!(stats, AllocStats::ZERO, "all within the first chunk");
}

#[test]
fn reset_and_trim_give_memory_back() {
    let mut arena = FrameArena::with_config(ArenaConfig {
        chunk_size: 1024,
        byte_limit: None,
    });
    for i in 0..1024u64 {
        arena.alloc(i);
    }
    assert_eq!(arena.stats().chunks, 8);
    arena.reset();
    let ((), stats) = count_allocs(|| arena.trim(2));
    assert_eq!(
        stats,
        AllocStats {
            deallocs: 6,
            ..AllocStats::ZERO
        }
    );
    assert_eq!(arena.stats().chunk_bytes, 2048);
    let ((), stats) = count_allocs(|| drop(arena));
    assert_eq!(stats.deallocs, 3); // two chunks and the chunk list
}

#[test]
fn full_arena_is_a_recoverable_signal() {
    let mut arena = FrameArena::with_config(ArenaConfig {
        chunk_size: 4096,
        byte_limit: Some(8192),
    });
    let mut got = 0;
    let err = loop {
        match arena.try_alloc([0u8; 100]) {
            Ok(_) => got += 1,
            Err(e) => break e,
        }
    };
    assert_eq!(got, 2 * (4096 / 100));
    assert_eq!(
        err,
        ArenaFull {
            requested: 100,
            limit: Some(8192),
            used: 8192
        }
    );
    assert_eq!(
        err.to_string(),
        "frame arena full: a request of 100 bytes does not fit under the byte limit of 8192 \
         bytes (8192 bytes of chunks already held)"
    );
    let mut v = arena.vec::<u8>();
    assert!(v.try_reserve(200).is_err());
    assert!(
        v.try_push(1).is_ok(),
        "small requests still fit the tail of the last chunk"
    );
    arena.reset();
    // Next frame: full capacity again, without touching the system allocator.
    let (n, stats) = count_allocs(|| {
        let mut n = 0;
        while arena.try_alloc([0u8; 100]).is_ok() {
            n += 1;
        }
        n
    });
    assert_eq!(n, got);
    assert_eq!(stats, AllocStats::ZERO);
}

#[test]
fn alloc_panics_naming_the_limit() {
    let arena = FrameArena::with_config(ArenaConfig {
        chunk_size: 1024,
        byte_limit: Some(1024),
    });
    let err = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        arena.alloc_slice_copy(&[0u8; 2000]);
    }))
    .unwrap_err();
    let msg = err.downcast::<String>().unwrap();
    assert!(
        msg.contains("request of 2000 bytes") && msg.contains("byte limit of 1024 bytes"),
        "{msg}"
    );
}

#[test]
fn frame_vec_growth_and_reuse() {
    let mut arena = FrameArena::with_config(ArenaConfig {
        chunk_size: 4096,
        byte_limit: None,
    });
    let run = |arena: &FrameArena| {
        let mut a = arena.vec::<u32>();
        let mut b = arena.vec::<u16>();
        for i in 0..10_000u32 {
            a.push(i);
            b.push(i as u16);
        }
        assert!(a.iter().copied().eq(0..10_000));
        assert!(b.iter().copied().eq((0..10_000u32).map(|i| i as u16)));
        a.into_slice().len() + b.len()
    };
    assert_eq!(run(&arena), 20_000);
    arena.reset();
    let (n, stats) = count_allocs(|| run(&arena));
    assert_eq!(n, 20_000);
    assert_eq!(stats, AllocStats::ZERO);
}
