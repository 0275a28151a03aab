//! The runtime current on this thread: what `Runtime::enter`, `block_on`, `tick` and
//! `frame` install, and what `spawn`, `sleep`, sockets and `RuntimeStats::current` find.
//!
//! Invariants:
//! - The context **owns** what it points to: one strong count of the core's `Arc` here (kept
//!   as a raw pointer from `Arc::into_raw`, so that the slot needs no destructor and reading
//!   it is one load), and `Rc`s of the timers and the reactor in the slots that `time` and
//!   `io` keep for themselves. Only [`EnterGuard`] puts a count in or takes one out. A guard that is
//!   forgotten or dropped out of order can leave a runtime installed, but never a dangling
//!   one: a dropped runtime's core is marked dead, and a dead core (or shut-down timers or
//!   reactor) is treated as absent, so callers get a clear panic or error, never UB.
//! - Guards nest: each restores what it replaced. Dropping one out of order panics (as tokio
//!   does) and leaves the context as it was; nothing dangles either way.
//! - Only one runtime is *driven* on a thread at a time: `block_on`, `tick` or `frame`
//!   inside another's task or `block_on` would stall the outer runtime (and hang if the inner
//!   future waits on it), so it panics with what to do instead. Entering (`Runtime::enter`)
//!   and dropping another runtime inside a task stay allowed.
//! - `LAST_BUILT` holds a `Weak` of the last runtime built on this thread, for a
//!   `LocalSet::spawn_local` made while no runtime is entered (see `task/local_set.rs`); it
//!   keeps nothing alive.

use std::cell::Cell;
use std::marker::PhantomData;
use std::ptr;
use std::rc::Rc;
use std::sync::Arc;

use crate::blocking::{self, BlockingPool};
use crate::core::Core;
use crate::fs::{self, FsDriver};
use crate::io::reactor::{self, Reactor};
use crate::time::{self, Timers};

thread_local! {
    /// The entered runtime's core: null, or a pointer from `Arc::into_raw` whose strong
    /// count this slot owns (a forgotten guard leaks that count: the core stays valid).
    static CURRENT: Cell<*const Core> = const { Cell::new(ptr::null()) };
    /// Guards alive on this thread, to tell an out-of-order drop.
    static DEPTH: Cell<usize> = const { Cell::new(0) };
    /// Whether a runtime is being driven (`block_on`, `tick`, `frame`) on this thread.
    static DRIVING: Cell<bool> = const { Cell::new(false) };
    /// Gives back the count `CURRENT` still holds when the thread exits (a forgotten guard,
    /// or guards dropped out of order, leave one). Registered by the first `enter`, so
    /// that reading `CURRENT` itself never pays for a destructor.
    static RELEASE_AT_EXIT: ReleaseAtExit = const { ReleaseAtExit };
    /// The last runtime built on this thread (`note_built`).
    static LAST_BUILT: std::cell::RefCell<std::sync::Weak<Core>> =
        const { std::cell::RefCell::new(std::sync::Weak::new()) };
}

/// Records `core` as the last runtime built on this thread.
pub(crate) fn note_built(core: &Arc<Core>) {
    let _ = LAST_BUILT.try_with(|l| *l.borrow_mut() = Arc::downgrade(core));
}

/// The last runtime built on this thread, if it is still alive (not dropped).
pub(crate) fn last_built() -> Option<Arc<Core>> {
    LAST_BUILT
        .try_with(|l| l.borrow().upgrade())
        .ok()
        .flatten()
        .filter(|core| !core.is_shut_down())
}

/// Whether a runtime is entered on this thread (alive or not).
pub(crate) fn is_entered() -> bool {
    !CURRENT.with(Cell::get).is_null()
}

struct ReleaseAtExit;

impl Drop for ReleaseAtExit {
    fn drop(&mut self) {
        // `CURRENT` has no destructor, so it is still readable while others run.
        release(CURRENT.with(|c| c.replace(ptr::null())));
    }
}

/// Why there is no runtime to use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NoCore {
    /// Nothing is entered on this thread.
    NoRuntime,
    /// The entered runtime has been dropped (a guard outlived it).
    ShutDown,
}

/// Runs `f` with the current runtime's core, if one is entered and alive; otherwise hands
/// `value` back with the reason.
///
/// # Safety
/// `f` runs no user code (no future, destructor, waker or closure of the user's): the
/// core is borrowed from the thread's slot, and only an [`EnterGuard`] being dropped could
/// release the count that keeps it alive.
#[inline(always)]
pub(crate) unsafe fn with_core<T, R>(
    value: T,
    f: impl FnOnce(&Core, T) -> R,
) -> Result<R, (NoCore, T)> {
    let current = CURRENT.with(Cell::get);
    if current.is_null() {
        return Err((NoCore::NoRuntime, value));
    }
    // SAFETY: the slot owns a strong count of this `Arc` (see `enter`), which only an
    // `EnterGuard`'s drop gives back; the caller promises that `f` cannot drop one.
    let core = unsafe { &*current };
    if core.is_shut_down() {
        return Err((NoCore::ShutDown, value));
    }
    Ok(f(core, value))
}

/// Makes a runtime current until the guard drops.
pub(crate) struct EnterGuard {
    /// What the slot held before (null, or a strong count this guard now owns).
    prev_core: *const Core,
    prev_timers: Option<Rc<Timers>>,
    prev_reactor: Option<Rc<Reactor>>,
    prev_fs: Option<Rc<FsDriver>>,
    prev_blocking: Option<Arc<BlockingPool>>,
    depth: usize,
    _not_send: PhantomData<*const ()>,
}

/// What a runtime installs besides its core: each lower layer's "current" slot.
pub(crate) struct Parts<'a> {
    pub(crate) timers: &'a Rc<Timers>,
    pub(crate) reactor: &'a Rc<Reactor>,
    pub(crate) fs: &'a Rc<FsDriver>,
}

/// Installs `core` and `parts` as this thread's current runtime.
pub(crate) fn enter(core: &Arc<Core>, parts: Parts<'_>) -> EnterGuard {
    let Parts {
        timers,
        reactor,
        fs,
    } = parts;
    // Registers the thread-exit release (a no-op after the first time; ignored during
    // thread teardown, when nothing may be registered any more).
    let _ = RELEASE_AT_EXIT.try_with(|_| ());
    let prev_core = CURRENT.with(|c| c.replace(Arc::into_raw(Arc::clone(core))));
    let prev_timers = time::set_current(Some(Rc::clone(timers)));
    let prev_reactor = reactor::set_current(Some(Rc::clone(reactor)));
    let prev_blocking = blocking::set_current(Some(Arc::clone(fs.blocking_pool())));
    let prev_fs = fs::set_current(Some(Rc::clone(fs)));
    let depth = DEPTH.with(|d| {
        d.set(d.get() + 1);
        d.get()
    });
    EnterGuard {
        prev_core,
        prev_timers,
        prev_reactor,
        prev_fs,
        prev_blocking,
        depth,
        _not_send: PhantomData,
    }
}

impl Drop for EnterGuard {
    fn drop(&mut self) {
        let Ok(depth) = DEPTH.try_with(Cell::get) else {
            return; // thread teardown: the slots are gone already
        };
        if depth != self.depth {
            // Out of order: leave the context alone (what it holds is owned, so nothing
            // dangles), give back what this guard holds, and say so, unless that would be a
            // panic during a panic.
            release(std::mem::replace(&mut self.prev_core, ptr::null()));
            if !std::thread::panicking() {
                panic!(
                    "tickslab: runtime enter guards dropped out of order: a guard from \
                     `Runtime::enter` must be dropped before the guards made before it"
                );
            }
            return;
        }
        DEPTH.with(|d| d.set(depth - 1));
        let prev = std::mem::replace(&mut self.prev_core, ptr::null());
        let replaced = CURRENT.with(|c| c.replace(prev));
        let timers = time::set_current(self.prev_timers.take());
        let reactor = reactor::set_current(self.prev_reactor.take());
        let files = fs::set_current(self.prev_fs.take());
        let pool = blocking::set_current(self.prev_blocking.take());
        // Released once the slots hold what they should.
        release(replaced);
        drop((timers, reactor, files, pool));
    }
}

/// Gives back a strong count taken with `Arc::into_raw` (null: nothing).
fn release(core: *const Core) {
    if !core.is_null() {
        // SAFETY: `core` came from `Arc::into_raw` in `enter`, and its count is given back
        // once: it was just taken out of the slot or out of a guard (which now holds null).
        drop(unsafe { Arc::from_raw(core) });
    }
}

/// Marks this thread as driving a runtime until dropped.
pub(crate) struct DriveGuard {
    _not_send: PhantomData<*const ()>,
}

/// Claims the right to drive a runtime on this thread.
///
/// # Panics
/// If a runtime is already being driven here (`what` names the call, for the message).
#[track_caller]
pub(crate) fn drive(what: &str) -> DriveGuard {
    if DRIVING.with(|d| d.replace(true)) {
        nested(what);
    }
    DriveGuard {
        _not_send: PhantomData,
    }
}

/// Whether a runtime is being driven on this thread (`block_on`, `tick`, `frame`).
pub(crate) fn is_driving() -> bool {
    DRIVING.try_with(Cell::get).unwrap_or(false)
}

/// tokio's panic for a runtime started from within a runtime, and tickslab's advice.
#[track_caller]
pub(crate) fn nested(what: &str) -> ! {
    panic!(
        "Cannot start a runtime from within a runtime. This happens because a function (like \
         `block_on`) attempted to block the current thread while the thread is being used to \
         drive asynchronous tasks. If you are in an async function, use `.await` on the \
         future instead of blocking on it. (tickslab: `{what}` called while this thread is \
         already running a tickslab runtime (inside `block_on`, `tick` or `frame`, or from \
         one of its tasks): the outer runtime would stall until it returned, and a future \
         waiting on the outer runtime would never finish. Spawn the work on the running \
         runtime instead (`tickslab::spawn(fut)` and `.await` its JoinHandle), or run the \
         other runtime on its own thread.)"
    )
}

impl Drop for DriveGuard {
    fn drop(&mut self) {
        let _ = DRIVING.try_with(|d| d.set(false));
    }
}

/// A new strong reference to the runtime entered on this thread, alive or not (a guard
/// may outlive its runtime: tokio's `Handle::current` still returns that runtime's handle).
pub(crate) fn entered_core() -> Option<Arc<Core>> {
    let current = CURRENT.with(Cell::get);
    if current.is_null() {
        return None;
    }
    // SAFETY: the slot owns a strong count of this `Arc` (see `enter`), so the allocation is
    // live here (nothing runs between the read and this line); adding one more count and
    // turning it into an `Arc` is what `increment_strong_count` + `from_raw` allow.
    Some(unsafe {
        Arc::increment_strong_count(current);
        Arc::from_raw(current)
    })
}

/// Enters `core` again if it is the runtime current on this thread (a guard that puts back
/// the same context); `None` otherwise.
pub(crate) fn reenter(core: &Arc<Core>) -> Option<EnterGuard> {
    if CURRENT.with(Cell::get) != Arc::as_ptr(core) || core.is_shut_down() {
        return None;
    }
    let timers = time::set_current(None);
    time::set_current(timers.clone());
    let reactor = reactor::set_current(None);
    reactor::set_current(reactor.clone());
    let files = fs::set_current(None);
    fs::set_current(files.clone());
    let (timers, reactor, fs) = (timers?, reactor?, files?);
    Some(enter(
        core,
        Parts {
            timers: &timers,
            reactor: &reactor,
            fs: &fs,
        },
    ))
}
