//! An `UnsafeCell` with loom's access API (`with_mut`): std's in normal builds (the closure
//! is inlined away), loom's under `--cfg loom`, whose cell fails the model when two threads
//! could touch it at once. For the cross-thread cells checked by the loom models of file
//! operations (`fs/op.rs`) and `spawn_blocking`'s jobs (`blocking/job.rs`).

#[cfg(loom)]
pub(crate) use loom::cell::UnsafeCell;

/// std's `UnsafeCell`, spoken through loom's API.
#[cfg(not(loom))]
pub(crate) struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

#[cfg(not(loom))]
impl<T> UnsafeCell<T> {
    pub(crate) fn new(value: T) -> Self {
        UnsafeCell(std::cell::UnsafeCell::new(value))
    }

    /// Calls `f` with the cell's pointer (what `UnsafeCell::get` gives).
    #[inline]
    pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        f(self.0.get())
    }
}
