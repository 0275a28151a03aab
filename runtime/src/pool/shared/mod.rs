//! [`SyncPool`] and [`SyncPoolBox`]: the thread-safe typed pool. Allocation and return are
//! lock-free (a compare-exchange on a tagged stack of slot indices, `shared/raw.rs`); a box
//! may be dropped on any thread and allocates nothing there.
//!
//! # Invariants
//!
//! 1. **Counted storage.** The `SyncInner<T>` is shared by the one pool handle and every
//!    box, counted in `raw.refs` (`raw.rs` invariant 3); whoever drops the last reference,
//!    on whatever thread, drops the kept values and frees it. A pool dropped while boxes
//!    are alive (its thread may even have exited) leaves the storage to the last box; a
//!    box leaked with `mem::forget` leaks the storage.
//! 2. **A box owns its slot and the value in it** (`raw.rs` invariant 2).
//! 3. **The slot always goes back, the value always goes somewhere**: as for
//!    [`PoolBox`](super::PoolBox), under guards that run when user code panics.
//! 4. **Thread safety follows `T`.** `SyncPool<T>` is `Send + Sync` when `T: Send` (values
//!    move in and out of it from any thread; the factory is `Send + Sync`);
//!    `SyncPoolBox<T>` is `Send` when `T: Send` and `Sync` when `T: Sync`, like `Box<T>`.
//!    Both are invariant in `T` (a kept value goes to the next `take`).

use std::fmt;
use std::marker::PhantomData;
use std::mem::{self, ManuallyDrop};
use std::ops::{Deref, DerefMut};
use std::ptr::{self, NonNull};

use super::config::{Invariant, PoolConfig, PoolFull, PoolStats, Recycle, SlotLayout};

pub(crate) mod atomics;
mod raw;
mod wait;

use raw::SyncRaw;
pub use wait::SyncAlloc;

struct Recycler<T> {
    hook: fn(&mut T),
    factory: Box<dyn Fn() -> T + Send + Sync>,
}

pub(crate) struct SyncInner<T> {
    raw: SyncRaw,
    recycler: Option<Recycler<T>>,
    /// Lets the loom model see the storage freed exactly once.
    #[cfg(loom)]
    pub(crate) token: loom::sync::Arc<()>,
}

impl<T> SyncInner<T> {
    /// Frees the storage: drops the kept values (all of them, even if one panics), then
    /// the chunks.
    ///
    /// # Safety
    /// The caller dropped the last reference (`raw.release_ref()` returned `true`).
    unsafe fn free(this: NonNull<SyncInner<T>>) {
        // SAFETY: the last reference was ours: nobody else can reach `this` (invariant 1).
        let inner = unsafe { Box::from_raw(this.as_ptr()) };
        let mut kept = Vec::new();
        // SAFETY: the last reference: no box, no handle, every slot free and ours.
        unsafe {
            inner.raw.for_each_slot(|slot, init| {
                if std::mem::take(init) {
                    kept.push(slot.cast::<T>());
                }
            })
        };
        // If one destructor panics, the unwinding drops the guard, whose own `drop` goes on
        // with the rest; `inner` is dropped by the unwinding too (the chunks are freed).
        struct DropAll<T>(Vec<NonNull<T>>);
        impl<T> DropAll<T> {
            fn drop_each(&mut self) {
                while let Some(p) = self.0.pop() {
                    // SAFETY: each kept slot holds a valid `T`, listed once, popped, so
                    // dropped once.
                    unsafe { ptr::drop_in_place(p.as_ptr()) };
                }
            }
        }
        impl<T> Drop for DropAll<T> {
            fn drop(&mut self) {
                self.drop_each();
            }
        }
        let mut kept = DropAll(kept);
        kept.drop_each();
        drop(kept);
        drop(inner);
    }
}

/// A thread-safe pool of `T` slots: `try_alloc(v)` / `alloc(v).await` from any thread; the
/// [`SyncPoolBox`] is `Send` (when `T` is) and returns its slot, lock-free and without
/// allocating, on whatever thread it is dropped. The game-thread half of a packet pipeline:
/// the I/O thread fills boxes, the game thread drops them.
///
/// Not `Clone`: share it by reference (`std::thread::scope`) or in an `Arc`.
///
/// ```
/// use tickslab_runtime::pool::SyncPool;
///
/// let pool: SyncPool<[u8; 64]> = SyncPool::bounded(2);
/// let packet = pool.try_alloc([7; 64]).unwrap();
/// std::thread::spawn(move || drop(packet)).join().unwrap(); // back in the pool
/// assert_eq!(pool.stats().len, 0);
/// ```
pub struct SyncPool<T> {
    inner: NonNull<SyncInner<T>>,
    _marker: Invariant<T>,
}

// SAFETY: invariant 4: values cross threads only when `T: Send`; the storage is atomics,
// locks and slots owned by one party at a time (`raw.rs` invariant 2); the factory is
// `Send + Sync`.
unsafe impl<T: Send> Send for SyncPool<T> {}
// SAFETY: as above: `&SyncPool` allows allocating from several threads, which the lock-free
// stack is for.
unsafe impl<T: Send> Sync for SyncPool<T> {}

impl<T> SyncPool<T> {
    /// A pool of `capacity` slots, allocated now; it never grows.
    ///
    /// # Panics
    /// If `capacity` is 0 or not below `u32::MAX`.
    #[track_caller]
    pub fn bounded(capacity: usize) -> Self {
        Self::with_config(PoolConfig::bounded(capacity))
    }

    /// A pool as `config` says. A growing `SyncPool` rounds its chunk up to a power of two
    /// and has at most 40 chunks.
    ///
    /// # Panics
    /// As [`Pool::with_config`](super::Pool::with_config).
    #[track_caller]
    pub fn with_config(config: PoolConfig) -> Self {
        Self::make(config, None)
    }

    #[track_caller]
    fn make(config: PoolConfig, recycler: Option<Recycler<T>>) -> Self {
        config.validate(mem::align_of::<T>());
        let slot = SlotLayout::new(mem::size_of::<T>(), mem::align_of::<T>(), &config);
        let inner = Box::new(SyncInner {
            raw: SyncRaw::new(config, slot),
            recycler,
            #[cfg(loom)]
            token: loom::sync::Arc::new(()),
        });
        SyncPool {
            inner: NonNull::from(Box::leak(inner)),
            _marker: PhantomData,
        }
    }

    pub(crate) fn inner(&self) -> &SyncInner<T> {
        // SAFETY: the handle holds a reference (invariant 1).
        unsafe { self.inner.as_ref() }
    }

    /// Places `value` in a free slot (growing if the pool may), or hands it back when the
    /// pool is full. Lock-free unless it grows.
    #[inline]
    pub fn try_alloc(&self, value: T) -> Result<SyncPoolBox<T>, PoolFull<T>> {
        match self.inner().raw.take() {
            // SAFETY: just taken from this pool.
            Some((idx, init)) => Ok(unsafe { self.fill(idx, init, value) }),
            None => Err(PoolFull {
                value,
                capacity: self.inner().raw.capacity(),
            }),
        }
    }

    /// Places `value` in a free slot, waiting while the pool is full; a box dropped on any
    /// thread wakes the waiter. No FIFO promise: a woken waiter that loses the slot to a
    /// `try_alloc` waits again.
    pub fn alloc(&self, value: T) -> SyncAlloc<'_, T> {
        SyncAlloc::new(self, Some(value))
    }

    /// # Safety
    /// Slot `idx` was just taken from this pool; it holds a valid `T` iff `init`.
    unsafe fn fill(&self, idx: u32, init: bool, value: T) -> SyncPoolBox<T> {
        let slot = self.inner().raw.slot_ptr(idx).cast::<T>();
        if init {
            // SAFETY: the slot holds a valid `T` (contract), exclusively ours.
            let old = unsafe { ptr::replace(slot.as_ptr(), value) };
            let boxed = SyncPoolBox::new(self.inner, slot, idx);
            drop(old);
            boxed
        } else {
            // SAFETY: the slot is ours, empty, sized and aligned for `T`.
            unsafe { slot.as_ptr().write(value) };
            SyncPoolBox::new(self.inner, slot, idx)
        }
    }

    /// The pool's counters (each read atomically; other threads may move them meanwhile).
    pub fn stats(&self) -> PoolStats {
        self.inner().raw.stats()
    }

    /// Boxes alive now (a snapshot).
    pub fn len(&self) -> usize {
        self.inner().raw.live()
    }

    /// Whether no box is alive now (a snapshot).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Slots now.
    pub fn capacity(&self) -> usize {
        self.inner().raw.capacity()
    }
}

impl<T: Recycle + Default + 'static> SyncPool<T> {
    /// A recycling pool (see [`Pool::recycling`](super::Pool::recycling)): the reset hook
    /// runs on the thread that drops the box.
    #[track_caller]
    pub fn recycling(config: PoolConfig) -> Self {
        Self::recycling_with(config, T::default)
    }
}

impl<T: Recycle> SyncPool<T> {
    /// A recycling pool whose never-used slots get `factory()`.
    #[track_caller]
    pub fn recycling_with(
        config: PoolConfig,
        factory: impl Fn() -> T + Send + Sync + 'static,
    ) -> Self {
        Self::make(
            config,
            Some(Recycler {
                hook: T::on_release,
                factory: Box::new(factory),
            }),
        )
    }
}

impl<T> SyncPool<T> {
    fn factory(&self) -> &(dyn Fn() -> T + Send + Sync) {
        match &self.inner().recycler {
            Some(r) => &*r.factory,
            None => panic!(
                "tickslab pool: `take` needs a recycling pool (`SyncPool::recycling`); use `alloc(value)`"
            ),
        }
    }

    /// A kept value (reset by its hook) or a new one from the factory; `None` when full.
    ///
    /// # Panics
    /// If the pool was not made with [`SyncPool::recycling`] or
    /// [`SyncPool::recycling_with`].
    #[inline]
    pub fn try_take(&self) -> Option<SyncPoolBox<T>> {
        self.factory();
        let (idx, init) = self.inner().raw.take()?;
        // SAFETY: just taken from this pool.
        Some(unsafe { self.fill_recycled(idx, init) })
    }

    /// As [`try_take`](Self::try_take), waiting while the pool is full.
    ///
    /// # Panics
    /// If the pool was not made with a reset hook.
    pub fn take(&self) -> SyncAlloc<'_, T> {
        self.factory();
        SyncAlloc::new(self, None)
    }

    /// Fills every empty slot with a value from the factory, so that the first `take` of
    /// each slot allocates nothing either (a warm-up). Does nothing while a box is alive
    /// (`&mut self` keeps other allocations out, and no box may own a slot).
    ///
    /// # Panics
    /// If the pool was not made with a reset hook.
    pub fn prefill(&mut self) {
        let factory = self.factory();
        let raw = &self.inner().raw;
        if !raw.no_boxes() {
            return;
        }
        let fill = |slot: NonNull<u8>, init: &mut bool| {
            if !*init {
                let value = factory();
                // SAFETY: an empty slot (flag clear), sized and aligned for `T`, and ours
                // (see below).
                unsafe { slot.cast::<T>().as_ptr().write(value) };
                *init = true;
            }
        };
        // SAFETY: `&mut self` excludes allocations, and no box is alive (seen with
        // `Acquire`): every slot is free and only we look at it.
        unsafe { raw.for_each_slot(fill) };
    }

    /// # Safety
    /// Slot `idx` was just taken from this pool; it holds a valid `T` iff `init`.
    unsafe fn fill_recycled(&self, idx: u32, init: bool) -> SyncPoolBox<T> {
        let slot = self.inner().raw.slot_ptr(idx).cast::<T>();
        if !init {
            let back = PutBack::<T> {
                inner: self.inner,
                idx,
                init: false,
            };
            let value = self.factory()();
            mem::forget(back);
            // SAFETY: the slot is ours, empty, sized and aligned for `T`.
            unsafe { slot.as_ptr().write(value) };
        }
        SyncPoolBox::new(self.inner, slot, idx)
    }
}

impl<T> Drop for SyncPool<T> {
    fn drop(&mut self) {
        if self.inner().raw.release_ref() {
            // SAFETY: that was the last reference.
            unsafe { SyncInner::free(self.inner) };
        }
    }
}

impl<T> fmt::Debug for SyncPool<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SyncPool")
            .field("stats", &self.stats())
            .finish()
    }
}

/// Returns a slot (and its reference) when dropped, even while unwinding.
struct PutBack<T> {
    inner: NonNull<SyncInner<T>>,
    idx: u32,
    init: bool,
}

impl<T> Drop for PutBack<T> {
    fn drop(&mut self) {
        // SAFETY: made for a slot taken from this pool and not given back; the slot's
        // reference keeps the storage alive until `release` returns.
        let last = unsafe { self.inner.as_ref().raw.release(self.idx, self.init) };
        if last {
            // SAFETY: that was the last reference.
            unsafe { SyncInner::free(self.inner) };
        }
    }
}

/// A value in a [`SyncPool`] slot. Derefs to `T`; may be sent to and dropped on any thread
/// (when `T: Send`), which frees the slot lock-free and without allocating. A box of a value
/// that may not leave its thread cannot either:
///
/// ```compile_fail,E0277
/// use std::rc::Rc;
/// let pool = tickslab_runtime::pool::SyncPool::bounded(1);
/// let b = pool.try_alloc(Rc::new(1)).unwrap();
/// std::thread::spawn(move || drop(b)); // error: `Rc<i32>` cannot be sent between threads
/// ```
pub struct SyncPoolBox<T> {
    slot: NonNull<T>,
    inner: NonNull<SyncInner<T>>,
    idx: u32,
    _marker: Invariant<T>,
}

// SAFETY: invariant 4: the box owns a `T` (like `Box<T>`); its drop touches only atomics of
// the shared storage and the slot it owns.
unsafe impl<T: Send> Send for SyncPoolBox<T> {}
// SAFETY: `&SyncPoolBox<T>` only gives `&T`.
unsafe impl<T: Sync> Sync for SyncPoolBox<T> {}

impl<T> SyncPoolBox<T> {
    fn new(inner: NonNull<SyncInner<T>>, slot: NonNull<T>, idx: u32) -> Self {
        SyncPoolBox {
            slot,
            inner,
            idx,
            _marker: PhantomData,
        }
    }

    /// Moves the value out and frees the slot.
    pub fn into_inner(this: Self) -> T {
        let this = ManuallyDrop::new(this);
        // SAFETY: the box owns a valid value, read once (`this` is not dropped).
        let value = unsafe { this.slot.as_ptr().read() };
        drop(PutBack::<T> {
            inner: this.inner,
            idx: this.idx,
            init: false,
        });
        value
    }
}

impl<T> Drop for SyncPoolBox<T> {
    fn drop(&mut self) {
        let mut back = PutBack::<T> {
            inner: self.inner,
            idx: self.idx,
            init: false,
        };
        // SAFETY: the box holds a reference to the storage (invariant 1).
        let inner = unsafe { self.inner.as_ref() };
        match inner.recycler.as_ref().map(|r| r.hook) {
            Some(hook) => {
                let on_panic = DropOnUnwind::<T>(self.inner, self.slot);
                // SAFETY: the box owns a valid value.
                hook(unsafe { &mut *self.slot.as_ptr() });
                mem::forget(on_panic);
                back.init = true;
            }
            // SAFETY: the box owns a valid value, dropped once; `back` returns the slot even
            // if the destructor panics.
            None => unsafe { ptr::drop_in_place(self.slot.as_ptr()) },
        }
    }
}

/// Drops the value of a slot whose reset hook panicked.
struct DropOnUnwind<T>(NonNull<SyncInner<T>>, NonNull<T>);

impl<T> Drop for DropOnUnwind<T> {
    fn drop(&mut self) {
        // SAFETY: the box's reference keeps the storage alive while its drop runs.
        unsafe { self.0.as_ref() }.raw.note_hook_panic();
        // SAFETY: the value is valid (the hook only had `&mut` to it) and dropped once.
        unsafe { ptr::drop_in_place(self.1.as_ptr()) };
    }
}

impl<T> Deref for SyncPoolBox<T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: the box owns a valid value (invariant 2).
        unsafe { self.slot.as_ref() }
    }
}

impl<T> DerefMut for SyncPoolBox<T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the box owns a valid value; `&mut self` makes the access exclusive.
        unsafe { self.slot.as_mut() }
    }
}

impl<T> AsRef<T> for SyncPoolBox<T> {
    fn as_ref(&self) -> &T {
        self
    }
}

impl<T> AsMut<T> for SyncPoolBox<T> {
    fn as_mut(&mut self) -> &mut T {
        self
    }
}

impl<T: fmt::Debug> fmt::Debug for SyncPoolBox<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}
