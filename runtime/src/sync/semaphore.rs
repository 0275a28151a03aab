//! [`Semaphore`]: tokio's counting semaphore, thread-safe, fair (FIFO), with no allocation
//! per wait.
//!
//! A waiting `acquire` links a node that lives inside its own future into the semaphore's
//! waiter list (`batch_semaphore.rs` states the invariants: FIFO with partial assignment,
//! no permit lost when a future is dropped, close wakes everyone). A permit gives its
//! permits back when dropped, even while a panic unwinds.

use std::fmt;
use std::sync::Arc;

use super::batch_semaphore::{self as raw, RawSemaphore};

/// A counting semaphore (tokio's `sync::Semaphore`): `Send + Sync`, fair, cancel-safe.
///
/// `acquire` waits in FIFO order: a request for many permits at the head of the queue is
/// not starved by smaller ones behind it. Dropping a pending `acquire` future gives back
/// whatever it had been assigned, so no wakeup or permit is lost.
///
/// ```
/// use std::sync::Arc;
/// use tickslab_runtime::{Runtime, spawn, sync::Semaphore};
///
/// let rt = Runtime::new().unwrap();
/// rt.block_on(async {
///     let sem = Arc::new(Semaphore::new(2));
///     let a = sem.clone().acquire_owned().await.unwrap();
///     let _b = sem.acquire().await.unwrap();
///     assert!(sem.try_acquire().is_err()); // both permits are out
///     let waiter = spawn({
///         let sem = sem.clone();
///         async move { sem.acquire().await.map(|p| p.num_permits()) }
///     });
///     drop(a); // wakes the waiter
///     assert_eq!(waiter.await.unwrap(), Ok(1));
/// });
/// ```
pub struct Semaphore {
    raw: RawSemaphore,
}

/// The semaphore was closed: [`Semaphore::acquire`] and friends fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AcquireError(());

impl fmt::Display for AcquireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("semaphore closed")
    }
}

impl std::error::Error for AcquireError {}

/// Why [`Semaphore::try_acquire`] and friends failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TryAcquireError {
    /// The semaphore was closed.
    Closed,
    /// Not enough permits are free now.
    NoPermits,
}

impl TryAcquireError {
    /// Whether the semaphore was closed.
    pub fn is_closed(&self) -> bool {
        matches!(self, TryAcquireError::Closed)
    }

    /// Whether there were not enough free permits.
    pub fn is_no_permits(&self) -> bool {
        matches!(self, TryAcquireError::NoPermits)
    }
}

impl fmt::Display for TryAcquireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryAcquireError::Closed => f.write_str("semaphore closed"),
            TryAcquireError::NoPermits => f.write_str("no permits available"),
        }
    }
}

impl std::error::Error for TryAcquireError {}

fn try_err(e: raw::TryAcquireError) -> TryAcquireError {
    match e {
        raw::TryAcquireError::Closed => TryAcquireError::Closed,
        raw::TryAcquireError::NoPermits => TryAcquireError::NoPermits,
    }
}

impl Semaphore {
    /// The most permits a semaphore can hold (`usize::MAX >> 3`, as tokio).
    pub const MAX_PERMITS: usize = raw::MAX_PERMITS;

    /// A semaphore with `permits` permits. Allocates nothing.
    ///
    /// # Panics
    /// If `permits` exceeds [`MAX_PERMITS`](Self::MAX_PERMITS).
    pub const fn new(permits: usize) -> Semaphore {
        Semaphore {
            raw: RawSemaphore::new(permits),
        }
    }

    /// As [`new`](Self::new), usable in a `static`.
    pub const fn const_new(permits: usize) -> Semaphore {
        Semaphore::new(permits)
    }

    /// Permits free now.
    pub fn available_permits(&self) -> usize {
        self.raw.available_permits()
    }

    /// Adds `n` permits (waiters first, in order).
    ///
    /// # Panics
    /// If the total would exceed [`MAX_PERMITS`](Self::MAX_PERMITS).
    pub fn add_permits(&self, n: usize) {
        self.raw.release(n);
    }

    /// Removes up to `n` free permits for good; returns how many were removed.
    pub fn forget_permits(&self, n: usize) -> usize {
        self.raw.forget(n)
    }

    /// Waits for one permit. Fails once the semaphore is closed. Cancel-safe: dropping the
    /// future gives up its place in the queue and passes any assigned permit on.
    pub async fn acquire(&self) -> Result<SemaphorePermit<'_>, AcquireError> {
        self.acquire_many(1).await
    }

    /// Waits for `n` permits at once (FIFO: later requests wait behind this one).
    pub async fn acquire_many(&self, n: u32) -> Result<SemaphorePermit<'_>, AcquireError> {
        self.raw
            .acquire(n as usize)
            .await
            .map_err(|_| AcquireError(()))?;
        Ok(SemaphorePermit {
            sem: self,
            permits: n as usize,
        })
    }

    /// Takes one permit now, or fails: [`TryAcquireError::NoPermits`] (also while others
    /// wait: they come first) or [`TryAcquireError::Closed`].
    pub fn try_acquire(&self) -> Result<SemaphorePermit<'_>, TryAcquireError> {
        self.try_acquire_many(1)
    }

    /// Takes `n` permits now, or fails (see [`try_acquire`](Self::try_acquire)).
    pub fn try_acquire_many(&self, n: u32) -> Result<SemaphorePermit<'_>, TryAcquireError> {
        self.raw.try_acquire(n as usize).map_err(try_err)?;
        Ok(SemaphorePermit {
            sem: self,
            permits: n as usize,
        })
    }

    /// As [`acquire`](Self::acquire), with a permit that owns an `Arc` of the semaphore
    /// (`'static`, for spawned tasks).
    pub async fn acquire_owned(self: Arc<Self>) -> Result<OwnedSemaphorePermit, AcquireError> {
        self.acquire_many_owned(1).await
    }

    /// As [`acquire_many`](Self::acquire_many), owned.
    pub async fn acquire_many_owned(
        self: Arc<Self>,
        n: u32,
    ) -> Result<OwnedSemaphorePermit, AcquireError> {
        self.raw
            .acquire(n as usize)
            .await
            .map_err(|_| AcquireError(()))?;
        Ok(OwnedSemaphorePermit {
            sem: self,
            permits: n as usize,
        })
    }

    /// As [`try_acquire`](Self::try_acquire), owned.
    pub fn try_acquire_owned(self: Arc<Self>) -> Result<OwnedSemaphorePermit, TryAcquireError> {
        self.try_acquire_many_owned(1)
    }

    /// As [`try_acquire_many`](Self::try_acquire_many), owned.
    pub fn try_acquire_many_owned(
        self: Arc<Self>,
        n: u32,
    ) -> Result<OwnedSemaphorePermit, TryAcquireError> {
        self.raw.try_acquire(n as usize).map_err(try_err)?;
        Ok(OwnedSemaphorePermit {
            sem: self,
            permits: n as usize,
        })
    }

    /// As [`acquire`](Self::acquire), parking this thread until a permit is free: for plain
    /// threads (the game thread), as tokio's `blocking_acquire`.
    ///
    /// # Panics
    /// When called from inside a task of a tickslab runtime (it would stall the runtime).
    #[track_caller]
    pub fn blocking_acquire(&self) -> Result<SemaphorePermit<'_>, AcquireError> {
        super::blocking::block_on(self.acquire())
    }

    /// As [`acquire_many`](Self::acquire_many), parking this thread (see
    /// [`blocking_acquire`](Self::blocking_acquire)).
    ///
    /// # Panics
    /// When called from inside a task of a tickslab runtime.
    #[track_caller]
    pub fn blocking_acquire_many(&self, n: u32) -> Result<SemaphorePermit<'_>, AcquireError> {
        super::blocking::block_on(self.acquire_many(n))
    }

    /// As [`acquire_owned`](Self::acquire_owned), parking this thread (see
    /// [`blocking_acquire`](Self::blocking_acquire)).
    ///
    /// # Panics
    /// When called from inside a task of a tickslab runtime.
    #[track_caller]
    pub fn blocking_acquire_owned(self: Arc<Self>) -> Result<OwnedSemaphorePermit, AcquireError> {
        super::blocking::block_on(self.acquire_owned())
    }

    /// As [`acquire_many_owned`](Self::acquire_many_owned), parking this thread (see
    /// [`blocking_acquire`](Self::blocking_acquire)).
    ///
    /// # Panics
    /// When called from inside a task of a tickslab runtime.
    #[track_caller]
    pub fn blocking_acquire_many_owned(
        self: Arc<Self>,
        n: u32,
    ) -> Result<OwnedSemaphorePermit, AcquireError> {
        super::blocking::block_on(self.acquire_many_owned(n))
    }

    /// Closes the semaphore: every waiting and later acquisition fails; permits already
    /// held stay valid.
    pub fn close(&self) {
        self.raw.close();
    }

    /// Whether [`close`](Self::close) was called.
    pub fn is_closed(&self) -> bool {
        self.raw.is_closed()
    }
}

impl Default for Semaphore {
    /// A semaphore with no permits.
    fn default() -> Self {
        Semaphore::new(0)
    }
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.raw.fmt(f)
    }
}

/// Permits borrowed from a [`Semaphore`]; given back when dropped.
#[must_use = "the permits are given back as soon as the permit is dropped"]
pub struct SemaphorePermit<'a> {
    sem: &'a Semaphore,
    permits: usize,
}

impl<'a> SemaphorePermit<'a> {
    /// Keeps the permits out of the semaphore for good.
    pub fn forget(mut self) {
        self.permits = 0;
    }

    /// The semaphore the permits belong to, as tokio's `SemaphorePermit::semaphore`.
    pub fn semaphore(&self) -> &'a Semaphore {
        self.sem
    }

    /// Moves `other`'s permits into this one.
    ///
    /// # Panics
    /// If they come from different semaphores.
    #[track_caller]
    pub fn merge(&mut self, mut other: Self) {
        assert!(
            std::ptr::eq(self.sem, other.sem),
            "merging permits of different semaphores"
        );
        self.permits += std::mem::take(&mut other.permits);
    }

    /// Splits `n` permits off into a new permit; `None` if this one holds fewer.
    pub fn split(&mut self, n: usize) -> Option<Self> {
        if n > self.permits {
            return None;
        }
        self.permits -= n;
        Some(SemaphorePermit {
            sem: self.sem,
            permits: n,
        })
    }

    /// How many permits this holds.
    pub fn num_permits(&self) -> usize {
        self.permits
    }
}

impl Drop for SemaphorePermit<'_> {
    fn drop(&mut self) {
        self.sem.raw.release(self.permits);
    }
}

impl fmt::Debug for SemaphorePermit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SemaphorePermit")
            .field("permits", &self.permits)
            .finish()
    }
}

/// Permits of an `Arc<Semaphore>`, `'static`; given back when dropped.
#[must_use = "the permits are given back as soon as the permit is dropped"]
pub struct OwnedSemaphorePermit {
    sem: Arc<Semaphore>,
    permits: usize,
}

impl OwnedSemaphorePermit {
    /// Keeps the permits out of the semaphore for good.
    pub fn forget(mut self) {
        self.permits = 0;
    }

    /// Moves `other`'s permits into this one.
    ///
    /// # Panics
    /// If they come from different semaphores.
    #[track_caller]
    pub fn merge(&mut self, mut other: Self) {
        assert!(
            Arc::ptr_eq(&self.sem, &other.sem),
            "merging permits of different semaphores"
        );
        self.permits += std::mem::take(&mut other.permits);
    }

    /// Splits `n` permits off into a new permit; `None` if this one holds fewer.
    pub fn split(&mut self, n: usize) -> Option<Self> {
        if n > self.permits {
            return None;
        }
        self.permits -= n;
        Some(OwnedSemaphorePermit {
            sem: self.sem.clone(),
            permits: n,
        })
    }

    /// The semaphore the permits come from.
    pub fn semaphore(&self) -> &Arc<Semaphore> {
        &self.sem
    }

    /// How many permits this holds.
    pub fn num_permits(&self) -> usize {
        self.permits
    }
}

impl Drop for OwnedSemaphorePermit {
    fn drop(&mut self) {
        self.sem.raw.release(self.permits);
    }
}

impl fmt::Debug for OwnedSemaphorePermit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedSemaphorePermit")
            .field("permits", &self.permits)
            .finish()
    }
}
