//! Signals, as tokio's `signal` module: [`ctrl_c`] and, on Unix, [`unix::signal`].
//!
//! Each listener owns a self-pipe (a nonblocking `UnixStream` pair): signal-hook's handler
//! writes a byte to its write end when the signal arrives (async-signal-safe), and the read
//! end is a socket of the runtime's reactor, so waiting for a signal is waiting for a readable
//! socket: no thread, no polling. Signals that arrive while nobody waits are not lost: the
//! bytes stay in the pipe, and several arrivals between two waits count as one (as tokio's).
//!
//! As in tokio, once a signal is listened for, its default action (SIGINT ending the
//! process, say) does not come back when the listeners go: the process now handles it.
//! Signals that cannot be handled (`SIGKILL`, `SIGSTOP`, `SIGSEGV`, `SIGILL`, `SIGFPE`) are
//! refused with an error.

#[cfg(unix)]
pub mod unix;

/// Waits for the next Ctrl-C (`SIGINT` on Unix), as tokio's `signal::ctrl_c`. The handler is
/// installed when this is first polled; a Ctrl-C before that is not seen.
///
/// # Errors
/// Outside a runtime, or if the handler cannot be installed.
#[cfg(unix)]
pub async fn ctrl_c() -> std::io::Result<()> {
    let mut signal = unix::signal(unix::SignalKind::interrupt())?;
    match signal.recv().await {
        Some(()) => Ok(()),
        None => Err(std::io::Error::other("the signal listener closed")),
    }
}
