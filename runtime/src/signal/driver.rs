//! Each runtime's end of the signal pipe: a duplicate of the pipe's read end registered in
//! the runtime's reactor, whose waker drains the pipe and broadcasts.
//!
//! There is no driver task: the pipe's readiness waker is a [`PipeWaker`] (an `Arc` with
//! `std::task::Wake`, no unsafe code), so the reactor that sees the pipe readable calls
//! [`on_readable`] directly while dispatching events, on the runtime's thread. It drains
//! the pipe (which clears the readiness), stores itself again for the next edge, and wakes
//! the listeners ([`registry::broadcast`]).
//!
//! Invariants: this thread's drivers live in a thread-local list, one per runtime that has
//! had a listener, pruned of runtimes that have shut down; the list is never borrowed while
//! a waker runs (the broadcast comes after the borrow ends), so a waker that creates a
//! listener, and so arms a driver, finds it free. A driver's readiness is polled outside
//! any task budget, so it never yields for budget (which would wake the driver itself).

use std::cell::RefCell;
use std::io::{self, Read};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Wake, Waker};

use super::registry;
use crate::io::Direction;
use crate::net::evented::Evented;

thread_local! {
    /// This thread's drivers: one per runtime that has signal listeners.
    static DRIVERS: RefCell<Vec<Evented<mio::net::UnixStream>>> = const { RefCell::new(Vec::new()) };
}

/// The waker stored in the pipe's readiness slot.
struct PipeWaker;

impl Wake for PipeWaker {
    fn wake(self: Arc<Self>) {
        on_readable();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        on_readable();
    }
}

fn pipe_waker() -> &'static Waker {
    static WAKER: OnceLock<Waker> = OnceLock::new();
    WAKER.get_or_init(|| Waker::from(Arc::new(PipeWaker)))
}

/// Makes sure the current runtime watches the signal pipe; an error outside a runtime (or
/// in one built without `enable_io`).
pub(crate) fn arm() -> io::Result<()> {
    if !crate::io::reactor::in_runtime() || !crate::io::reactor::current_io_enabled() {
        return Err(io::Error::other(
            "tickslab: signals are watched by a running runtime's I/O driver, and none is \
             current here",
        ));
    }
    let drain_now = DRIVERS.with(|drivers| -> io::Result<bool> {
        let mut drivers = drivers
            .try_borrow_mut()
            .map_err(|_| io::Error::other("tickslab: signal driver busy"))?;
        drivers.retain(|d| d.is_live());
        if drivers.iter().any(|d| d.is_current()) {
            return Ok(false);
        }
        let receiver = registry::globals()?.receiver.try_clone()?;
        let driver = Evented::new(mio::net::UnixStream::from_std(receiver))?;
        let ready = watch(&driver);
        drivers.push(driver);
        Ok(ready)
    })?;
    if drain_now {
        on_readable();
    }
    Ok(())
}

/// Stores the pipe waker for `driver`'s next readable edge; `true` if it is readable now.
fn watch(driver: &Evented<mio::net::UnixStream>) -> bool {
    let mut cx = Context::from_waker(pipe_waker());
    crate::coop::with_budget(None, || {
        driver.poll_ready(&mut cx, Direction::Read).is_ready()
    })
}

/// The pipe is readable: drain it through this thread's drivers, watch again, broadcast.
fn on_readable() {
    let _ = DRIVERS.try_with(|drivers| {
        // Borrowed already: `arm` is running on this thread and drains after it.
        let Ok(drivers) = drivers.try_borrow() else {
            return;
        };
        for driver in drivers.iter() {
            loop {
                let mut buf = [0u8; 64];
                match driver.try_io(Direction::Read, |mut s| s.read(&mut buf)) {
                    Ok(n) if n > 0 => continue,
                    _ => break,
                }
            }
            let _ = watch(driver);
        }
    });
    registry::broadcast();
}
