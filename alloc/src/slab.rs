//! Type-erased glue over `nexus_slab` byte slabs.
//!
//! A runtime wants to own "a slab" without carrying the slot size `N` in every type it
//! touches. [`ErasedSlab`] boxes a bounded or unbounded [`nexus_slab`] byte slab and keeps
//! four function pointers monomorphized for its `N`: claim a slot, free a slot, report the
//! capacity, drop the slab. The hot path is one indirect call into code that knows `N`.
//!
//! The slab stores raw bytes; what lives in a slot is the caller's business. This module
//! only hands out vacant slots ([`RawSlot`]) and takes them back.

use core::cell::Cell;
use core::fmt;
use core::ptr::NonNull;

use nexus_slab::byte::{bounded, unbounded};

/// Alignment of every slab slot. A value with a larger alignment cannot live in a byte slab.
pub const SLOT_ALIGN: usize = 8;

/// A vacant slot claimed from an [`ErasedSlab`]: its address and, for unbounded slabs, the
/// chunk it lives in (so freeing it is O(1) instead of a scan over chunks).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RawSlot {
    /// Start of the slot's bytes, aligned to [`SLOT_ALIGN`], `slot_size` bytes long.
    pub ptr: NonNull<u8>,
    /// Owning chunk (always 0 for bounded slabs).
    pub chunk: u32,
}

/// Whether a slab can grow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlabKind {
    /// Fixed capacity: claims fail when every slot is taken.
    Bounded,
    /// Grows chunk by chunk: claims never fail (they may allocate a new chunk).
    Unbounded,
}

struct SlabVTable {
    kind: SlabKind,
    slot_size: usize,
    /// Claims a vacant slot, or `None` when a bounded slab is full.
    claim: unsafe fn(NonNull<()>) -> Option<RawSlot>,
    /// Returns a slot to the freelist. Does not drop anything stored in it.
    free: unsafe fn(NonNull<()>, RawSlot),
    capacity: unsafe fn(NonNull<()>) -> Option<usize>,
    drop_slab: unsafe fn(NonNull<()>),
}

/// A `nexus_slab` byte slab of any slot size, owned and type-erased.
///
/// Tracks how many slots are in use so that it can refuse to free memory that is still
/// occupied: dropping an `ErasedSlab` with slots in use leaks the slab's storage instead
/// (the one sound outcome for pinned values living there, as `nexus_slab` documents).
///
/// `ErasedSlab` is `Send` (like the slab it owns) and `!Sync`.
pub struct ErasedSlab {
    slab: NonNull<()>,
    vtable: &'static SlabVTable,
    used: Cell<usize>,
    peak: Cell<usize>,
}

// SAFETY: the boxed slab is `Send` (nexus-slab byte slabs are `Send`), and `ErasedSlab` is the
// only owner of that box. `Cell` makes it `!Sync`, so it is never shared between threads.
unsafe impl Send for ErasedSlab {}

impl ErasedSlab {
    /// Takes ownership of a bounded byte slab with `N`-byte slots.
    pub fn bounded<const N: usize>(slab: bounded::Slab<N>) -> Self {
        Self::from_box(Box::new(slab), &BoundedGlue::<N>::VTABLE)
    }

    /// Takes ownership of an unbounded (growable) byte slab with `N`-byte slots.
    pub fn unbounded<const N: usize>(slab: unbounded::Slab<N>) -> Self {
        Self::from_box(Box::new(slab), &UnboundedGlue::<N>::VTABLE)
    }

    /// A new bounded byte slab of `capacity` slots of `N` bytes, owned from the start: the
    /// safe way to make one (nothing outside this type can free a slot of it).
    ///
    /// # Panics
    /// If `capacity` is zero.
    pub fn new_bounded<const N: usize>(capacity: usize) -> Self {
        assert!(capacity > 0, "a bounded slab needs at least one slot");
        // SAFETY: nexus-slab's contract is "free only claimed slots, into this slab, and free
        // everything before dropping it". The slab never leaves this `ErasedSlab`: slots are
        // handed out only by `try_claim` and taken back only by `free` (whose caller promises
        // the slot came from here), and `Drop` leaks the storage instead of freeing it while
        // any slot is in use.
        Self::bounded(unsafe { bounded::Slab::<N>::with_capacity(capacity) })
    }

    /// A new unbounded byte slab of `N`-byte slots, growing by chunks of `chunk_capacity`
    /// slots (one allocation each). Safe for the reasons given on
    /// [`new_bounded`](Self::new_bounded).
    ///
    /// # Panics
    /// If `chunk_capacity` is zero.
    pub fn new_unbounded<const N: usize>(chunk_capacity: usize) -> Self {
        assert!(
            chunk_capacity > 0,
            "an unbounded slab needs chunks of at least one slot"
        );
        // SAFETY: as in `new_bounded`: this `ErasedSlab` is the slab's only owner and user.
        Self::unbounded(unsafe { unbounded::Slab::<N>::with_chunk_capacity(chunk_capacity) })
    }

    fn from_box<S>(slab: Box<S>, vtable: &'static SlabVTable) -> Self {
        Self {
            // SAFETY: `Box::into_raw` never returns null.
            slab: unsafe { NonNull::new_unchecked(Box::into_raw(slab).cast::<()>()) },
            vtable,
            used: Cell::new(0),
            peak: Cell::new(0),
        }
    }

    /// Bytes per slot.
    #[inline]
    pub fn slot_size(&self) -> usize {
        self.vtable.slot_size
    }

    /// Bounded or unbounded.
    #[inline]
    pub fn kind(&self) -> SlabKind {
        self.vtable.kind
    }

    /// Total slots of a bounded slab; `None` for an unbounded one.
    #[inline]
    pub fn capacity(&self) -> Option<usize> {
        // SAFETY: `self.slab` points to the live slab the vtable was made for.
        unsafe { (self.vtable.capacity)(self.slab) }
    }

    /// Slots in use now.
    #[inline]
    pub fn used(&self) -> usize {
        self.used.get()
    }

    /// The most slots ever in use at once.
    #[inline]
    pub fn peak(&self) -> usize {
        self.peak.get()
    }

    /// Claims a vacant slot. `None` only when a bounded slab is full.
    #[inline]
    pub fn try_claim(&self) -> Option<RawSlot> {
        // SAFETY: `self.slab` points to the live slab the vtable was made for; `&self` and the
        // `!Sync` type mean no other thread is inside the slab.
        let slot = unsafe { (self.vtable.claim)(self.slab) }?;
        let used = self.used.get() + 1;
        self.used.set(used);
        if used > self.peak.get() {
            self.peak.set(used);
        }
        Some(slot)
    }

    /// Returns a slot to the slab. Whatever was stored in it must already be dropped.
    ///
    /// # Safety
    /// `slot` was returned by [`try_claim`](Self::try_claim) on this slab and has not been
    /// freed since.
    #[inline]
    pub unsafe fn free(&self, slot: RawSlot) {
        debug_assert!(self.used.get() > 0, "free on a slab with no slot in use");
        self.used.set(self.used.get() - 1);
        // SAFETY: the caller guarantees `slot` is a live claim from this slab.
        unsafe { (self.vtable.free)(self.slab, slot) }
    }
}

impl Drop for ErasedSlab {
    fn drop(&mut self) {
        if self.used.get() == 0 {
            // SAFETY: every slot is vacant, so dropping the slab frees no live value, and
            // `self.slab` came from `Box::into_raw` of the type the vtable was made for.
            unsafe { (self.vtable.drop_slab)(self.slab) }
        }
        // Else: slots are still occupied (by values someone may still reach). Leaking the
        // storage is the only sound choice; the runtime never gets here in normal operation.
    }
}

impl fmt::Debug for ErasedSlab {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ErasedSlab")
            .field("kind", &self.kind())
            .field("slot_size", &self.slot_size())
            .field("capacity", &self.capacity())
            .field("used", &self.used())
            .field("peak", &self.peak())
            .finish()
    }
}

struct BoundedGlue<const N: usize>;

impl<const N: usize> BoundedGlue<N> {
    const VTABLE: SlabVTable = SlabVTable {
        kind: SlabKind::Bounded,
        slot_size: N,
        claim: Self::claim,
        free: Self::free,
        capacity: Self::capacity,
        drop_slab: Self::drop_slab,
    };

    /// # Safety
    /// `slab` points to a live `bounded::Slab<N>`.
    unsafe fn slab<'a>(slab: NonNull<()>) -> &'a bounded::Slab<N> {
        // SAFETY: guaranteed by the caller.
        unsafe { slab.cast::<bounded::Slab<N>>().as_ref() }
    }

    unsafe fn claim(slab: NonNull<()>) -> Option<RawSlot> {
        // SAFETY: vtable contract: `slab` is a live `bounded::Slab<N>`.
        let claim = unsafe { Self::slab(slab) }.try_claim()?;
        let ptr = claim.as_ptr();
        // The slot is ours until `free`: forgetting the claim keeps it from returning itself.
        core::mem::forget(claim);
        Some(RawSlot {
            // SAFETY: a claimed slot's address is never null.
            ptr: unsafe { NonNull::new_unchecked(ptr) },
            chunk: 0,
        })
    }

    unsafe fn free(slab: NonNull<()>, slot: RawSlot) {
        // SAFETY: vtable contract; `slot` was claimed from this slab and is vacant of values.
        unsafe { Self::slab(slab).free_raw(slot.ptr.as_ptr()) }
    }

    unsafe fn capacity(slab: NonNull<()>) -> Option<usize> {
        // SAFETY: vtable contract.
        Some(unsafe { Self::slab(slab) }.capacity())
    }

    unsafe fn drop_slab(slab: NonNull<()>) {
        // SAFETY: `slab` came from `Box::into_raw(Box<bounded::Slab<N>>)` and is dropped once.
        drop(unsafe { Box::from_raw(slab.cast::<bounded::Slab<N>>().as_ptr()) });
    }
}

struct UnboundedGlue<const N: usize>;

impl<const N: usize> UnboundedGlue<N> {
    const VTABLE: SlabVTable = SlabVTable {
        kind: SlabKind::Unbounded,
        slot_size: N,
        claim: Self::claim,
        free: Self::free,
        capacity: Self::capacity,
        drop_slab: Self::drop_slab,
    };

    /// # Safety
    /// `slab` points to a live `unbounded::Slab<N>`.
    unsafe fn slab<'a>(slab: NonNull<()>) -> &'a unbounded::Slab<N> {
        // SAFETY: guaranteed by the caller.
        unsafe { slab.cast::<unbounded::Slab<N>>().as_ref() }
    }

    unsafe fn claim(slab: NonNull<()>) -> Option<RawSlot> {
        // SAFETY: vtable contract: `slab` is a live `unbounded::Slab<N>`.
        let claim = unsafe { Self::slab(slab) }.claim();
        let ptr = claim.as_ptr();
        let chunk = u32::try_from(claim.chunk_idx()).expect("more than u32::MAX slab chunks");
        core::mem::forget(claim);
        Some(RawSlot {
            // SAFETY: a claimed slot's address is never null.
            ptr: unsafe { NonNull::new_unchecked(ptr) },
            chunk,
        })
    }

    unsafe fn free(slab: NonNull<()>, slot: RawSlot) {
        // SAFETY: vtable contract; `slot` (address and chunk) was claimed from this slab.
        unsafe { Self::slab(slab).free_raw_in_chunk(slot.ptr.as_ptr(), slot.chunk as usize) }
    }

    unsafe fn capacity(_slab: NonNull<()>) -> Option<usize> {
        None
    }

    unsafe fn drop_slab(slab: NonNull<()>) {
        // SAFETY: `slab` came from `Box::into_raw(Box<unbounded::Slab<N>>)` and is dropped once.
        drop(unsafe { Box::from_raw(slab.cast::<unbounded::Slab<N>>().as_ptr()) });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bounded_slab<const N: usize>(cap: usize) -> ErasedSlab {
        // SAFETY: the ErasedSlab owns the slab and frees every slot through it.
        ErasedSlab::bounded(unsafe { bounded::Slab::<N>::with_capacity(cap) })
    }

    #[test]
    fn bounded_claims_until_full_then_reuses() {
        let slab = bounded_slab::<64>(2);
        assert_eq!(
            (slab.kind(), slab.slot_size(), slab.capacity()),
            (SlabKind::Bounded, 64, Some(2))
        );
        let a = slab.try_claim().expect("first slot");
        let b = slab.try_claim().expect("second slot");
        assert_ne!(a.ptr, b.ptr);
        assert!(slab.try_claim().is_none(), "a full bounded slab refuses");
        assert_eq!((slab.used(), slab.peak()), (2, 2));
        // SAFETY: `a` came from this slab and is freed once.
        unsafe { slab.free(a) };
        let c = slab.try_claim().expect("freed slot is reused");
        assert_eq!(c.ptr, a.ptr);
        // SAFETY: both came from this slab and are freed once.
        unsafe {
            slab.free(b);
            slab.free(c);
        }
        assert_eq!((slab.used(), slab.peak()), (0, 2));
    }

    #[test]
    fn slots_are_aligned_and_writable() {
        let slab = bounded_slab::<32>(4);
        let s = slab.try_claim().unwrap();
        assert_eq!(s.ptr.as_ptr() as usize % SLOT_ALIGN, 0);
        // SAFETY: the slot is 32 bytes, 8-aligned, and ours until freed.
        unsafe {
            s.ptr.cast::<[u64; 4]>().write([1, 2, 3, 4]);
            assert_eq!(s.ptr.cast::<[u64; 4]>().read(), [1, 2, 3, 4]);
            slab.free(s);
        }
    }

    #[test]
    fn unbounded_grows_and_frees_by_chunk() {
        // SAFETY: the ErasedSlab owns the slab and frees every slot through it.
        let slab = ErasedSlab::unbounded(unsafe { unbounded::Slab::<48>::with_chunk_capacity(2) });
        let slots: Vec<_> = (0..7)
            .map(|_| slab.try_claim().expect("unbounded"))
            .collect();
        assert_eq!(slab.capacity(), None);
        assert!(
            slots.iter().any(|s| s.chunk > 0),
            "claims spilled into later chunks"
        );
        for s in slots {
            // SAFETY: each came from this slab and is freed once.
            unsafe { slab.free(s) };
        }
        assert_eq!(slab.used(), 0);
        assert_eq!(slab.peak(), 7);
    }

    #[test]
    #[cfg_attr(miri, ignore = "leaks the slab on purpose")]
    fn dropping_with_slots_in_use_leaks_instead_of_freeing() {
        let slab = bounded_slab::<16>(1);
        let _kept = slab.try_claim().unwrap();
        // Must neither panic (nexus-slab's debug check) nor free occupied storage.
        drop(slab);
    }
}
