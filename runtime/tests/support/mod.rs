//! Helpers shared by the integration tests in `runtime/tests/`.
//!
//! Every `tests/*.rs` file is a crate of its own and includes this module with `mod support;`
//! (it lives in a directory so that cargo does not build it as a test binary itself). What is
//! here, and why:
//!
//! - [`rt_bounded::<N>(capacity)`](rt_bounded): a runtime with a bounded slab of `capacity`
//!   slots of `N` bytes and every other option at its default. All the slab runtimes of the
//!   tests are built through it, so a change to the builder is made here once.
//! - [`rt()`](rt): the usual test runtime, 256 slots of 256 bytes. Files that need other
//!   sizes keep a one-line `rt()` of their own over [`rt_bounded`], so each file still states
//!   the slab it runs on.
//! - [`allocs_during`]: the heap allocations this thread makes while a future runs. Only
//!   meaningful in a binary that installs `CountingAlloc` as its global allocator.
//! - [`DropCounter`]: counts how many of its values were dropped (same thread).
//!
//! Tests that count allocations (`alloc_free.rs`, `channels_alloc.rs`, `net_alloc.rs`) stand
//! apart from the behaviour files because a test binary has exactly one `#[global_allocator]`,
//! so the counting-allocator tests get binaries of their own (`frame.rs` and `time.rs`
//! install it for all of their tests).

// Each test binary uses only some of these helpers; the rest would warn as unused there.
#![allow(dead_code)]

use std::cell::Cell;
use std::future::Future;
use std::rc::Rc;

use tickslab_alloc::counting::AllocStats;
use tickslab_runtime::Runtime;

/// A runtime with a bounded slab of `capacity` slots of `N` bytes.
pub fn rt_bounded<const N: usize>(capacity: usize) -> Runtime {
    Runtime::builder().slab_bounded::<N>(capacity).build()
}

/// The usual test runtime: 256 slots of 256 bytes.
pub fn rt() -> Runtime {
    rt_bounded::<256>(256)
}

/// Allocations made by this thread while `f` runs (async: measured across awaits).
pub async fn allocs_during<F: Future>(f: F) -> (F::Output, AllocStats) {
    let before = AllocStats::current_thread();
    let out = f.await;
    (out, AllocStats::current_thread().since(&before))
}

/// Counts its drops (same thread).
pub struct DropCounter(pub Rc<Cell<usize>>);

impl Drop for DropCounter {
    fn drop(&mut self) {
        self.0.set(self.0.get() + 1);
    }
}
