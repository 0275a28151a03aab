//! The runtimes that live on this thread, found by their id, so that a `Handle::block_on`
//! called on a runtime's own thread can drive it as `Runtime::block_on` does, and a
//! `Handle::enter` there can enter it as `Runtime::enter` does.
//!
//! `handle.rs` sits below `runtime.rs`: it cannot name the runtime's driver. The runtime
//! registers itself here as a [`Home`] (a `Weak` of the part that its drive loops use), and
//! the handle finds it by the core's id.
//!
//! Invariants:
//! - An entry is added when a runtime is built and removed at the very end of its drop, on
//!   its own thread (a runtime is `!Send`). While the drop runs, the entry is still here but
//!   its `Weak` no longer upgrades: [`find`] reports [`Found::Dropping`], so a destructor
//!   run by the shutdown cannot wait on a runtime that is half torn down.
//! - A strong reference taken by [`find`] keeps the runtime's driving parts alive: a runtime
//!   dropped (by user code) while a `Handle::block_on` drives it shuts down when that call
//!   lets go, never under the running loop.
//! - The list is only borrowed inside this file's functions, which run no user code.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::{Rc, Weak};

/// A runtime that can be driven from a `Handle::block_on` on its thread.
pub(crate) trait Home {
    /// Drives the runtime until `root` completes, exactly as `Runtime::block_on`.
    ///
    /// # Panics
    /// As `Runtime::block_on`: if this thread is already driving a runtime.
    fn block_on_root(&self, root: Pin<&mut dyn Future<Output = ()>>);

    /// Makes the runtime current on this thread until the guard drops, as
    /// `Runtime::enter` (for `Handle::enter` on the runtime's own thread).
    fn enter_context(&self) -> crate::context::EnterGuard;
}

thread_local! {
    /// This thread's runtimes: the core's id and the runtime's driving parts.
    static HOMES: RefCell<Vec<(u64, Weak<dyn Home>)>> = const { RefCell::new(Vec::new()) };
}

/// What [`find`] found for a runtime id on this thread.
pub(crate) enum Found {
    /// The runtime lives here and is not being dropped.
    Alive(Rc<dyn Home>),
    /// The runtime's drop is running on this thread right now.
    Dropping,
    /// No runtime of this id lives on this thread (another thread's, or gone).
    Elsewhere,
}

/// Records a runtime built on this thread.
pub(crate) fn register(id: u64, home: Weak<dyn Home>) {
    let _ = HOMES.try_with(|homes| homes.borrow_mut().push((id, home)));
}

/// Forgets a runtime at the end of its drop.
pub(crate) fn unregister(id: u64) {
    let _ = HOMES.try_with(|homes| homes.borrow_mut().retain(|(other, _)| *other != id));
}

/// The runtime of id `id` if it lives on this thread.
pub(crate) fn find(id: u64) -> Found {
    let weak = HOMES
        .try_with(|homes| {
            homes
                .borrow()
                .iter()
                .find(|(other, _)| *other == id)
                .map(|(_, home)| home.clone())
        })
        .ok()
        .flatten();
    match weak {
        None => Found::Elsewhere,
        Some(weak) => weak.upgrade().map_or(Found::Dropping, Found::Alive),
    }
}
