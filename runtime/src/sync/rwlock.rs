//! [`RwLock`]: tokio's fair, write-preferring async reader-writer lock, thread-safe, no
//! allocation per wait.
//!
//! A semaphore (`batch_semaphore.rs`) of `max_readers` permits guards an `UnsafeCell<T>`:
//! a reader takes one permit, a writer takes all of them. The semaphore is FIFO with
//! partial assignment, so a writer at the head of the queue collects the permits readers
//! give back while readers that come after it wait behind it: readers cannot starve a
//! writer (tokio's write-preferring behaviour), and a writer cannot starve the readers
//! queued before it.
//!
//! # Invariant
//!
//! **The permits say who may touch the value.** A read guard holds one permit and gives
//! only `&T`; a write guard holds all `max_readers` permits and gives `&mut T`; so a write
//! guard excludes every other guard. `get_mut` / `into_inner` take the lock exclusively.
//! Guards give their permits back in `Drop` (also while a panic unwinds: no poisoning); a
//! forgotten guard keeps them (the lock stays taken; no unsoundness).

use std::cell::UnsafeCell;
use std::fmt;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use super::batch_semaphore::RawSemaphore;
use super::mutex::TryLockError;

/// The default most readers at once (as tokio's).
const MAX_READS: u32 = u32::MAX >> 3;

/// An async reader-writer lock (tokio's `sync::RwLock`): fair, write-preferring, no
/// poisoning.
///
/// ```
/// use tickslab_runtime::{Runtime, sync::RwLock};
///
/// let rt = Runtime::new().unwrap();
/// rt.block_on(async {
///     let lock = RwLock::new(5);
///     {
///         let (a, b) = (lock.read().await, lock.read().await); // many readers
///         assert_eq!(*a + *b, 10);
///         assert!(lock.try_write().is_err());
///     }
///     *lock.write().await += 1;
///     assert_eq!(*lock.read().await, 6);
/// });
/// ```
pub struct RwLock<T: ?Sized> {
    max_readers: u32,
    sem: RawSemaphore,
    value: UnsafeCell<T>,
}

// SAFETY: the lock hands `&mut T` to one thread at a time, or `&T` to several (the
// module's invariant): as `std::sync::RwLock`, it may be sent when `T: Send` and shared
// when `T: Send + Sync`.
unsafe impl<T: ?Sized + Send> Send for RwLock<T> {}
// SAFETY: as above.
unsafe impl<T: ?Sized + Send + Sync> Sync for RwLock<T> {}

impl<T> RwLock<T> {
    /// A new unlocked lock. Allocates nothing.
    pub const fn new(value: T) -> RwLock<T> {
        RwLock::with_max_readers(value, MAX_READS)
    }

    /// As [`new`](Self::new), usable in a `static`.
    pub const fn const_new(value: T) -> RwLock<T> {
        RwLock::new(value)
    }

    /// A lock that lets at most `max_readers` readers in at once.
    ///
    /// # Panics
    /// If `max_readers` is 0 or above `u32::MAX >> 3` (the panic names the caller's line).
    #[track_caller]
    pub const fn with_max_readers(value: T, max_readers: u32) -> RwLock<T> {
        assert!(
            max_readers > 0 && max_readers <= MAX_READS,
            "a RwLock takes 1 to u32::MAX >> 3 readers"
        );
        RwLock {
            max_readers,
            sem: RawSemaphore::new(max_readers as usize),
            value: UnsafeCell::new(value),
        }
    }

    /// As [`with_max_readers`](Self::with_max_readers), usable in a `static` (tokio's name).
    ///
    /// # Panics
    /// If `max_readers` is 0 or above `u32::MAX >> 3`.
    #[track_caller]
    pub const fn const_with_max_readers(value: T, max_readers: u32) -> RwLock<T> {
        RwLock::with_max_readers(value, max_readers)
    }

    /// The value, consuming the lock.
    pub fn into_inner(self) -> T {
        self.value.into_inner()
    }
}

impl<T: ?Sized> RwLock<T> {
    /// Locks for reading, waiting (FIFO) while a writer holds or awaits the lock.
    /// Cancel-safe.
    pub async fn read(&self) -> RwLockReadGuard<'_, T> {
        // The semaphore is never closed.
        let _ = self.sem.acquire(1).await;
        RwLockReadGuard {
            lock: self,
            _marker: PhantomData,
        }
    }

    /// Locks for reading now, or fails (also while a writer waits: it comes first).
    pub fn try_read(&self) -> Result<RwLockReadGuard<'_, T>, TryLockError> {
        self.sem.try_acquire(1).map_err(|_| TryLockError(()))?;
        Ok(RwLockReadGuard {
            lock: self,
            _marker: PhantomData,
        })
    }

    /// Locks for writing, waiting (FIFO) for every reader and writer ahead. Cancel-safe.
    pub async fn write(&self) -> RwLockWriteGuard<'_, T> {
        let _ = self.sem.acquire(self.max_readers as usize).await;
        RwLockWriteGuard {
            lock: self,
            _marker: PhantomData,
        }
    }

    /// Locks for writing now, or fails.
    pub fn try_write(&self) -> Result<RwLockWriteGuard<'_, T>, TryLockError> {
        self.sem
            .try_acquire(self.max_readers as usize)
            .map_err(|_| TryLockError(()))?;
        Ok(RwLockWriteGuard {
            lock: self,
            _marker: PhantomData,
        })
    }

    /// As [`read`](Self::read), from a thread that is not running async code.
    ///
    /// # Panics
    /// When called from a task of a tickslab runtime (use the async method there).
    #[track_caller]
    pub fn blocking_read(&self) -> RwLockReadGuard<'_, T> {
        super::blocking::block_on(self.read())
    }

    /// As [`write`](Self::write), from a thread that is not running async code.
    ///
    /// # Panics
    /// When called from a task of a tickslab runtime (use the async method there).
    #[track_caller]
    pub fn blocking_write(&self) -> RwLockWriteGuard<'_, T> {
        super::blocking::block_on(self.write())
    }

    /// As [`read`](Self::read), with a guard owning an `Arc` of the lock (`'static`).
    pub async fn read_owned(self: Arc<Self>) -> OwnedRwLockReadGuard<T> {
        let _ = self.sem.acquire(1).await;
        OwnedRwLockReadGuard { lock: self }
    }

    /// As [`try_read`](Self::try_read), owned.
    pub fn try_read_owned(self: Arc<Self>) -> Result<OwnedRwLockReadGuard<T>, TryLockError> {
        self.sem.try_acquire(1).map_err(|_| TryLockError(()))?;
        Ok(OwnedRwLockReadGuard { lock: self })
    }

    /// As [`write`](Self::write), owned.
    pub async fn write_owned(self: Arc<Self>) -> OwnedRwLockWriteGuard<T> {
        let permits = self.max_readers as usize;
        let _ = self.sem.acquire(permits).await;
        OwnedRwLockWriteGuard {
            lock: self,
            permits,
        }
    }

    /// As [`try_write`](Self::try_write), owned.
    pub fn try_write_owned(self: Arc<Self>) -> Result<OwnedRwLockWriteGuard<T>, TryLockError> {
        let permits = self.max_readers as usize;
        self.sem
            .try_acquire(permits)
            .map_err(|_| TryLockError(()))?;
        Ok(OwnedRwLockWriteGuard {
            lock: self,
            permits,
        })
    }

    /// The value, through `&mut self`: no lock needed.
    pub fn get_mut(&mut self) -> &mut T {
        self.value.get_mut()
    }
}

impl<T: Default> Default for RwLock<T> {
    fn default() -> Self {
        RwLock::new(T::default())
    }
}

impl<T> From<T> for RwLock<T> {
    fn from(value: T) -> Self {
        RwLock::new(value)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("RwLock");
        match self.try_read() {
            Ok(guard) => d.field("data", &&*guard),
            Err(_) => d.field("data", &format_args!("<locked>")),
        };
        d.finish()
    }
}

/// A read lock on a [`RwLock`]; unlocks when dropped.
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct RwLockReadGuard<'a, T: ?Sized> {
    lock: &'a RwLock<T>,
    _marker: PhantomData<&'a T>,
}

impl<T: ?Sized> Deref for RwLockReadGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: we hold a read permit: no write guard exists (the module's invariant).
        unsafe { &*self.lock.value.get() }
    }
}

impl<T: ?Sized> Drop for RwLockReadGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.sem.release(1);
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLockReadGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

/// A write lock on a [`RwLock`]; unlocks when dropped.
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct RwLockWriteGuard<'a, T: ?Sized> {
    lock: &'a RwLock<T>,
    _marker: PhantomData<&'a mut T>,
}

impl<'a, T: ?Sized> RwLockWriteGuard<'a, T> {
    /// Turns the write lock into a read lock without letting a writer in between (readers
    /// waiting at the head of the queue may come in).
    pub fn downgrade(self) -> RwLockReadGuard<'a, T> {
        let lock = self.lock;
        std::mem::forget(self);
        // Keep one of our permits: we are a reader now.
        lock.sem.release(lock.max_readers as usize - 1);
        RwLockReadGuard {
            lock,
            _marker: PhantomData,
        }
    }
}

impl<T: ?Sized> Deref for RwLockWriteGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: we hold every permit: no other guard exists (the module's invariant).
        unsafe { &*self.lock.value.get() }
    }
}

impl<T: ?Sized> DerefMut for RwLockWriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as above.
        unsafe { &mut *self.lock.value.get() }
    }
}

impl<T: ?Sized> Drop for RwLockWriteGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.sem.release(self.lock.max_readers as usize);
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLockWriteGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

/// A read lock on an `Arc<RwLock<T>>`, `'static`.
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct OwnedRwLockReadGuard<T: ?Sized> {
    lock: Arc<RwLock<T>>,
}

impl<T: ?Sized> Deref for OwnedRwLockReadGuard<T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: we hold a read permit (the module's invariant).
        unsafe { &*self.lock.value.get() }
    }
}

impl<T: ?Sized> Drop for OwnedRwLockReadGuard<T> {
    fn drop(&mut self) {
        self.lock.sem.release(1);
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for OwnedRwLockReadGuard<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

/// A write lock on an `Arc<RwLock<T>>`, `'static`.
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct OwnedRwLockWriteGuard<T: ?Sized> {
    lock: Arc<RwLock<T>>,
    /// Permits to give back on drop (0 once downgraded).
    permits: usize,
}

impl<T: ?Sized> OwnedRwLockWriteGuard<T> {
    /// Turns the write lock into a read lock (see [`RwLockWriteGuard::downgrade`]).
    pub fn downgrade(mut self) -> OwnedRwLockReadGuard<T> {
        // Keep one of our permits: we are a reader now.
        self.lock.sem.release(self.permits - 1);
        self.permits = 0;
        OwnedRwLockReadGuard {
            lock: self.lock.clone(),
        }
    }
}

impl<T: ?Sized> Deref for OwnedRwLockWriteGuard<T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: we hold every permit (the module's invariant).
        unsafe { &*self.lock.value.get() }
    }
}

impl<T: ?Sized> DerefMut for OwnedRwLockWriteGuard<T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as above.
        unsafe { &mut *self.lock.value.get() }
    }
}

impl<T: ?Sized> Drop for OwnedRwLockWriteGuard<T> {
    fn drop(&mut self) {
        self.lock.sem.release(self.permits);
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for OwnedRwLockWriteGuard<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}
