//! Allocation counting and no-allocation guards (the QADAPT idea).
//!
//! Install [`CountingAlloc`] as the global allocator of a test or bench binary:
//!
//! ```
//! use tickslab_alloc::counting::{count_allocs, no_alloc, CountingAlloc};
//!
//! #[global_allocator]
//! static GLOBAL: CountingAlloc = CountingAlloc::system();
//!
//! let (v, stats) = count_allocs(|| Vec::<u32>::with_capacity(10));
//! assert_eq!(stats.allocs, 1);
//! assert_eq!(stats.bytes_allocated, 40);
//!
//! let sum = no_alloc(|| v.capacity() + 1); // panics if anything in here allocates
//! assert_eq!(sum, 11);
//! ```
//!
//! # What is counted
//!
//! Every call into the allocator is counted twice: in counters of the calling thread
//! ([`AllocStats::current_thread`], [`count_allocs`]) and in process-wide atomic totals
//! ([`AllocStats::process`]). Counting never allocates: the per-thread counters are a
//! `const`-initialized thread local without a destructor, read with `try_with` (a thread
//! whose locals are unavailable is simply not counted per thread).
//!
//! # No-allocation regions: when the panic happens
//!
//! [`no_alloc`] and [`NoAllocGuard`] make any allocation or reallocation on the current thread
//! an error. The panic is raised **when the region ends** (the closure returns or the guard is
//! dropped), not inside the allocator: unwinding out of a global allocator is undefined
//! behaviour (see the safety section of [`GlobalAlloc`]; the standard library declares
//! `__rust_alloc` as non-unwinding). The allocator records the first offending allocation and
//! the panic names it: `allocation of 8 bytes (align 8) inside tickslab no_alloc region`.
//! To stop *at* the allocation instead (under a debugger, or for a core dump), call
//! [`set_abort_on_violation(true)`](set_abort_on_violation): the allocator then prints the same
//! message to stderr and aborts the process.
//!
//! Allocations made while the thread is already panicking are not violations (the panic
//! machinery itself allocates, and a second panic would abort).
//!
//! # Without the counting allocator
//!
//! If [`CountingAlloc`] is not the global allocator nothing could be counted, and a guard or a
//! measurement would pass silently. So [`no_alloc`], [`no_alloc_guard`] and [`count_allocs`]
//! **panic** with a message telling how to install it. [`is_counting_installed`] lets code
//! check first; [`AllocStats::current_thread`] is a plain read and does not check.

use core::alloc::{GlobalAlloc, Layout};
use core::cell::Cell;
use core::fmt;
use core::marker::PhantomData;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::alloc::System;

/// A [`GlobalAlloc`] that forwards to `A` and counts every call, per thread and per process,
/// and enforces [`no_alloc`] regions.
///
/// ```
/// use tickslab_alloc::counting::CountingAlloc;
///
/// #[global_allocator]
/// static GLOBAL: CountingAlloc = CountingAlloc::system();
/// # fn main() { assert!(tickslab_alloc::counting::is_counting_installed()); }
/// ```
///
/// The counters are global to the process (there is only one global allocator), so two
/// `CountingAlloc` values share them.
#[derive(Debug, Default)]
pub struct CountingAlloc<A: GlobalAlloc = System> {
    inner: A,
}

impl CountingAlloc<System> {
    /// Counts calls and forwards them to the system allocator.
    pub const fn system() -> Self {
        Self { inner: System }
    }
}

impl<A: GlobalAlloc> CountingAlloc<A> {
    /// Counts calls and forwards them to `inner`.
    pub const fn new(inner: A) -> Self {
        Self { inner }
    }

    /// The wrapped allocator.
    pub const fn inner(&self) -> &A {
        &self.inner
    }
}

// SAFETY: every method forwards its arguments unchanged to the same method of `inner` (itself
// a `GlobalAlloc`) and returns its result unchanged, so all layout and pointer contracts are
// those of `inner`. The bookkeeping around the call touches only atomics and a const-initialized,
// destructor-free thread local: it never allocates (no recursion) and never unwinds (a
// no-allocation violation is recorded, or aborts the process, but never panics here).
unsafe impl<A: GlobalAlloc> GlobalAlloc for CountingAlloc<A> {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        record_alloc(Op::Alloc, layout.size(), layout.align());
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract (non-zero size); forwarded.
        unsafe { self.inner.alloc(layout) }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        record_alloc(Op::Alloc, layout.size(), layout.align());
        // SAFETY: the caller upholds `GlobalAlloc::alloc_zeroed`'s contract; forwarded.
        unsafe { self.inner.alloc_zeroed(layout) }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        TOTAL_DEALLOCS.fetch_add(1, Relaxed);
        let _ = STATE.try_with(|s| bump(&s.deallocs, 1));
        // SAFETY: the caller guarantees `ptr` was allocated by this allocator (hence by `inner`,
        // to which every allocation is forwarded) with `layout`; forwarded.
        unsafe { self.inner.dealloc(ptr, layout) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        record_alloc(Op::Realloc, new_size, layout.align());
        // SAFETY: the caller guarantees `ptr` came from this allocator (so from `inner`) with
        // `layout`, and that `new_size` is valid; forwarded.
        unsafe { self.inner.realloc(ptr, layout, new_size) }
    }
}

/// A snapshot of allocation counters: of one thread ([`AllocStats::current_thread`]), of the
/// process ([`AllocStats::process`]) or a difference of two snapshots ([`AllocStats::since`]).
///
/// All counters are zero unless [`CountingAlloc`] is the global allocator.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct AllocStats {
    /// Calls to `alloc` and `alloc_zeroed`.
    pub allocs: u64,
    /// Calls to `dealloc`.
    pub deallocs: u64,
    /// Calls to `realloc`.
    pub reallocs: u64,
    /// Bytes requested: the sizes passed to `alloc`/`alloc_zeroed` plus the new sizes passed to
    /// `realloc` (a reallocation counts its whole new size).
    pub bytes_allocated: u64,
}

impl AllocStats {
    /// All counters zero.
    pub const ZERO: Self = Self {
        allocs: 0,
        deallocs: 0,
        reallocs: 0,
        bytes_allocated: 0,
    };

    /// The counters of the calling thread since it started (zero while the thread's locals
    /// are unavailable, i.e. during its teardown). Does not check that the counting allocator
    /// is installed.
    pub fn current_thread() -> Self {
        STATE
            .try_with(|s| Self {
                allocs: s.allocs.get(),
                deallocs: s.deallocs.get(),
                reallocs: s.reallocs.get(),
                bytes_allocated: s.bytes.get(),
            })
            .unwrap_or_default()
    }

    /// The process-wide totals since start, over all threads.
    pub fn process() -> Self {
        Self {
            allocs: TOTAL_ALLOCS.load(Relaxed),
            deallocs: TOTAL_DEALLOCS.load(Relaxed),
            reallocs: TOTAL_REALLOCS.load(Relaxed),
            bytes_allocated: TOTAL_BYTES.load(Relaxed),
        }
    }

    /// What happened between `earlier` and `self` (counter-wise difference, wrapping).
    #[must_use]
    pub fn since(&self, earlier: &AllocStats) -> AllocStats {
        AllocStats {
            allocs: self.allocs.wrapping_sub(earlier.allocs),
            deallocs: self.deallocs.wrapping_sub(earlier.deallocs),
            reallocs: self.reallocs.wrapping_sub(earlier.reallocs),
            bytes_allocated: self.bytes_allocated.wrapping_sub(earlier.bytes_allocated),
        }
    }

    /// True when nothing was allocated or reallocated (deallocations are allowed).
    pub fn is_allocation_free(&self) -> bool {
        self.allocs == 0 && self.reallocs == 0
    }
}

impl fmt::Display for AllocStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} allocs, {} deallocs, {} reallocs, {} bytes allocated",
            self.allocs, self.deallocs, self.reallocs, self.bytes_allocated
        )
    }
}

/// Runs `f` and returns its result with what the **current thread** allocated meanwhile.
///
/// # Panics
/// If [`CountingAlloc`] is not the global allocator (the counts would be meaningless zeros).
pub fn count_allocs<R>(f: impl FnOnce() -> R) -> (R, AllocStats) {
    assert_installed("count_allocs");
    let before = AllocStats::current_thread();
    let r = f();
    let after = AllocStats::current_thread();
    (r, after.since(&before))
}

/// Runs `f`, requiring that it allocates nothing on the current thread.
///
/// Deallocations are allowed. Regions nest. Other threads are not affected.
///
/// # Panics
/// - When `f` returns, if it allocated or reallocated: the message names the first offending
///   request, e.g. `allocation of 8 bytes (align 8) inside tickslab no_alloc region`. The panic
///   is deferred to the end of the region because a global allocator must not unwind (see the
///   [module docs](self)); [`set_abort_on_violation`] aborts at the allocation instead.
/// - On entry, if [`CountingAlloc`] is not the global allocator (allocations could not be
///   seen, and the guard would pass silently).
pub fn no_alloc<R>(f: impl FnOnce() -> R) -> R {
    let guard = no_alloc_guard();
    let r = f();
    drop(guard);
    r
}

/// Starts a no-allocation region on the current thread that lasts until the guard is dropped.
/// For code that cannot use the [`no_alloc`] closure.
///
/// # Panics
/// If [`CountingAlloc`] is not the global allocator.
pub fn no_alloc_guard() -> NoAllocGuard {
    assert_installed("no_alloc");
    STATE.with(|s| s.depth.set(s.depth.get() + 1));
    NoAllocGuard {
        _not_send: PhantomData,
    }
}

/// RAII no-allocation region: see [`no_alloc_guard`].
///
/// Dropping the guard ends the region and panics (unless the thread is already panicking) if
/// anything was allocated on this thread since the region, or an inner one, began and was not
/// already reported by an inner guard. The guard is `!Send`: it belongs to its thread.
/// Forgetting a guard (`mem::forget`) leaves the thread in a no-allocation region for good.
#[must_use = "the no-allocation region ends when the guard is dropped"]
pub struct NoAllocGuard {
    _not_send: PhantomData<*const ()>,
}

impl fmt::Debug for NoAllocGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NoAllocGuard").finish_non_exhaustive()
    }
}

impl Drop for NoAllocGuard {
    fn drop(&mut self) {
        let violation = STATE
            .try_with(|s| {
                s.depth.set(s.depth.get().saturating_sub(1));
                let v = s.violation.take();
                let n = s.violations.replace(0);
                v.map(|v| (v, n))
            })
            .ok()
            .flatten();
        if let Some((v, n)) = violation
            && !std::thread::panicking()
        {
            if n > 1 {
                panic!("{v} ({n} allocations in the region; the first is shown)");
            }
            panic!("{v}");
        }
    }
}

/// When `true`, an allocation inside a no-allocation region prints the violation to stderr and
/// aborts the process at once, so a debugger or core dump shows where it happened. When
/// `false` (the default), the region panics when it ends. Process-wide.
pub fn set_abort_on_violation(abort: bool) {
    ABORT_ON_VIOLATION.store(abort, Relaxed);
}

/// Whether [`CountingAlloc`] is the active global allocator.
///
/// Checked by making one small allocation and seeing whether this thread's counter moves;
/// a positive answer is cached.
pub fn is_counting_installed() -> bool {
    if INSTALLED.load(Relaxed) {
        return true;
    }
    let before = AllocStats::current_thread().allocs;
    let probe = std::hint::black_box(Box::new(0u8));
    drop(probe);
    let installed = AllocStats::current_thread().allocs != before;
    if installed {
        INSTALLED.store(true, Relaxed);
    }
    installed
}

// ---------------------------------------------------------------------------------------------
// Internals. Nothing below may allocate or unwind when called from the allocator.

static TOTAL_ALLOCS: AtomicU64 = AtomicU64::new(0);
static TOTAL_DEALLOCS: AtomicU64 = AtomicU64::new(0);
static TOTAL_REALLOCS: AtomicU64 = AtomicU64::new(0);
static TOTAL_BYTES: AtomicU64 = AtomicU64::new(0);
static INSTALLED: AtomicBool = AtomicBool::new(false);
static ABORT_ON_VIOLATION: AtomicBool = AtomicBool::new(false);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Alloc,
    Realloc,
}

/// The first allocation seen inside a no-allocation region.
#[derive(Clone, Copy, Debug)]
struct Violation {
    op: Op,
    size: usize,
    align: usize,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.op {
            Op::Alloc => "allocation of",
            Op::Realloc => "reallocation to",
        };
        write!(
            f,
            "{what} {} bytes (align {}) inside tickslab no_alloc region",
            self.size, self.align
        )
    }
}

struct ThreadState {
    allocs: Cell<u64>,
    deallocs: Cell<u64>,
    reallocs: Cell<u64>,
    bytes: Cell<u64>,
    /// Number of open no-allocation regions on this thread.
    depth: Cell<u32>,
    /// First violation not yet reported by a guard.
    violation: Cell<Option<Violation>>,
    /// Violations since the last report.
    violations: Cell<u64>,
}

thread_local! {
    // `const` init and no destructor: access never allocates and never fails on platforms
    // with native thread locals.
    static STATE: ThreadState = const {
        ThreadState {
            allocs: Cell::new(0),
            deallocs: Cell::new(0),
            reallocs: Cell::new(0),
            bytes: Cell::new(0),
            depth: Cell::new(0),
            violation: Cell::new(None),
            violations: Cell::new(0),
        }
    };
}

#[inline]
fn bump(c: &Cell<u64>, by: u64) {
    c.set(c.get().wrapping_add(by));
}

#[inline]
fn record_alloc(op: Op, size: usize, align: usize) {
    match op {
        Op::Alloc => TOTAL_ALLOCS.fetch_add(1, Relaxed),
        Op::Realloc => TOTAL_REALLOCS.fetch_add(1, Relaxed),
    };
    TOTAL_BYTES.fetch_add(size as u64, Relaxed);
    let _ = STATE.try_with(|s| {
        match op {
            Op::Alloc => bump(&s.allocs, 1),
            Op::Realloc => bump(&s.reallocs, 1),
        }
        bump(&s.bytes, size as u64);
        if s.depth.get() > 0 {
            violation(s, Violation { op, size, align });
        }
    });
}

#[cold]
fn violation(s: &ThreadState, v: Violation) {
    // The panic machinery allocates; those allocations are not the user's.
    if std::thread::panicking() {
        return;
    }
    if ABORT_ON_VIOLATION.load(Relaxed) {
        // Leave the region first: writing to stderr may allocate (thread handle set-up),
        // and that allocation must not come back here.
        s.depth.set(0);
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), "{v}; aborting (set_abort_on_violation)");
        std::process::abort();
    }
    if s.violation.get().is_none() {
        s.violation.set(Some(v));
    }
    bump(&s.violations, 1);
}

fn assert_installed(what: &str) {
    assert!(
        is_counting_installed(),
        "tickslab {what}: the counting allocator is not installed, so allocations cannot be \
         seen. Install it in this binary: `#[global_allocator] static GLOBAL: \
         tickslab_alloc::counting::CountingAlloc = tickslab_alloc::counting::CountingAlloc::system();`"
    );
}

#[cfg(test)]
mod tests {
    //! The library's own tests run without `CountingAlloc` installed: they check the behaviour
    //! without it, and drive an instance directly. `tests/counting.rs` installs it.
    use super::*;

    fn panic_message(e: Box<dyn std::any::Any + Send>) -> String {
        if let Some(s) = e.downcast_ref::<String>() {
            s.clone()
        } else if let Some(s) = e.downcast_ref::<&str>() {
            (*s).to_string()
        } else {
            String::from("<non-string panic>")
        }
    }

    #[test]
    fn not_installed_is_detected() {
        assert!(!is_counting_installed());
    }

    #[test]
    fn guards_refuse_to_run_without_the_allocator() {
        for f in [
            (|| {
                no_alloc(|| ());
            }) as fn(),
            || drop(no_alloc_guard()),
            || {
                let _ = count_allocs(|| ());
            },
        ] {
            let msg = panic_message(std::panic::catch_unwind(f).unwrap_err());
            assert!(msg.contains("counting allocator is not installed"), "{msg}");
            assert!(msg.contains("#[global_allocator]"), "{msg}");
        }
    }

    #[test]
    fn direct_calls_are_counted_per_thread() {
        let a = CountingAlloc::system();
        let before = AllocStats::current_thread();
        let layout = Layout::from_size_align(24, 8).unwrap();
        // SAFETY: non-zero-size layout; the block is freed below with the same allocator
        // and the layout it currently has.
        unsafe {
            let p = a.alloc(layout);
            assert!(!p.is_null());
            let p = a.realloc(p, layout, 100);
            assert!(!p.is_null());
            a.dealloc(p, Layout::from_size_align(100, 8).unwrap());
            let z = a.alloc_zeroed(layout);
            assert_eq!(*z, 0);
            a.dealloc(z, layout);
        }
        let d = AllocStats::current_thread().since(&before);
        assert_eq!(
            d,
            AllocStats {
                allocs: 2,
                deallocs: 2,
                reallocs: 1,
                bytes_allocated: 24 + 100 + 24
            }
        );
        let p = AllocStats::process();
        assert!(p.allocs >= 2 && p.reallocs >= 1 && p.deallocs >= 2);
    }

    #[test]
    fn violations_are_recorded_and_reported_at_guard_drop() {
        // The guard cannot be taken through `no_alloc_guard` here (not installed), so open the
        // region by hand and drive an instance directly.
        let a = CountingAlloc::system();
        STATE.with(|s| s.depth.set(s.depth.get() + 1));
        let guard = NoAllocGuard {
            _not_send: PhantomData,
        };
        let layout = Layout::from_size_align(48, 16).unwrap();
        // SAFETY: non-zero-size layout, freed right away with the same layout.
        unsafe { a.dealloc(a.alloc(layout), layout) };
        let err = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(guard)));
        let msg = panic_message(err.unwrap_err());
        assert_eq!(
            msg,
            "allocation of 48 bytes (align 16) inside tickslab no_alloc region"
        );
        STATE.with(|s| {
            assert_eq!(s.depth.get(), 0);
            assert!(s.violation.get().is_none());
        });
    }

    #[test]
    fn stats_difference_and_display() {
        let a = AllocStats {
            allocs: 5,
            deallocs: 4,
            reallocs: 3,
            bytes_allocated: 100,
        };
        let b = AllocStats {
            allocs: 7,
            deallocs: 4,
            reallocs: 3,
            bytes_allocated: 164,
        };
        let d = b.since(&a);
        assert_eq!(
            d,
            AllocStats {
                allocs: 2,
                deallocs: 0,
                reallocs: 0,
                bytes_allocated: 64
            }
        );
        assert!(!d.is_allocation_free());
        assert!(AllocStats::ZERO.is_allocation_free());
        assert_eq!(
            d.to_string(),
            "2 allocs, 0 deallocs, 0 reallocs, 64 bytes allocated"
        );
    }
}
