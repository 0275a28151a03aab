//! nexus-async-rt 0.7 contenders: byte-slab tasks (`spawn_slab`) and boxed tasks
//! (`spawn_boxed`).
//!
//! A nexus `Runtime` borrows a `nexus_rt::World` by raw pointer for its whole life,
//! and only one nexus runtime may be alive per thread at a time.

use std::future::Future;

use nexus_async_rt::Runtime;
use nexus_rt::{World, WorldBuilder};
use nexus_slab::byte::bounded::Slab;

use crate::{Driver, SLAB_CAPACITY, SLAB_SLOT, Spawn};

/// A nexus-async-rt runtime together with the `World` it points into.
pub struct NexusDriver {
    // Field order matters: the runtime drops before the world it points into.
    rt: Runtime,
    _world: Box<World>,
}

impl NexusDriver {
    /// A runtime with a bounded byte slab of [`SLAB_CAPACITY`] slots of
    /// [`SLAB_SLOT`] bytes, for [`SlabSpawn`].
    pub fn with_bounded_slab() -> Self {
        let mut world = Box::new(WorldBuilder::new().build());
        // SAFETY: the slab is handed to a single-threaded runtime and only used from
        // this thread.
        let slab = unsafe { Slab::<SLAB_SLOT>::with_capacity(SLAB_CAPACITY) };
        let rt = Runtime::builder(&mut world).slab_bounded(slab).build();
        Self { rt, _world: world }
    }

    /// A runtime without a slab, for [`BoxSpawn`].
    pub fn boxed_only() -> Self {
        let mut world = Box::new(WorldBuilder::new().build());
        let rt = Runtime::new(&mut world);
        Self { rt, _world: world }
    }
}

impl Driver for NexusDriver {
    fn run_in_task<F>(&mut self, fut: F) -> F::Output
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        self.rt
            .block_on(async move { nexus_async_rt::spawn_boxed(fut).await })
    }
}

/// `nexus_async_rt::spawn_slab`.
pub struct SlabSpawn;

impl Spawn for SlabSpawn {
    #[inline]
    fn spawn<F>(fut: F) -> impl Future<Output = F::Output> + 'static
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        nexus_async_rt::spawn_slab(fut)
    }
}

/// `nexus_async_rt::spawn_boxed`.
pub struct BoxSpawn;

impl Spawn for BoxSpawn {
    #[inline]
    fn spawn<F>(fut: F) -> impl Future<Output = F::Output> + 'static
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        nexus_async_rt::spawn_boxed(fut)
    }
}
