//! tokio-shaped names over the tickslab runtime, and `futures-task` spawn traits.
//!
//! Switching a game's I/O thread from tokio is meant to be mostly an import change:
//!
//! | tokio | tickslab-compat |
//! |---|---|
//! | `tokio::task::spawn_local` | [`task::spawn_local`] (boxed; [`task::spawn_local_slab`] for no allocation) |
//! | `tokio::task::{JoinHandle, JoinError, yield_now}` | [`task::JoinHandle`], [`task::JoinError`], [`task::yield_now`] |
//! | `tokio::runtime::Builder::new_current_thread()` | [`runtime::Builder::new_current_thread`] |
//! | `LocalSet::block_on(&rt, fut)` / `LocalRuntime::block_on` | [`runtime::Runtime::block_on`] |
//!
//! Generic code that spawns through [`futures_task::LocalSpawn`] or [`futures_task::Spawn`]
//! can use [`LocalSpawner`].
//!
//! Differences worth knowing: a tickslab `Runtime` is single-threaded and `!Send` (like
//! `LocalRuntime`), and a `JoinHandle` is `!Send`.
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

use std::marker::PhantomData;

use futures_task::{FutureObj, LocalFutureObj, LocalSpawn, Spawn, SpawnError};

pub use tickslab_runtime as rt;

/// tokio's `task` module.
pub mod task {
    pub use tickslab_runtime::task::{BlockingJoinHandle, spawn_blocking};
    pub use tickslab_runtime::{JoinError, JoinHandle, YieldNow, yield_now};

    use std::future::Future;

    /// Spawns a `!Send` future on the current runtime, like `tokio::task::spawn_local`.
    /// Boxed (any size); see [`spawn_local_slab`] for the allocation-free form.
    ///
    /// # Panics
    /// Outside a tickslab runtime.
    #[track_caller]
    pub fn spawn_local<F>(future: F) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
    {
        tickslab_runtime::spawn(future)
    }

    /// Spawns into the runtime's slab: no heap allocation (see `tickslab::spawn_slab`).
    #[track_caller]
    pub fn spawn_local_slab<F>(future: F) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
    {
        tickslab_runtime::spawn_slab(future)
    }
}

/// Files, under tokio's path (`tokio::fs`).
pub use tickslab_runtime::fs;

/// tokio's `runtime` module.
pub mod runtime {
    use std::io;

    pub use tickslab_runtime::{EnterGuard, Runtime};

    /// A builder spelled like tokio's: `Builder::new_current_thread().enable_all().build()?`.
    #[derive(Debug, Default)]
    pub struct Builder {
        inner: tickslab_runtime::Builder,
    }

    impl Builder {
        /// A single-threaded runtime builder (the only kind tickslab has).
        pub fn new_current_thread() -> Self {
            Builder::default()
        }

        /// Accepted for compatibility: the I/O driver and timers are always on.
        pub fn enable_all(&mut self) -> &mut Self {
            self
        }

        /// Configure the tickslab side (slab, budget) on the underlying builder.
        pub fn tickslab(
            &mut self,
            f: impl FnOnce(tickslab_runtime::Builder) -> tickslab_runtime::Builder,
        ) -> &mut Self {
            self.inner = f(std::mem::take(&mut self.inner));
            self
        }

        /// Builds the runtime, as tokio's `build()`.
        pub fn build(&mut self) -> io::Result<Runtime> {
            std::mem::take(&mut self.inner).try_build()
        }
    }
}

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
