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
use std::ptr::NonNull;
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
        // tokio's messages.
        assert!(
            max_readers > 0,
            "a RwLock may not be created with 0 readers"
        );
        assert!(
            max_readers <= MAX_READS,
            "a RwLock may not be created with more than u32::MAX >> 3 readers"
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
        RwLockReadGuard::new(self)
    }

    /// Locks for reading now, or fails (also while a writer waits: it comes first).
    pub fn try_read(&self) -> Result<RwLockReadGuard<'_, T>, TryLockError> {
        self.sem.try_acquire(1).map_err(|_| TryLockError(()))?;
        Ok(RwLockReadGuard::new(self))
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

/// A read lock on a [`RwLock`], or on a part of its value ([`map`](Self::map),
/// [`RwLockWriteGuard::downgrade_map`]); unlocks when dropped.
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct RwLockReadGuard<'a, T: ?Sized> {
    sem: &'a RawSemaphore,
    /// Into the locked value (all of it, or the part a map chose). A pointer, not a `&'a T`:
    /// the guard gives its permit back while it still exists (in `Drop`), after which a
    /// writer may change the value, so no reference to it may be live then.
    value: NonNull<T>,
    _marker: PhantomData<&'a T>,
}

// SAFETY: the guard is a `&'a T` into the value locked by its read permit, plus the semaphore
// to release (`Sync`): it may move or be shared exactly as `&T` may.
unsafe impl<T: ?Sized + Sync> Send for RwLockReadGuard<'_, T> {}
// SAFETY: as above.
unsafe impl<T: ?Sized + Sync> Sync for RwLockReadGuard<'_, T> {}

impl<'a, T: ?Sized> RwLockReadGuard<'a, T> {
    /// The guard of a read permit just acquired on `lock`.
    fn new(lock: &'a RwLock<T>) -> Self {
        RwLockReadGuard {
            sem: &lock.sem,
            value: NonNull::new(lock.value.get()).expect("an UnsafeCell is never at 0"),
            _marker: PhantomData,
        }
    }

    /// A guard on a part of the value, as tokio's `RwLockReadGuard::map`: the lock stays
    /// read-locked until the new guard drops.
    pub fn map<U: ?Sized>(this: Self, f: impl FnOnce(&T) -> &U) -> RwLockReadGuard<'a, U> {
        // `this` is forgotten only after `f` returned: if `f` panics, it unlocks as usual.
        let value = NonNull::from(f(&*this));
        let sem = this.sem;
        std::mem::forget(this);
        RwLockReadGuard {
            sem,
            value,
            _marker: PhantomData,
        }
    }

    /// As [`map`](Self::map), or the guard back when `f` returns `None`.
    pub fn try_map<U: ?Sized>(
        this: Self,
        f: impl FnOnce(&T) -> Option<&U>,
    ) -> Result<RwLockReadGuard<'a, U>, Self> {
        match f(&*this).map(NonNull::from) {
            Some(value) => {
                let sem = this.sem;
                std::mem::forget(this);
                Ok(RwLockReadGuard {
                    sem,
                    value,
                    _marker: PhantomData,
                })
            }
            None => Err(this),
        }
    }
}

impl<T: ?Sized> Deref for RwLockReadGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: `value` points into the value locked by the read permit this guard holds:
        // no write guard exists while it does (the module's invariant), and the borrow ends
        // with `&self`, before `Drop` gives the permit back.
        unsafe { self.value.as_ref() }
    }
}

impl<T: ?Sized> Drop for RwLockReadGuard<'_, T> {
    fn drop(&mut self) {
        self.sem.release(1);
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
        let value = NonNull::new(self.lock.value.get()).expect("an UnsafeCell is never at 0");
        self.downgrade_to(value)
    }

    /// Keeps one of the writer's permits (a reader now), gives the others back, and reads
    /// `value` (the whole value or a part of it, found while the lock was written).
    fn downgrade_to<U: ?Sized>(self, value: NonNull<U>) -> RwLockReadGuard<'a, U> {
        let lock = self.lock;
        std::mem::forget(self);
        lock.sem.release(lock.max_readers as usize - 1);
        RwLockReadGuard {
            sem: &lock.sem,
            value,
            _marker: PhantomData,
        }
    }

    /// Downgrades to a read lock on a part of the value, as tokio's
    /// `RwLockWriteGuard::downgrade_map`: `f` runs while the lock is still written (no
    /// reader gets in before it returns; if it panics, the write lock is released as usual);
    /// then readers waiting at the head of the queue may come in.
    pub fn downgrade_map<U: ?Sized>(
        this: Self,
        f: impl FnOnce(&T) -> &U,
    ) -> RwLockReadGuard<'a, U> {
        let value = NonNull::from(f(&*this));
        this.downgrade_to(value)
    }

    /// As [`downgrade_map`](Self::downgrade_map), or the write guard back (still written,
    /// never released in between) when `f` returns `None`.
    pub fn try_downgrade_map<U: ?Sized>(
        this: Self,
        f: impl FnOnce(&T) -> Option<&U>,
    ) -> Result<RwLockReadGuard<'a, U>, Self> {
        match f(&*this).map(NonNull::from) {
            Some(value) => Ok(this.downgrade_to(value)),
            None => Err(this),
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
