//! tickslab contenders: byte-slab tasks (`spawn_slab`) and boxed tasks (`spawn`).

use std::future::Future;

use nexus_slab::byte::bounded::Slab;
use tickslab::Runtime;

use crate::{Driver, SLAB_CAPACITY, SLAB_SLOT, Spawn, Unwrap};

/// A tickslab runtime.
pub struct TickslabDriver {
    rt: Runtime,
}

impl TickslabDriver {
    /// A runtime with a bounded byte slab of [`SLAB_CAPACITY`] slots of
    /// [`SLAB_SLOT`] bytes, for [`SlabSpawn`].
    pub fn with_bounded_slab() -> Self {
        // SAFETY: the slab is handed to a single-threaded runtime and only used from
        // this thread.
        let slab = unsafe { Slab::<SLAB_SLOT>::with_capacity(SLAB_CAPACITY) };
        let rt = Runtime::builder().slab_bounded(slab).build();
        Self { rt }
    }

    /// A runtime without a slab, for [`BoxSpawn`].
    pub fn boxed_only() -> Self {
        let rt = Runtime::builder().build();
        Self { rt }
    }
}

impl Driver for TickslabDriver {
    fn run_in_task<F>(&mut self, fut: F) -> F::Output
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        self.rt
            .block_on(async move { Unwrap(tickslab::spawn(fut)).await })
    }
}

/// `tickslab::spawn_slab`.
pub struct SlabSpawn;

impl Spawn for SlabSpawn {
    #[inline]
    fn spawn<F>(fut: F) -> impl Future<Output = F::Output> + 'static
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        Unwrap(tickslab::spawn_slab(fut))
    }
}

/// `tickslab::spawn` (Box-allocated task).
pub struct BoxSpawn;

impl Spawn for BoxSpawn {
    #[inline]
    fn spawn<F>(fut: F) -> impl Future<Output = F::Output> + 'static
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        Unwrap(tickslab::spawn(fut))
    }
}
