//! The runtime current on this thread: what `Runtime::enter`, `block_on`, `tick` and
//! `frame` install, and what `spawn`, `sleep`, sockets and `RuntimeStats::current` find.
//!
//! Invariants:
//! - The context **owns** what it points to: an `Arc<Core>` here, and `Rc`s of the timers
//!   and the reactor in the slots that `time` and `io` keep for themselves. A guard that is
//!   forgotten or dropped out of order can leave a runtime installed, but never a dangling
//!   one: a dropped runtime's core is marked dead, and a dead core (or shut-down timers or
//!   reactor) is treated as absent, so callers get a clear panic or error, never UB.
//! - Guards nest: each restores what it replaced. Dropping one out of order panics (as tokio
//!   does) and leaves the context as it was; nothing dangles either way.
//! - Only one runtime is *driven* on a thread at a time: `block_on`, `tick` or `frame`
//!   inside another's task or `block_on` would stall the outer runtime (and hang if the inner
//!   future waits on it), so it panics with what to do instead. Entering (`Runtime::enter`)
//!   and dropping another runtime inside a task stay allowed.

use std::cell::{Cell, RefCell};
use std::marker::PhantomData;
use std::rc::Rc;
use std::sync::Arc;

use crate::core::Core;
use crate::io::reactor::{self, Reactor};
use crate::time::{self, Timers};

thread_local! {
    /// The entered runtime's core (one strong reference, owned by this slot).
    static CURRENT: RefCell<Option<Arc<Core>>> = const { RefCell::new(None) };
    /// Guards alive on this thread, to tell an out-of-order drop.
    static DEPTH: Cell<usize> = const { Cell::new(0) };
    /// Whether a runtime is being driven (`block_on`, `tick`, `frame`) on this thread.
    static DRIVING: Cell<bool> = const { Cell::new(false) };
}

/// Why there is no runtime to use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NoCore {
    /// Nothing is entered on this thread.
    NoRuntime,
    /// The entered runtime has been dropped (a guard outlived it).
    ShutDown,
}

/// Runs `f` with the current runtime's core, if one is entered and alive.
#[inline]
pub(crate) fn with_core<R>(f: impl FnOnce(&Core) -> R) -> Result<R, NoCore> {
    CURRENT
        .try_with(|current| {
            let current = current.borrow();
            match current.as_deref() {
                Some(core) if !core.is_shut_down() => Ok(f(core)),
                Some(_) => Err(NoCore::ShutDown),
                None => Err(NoCore::NoRuntime),
            }
        })
        .unwrap_or(Err(NoCore::NoRuntime))
}

/// Makes a runtime current until the guard drops.
pub(crate) struct EnterGuard {
    prev_core: Option<Arc<Core>>,
    prev_timers: Option<Rc<Timers>>,
    prev_reactor: Option<Rc<Reactor>>,
    depth: usize,
    _not_send: PhantomData<*const ()>,
}

/// Installs `core`, `timers` and `reactor` as this thread's current runtime.
pub(crate) fn enter(core: &Arc<Core>, timers: &Rc<Timers>, reactor: &Rc<Reactor>) -> EnterGuard {
    let prev_core = CURRENT.with(|c| c.borrow_mut().replace(Arc::clone(core)));
    let prev_timers = time::set_current(Some(Rc::clone(timers)));
    let prev_reactor = reactor::set_current(Some(Rc::clone(reactor)));
    let depth = DEPTH.with(|d| {
        d.set(d.get() + 1);
        d.get()
    });
    EnterGuard {
        prev_core,
        prev_timers,
        prev_reactor,
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
            // dangles) and say so, unless that would be a panic during a panic.
            if !std::thread::panicking() {
                panic!(
                    "tickslab: runtime enter guards dropped out of order: a guard from \
                     `Runtime::enter` must be dropped before the guards made before it"
                );
            }
            return;
        }
        DEPTH.with(|d| d.set(depth - 1));
        let replaced =
            CURRENT.with(|c| std::mem::replace(&mut *c.borrow_mut(), self.prev_core.take()));
        let timers = time::set_current(self.prev_timers.take());
        let reactor = reactor::set_current(self.prev_reactor.take());
        // Dropped outside the slots' borrows.
        drop((replaced, timers, reactor));
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
        panic!(
            "tickslab: `{what}` called while this thread is already running a tickslab \
             runtime (inside `block_on`, `tick` or `frame`, or from one of its tasks): the \
             outer runtime would stall until it returned, and a future waiting on the outer \
             runtime would never finish. Spawn the work on the running runtime instead \
             (`tickslab::spawn(fut)` and `.await` its JoinHandle), or run the other runtime \
             on its own thread"
        );
    }
    DriveGuard {
        _not_send: PhantomData,
    }
}

impl Drop for DriveGuard {
    fn drop(&mut self) {
        let _ = DRIVING.try_with(|d| d.set(false));
    }
}
