//! A task's two state words: the runtime thread's plain `flags`, and the atomic `State`
//! that wakers on any thread share. The transitions between them are drawn in
//! `task/mod.rs`; only `harness.rs` writes `flags`.

use crate::core::sync::{AtomicUsize, Ordering, fence};

/// Runtime-thread bookkeeping bits in the header's `flags` (a `Cell<u16>`).
///
/// Combinations that never occur: `FUTURE` with `OUTPUT` (the stage holds one or the
/// other, or neither once the output was taken or dropped); `LIVE` with `COMPLETE`;
/// `RUNNING` without `LIVE` and `FUTURE`; `CANCEL` without `LIVE`.
pub(crate) mod flags {
    /// Owned by the executor: linked in its owned list, not complete.
    pub const LIVE: u16 = 1 << 0;
    /// A `JoinHandle` exists.
    pub const HANDLE: u16 = 1 << 1;
    /// In the local run queue.
    pub const LOCAL_QUEUED: u16 = 1 << 2;
    /// `abort()` was called: cancel instead of polling.
    pub const CANCEL: u16 = 1 << 3;
    /// The stage holds the future.
    pub const FUTURE: u16 = 1 << 4;
    /// The stage holds the output.
    pub const OUTPUT: u16 = 1 << 5;
    /// Being polled right now.
    pub const RUNNING: u16 = 1 << 6;
    /// Finished: returned `Ready`, panicked, or was cancelled.
    pub const COMPLETE: u16 = 1 << 7;
    /// Spawned by a frame that has not ended yet (see `crate::frame`).
    pub const FRAME: u16 = 1 << 8;
    /// While any of these is set the runtime thread keeps its local reference.
    pub const LOCAL_HOLDS: u16 = LIVE | HANDLE | LOCAL_QUEUED | FRAME;
}

/// `State` bit: the task sits in the runtime's remote queue (that entry holds a reference).
const REMOTE_QUEUED: usize = 1;
/// `State` unit of one reference.
const REF_ONE: usize = 2;
/// Reference counts beyond this mean leaked wakers: abort rather than overflow.
const MAX_REFS: usize = isize::MAX as usize;

/// The only part of a task that other threads touch: `REMOTE_QUEUED` plus a count of
/// references. References are: each `Waker` clone, each remote-queue entry, and one for the
/// runtime thread as a whole (the *local* reference, held while any `LOCAL_HOLDS` flag is
/// set). The block is freed when the count reaches zero, by whoever made it so (see
/// `release_final` in `core/remote.rs` for where that may happen).
pub(crate) struct State(AtomicUsize);

impl State {
    /// A new task's state: the local reference only.
    pub(crate) fn new() -> State {
        State(AtomicUsize::new(REF_ONE))
    }

    /// Adds one reference (a waker clone or a remote-queue entry). The caller already holds
    /// one, so the count cannot be zero.
    #[inline]
    pub(crate) fn ref_inc(&self) {
        // Relaxed: a new reference is made from an existing one, which already orders
        // everything it needs (as `Arc::clone`).
        let prev = self.0.fetch_add(REF_ONE, Ordering::Relaxed);
        if prev > MAX_REFS {
            std::process::abort();
        }
    }

    /// Drops one reference the caller holds; `true` if it was the last (the caller frees).
    #[inline]
    pub(crate) fn ref_dec(&self) -> bool {
        // Release/Acquire as `Arc::drop`: everything done through any reference happens
        // before the free.
        let prev = self.0.fetch_sub(REF_ONE, Ordering::Release);
        if prev & !REMOTE_QUEUED == REF_ONE {
            fence(Ordering::Acquire);
            true
        } else {
            false
        }
    }

    /// Drops the local reference (runtime thread); `true` if it was the last.
    #[inline]
    pub(crate) fn release_local_ref(&self) -> bool {
        // Fast path: with only the local reference left, nobody can add one (a new reference
        // is only ever made from an existing one), so no read-modify-write is needed.
        if self.0.load(Ordering::Acquire) == REF_ONE {
            return true;
        }
        self.ref_dec()
    }

    /// Sets `REMOTE_QUEUED`; `true` if this call set it (the caller must then enqueue an
    /// entry, with a reference of its own).
    #[inline]
    pub(crate) fn mark_remote_queued(&self) -> bool {
        self.0.fetch_or(REMOTE_QUEUED, Ordering::AcqRel) & REMOTE_QUEUED == 0
    }

    /// Clears `REMOTE_QUEUED` when its queue entry is taken out (by the entry's owner).
    #[inline]
    pub(crate) fn clear_remote_queued(&self) {
        self.0.fetch_and(!REMOTE_QUEUED, Ordering::AcqRel);
    }
}
