//! Spawning: boxed tasks, slab tasks, slab claims, and the errors that hand a future back.
//! The free functions find the runtime through the thread's context (`crate::context`);
//! the memory work is `core/slots.rs`'s.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::ptr::NonNull;
use std::task::{Context, Poll};

use tickslab_alloc::slab::RawSlot;

use crate::context::{self, NoCore};
use crate::core::task::{
    JoinHandle, MAX_SLAB_TASK_ALIGN, SlotMisfit, fits_slot, slab_block_align, slab_block_size,
};
use crate::core::{Core, SlabRefusal};

/// Why a spawn did not happen. The future comes back inside [`SpawnError`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SpawnErrorKind {
    /// Every slot of the bounded slab is in use.
    SlabFull {
        /// Slots in the slab.
        capacity: usize,
    },
    /// The task (header + future) does not fit one slab slot.
    TooLarge {
        /// Bytes the task needs.
        task_size: usize,
        /// Bytes one slot holds.
        slot_size: usize,
    },
    /// The future needs a larger alignment than a slab task may have
    /// ([`MAX_SLAB_TASK_ALIGN`](crate::MAX_SLAB_TASK_ALIGN), 128 bytes).
    OverAligned {
        /// Alignment the task needs.
        align: usize,
        /// The largest alignment a slab task may have.
        max_align: usize,
    },
    /// The runtime was built without a slab.
    NoSlab,
    /// No tickslab runtime is running on this thread.
    NoRuntime,
    /// The runtime has shut down.
    Shutdown,
}

impl fmt::Display for SpawnErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            SpawnErrorKind::SlabFull { capacity } => {
                write!(f, "the task slab is full (all {capacity} slots in use)")
            }
            SpawnErrorKind::TooLarge {
                task_size,
                slot_size,
            } => write!(
                f,
                "the task needs {task_size} bytes but a slab slot holds {slot_size} bytes \
                 (use a larger slot size, box the future's large state, or `spawn` it boxed)"
            ),
            SpawnErrorKind::OverAligned { align, max_align } => write!(
                f,
                "the task needs alignment {align} but slab tasks may be aligned to at most \
                 {max_align} (`spawn` it boxed instead)"
            ),
            SpawnErrorKind::NoSlab => f.write_str(
                "no slab is configured: build the runtime with \
                 `Runtime::builder().slab_bounded::<SLOT_BYTES>(slots)` or \
                 `.slab_unbounded::<SLOT_BYTES>(chunk_slots)`",
            ),
            SpawnErrorKind::NoRuntime => f.write_str(
                "no tickslab runtime is running on this thread (spawn from inside \
                 `Runtime::block_on`, or use the `Runtime::spawn*` methods)",
            ),
            SpawnErrorKind::Shutdown => f.write_str("the runtime has shut down"),
        }
    }
}

/// A spawn that did not happen, with the future handed back: nothing is lost.
pub struct SpawnError<F> {
    kind: SpawnErrorKind,
    future: F,
}

impl<F> SpawnError<F> {
    pub(crate) fn new(kind: SpawnErrorKind, future: F) -> Self {
        SpawnError { kind, future }
    }

    /// Why the spawn failed.
    pub fn kind(&self) -> SpawnErrorKind {
        self.kind
    }

    /// Whether the bounded slab was full (the one error that waiting can cure; see
    /// [`claim_slab`]).
    pub fn is_full(&self) -> bool {
        matches!(self.kind, SpawnErrorKind::SlabFull { .. })
    }

    /// The future that was not spawned.
    pub fn into_future(self) -> F {
        self.future
    }

    /// Both parts.
    pub fn into_parts(self) -> (SpawnErrorKind, F) {
        (self.kind, self.future)
    }
}

impl<F> fmt::Debug for SpawnError<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SpawnError")
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

impl<F> fmt::Display for SpawnError<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot spawn onto the slab: {}", self.kind)
    }
}

impl<F> std::error::Error for SpawnError<F> {}

impl From<SlotMisfit> for SpawnErrorKind {
    fn from(misfit: SlotMisfit) -> Self {
        match misfit {
            SlotMisfit::TooLarge {
                task_size,
                slot_size,
            } => SpawnErrorKind::TooLarge {
                task_size,
                slot_size,
            },
            SlotMisfit::OverAligned { align } => SpawnErrorKind::OverAligned {
                align,
                max_align: MAX_SLAB_TASK_ALIGN,
            },
        }
    }
}

impl From<SlabRefusal> for SpawnErrorKind {
    fn from(refusal: SlabRefusal) -> Self {
        match refusal {
            SlabRefusal::NoSlab => SpawnErrorKind::NoSlab,
            SlabRefusal::Full { capacity } => SpawnErrorKind::SlabFull { capacity },
            SlabRefusal::Misfit(misfit) => misfit.into(),
        }
    }
}

impl From<NoCore> for SpawnErrorKind {
    fn from(no: NoCore) -> Self {
        match no {
            NoCore::NoRuntime => SpawnErrorKind::NoRuntime,
            NoCore::ShutDown => SpawnErrorKind::Shutdown,
        }
    }
}

/// Bytes a slab slot needs to hold a task running `F`: its header, the future or its
/// output, and (for futures aligned above 8 bytes) the padding that aligns it in the slot.
///
/// Use it to size the slab: `slab_bounded::<N>(..)` with `N >= task_size::<F>()`.
pub const fn task_size<F: Future>() -> usize {
    slab_block_size::<F>()
}

/// Runs `f` on the current runtime's core, or says why there is none.
///
/// # Safety
/// As [`context::with_core`]: `f` runs no user code.
unsafe fn with_current<R>(f: impl FnOnce(&Core) -> R) -> Result<R, SpawnErrorKind> {
    // SAFETY: guaranteed by the caller.
    unsafe { context::with_core((), |core, ()| f(core)) }.map_err(|(no, ())| no.into())
}

/// Spawns a future on the current runtime in a heap-allocated block (any size).
///
/// # Panics
/// Outside a tickslab runtime, or once it has been dropped.
#[track_caller]
pub fn spawn<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + 'static,
{
    // SAFETY: spawning writes the task and queues it: no user code runs.
    match unsafe { context::with_core(future, |core, future| core.spawn_boxed(future)) } {
        Ok(handle) => handle,
        Err((no, _)) => panic!("tickslab::spawn: {}", SpawnErrorKind::from(no)),
    }
}

/// Spawns `future` as a detached boxed task on the current runtime, if one is entered, alive
/// and not shutting down; hands it back otherwise (never panics). For work that destructors
/// hand over (`process`'s reaper of dropped children).
#[cfg(unix)]
pub(crate) fn try_spawn_detached<F>(future: F) -> Result<(), F>
where
    F: Future<Output = ()> + 'static,
{
    // SAFETY: the closure reads a flag and writes and queues the task: no user code runs.
    let spawned = unsafe {
        context::with_core(future, |core, future| {
            if core.is_shutting_down() {
                Err(future)
            } else {
                Ok(core.spawn_boxed(future))
            }
        })
    };
    match spawned {
        // Detached: dropped outside the core's borrow.
        Ok(Ok(handle)) => {
            drop(handle);
            Ok(())
        }
        Ok(Err(future)) | Err((_, future)) => Err(future),
    }
}

/// Spawns a future on the current runtime in a slot of its slab: no heap allocation.
///
/// # Panics
/// Outside a runtime, without a slab, when the task does not fit a slot (the message names
/// both sizes), or when a bounded slab is full (use [`try_spawn_slab`] or
/// [`claim_slab`]`().await` to handle that without a panic).
#[track_caller]
#[inline]
pub fn spawn_slab<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + 'static,
{
    expect_slab_spawn("tickslab::spawn_slab", try_spawn_slab(future))
}

/// The handle, or the panic `spawn_slab` promises, naming `what` and the way out.
#[track_caller]
#[inline]
pub(crate) fn expect_slab_spawn<F>(
    what: &str,
    spawned: Result<JoinHandle<F::Output>, SpawnError<F>>,
) -> JoinHandle<F::Output>
where
    F: Future,
{
    match spawned {
        Ok(handle) => handle,
        Err(e) if e.is_full() => panic!(
            "{what}: {}; use try_spawn_slab (hands the future back) or \
             claim_slab().await (waits for a free slot) for backpressure",
            e.kind
        ),
        Err(e) => panic!("{what}: {}", e.kind),
    }
}

/// Spawns a future in a slab slot, or hands it back inside the error (slab full, task too
/// large, no slab, no runtime).
#[inline]
pub fn try_spawn_slab<F>(future: F) -> Result<JoinHandle<F::Output>, SpawnError<F>>
where
    F: Future + 'static,
{
    // SAFETY: claiming a slot and writing the task into it run no user code.
    match unsafe { context::with_core(future, |core, future| core.try_spawn_slab(future)) } {
        Ok(Ok(handle)) => Ok(handle),
        Ok(Err((refusal, future))) => Err(SpawnError::new(refusal.into(), future)),
        Err((no, future)) => Err(SpawnError::new(no.into(), future)),
    }
}

/// Reserves a slab slot now, to spawn into later. `None` when a bounded slab is full.
///
/// # Panics
/// Outside a runtime, or when the runtime has no slab.
#[track_caller]
pub fn try_claim_slab() -> Option<SlabClaim> {
    // SAFETY: claiming a slot runs no user code.
    match unsafe { with_current(SlabClaim::try_new) } {
        Ok(claim) => claim,
        Err(kind) => panic!("tickslab::try_claim_slab: {kind}"),
    }
}

/// Waits until the slab has a free slot and reserves it: backpressure instead of a panic.
///
/// Ready at once with an unbounded slab or a free slot; otherwise wakes when a slot is
/// freed (all waiters are woken and race for it; losers wait again).
///
/// # Panics
/// When polled outside a runtime, or when the runtime has no slab.
pub fn claim_slab() -> ClaimSlab {
    ClaimSlab {
        registered: None,
        _not_send: PhantomData,
    }
}

/// Future returned by [`claim_slab`].
#[must_use = "futures do nothing unless awaited"]
#[derive(Debug)]
pub struct ClaimSlab {
    registered: Option<u64>,
    _not_send: PhantomData<*const ()>,
}

impl Future for ClaimSlab {
    type Output = SlabClaim;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<SlabClaim> {
        // SAFETY: claiming a slot and reading the waiters' epoch run no user code.
        let polled =
            unsafe { with_current(|c| SlabClaim::try_new(c).ok_or_else(|| c.slot_epoch())) };
        let epoch = match polled {
            Ok(Ok(claim)) => return Poll::Ready(claim),
            Ok(Err(epoch)) => epoch,
            Err(kind) => panic!("tickslab::claim_slab: {kind}"),
        };
        if self.registered != Some(epoch) {
            // Cloning the waker is user code: it happens outside the context's borrow.
            let waker = cx.waker().clone();
            // SAFETY: storing a cloned waker runs no user code.
            let stored = unsafe { with_current(|c| c.add_slot_waiter(waker)) };
            if let Err(kind) = stored {
                panic!("tickslab::claim_slab: {kind}");
            }
            self.registered = Some(epoch);
        }
        Poll::Pending
    }
}

/// A reserved slab slot. [`spawn`](Self::spawn) a future into it, or drop it to give the
/// slot back. Stays on the runtime's thread:
///
/// ```compile_fail,E0277
/// # use tickslab_runtime::*;
/// let rt = Runtime::builder().slab_bounded::<128>(8).build();
/// let claim = rt.block_on(async { try_claim_slab().unwrap() });
/// std::thread::spawn(move || drop(claim)); // error: `SlabClaim` cannot be sent
/// ```
pub struct SlabClaim {
    slot: RawSlot,
    slot_size: usize,
    core: NonNull<Core>,
    _not_send: PhantomData<*const ()>,
}

impl SlabClaim {
    #[track_caller]
    fn try_new(c: &Core) -> Option<SlabClaim> {
        let Some(slab) = c.slab() else {
            panic!("tickslab::claim_slab: {}", SpawnErrorKind::NoSlab)
        };
        let slot_size = slab.slot_size();
        c.try_claim_slot().map(|slot| SlabClaim {
            slot,
            slot_size,
            core: c.ptr(),
            _not_send: PhantomData,
        })
    }

    /// Bytes this slot holds.
    pub fn slot_size(&self) -> usize {
        self.slot_size
    }

    /// Spawns `future` into the reserved slot: no allocation, cannot fail for lack of room.
    ///
    /// # Panics
    /// If the task does not fit the slot (the message names both sizes), or if the runtime
    /// has shut down; see [`try_spawn`](Self::try_spawn).
    #[track_caller]
    pub fn spawn<F>(self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
    {
        match self.try_spawn(future) {
            Ok(handle) => handle,
            Err((e, _claim)) => panic!("SlabClaim::spawn: {}", e.kind),
        }
    }

    /// Spawns `future` into the reserved slot, or hands back the future and the claim.
    #[allow(clippy::result_large_err)]
    pub fn try_spawn<F>(
        self,
        future: F,
    ) -> Result<JoinHandle<F::Output>, (SpawnError<F>, SlabClaim)>
    where
        F: Future + 'static,
    {
        if let Err(misfit) = fits_slot::<F>(self.slot_size) {
            return Err((SpawnError::new(misfit.into(), future), self));
        }
        // SAFETY: the claim keeps the core alive (live runtime or orphan).
        let c = unsafe { self.core.as_ref() };
        if c.is_shut_down() {
            return Err((SpawnError::new(SpawnErrorKind::Shutdown, future), self));
        }
        let slot = self.slot;
        std::mem::forget(self);
        // SAFETY: the slot was claimed from this live core's slab and the task fits it; the
        // claim's count in `allocated` passes to the task.
        Ok(unsafe { c.spawn_in_slot(slot, future) })
    }
}

impl Drop for SlabClaim {
    fn drop(&mut self) {
        // SAFETY: an unused claim from this core, released once (`spawn` forgets it).
        unsafe { Core::free_claimed_slot(self.core, self.slot) }
    }
}

impl fmt::Debug for SlabClaim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SlabClaim")
            .field("slot", &self.slot.ptr)
            .field("slot_size", &self.slot_size)
            .finish()
    }
}

// ---- compile-time slot-size checks -----------------------------------------------------------

/// A slab spawner that knows the slot size `N` at compile time, so a task that cannot fit a
/// slot is a **compile error** naming both sizes, instead of a runtime panic:
///
/// ```compile_fail,E0080
/// # use tickslab_runtime::*;
/// # let rt = Runtime::builder().slab_bounded::<128>(8).build();
/// rt.block_on(async {
///     let big = [0u8; 512];
///     // error: the task needs 600 bytes but a slab slot holds 128 bytes
///     SlabSpawner::<128>::current().spawn(async move { big[0] });
/// });
/// ```
///
/// The runtime's slab must have slots of at least `N` bytes; [`current`](Self::current)
/// checks that once.
///
/// ```
/// # use tickslab_runtime::*;
/// # let rt = Runtime::builder().slab_bounded::<128>(8).build();
/// rt.block_on(async {
///     let spawner = SlabSpawner::<128>::current();
///     assert_eq!(spawner.spawn(async { 1 }).await.unwrap(), 1);
/// });
/// ```
#[derive(Clone, Copy)]
pub struct SlabSpawner<const N: usize> {
    _not_send: PhantomData<*const ()>,
}

impl<const N: usize> SlabSpawner<N> {
    /// The spawner for the current runtime.
    ///
    /// # Panics
    /// Outside a runtime, without a slab, or if the slab's slots are smaller than `N`.
    #[track_caller]
    pub fn current() -> Self {
        // SAFETY: reading the slab's slot size runs no user code.
        let slot_size = unsafe { with_current(|c| c.slab().map(|s| s.slot_size())) };
        match slot_size {
            Err(kind) => panic!("SlabSpawner::current: {kind}"),
            Ok(None) => panic!("SlabSpawner::current: {}", SpawnErrorKind::NoSlab),
            Ok(Some(size)) if size < N => panic!(
                "SlabSpawner::<{N}>::current: the runtime's slab has {size}-byte slots, \
                 smaller than {N}"
            ),
            Ok(Some(_)) => SlabSpawner {
                _not_send: PhantomData,
            },
        }
    }

    /// Spawns into the slab; the fit is checked at compile time.
    ///
    /// # Panics
    /// When the bounded slab is full (see [`try_spawn`](Self::try_spawn)), or outside the
    /// runtime or in one whose slots are smaller than `N`.
    #[track_caller]
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
    {
        match self.try_spawn(future) {
            Ok(handle) => handle,
            Err(e) => panic!("SlabSpawner::spawn: {}", e.kind),
        }
    }

    /// Spawns into the slab or hands the future back; the fit is checked at compile time.
    pub fn try_spawn<F>(&self, future: F) -> Result<JoinHandle<F::Output>, SpawnError<F>>
    where
        F: Future + 'static,
    {
        const { FitsSlot::<F, N>::CHECK };
        // SAFETY: reading the slab's slot size runs no user code.
        let slot_size = match unsafe { with_current(|c| c.slab().map(|s| s.slot_size())) } {
            Ok(Some(size)) => size,
            Ok(None) => return Err(SpawnError::new(SpawnErrorKind::NoSlab, future)),
            Err(kind) => return Err(SpawnError::new(kind, future)),
        };
        if slot_size < N {
            let kind = SpawnErrorKind::TooLarge {
                task_size: task_size::<F>(),
                slot_size,
            };
            return Err(SpawnError::new(kind, future));
        }
        try_spawn_slab(future)
    }
}

impl<const N: usize> fmt::Debug for SlabSpawner<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SlabSpawner<{N}>")
    }
}

/// Post-monomorphization check that a task for `F` fits an `N`-byte slot (size with its
/// alignment padding, and alignment at most 128); the error message is built at compile
/// time so it can name both sizes.
struct FitsSlot<F, const N: usize>(PhantomData<F>);

impl<F: Future + 'static, const N: usize> FitsSlot<F, N> {
    const SIZE: usize = task_size::<F>();
    const ALIGN: usize = slab_block_align::<F>();
    const MESSAGE: ConstMessage = ConstMessage::new()
        .push("the task needs ")
        .push_num(Self::SIZE)
        .push(" bytes (alignment ")
        .push_num(Self::ALIGN)
        .push(") but a slab slot holds ")
        .push_num(N)
        .push(" bytes (slab tasks may be aligned to at most 128): use a larger slot, box the future's large state, or spawn it boxed");
    const CHECK: () = {
        if Self::SIZE > N || Self::ALIGN > MAX_SLAB_TASK_ALIGN {
            panic!("{}", Self::MESSAGE.as_str());
        }
    };
}

/// A string assembled in a `const` context (to name numbers in a compile-time error).
struct ConstMessage {
    buf: [u8; 256],
    len: usize,
}

impl ConstMessage {
    const fn new() -> Self {
        ConstMessage {
            buf: [0; 256],
            len: 0,
        }
    }

    const fn push(mut self, s: &str) -> Self {
        let bytes = s.as_bytes();
        let mut i = 0;
        while i < bytes.len() && self.len < self.buf.len() {
            self.buf[self.len] = bytes[i];
            self.len += 1;
            i += 1;
        }
        self
    }

    const fn push_num(mut self, mut n: usize) -> Self {
        let mut digits = [0u8; 20];
        let mut count = 0;
        loop {
            digits[count] = b'0' + (n % 10) as u8;
            count += 1;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        while count > 0 && self.len < self.buf.len() {
            count -= 1;
            self.buf[self.len] = digits[count];
            self.len += 1;
        }
        self
    }

    const fn as_str(&self) -> &str {
        match std::str::from_utf8(self.buf.split_at(self.len).0) {
            Ok(s) => s,
            Err(_) => "the task does not fit a slab slot",
        }
    }
}
