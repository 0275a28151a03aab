//! `futures-task` spawners over the tickslab runtime.
//!
//! tokio's names used to live here (`compat::task`, `compat::runtime`); the facade speaks
//! tokio itself now (`tickslab::task::spawn_local`, `tickslab::runtime::Builder`, ...), so
//! what remains is what tokio does not have: [`LocalSpawner`], which implements
//! [`futures_task::LocalSpawn`] and [`futures_task::Spawn`] so that code generic over those
//! traits can spawn onto tickslab.
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

use std::marker::PhantomData;

use futures_task::{FutureObj, LocalFutureObj, LocalSpawn, Spawn, SpawnError};

pub use tickslab_runtime as rt;

/// Spawns onto whichever tickslab runtime is current on this thread, for code generic over
/// [`LocalSpawn`] or [`Spawn`]. Tries the slab first (a `FutureObj` is three words), and
/// falls back to a boxed task when there is no slab or it is full; fails with
/// `SpawnError::shutdown()` outside a runtime.
#[derive(Clone, Copy, Debug, Default)]
pub struct LocalSpawner {
    _not_send: PhantomData<*const ()>,
}

impl LocalSpawner {
    /// A spawner for the current runtime.
    pub fn new() -> Self {
        LocalSpawner::default()
    }

    fn spawn_unit<F: std::future::Future<Output = ()> + 'static>(
        &self,
        future: F,
    ) -> Result<(), SpawnError> {
        use tickslab_runtime::SpawnErrorKind;
        match tickslab_runtime::try_spawn_slab(future) {
            Ok(handle) => drop(handle),
            Err(e) => match e.kind() {
                SpawnErrorKind::NoRuntime | SpawnErrorKind::Shutdown => {
                    return Err(SpawnError::shutdown());
                }
                _ => drop(tickslab_runtime::spawn(e.into_future())),
            },
        }
        Ok(())
    }
}

impl LocalSpawn for LocalSpawner {
    fn spawn_local_obj(&self, future: LocalFutureObj<'static, ()>) -> Result<(), SpawnError> {
        self.spawn_unit(future)
    }
}

impl Spawn for LocalSpawner {
    fn spawn_obj(&self, future: FutureObj<'static, ()>) -> Result<(), SpawnError> {
        self.spawn_unit(future)
    }
}
