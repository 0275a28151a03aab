//! [`Mutex`]: tokio's async mutex, thread-safe, fair (FIFO), no poisoning, no allocation
//! per wait.
//!
//! A semaphore with one permit (`batch_semaphore.rs`) guards an `UnsafeCell<T>`.
//!
//! # Invariant
//!
//! **Whoever holds the permit, and only they, touch the value.** Every guard type
//! ([`MutexGuard`], [`OwnedMutexGuard`], [`MappedMutexGuard`]) is made right after the one
//! permit was acquired and gives it back in its `Drop`, so at most one guard exists per
//! mutex; `get_mut` and `into_inner` have the mutex exclusively (`&mut self` / `self`), so
//! no guard exists. A guard forgotten with `mem::forget` keeps the permit: the mutex stays
//! locked for good (no unsoundness). A panic while a guard is held drops the guard: the
//! mutex is unlocked, not poisoned (as tokio's).

use std::cell::UnsafeCell;
use std::fmt;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;
use std::sync::Arc;

use super::batch_semaphore::RawSemaphore;

/// An async mutex (tokio's `sync::Mutex`): the guard may be held across `.await`, waiting
/// is FIFO, and a panic while locked does not poison it.
///
/// ```
/// use std::sync::Arc;
/// use tickslab_runtime::{Runtime, spawn, sync::Mutex};
///
/// let rt = Runtime::new().unwrap();
/// rt.block_on(async {
///     let count = Arc::new(Mutex::new(0));
///     let tasks: Vec<_> = (0..4)
///         .map(|_| {
///             let count = count.clone();
///             spawn(async move {
///                 let mut n = count.lock().await;
///                 tickslab_runtime::yield_now().await; // held across an await
///                 *n += 1;
///             })
///         })
///         .collect();
///     for t in tasks {
///         t.await.unwrap();
///     }
///     assert_eq!(*count.lock().await, 4);
/// });
/// ```
pub struct Mutex<T: ?Sized> {
    sem: RawSemaphore,
    value: UnsafeCell<T>,
}

// SAFETY: the mutex hands `&mut T` to one thread at a time (the module's invariant), so it
// may be sent or shared whenever `T` may be sent: as `std::sync::Mutex`.
unsafe impl<T: ?Sized + Send> Send for Mutex<T> {}
// SAFETY: as above.
unsafe impl<T: ?Sized + Send> Sync for Mutex<T> {}

/// [`Mutex::try_lock`] found the mutex locked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TryLockError(pub(crate) ());

impl fmt::Display for TryLockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("operation would block")
    }
}

impl std::error::Error for TryLockError {}

impl<T> Mutex<T> {
    /// A new unlocked mutex. Allocates nothing.
    pub const fn new(value: T) -> Mutex<T> {
        Mutex {
            sem: RawSemaphore::new(1),
            value: UnsafeCell::new(value),
        }
    }

    /// As [`new`](Self::new), usable in a `static`.
    pub const fn const_new(value: T) -> Mutex<T> {
        Mutex::new(value)
    }

    /// The value, consuming the mutex.
    pub fn into_inner(self) -> T {
        self.value.into_inner()
    }
}

impl<T: ?Sized> Mutex<T> {
    /// Locks, waiting (FIFO) while another guard exists. Cancel-safe: dropping the future
    /// gives up its place and passes the lock on if it had been handed it.
    pub async fn lock(&self) -> MutexGuard<'_, T> {
        // The one-permit semaphore is never closed.
        let _ = self.sem.acquire(1).await;
        MutexGuard {
            lock: self,
            _not_sync_unless: PhantomData,
        }
    }

    /// Locks now, or fails if the mutex is locked (or others wait for it: they come first).
    pub fn try_lock(&self) -> Result<MutexGuard<'_, T>, TryLockError> {
        self.sem.try_acquire(1).map_err(|_| TryLockError(()))?;
        Ok(MutexGuard {
            lock: self,
            _not_sync_unless: PhantomData,
        })
    }

    /// Locks from a thread that is not running async code, parking it while it waits. Do
    /// not call it from a task: it would block the runtime's thread.
    ///
    /// # Panics
    /// When called from a task of a tickslab runtime (use the async method there).
    #[track_caller]
    pub fn blocking_lock(&self) -> MutexGuard<'_, T> {
        super::blocking::block_on(self.lock())
    }

    /// As [`lock`](Self::lock), with a guard that owns an `Arc` of the mutex (`'static`).
    pub async fn lock_owned(self: Arc<Self>) -> OwnedMutexGuard<T> {
        let _ = self.sem.acquire(1).await;
        OwnedMutexGuard { lock: self }
    }

    /// As [`try_lock`](Self::try_lock), owned.
    pub fn try_lock_owned(self: Arc<Self>) -> Result<OwnedMutexGuard<T>, TryLockError> {
        self.sem.try_acquire(1).map_err(|_| TryLockError(()))?;
        Ok(OwnedMutexGuard { lock: self })
    }

    /// As [`blocking_lock`](Self::blocking_lock), owned.
    ///
    /// # Panics
    /// When called from a task of a tickslab runtime (use the async method there).
    #[track_caller]
    pub fn blocking_lock_owned(self: Arc<Self>) -> OwnedMutexGuard<T> {
        super::blocking::block_on(self.lock_owned())
    }

    /// The value, through `&mut self`: no lock needed.
    pub fn get_mut(&mut self) -> &mut T {
        self.value.get_mut()
    }
}

impl<T: Default> Default for Mutex<T> {
    fn default() -> Self {
        Mutex::new(T::default())
    }
}

impl<T> From<T> for Mutex<T> {
    fn from(value: T) -> Self {
        Mutex::new(value)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Mutex");
        match self.try_lock() {
            Ok(guard) => d.field("data", &&*guard),
            Err(_) => d.field("data", &format_args!("<locked>")),
        };
        d.finish()
    }
}

/// The lock on a [`Mutex`]; unlocks when dropped.
#[must_use = "the mutex unlocks as soon as the guard is dropped"]
pub struct MutexGuard<'a, T: ?Sized> {
    lock: &'a Mutex<T>,
    /// `Sync` only when `T: Send + Sync` (a shared guard hands out `&T`), `Send` when
    /// `T: Send`: the auto traits of `&mut T`.
    _not_sync_unless: PhantomData<&'a mut T>,
}

impl<'a, T: ?Sized> MutexGuard<'a, T> {
    /// A guard on a part of the value (the mutex stays locked until it is dropped).
    pub fn map<U: ?Sized>(this: Self, f: impl FnOnce(&mut T) -> &mut U) -> MappedMutexGuard<'a, U> {
        let sem = &this.lock.sem;
        // SAFETY: we hold the permit (the module's invariant); the guard is forgotten only
        // after `f` returned, so if `f` panics the guard unlocks as usual.
        let value = NonNull::from(f(unsafe { &mut *this.lock.value.get() }));
        std::mem::forget(this);
        MappedMutexGuard {
            sem,
            value,
            _marker: PhantomData,
        }
    }

    /// As [`map`](Self::map), or the guard back when `f` returns `None`.
    pub fn try_map<U: ?Sized>(
        this: Self,
        f: impl FnOnce(&mut T) -> Option<&mut U>,
    ) -> Result<MappedMutexGuard<'a, U>, Self> {
        // SAFETY: as in `map`.
        match f(unsafe { &mut *this.lock.value.get() }) {
            Some(v) => {
                let value = NonNull::from(v);
                let sem = &this.lock.sem;
                std::mem::forget(this);
                Ok(MappedMutexGuard {
                    sem,
                    value,
                    _marker: PhantomData,
                })
            }
            None => Err(this),
        }
    }

    /// The mutex this guard locks.
    pub fn mutex(this: &Self) -> &'a Mutex<T> {
        this.lock
    }
}

impl<T: ?Sized> Deref for MutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: we hold the permit (the module's invariant).
        unsafe { &*self.lock.value.get() }
    }
}

impl<T: ?Sized> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: we hold the permit (the module's invariant).
        unsafe { &mut *self.lock.value.get() }
    }
}

impl<T: ?Sized> Drop for MutexGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.sem.release(1);
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Display> fmt::Display for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}

/// The lock on an `Arc<Mutex<T>>`, `'static`; unlocks when dropped.
#[must_use = "the mutex unlocks as soon as the guard is dropped"]
pub struct OwnedMutexGuard<T: ?Sized> {
    lock: Arc<Mutex<T>>,
}

// SAFETY: the guard gives `&T` to whoever shares it, and `&mut T` through `&mut self`:
// `Sync` needs `T: Send + Sync` (as `std::sync::MutexGuard`). `Send` comes from the `Arc`
// (`Mutex<T>: Send + Sync` when `T: Send`).
unsafe impl<T: ?Sized + Send + Sync> Sync for OwnedMutexGuard<T> {}

impl<T: ?Sized> OwnedMutexGuard<T> {
    /// The mutex this guard locks.
    pub fn mutex(this: &Self) -> &Arc<Mutex<T>> {
        &this.lock
    }
}

impl<T: ?Sized> Deref for OwnedMutexGuard<T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: we hold the permit (the module's invariant).
        unsafe { &*self.lock.value.get() }
    }
}

impl<T: ?Sized> DerefMut for OwnedMutexGuard<T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: we hold the permit (the module's invariant).
        unsafe { &mut *self.lock.value.get() }
    }
}

impl<T: ?Sized> Drop for OwnedMutexGuard<T> {
    fn drop(&mut self) {
        self.lock.sem.release(1);
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for OwnedMutexGuard<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

/// A guard on a part of a locked [`Mutex`]'s value ([`MutexGuard::map`]).
#[must_use = "the mutex unlocks as soon as the guard is dropped"]
pub struct MappedMutexGuard<'a, T: ?Sized> {
    sem: &'a RawSemaphore,
    value: NonNull<T>,
    _marker: PhantomData<&'a mut T>,
}

// SAFETY: the guard is a `&'a mut T` into the locked value plus the semaphore to release
// (`Sync`): it may move or be shared exactly as `&mut T` may.
unsafe impl<T: ?Sized + Send> Send for MappedMutexGuard<'_, T> {}
// SAFETY: as above.
unsafe impl<T: ?Sized + Send + Sync> Sync for MappedMutexGuard<'_, T> {}

impl<T: ?Sized> Deref for MappedMutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: `value` points into the value locked by the permit this guard holds.
        unsafe { self.value.as_ref() }
    }
}

impl<T: ?Sized> DerefMut for MappedMutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as above, and `&mut self` makes the access exclusive.
        unsafe { self.value.as_mut() }
    }
}

impl<T: ?Sized> Drop for MappedMutexGuard<'_, T> {
    fn drop(&mut self) {
        self.sem.release(1);
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for MappedMutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}
