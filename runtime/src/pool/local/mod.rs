//! [`Pool`] and [`PoolBox`]: the same-thread typed pool (no atomics).
//!
//! # Invariants
//!
//! 1. **Shared storage, counted.** Every [`Pool`] handle and every [`PoolBox`] points to one
//!    heap-allocated `Inner<T>`. `handles` counts the handles, `raw.live()` the boxes; the
//!    `Inner` is freed by whichever drop brings both to zero, and by nobody else. So a pool
//!    dropped while boxes are alive keeps its storage until the last box goes, and a box
//!    leaked with `mem::forget` leaks the storage (never a dangling pointer).
//! 2. **A box owns its slot and the value in it.** From `take` until its drop, only the
//!    box touches the slot; the slot holds a valid `T` the whole time.
//! 3. **The slot always goes back, the value always goes somewhere.** A box's drop runs
//!    user code (the value's destructor, or the reset hook) under a guard that returns the
//!    slot even when that code panics; a panicking hook's value is dropped instead of kept.
//! 4. **Invariant in `T`.** A recycling pool hands a kept value to the next `take`, so a
//!    `Pool<&'long U>` must not be usable as a `Pool<&'short U>` (nor its boxes): both
//!    types carry `PhantomData<fn(T) -> T>`.
//! 5. **Same thread.** `Pool` and `PoolBox` are `!Send` and `!Sync`: the counters are plain
//!    `Cell`s.

use std::fmt;
use std::marker::PhantomData;
use std::mem::{self, ManuallyDrop};
use std::ops::{Deref, DerefMut};
use std::ptr::{self, NonNull};

use super::config::{InvariantLocal, PoolConfig, PoolFull, PoolStats, Recycle, SlotLayout};

mod raw;
mod wait;

use raw::RawPool;
pub use wait::Alloc;

/// A recycling pool's reset hook and the factory for values of slots never used.
struct Recycler<T> {
    hook: fn(&mut T),
    factory: Box<dyn Fn() -> T>,
}

/// The storage shared by the handles and boxes of one pool (invariant 1).
pub(crate) struct Inner<T> {
    raw: RawPool,
    handles: std::cell::Cell<usize>,
    recycler: Option<Recycler<T>>,
}

impl<T> Inner<T> {
    /// Gives `slot` back and frees the storage if nothing else holds it, else wakes the
    /// waiter the slot was promised to.
    ///
    /// # Safety
    /// `this` is alive, `slot` was taken from it and not given back since; if `initialized`,
    /// the slot holds a valid `T` that the pool now owns. The caller does not touch `this`
    /// afterwards (it may be freed).
    unsafe fn put_back(this: NonNull<Inner<T>>, slot: NonNull<u8>, initialized: bool) {
        // SAFETY: alive (caller's contract).
        let inner = unsafe { this.as_ref() };
        let waker = inner.raw.release(slot, initialized);
        if inner.raw.live() == 0 && inner.handles.get() == 0 {
            // A waiter borrows a handle, so there is none to wake (invariant 1).
            debug_assert!(waker.is_none());
            // SAFETY: no handle and no box is left: nobody else can reach `this`.
            drop(unsafe { Box::from_raw(this.as_ptr()) });
            return;
        }
        // The wake may run anything, even drop the last handle: `this` is not used after.
        if let Some(w) = waker {
            w.wake();
        }
    }
}

impl<T> Drop for Inner<T> {
    fn drop(&mut self) {
        // Drop the values a recycling pool kept. If one destructor panics, the unwinding
        // drops the guard, whose own `drop` goes on with the rest; `raw` (a field) still
        // frees the chunks.
        struct Rest<'a, T>(&'a RawPool, PhantomData<T>);
        impl<T> Rest<'_, T> {
            fn drop_each(&self) {
                while let Some(slot) = self.0.pop_retained() {
                    // SAFETY: a retained slot holds a valid `T` owned by the pool (raw.rs
                    // invariant 2); popped, so it is dropped once.
                    unsafe { ptr::drop_in_place(slot.cast::<T>().as_ptr()) };
                }
            }
        }
        impl<T> Drop for Rest<'_, T> {
            fn drop(&mut self) {
                self.drop_each();
            }
        }
        let rest = Rest::<T>(&self.raw, PhantomData);
        rest.drop_each();
    }
}

/// A same-thread pool of `T` slots: `try_alloc(v)` / `alloc(v).await` place a value in a
/// free slot and return a [`PoolBox`], which gives the slot back when dropped. After the
/// pool's chunks exist, allocating and dropping allocate nothing.
///
/// Cloning a `Pool` gives another handle to the same slots (cheap: a counter), so a pool
/// can be moved into `'static` tasks. See the [module docs](crate::pool) for the whole
/// picture.
///
/// A pool is invariant in `T`: a recycling pool hands a
/// kept value to the next `take`, so a pool of long-lived references cannot be used as one
/// of shorter-lived ones (which could leave a short-lived reference behind for a long-lived
/// user):
///
/// ```compile_fail
/// use tickslab_runtime::pool::Pool;
/// fn shorten<'a>(p: Pool<&'static str>) -> Pool<&'a str> {
///     p // error: lifetime may not live long enough
/// }
/// ```
///
/// ```
/// use tickslab_runtime::pool::Pool;
///
/// let pool: Pool<[f32; 16]> = Pool::bounded(2);
/// let a = pool.try_alloc([1.0; 16]).unwrap();
/// let b = pool.try_alloc([2.0; 16]).unwrap();
/// let full = pool.try_alloc([3.0; 16]).unwrap_err();   // the value comes back
/// assert_eq!(full.into_inner()[0], 3.0);
/// drop(a);                                              // the slot is free again
/// assert_eq!(pool.try_alloc([4.0; 16]).unwrap()[0] + b[0], 6.0);
/// ```
pub struct Pool<T> {
    inner: NonNull<Inner<T>>,
    _marker: InvariantLocal<T>,
}

impl<T> Pool<T> {
    /// A pool of `capacity` slots, allocated now; it never grows.
    ///
    /// # Panics
    /// If `capacity` is 0.
    #[track_caller]
    pub fn bounded(capacity: usize) -> Self {
        Self::with_config(PoolConfig::bounded(capacity))
    }

    /// A pool that starts with `chunk` slots and grows by chunks as `growth` says when
    /// every slot is in use ([`PoolConfig::growing`]). Live values never move.
    ///
    /// # Panics
    /// If `chunk` is 0.
    #[track_caller]
    pub fn growing(chunk: usize, growth: super::Growth) -> Self {
        Self::with_config(PoolConfig::growing(chunk, growth))
    }

    /// A pool as `config` says (capacity, growth, alignment).
    ///
    /// # Panics
    /// If the config has no slot, or an alignment that is not a power of two up to
    /// [`MAX_POOL_ALIGN`](super::MAX_POOL_ALIGN).
    #[track_caller]
    pub fn with_config(config: PoolConfig) -> Self {
        Self::make(config, None)
    }

    #[track_caller]
    fn make(config: PoolConfig, recycler: Option<Recycler<T>>) -> Self {
        config.validate(mem::align_of::<T>());
        let slot = SlotLayout::new(mem::size_of::<T>(), mem::align_of::<T>(), &config);
        let inner = Box::new(Inner {
            raw: RawPool::new(config, slot),
            handles: std::cell::Cell::new(1),
            recycler,
        });
        Pool {
            inner: NonNull::from(Box::leak(inner)),
            _marker: PhantomData,
        }
    }

    fn inner(&self) -> &Inner<T> {
        // SAFETY: a handle keeps the storage alive (invariant 1).
        unsafe { self.inner.as_ref() }
    }

    /// Places `value` in a free slot, growing the pool if it may; when the pool is full,
    /// hands `value` back in the error.
    #[inline]
    pub fn try_alloc(&self, value: T) -> Result<PoolBox<T>, PoolFull<T>> {
        match self.inner().raw.take(false, false) {
            // SAFETY: just taken from this pool; `init` says whether it holds a value.
            Some((slot, init)) => Ok(unsafe { self.fill(slot, init, value) }),
            None => Err(PoolFull {
                value,
                capacity: self.inner().raw.capacity(),
            }),
        }
    }

    /// Places `value` in a free slot, waiting for one while the pool is full (backpressure,
    /// like [`claim_slab`](crate::claim_slab)). Waiting allocations are served first come,
    /// first served, ahead of later `try_alloc`s. Works under any executor.
    pub fn alloc(&self, value: T) -> Alloc<'_, T> {
        Alloc::new(self, Some(value))
    }

    /// Writes `value` into a slot just taken and wraps it in a box.
    ///
    /// # Safety
    /// `slot` was just taken from this pool; it holds a valid `T` iff `init`.
    unsafe fn fill(&self, slot: NonNull<u8>, init: bool, value: T) -> PoolBox<T> {
        let slot = slot.cast::<T>();
        if init {
            // SAFETY: the slot holds a valid `T` (contract), now exclusively ours.
            let old = unsafe { ptr::replace(slot.as_ptr(), value) };
            let boxed = PoolBox::new(self.inner, slot);
            drop(old); // user code, once the box owns the slot
            boxed
        } else {
            // SAFETY: the slot is ours, sized and aligned for `T` (SlotLayout), empty.
            unsafe { slot.as_ptr().write(value) };
            PoolBox::new(self.inner, slot)
        }
    }

    /// The pool's counters.
    pub fn stats(&self) -> PoolStats {
        self.inner().raw.stats()
    }

    /// Boxes alive now.
    pub fn len(&self) -> usize {
        self.inner().raw.live()
    }

    /// Whether no box is alive.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Slots the pool has now.
    pub fn capacity(&self) -> usize {
        self.inner().raw.capacity()
    }

    /// How many allocations would succeed now without waiting (free slots not promised to
    /// a waiting `alloc`, plus what growing may still add).
    pub fn available(&self) -> usize {
        self.inner().raw.available()
    }

    /// Whether both handles refer to the same pool.
    pub fn same_pool(&self, other: &Pool<T>) -> bool {
        self.inner == other.inner
    }
}

impl<T: Recycle + Default + 'static> Pool<T> {
    /// A recycling pool: a dropped box's value stays in its slot, reset by
    /// [`Recycle::on_release`], and [`take`](Self::take) hands it out again with its inner
    /// buffers; slots never used get `T::default()`.
    #[track_caller]
    pub fn recycling(config: PoolConfig) -> Self {
        Self::recycling_with(config, T::default)
    }
}

impl<T: Recycle> Pool<T> {
    /// A recycling pool whose never-used slots get `factory()` (e.g.
    /// `|| Vec::with_capacity(1500)`). See [`recycling`](Self::recycling).
    #[track_caller]
    pub fn recycling_with(config: PoolConfig, factory: impl Fn() -> T + 'static) -> Self {
        Self::make(
            config,
            Some(Recycler {
                hook: T::on_release,
                factory: Box::new(factory),
            }),
        )
    }
}

impl<T> Pool<T> {
    fn recycler(&self) -> &Recycler<T> {
        match &self.inner().recycler {
            Some(r) => r,
            None => panic!(
                "tickslab pool: `take` needs a recycling pool (`Pool::recycling`); use `alloc(value)`"
            ),
        }
    }

    /// A kept value (reset by its hook) or, from a never-used slot, a new one from the
    /// factory; `None` when the pool is full.
    ///
    /// # Panics
    /// If the pool was not made with [`Pool::recycling`] or [`Pool::recycling_with`].
    #[inline]
    pub fn try_take(&self) -> Option<PoolBox<T>> {
        self.recycler();
        let (slot, init) = self.inner().raw.take(true, false)?;
        // SAFETY: just taken from this pool; `init` says whether it holds a value.
        Some(unsafe { self.fill_recycled(slot, init) })
    }

    /// As [`try_take`](Self::try_take), waiting for a slot while the pool is full.
    ///
    /// # Panics
    /// If the pool was not made with [`Pool::recycling`] or [`Pool::recycling_with`].
    pub fn take(&self) -> Alloc<'_, T> {
        self.recycler();
        Alloc::new(self, None)
    }

    /// Fills every never-used slot with a value from the factory, so that the first `take`
    /// of each slot allocates nothing either (a warm-up).
    ///
    /// # Panics
    /// If the pool was not made with [`Pool::recycling`] or [`Pool::recycling_with`].
    pub fn prefill(&self) {
        let factory = &self.recycler().factory;
        while let Some(slot) = self.inner().raw.pop_vacant() {
            // If the factory panics, the vacant slot goes back first.
            let back = VacantGuard(&self.inner().raw, slot);
            let value = factory();
            mem::forget(back);
            // SAFETY: a vacant slot is empty, sized and aligned for `T`, popped by us.
            unsafe { slot.cast::<T>().as_ptr().write(value) };
            self.inner().raw.push_retained(slot);
        }
    }

    /// # Safety
    /// `slot` was just taken from this pool; it holds a valid `T` iff `init`.
    unsafe fn fill_recycled(&self, slot: NonNull<u8>, init: bool) -> PoolBox<T> {
        if !init {
            // If the factory panics, the slot goes back empty (invariant 3).
            let back = PutBack::<T> {
                inner: self.inner,
                slot,
                init: false,
            };
            let value = (self.recycler().factory)();
            mem::forget(back);
            // SAFETY: the slot is ours and empty, sized and aligned for `T`.
            unsafe { slot.cast::<T>().as_ptr().write(value) };
        }
        PoolBox::new(self.inner, slot.cast())
    }
}

/// Pushes a popped vacant slot back if dropped (a panicking factory in `prefill`).
struct VacantGuard<'a>(&'a RawPool, NonNull<u8>);

impl Drop for VacantGuard<'_> {
    fn drop(&mut self) {
        // Not a box: put the slot back without touching the live count.
        self.0.push_vacant(self.1);
    }
}

impl<T> Clone for Pool<T> {
    fn clone(&self) -> Self {
        let handles = &self.inner().handles;
        handles.set(handles.get() + 1);
        Pool {
            inner: self.inner,
            _marker: PhantomData,
        }
    }
}

impl<T> Drop for Pool<T> {
    fn drop(&mut self) {
        let inner = self.inner();
        inner.handles.set(inner.handles.get() - 1);
        if inner.handles.get() == 0 && inner.raw.live() == 0 {
            // SAFETY: no handle and no box is left (invariant 1).
            drop(unsafe { Box::from_raw(self.inner.as_ptr()) });
        }
    }
}

impl<T> fmt::Debug for Pool<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("stats", &self.stats())
            .finish()
    }
}

/// Returns a slot when dropped, even while unwinding (invariant 3).
struct PutBack<T> {
    inner: NonNull<Inner<T>>,
    slot: NonNull<u8>,
    init: bool,
}

impl<T> Drop for PutBack<T> {
    fn drop(&mut self) {
        // SAFETY: the guard is made for a slot taken from this live pool and not given back;
        // `init` is set only once the slot holds a value the pool keeps.
        unsafe { Inner::put_back(self.inner, self.slot, self.init) }
    }
}

/// A value in a [`Pool`] slot. Derefs to `T`; dropping it drops the value (or, in a
/// recycling pool, resets and keeps it) and frees the slot. Same thread only (`!Send`).
///
/// ```compile_fail,E0277
/// let pool = tickslab_runtime::pool::Pool::bounded(1);
/// let b = pool.try_alloc(1u32).unwrap();
/// std::thread::spawn(move || drop(b)); // error: `PoolBox` cannot be sent (use a `SyncPool`)
/// ```
pub struct PoolBox<T> {
    slot: NonNull<T>,
    inner: NonNull<Inner<T>>,
    _marker: InvariantLocal<T>,
}

impl<T> PoolBox<T> {
    fn new(inner: NonNull<Inner<T>>, slot: NonNull<T>) -> Self {
        PoolBox {
            slot,
            inner,
            _marker: PhantomData,
        }
    }

    /// Moves the value out and frees the slot (a recycling pool's slot becomes empty).
    pub fn into_inner(this: Self) -> T {
        let this = ManuallyDrop::new(this);
        // SAFETY: the box owns a valid value (invariant 2), read once: `this` is not dropped.
        let value = unsafe { this.slot.as_ptr().read() };
        // SAFETY: our slot, now empty; the box is gone.
        unsafe { Inner::put_back(this.inner, this.slot.cast(), false) };
        value
    }
}

impl<T> Drop for PoolBox<T> {
    fn drop(&mut self) {
        let mut back = PutBack::<T> {
            inner: self.inner,
            slot: self.slot.cast(),
            init: false,
        };
        // SAFETY: the box keeps the storage alive (invariant 1).
        let hook = unsafe { self.inner.as_ref() }
            .recycler
            .as_ref()
            .map(|r| r.hook);
        match hook {
            Some(hook) => {
                // If the hook panics, the value is dropped and the slot goes back empty.
                let on_panic = DropOnUnwind::<T>(self.inner, self.slot);
                // SAFETY: the box owns a valid value (invariant 2).
                hook(unsafe { &mut *self.slot.as_ptr() });
                mem::forget(on_panic);
                back.init = true;
            }
            // SAFETY: the box owns a valid value, dropped once here; if its destructor
            // panics, `back` still returns the (empty) slot.
            None => unsafe { ptr::drop_in_place(self.slot.as_ptr()) },
        }
    }
}

/// Drops the value of a slot whose reset hook panicked.
struct DropOnUnwind<T>(NonNull<Inner<T>>, NonNull<T>);

impl<T> Drop for DropOnUnwind<T> {
    fn drop(&mut self) {
        // SAFETY: the box's storage is alive while its drop runs.
        unsafe { self.0.as_ref() }.raw.note_hook_panic();
        // SAFETY: the value is valid (the hook got `&mut`, which cannot leave it invalid).
        unsafe { ptr::drop_in_place(self.1.as_ptr()) };
    }
}

impl<T> Deref for PoolBox<T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: the box owns a valid value (invariant 2).
        unsafe { self.slot.as_ref() }
    }
}

impl<T> DerefMut for PoolBox<T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the box owns a valid value, and `&mut self` makes this access exclusive.
        unsafe { self.slot.as_mut() }
    }
}

impl<T> AsRef<T> for PoolBox<T> {
    fn as_ref(&self) -> &T {
        self
    }
}

impl<T> AsMut<T> for PoolBox<T> {
    fn as_mut(&mut self) -> &mut T {
        self
    }
}

impl<T: fmt::Debug> fmt::Debug for PoolBox<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}
