//! tokio contenders: `current_thread` + `LocalSet`, and `LocalRuntime`.
//!
//! Both runtimes are built with `enable_all()` (I/O and time drivers on), as a
//! game's I/O thread would be, like the mio-backed tickslab and nexus-async-rt.
//! `LocalRuntime` is stable in the tokio version used (1.54): no `tokio_unstable`.

use std::future::Future;

use tokio::runtime::{Builder, LocalOptions, LocalRuntime, Runtime};
use tokio::task::LocalSet;

use crate::{Driver, Spawn, Unwrap};

/// tokio `Builder::new_current_thread()` runtime with a long-lived `LocalSet`.
pub struct CurrentThreadLocalSet {
    rt: Runtime,
    local: LocalSet,
}

impl CurrentThreadLocalSet {
    /// Builds the runtime (I/O and time drivers enabled) and its `LocalSet`.
    pub fn new() -> Self {
        let rt = Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio current_thread runtime");
        Self {
            rt,
            local: LocalSet::new(),
        }
    }
}

impl Default for CurrentThreadLocalSet {
    fn default() -> Self {
        Self::new()
    }
}

impl Driver for CurrentThreadLocalSet {
    fn run_in_task<F>(&mut self, fut: F) -> F::Output
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        let handle = self.local.spawn_local(fut);
        self.rt
            .block_on(self.local.run_until(handle))
            .expect("benchmark task failed")
    }
}

/// tokio `LocalRuntime` (`Builder::new_current_thread().build_local(..)`).
pub struct LocalRuntimeDriver {
    rt: LocalRuntime,
}

impl LocalRuntimeDriver {
    /// Builds the runtime (I/O and time drivers enabled).
    pub fn new() -> Self {
        let rt = Builder::new_current_thread()
            .enable_all()
            .build_local(LocalOptions::default())
            .expect("tokio LocalRuntime");
        Self { rt }
    }
}

impl Default for LocalRuntimeDriver {
    fn default() -> Self {
        Self::new()
    }
}

impl Driver for LocalRuntimeDriver {
    fn run_in_task<F>(&mut self, fut: F) -> F::Output
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        let handle = self.rt.spawn_local(fut);
        self.rt.block_on(handle).expect("benchmark task failed")
    }
}

/// `tokio::task::spawn_local` (works under both a `LocalSet` and a `LocalRuntime`).
pub struct SpawnLocal;

impl Spawn for SpawnLocal {
    #[inline]
    fn spawn<F>(fut: F) -> impl Future<Output = F::Output> + 'static
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        Unwrap(tokio::task::spawn_local(fut))
    }
}
