//! The error a socket or file gives once its runtime has shut down, and tokio's
//! `runtime::is_rt_shutdown_err` that recognises it.
//!
//! Invariant: every "the runtime has shut down" `io::Error` of tickslab is built by
//! [`shut_down_error`], so that [`is_rt_shutdown_err`] can tell it by its payload's type
//! (not by its message, which a user's error could repeat).

use std::fmt;
use std::io;

/// The payload of a shut-down error: what belonged to the runtime ("this socket belongs").
#[derive(Debug)]
struct RuntimeShutDown(&'static str);

impl fmt::Display for RuntimeShutDown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the tickslab runtime {} to has shut down", self.0)
    }
}

impl std::error::Error for RuntimeShutDown {}

/// The error for an operation on something (`what`: "this socket belongs", "these files
/// belong") whose
/// runtime has shut down.
pub(crate) fn shut_down_error(what: &'static str) -> io::Error {
    io::Error::other(RuntimeShutDown(what))
}

/// Whether `err` says that the runtime its operation belonged to has shut down, as tokio's
/// `runtime::is_rt_shutdown_err`: true for the errors of a socket or file used after its
/// runtime was dropped, false for every other error (including one whose message is the
/// same text).
///
/// ```
/// use tickslab_runtime::{Runtime, io::is_rt_shutdown_err, net::TcpListener};
///
/// let rt1 = Runtime::new()?;
/// let listener = rt1.block_on(TcpListener::bind("127.0.0.1:0"))?;
/// drop(rt1);
/// let rt2 = Runtime::new()?;
/// let err = rt2.block_on(listener.accept()).unwrap_err();
/// assert!(is_rt_shutdown_err(&err));
/// assert!(!is_rt_shutdown_err(&std::io::Error::other(err.to_string())));
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn is_rt_shutdown_err(err: &io::Error) -> bool {
    err.get_ref().is_some_and(|e| e.is::<RuntimeShutDown>())
}
