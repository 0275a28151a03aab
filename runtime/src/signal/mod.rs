//! Signals, as tokio's `signal` module: [`ctrl_c`] and, on Unix, [`unix::signal`].
//!
//! Installing a listener installs a process-wide handler for its signal the first time
//! (through `signal-hook`, which chains with handlers installed before and keeps the
//! handler's work async-signal-safe), and that handler stays for the life of the process,
//! as in tokio: once a program listens for `SIGINT`, Ctrl-C no longer kills it.
//!
//! The handler sets the signal's pending flag and writes a byte to a self-pipe. Each
//! runtime that has listeners registers the pipe's read end in its reactor (one descriptor
//! per runtime, not per listener); when it turns readable, the runtime drains it and wakes
//! every listener of every signal that arrived, in this process's every runtime. Several
//! deliveries of one signal before a listener looks are seen as one, as in tokio.
//!
//! Layering: above `net/` (the pipe is an `Evented` socket), below nothing.

mod driver;
mod registry;
pub mod unix;

use std::io;

/// Waits for Ctrl-C (`SIGINT`), as tokio's `signal::ctrl_c`. The handler is installed when
/// the future is first polled: from then on, for the rest of the process, `SIGINT` no
/// longer ends it. Panics if first polled outside a tickslab runtime (as tokio's does
/// outside one of its own).
///
/// ```no_run
/// # tickslab_runtime::Runtime::new().unwrap().block_on(async {
/// tickslab_runtime::signal::ctrl_c().await?;
/// println!("shutting down");
/// # Ok::<(), std::io::Error>(())
/// # }).unwrap();
/// ```
pub async fn ctrl_c() -> io::Result<()> {
    let mut interrupt = unix::signal(unix::SignalKind::interrupt())?;
    interrupt.recv().await;
    Ok(())
}
