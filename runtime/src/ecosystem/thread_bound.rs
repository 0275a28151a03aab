//! Thread-affine handles: `Send + Sync` wrappers around runtime-thread values, for the
//! traits of hyper and quinn (see the [thread rule](super#the-thread-rule-hyper-quinn)).
//!
//! Invariant: the wrapped value is only ever touched on the thread that created the
//! wrapper. [`SendWrapper`] enforces it (its accessors panic elsewhere, and a drop elsewhere
//! leaks); the helpers here check first so that the failure names what was misused and
//! what to do.

use std::io;

use send_wrapper::SendWrapper;

/// The explanation every off-thread failure carries.
const RULE: &str = "tickslab timers and sockets belong to the runtime thread that created \
                    them: drive hyper connections and quinn endpoints from tasks on that \
                    thread";

/// The value, on its own thread; a panic naming `what` elsewhere.
#[track_caller]
pub(crate) fn local_mut<'a, T>(w: &'a mut SendWrapper<T>, what: &str) -> &'a mut T {
    if !w.valid() {
        panic!("{what} used on a thread other than the one that created it: {RULE}");
    }
    w
}

/// The value, on its own thread; an `io::Error` naming `what` elsewhere.
#[cfg_attr(not(feature = "quinn"), expect(dead_code, reason = "used by quinn"))]
pub(crate) fn local_io<'a, T>(w: &'a SendWrapper<T>, what: &str) -> io::Result<&'a T> {
    if w.valid() {
        Ok(&**w)
    } else {
        Err(io::Error::other(format!(
            "{what} used on a thread other than the one that created it: {RULE}"
        )))
    }
}

/// Called by a wrapper's `Drop`: on another thread, panics naming `what` (unless already
/// unwinding). The `SendWrapper` field dropped next then leaks the value instead of
/// dropping it there.
#[track_caller]
pub(crate) fn check_drop<T>(w: &SendWrapper<T>, what: &str) {
    if !w.valid() && !std::thread::panicking() {
        panic!("{what} dropped on a thread other than the one that created it (leaked): {RULE}");
    }
}
