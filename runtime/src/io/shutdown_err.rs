//! The error a socket or file gives once its runtime has shut down, and tokio's
//! `runtime::is_rt_shutdown_err` that recognises it.
//!
//! Invariant: every "the runtime has shut down" `io::Error` of tickslab is built by
//! [`shut_down_error`], so that [`is_rt_shutdown_err`] can tell it by its payload's type
//! (not by its message, which a user's error could repeat).

use std::fmt;
use std::io;

/// The payload of a shut-down error.
#[derive(Debug)]
enum RuntimeShutDown {
    /// What belonged to the runtime ("this socket belongs").
    Belongs(&'static str),
    /// A message of tokio's, word for word, where tokio's tests compare it.
    Tokio(&'static str),
}

impl fmt::Display for RuntimeShutDown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RuntimeShutDown::Belongs(what) => {
                write!(f, "the tickslab runtime {what} to has shut down")
            }
            RuntimeShutDown::Tokio(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for RuntimeShutDown {}

/// The error for an operation on something (`what`: "this socket belongs", "these files
/// belong") whose runtime has shut down.
pub(crate) fn shut_down_error(what: &'static str) -> io::Error {
    io::Error::other(RuntimeShutDown::Belongs(what))
}

/// The shut-down error with tokio's own message for the case (tokio's file operations
/// after a shutdown say "background task failed"): [`is_rt_shutdown_err`] recognises it too.
pub(crate) fn shut_down_error_tokio(message: &'static str) -> io::Error {
    io::Error::other(RuntimeShutDown::Tokio(message))
}

/// Whether `err` says that the runtime its operation belonged to has shut down, as tokio's
/// `runtime::is_rt_shutdown_err`: true for the errors of a socket, standard stream or file
/// used after its runtime was dropped, false for every other error (including one whose
/// message is the same text). (tokio's is false for a file operation's "background task
/// failed"; tickslab's error of that text is recognised, since it has the same cause.)
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
