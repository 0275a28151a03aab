//! [`OnceCell`] (tokio's async once-cell) and [`SetOnce`] (a value set once that tasks
//! wait for). Safe code on `std::sync::OnceLock`; waiting allocates nothing.
//!
//! `OnceCell` serialises initialisers with a one-permit semaphore (`batch_semaphore.rs`):
//! one `get_or_init` runs its future at a time, in FIFO order; if that future is dropped,
//! fails or panics, the permit goes back and the next waiting initialiser runs. `SetOnce`
//! wakes its waiters with `Notify::notify_waiters` after the value is in.

use std::fmt;
use std::future::Future;
use std::pin::pin;
use std::sync::OnceLock;

use super::batch_semaphore::RawSemaphore;
use super::notify::Notify;

/// Gives the initialisation permit back when dropped (also on panic or cancellation).
struct Release<'a>(&'a RawSemaphore);

impl Drop for Release<'_> {
    fn drop(&mut self) {
        self.0.release(1);
    }
}

/// A cell set at most once, by an async initialiser (tokio's `sync::OnceCell`).
///
/// ```
/// use tickslab_runtime::{Runtime, sync::OnceCell};
///
/// static CONFIG: OnceCell<u32> = OnceCell::const_new();
///
/// let rt = Runtime::new().unwrap();
/// rt.block_on(async {
///     let v = CONFIG.get_or_init(|| async { 42 }).await;
///     assert_eq!(*v, 42);
///     assert_eq!(*CONFIG.get_or_init(|| async { 0 }).await, 42); // runs once
/// });
/// ```
pub struct OnceCell<T> {
    value: OnceLock<T>,
    init: RawSemaphore,
}

/// Why [`OnceCell::set`] failed; the value comes back.
#[derive(Debug, PartialEq, Eq)]
pub enum SetError<T> {
    /// The cell already holds a value.
    AlreadyInitializedError(T),
    /// An initialiser is running now.
    InitializingError(T),
}

impl<T> SetError<T> {
    /// Whether the cell was already set.
    pub fn is_already_init_err(&self) -> bool {
        matches!(self, SetError::AlreadyInitializedError(_))
    }

    /// Whether an initialiser was running.
    pub fn is_initializing_err(&self) -> bool {
        matches!(self, SetError::InitializingError(_))
    }
}

impl<T> fmt::Display for SetError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SetError::AlreadyInitializedError(_) => f.write_str("AlreadyInitializedError"),
            SetError::InitializingError(_) => f.write_str("InitializingError"),
        }
    }
}

impl<T: fmt::Debug> std::error::Error for SetError<T> {}

impl<T> OnceCell<T> {
    /// An empty cell. Allocates nothing.
    pub const fn new() -> OnceCell<T> {
        OnceCell {
            value: OnceLock::new(),
            init: RawSemaphore::new(1),
        }
    }

    /// As [`new`](Self::new), usable in a `static`.
    pub const fn const_new() -> OnceCell<T> {
        OnceCell::new()
    }

    /// A cell holding `value` if it is `Some`.
    pub fn new_with(value: Option<T>) -> OnceCell<T> {
        let cell = OnceCell::new();
        if let Some(v) = value {
            let _ = cell.value.set(v);
        }
        cell
    }

    /// Whether the cell holds a value.
    pub fn initialized(&self) -> bool {
        self.value.get().is_some()
    }

    /// The value, if set.
    pub fn get(&self) -> Option<&T> {
        self.value.get()
    }

    /// The value, mutably, if set.
    pub fn get_mut(&mut self) -> Option<&mut T> {
        self.value.get_mut()
    }

    /// Sets the value now; fails if it is set or an initialiser is running.
    pub fn set(&self, value: T) -> Result<(), SetError<T>> {
        if self.initialized() {
            return Err(SetError::AlreadyInitializedError(value));
        }
        if self.init.try_acquire(1).is_err() {
            return Err(SetError::InitializingError(value));
        }
        let _release = Release(&self.init);
        self.value
            .set(value)
            .map_err(SetError::AlreadyInitializedError)
    }

    /// The value, running `f` to make it if the cell is empty. One initialiser runs at a
    /// time; if it is cancelled or panics, the next caller's runs.
    pub async fn get_or_init<F, Fut>(&self, f: F) -> &T
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = T>,
    {
        match self
            .get_or_try_init(|| async { Ok::<T, std::convert::Infallible>(f().await) })
            .await
        {
            Ok(v) => v,
            Err(never) => match never {},
        }
    }

    /// As [`get_or_init`](Self::get_or_init) with a fallible initialiser: its error is
    /// returned and the cell stays empty (the next caller tries).
    pub async fn get_or_try_init<E, F, Fut>(&self, f: F) -> Result<&T, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        if let Some(v) = self.get() {
            return Ok(v);
        }
        // The semaphore is never closed.
        let _ = self.init.acquire(1).await;
        let _release = Release(&self.init);
        if let Some(v) = self.get() {
            return Ok(v);
        }
        let value = f().await?;
        Ok(self.value.get_or_init(|| value))
    }

    /// Takes the value out, leaving the cell empty.
    pub fn take(&mut self) -> Option<T> {
        self.value.take()
    }

    /// The value, consuming the cell.
    pub fn into_inner(self) -> Option<T> {
        self.value.into_inner()
    }
}

impl<T> Default for OnceCell<T> {
    fn default() -> Self {
        OnceCell::new()
    }
}

impl<T> From<T> for OnceCell<T> {
    fn from(value: T) -> Self {
        OnceCell::new_with(Some(value))
    }
}

impl<T: fmt::Debug> fmt::Debug for OnceCell<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OnceCell")
            .field("value", &self.get())
            .finish()
    }
}

/// A value set once that tasks can wait for (tokio's `sync::SetOnce`).
pub struct SetOnce<T> {
    value: OnceLock<T>,
    notify: Notify,
}

/// [`SetOnce::set`] found a value already there; the new one comes back.
#[derive(Debug, PartialEq, Eq)]
pub struct SetOnceError<T>(pub T);

impl<T> fmt::Display for SetOnceError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SetOnceError")
    }
}

impl<T: fmt::Debug> std::error::Error for SetOnceError<T> {}

impl<T> SetOnce<T> {
    /// An empty `SetOnce`. Allocates nothing.
    pub const fn new() -> SetOnce<T> {
        SetOnce {
            value: OnceLock::new(),
            notify: Notify::new(),
        }
    }

    /// As [`new`](Self::new), usable in a `static`.
    pub const fn const_new() -> SetOnce<T> {
        SetOnce::new()
    }

    /// A `SetOnce` holding `value` if it is `Some`.
    pub fn new_with(value: Option<T>) -> SetOnce<T> {
        let s = SetOnce::new();
        if let Some(v) = value {
            let _ = s.value.set(v);
        }
        s
    }

    /// Whether the value is set.
    pub fn initialized(&self) -> bool {
        self.value.get().is_some()
    }

    /// The value, if set.
    pub fn get(&self) -> Option<&T> {
        self.value.get()
    }

    /// Sets the value and wakes every waiter; fails if it was set already.
    pub fn set(&self, value: T) -> Result<(), SetOnceError<T>> {
        self.value.set(value).map_err(SetOnceError)?;
        self.notify.notify_waiters();
        Ok(())
    }

    /// Waits until the value is set. Cancel-safe.
    pub async fn wait(&self) -> &T {
        loop {
            // Made before the check: a `set` after it reaches this future.
            let notified = pin!(self.notify.notified());
            if let Some(v) = self.get() {
                return v;
            }
            notified.await;
        }
    }

    /// The value, consuming the `SetOnce`.
    pub fn into_inner(self) -> Option<T> {
        self.value.into_inner()
    }
}

impl<T> Default for SetOnce<T> {
    fn default() -> Self {
        SetOnce::new()
    }
}

impl<T> From<T> for SetOnce<T> {
    /// A `SetOnce` already holding `value`, as tokio's.
    fn from(value: T) -> SetOnce<T> {
        SetOnce::new_with(Some(value))
    }
}

impl<T: fmt::Debug> fmt::Debug for SetOnce<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SetOnce")
            .field("value", &self.get())
            .finish()
    }
}
