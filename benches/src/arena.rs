//! The `frame/alloc_1000` workload without a runtime: tickslab's `FrameArena` used
//! directly, `Box::new`, and bumpalo (the reference bump allocator).
//!
//! Each iteration allocates [`ARENA_ALLOCS`] values of [`Value`] (32 bytes), keeps them
//! all alive, then releases them at once: arena reset, bump reset, or dropping the boxes.
//! The frame version (through `Runtime::frame`) is in [`crate::tickslab_rt`].

use std::hint::black_box;

use tickslab::alloc::arena::FrameArena;

use crate::meter::{Meter, Sample};
use crate::workload::ARENA_ALLOCS;
use crate::{Bench, Workload};

/// The value allocated by the arena workload (32 bytes, no destructor).
pub type Value = [u64; 4];

/// The value for allocation `i`.
#[inline]
pub fn value(i: usize) -> Value {
    [i as u64; 4]
}

/// tickslab's `FrameArena` on its own: `alloc` × N, then `reset`.
#[derive(Debug, Default)]
pub struct ArenaBench {
    arena: FrameArena,
}

impl Bench for ArenaBench {
    fn run(&mut self, workload: Workload, iters: u64) -> Sample {
        assert_eq!(workload, Workload::ArenaAlloc, "unsupported workload");
        // Warm: the arena's first chunk.
        black_box(self.arena.alloc(value(0)));
        self.arena.reset();
        let meter = Meter::start();
        for _ in 0..iters {
            for i in 0..ARENA_ALLOCS {
                black_box(self.arena.alloc(value(i)));
            }
            self.arena.reset();
        }
        meter.stop()
    }
}

/// `Box::new` × N (kept in a pre-sized `Vec`), then all dropped; also the heap reference of
/// the pool workloads ([`crate::pool::box_run`]).
#[derive(Debug, Default)]
#[allow(
    clippy::vec_box,
    reason = "one heap allocation per value is what is measured"
)]
pub struct BoxBench {
    boxes: Vec<Box<Value>>,
    items: Vec<Box<crate::pool::Item>>,
}

impl Bench for BoxBench {
    fn run(&mut self, workload: Workload, iters: u64) -> Sample {
        if workload != Workload::ArenaAlloc {
            return crate::pool::box_run(workload, iters, &mut self.items);
        }
        self.boxes.reserve(ARENA_ALLOCS);
        let meter = Meter::start();
        for _ in 0..iters {
            for i in 0..ARENA_ALLOCS {
                self.boxes.push(black_box(Box::new(value(i))));
            }
            self.boxes.clear();
        }
        meter.stop()
    }
}

/// `bumpalo::Bump::alloc` × N, then `reset`.
#[derive(Debug, Default)]
pub struct BumpaloBench {
    bump: bumpalo::Bump,
}

impl Bench for BumpaloBench {
    fn run(&mut self, workload: Workload, iters: u64) -> Sample {
        assert_eq!(workload, Workload::ArenaAlloc, "unsupported workload");
        // Warm: grow the bump to one iteration's worth (reset keeps the largest chunk).
        for i in 0..ARENA_ALLOCS {
            black_box(self.bump.alloc(value(i)));
        }
        self.bump.reset();
        let meter = Meter::start();
        for _ in 0..iters {
            for i in 0..ARENA_ALLOCS {
                black_box(self.bump.alloc(value(i)));
            }
            self.bump.reset();
        }
        meter.stop()
    }
}
