//! Child processes, as tokio's `process` module: [`Command`] builds and spawns one,
//! [`Child`] waits for it (or kills it), and [`ChildStdin`], [`ChildStdout`],
//! [`ChildStderr`] are its piped standard streams, registered with the runtime's reactor
//! like every socket.
//!
//! ```
//! use tickslab_runtime::process::Command;
//! # tickslab_runtime::Runtime::new().unwrap().block_on(async {
//! let out = Command::new("echo").arg("hello").output().await?;
//! assert!(out.status.success());
//! assert_eq!(out.stdout, b"hello\n");
//! # Ok::<(), std::io::Error>(())
//! # }).unwrap();
//! ```
//!
//! **Waiting** takes no thread per child and never blocks the runtime (`exit.rs`): on Linux
//! a pidfd (`pidfd_open(2)`, kernel 5.3+) registered with the reactor turns readable when the
//! child exits, and the wait then reaps it (`waitpid` with `WNOHANG`); where `pidfd_open`
//! fails (an older kernel, a seccomp filter) and on other Unix systems, a `SIGCHLD`
//! listener of [`signal::unix`](crate::signal::unix) wakes the waits instead (tokio's own
//! mechanism; it installs the process-wide `SIGCHLD` handler).
//!
//! **Dropping** a [`Child`] neither waits for the process nor kills it (unless
//! [`Command::kill_on_drop`]), as in tokio; tickslab reaps it in the background so that no
//! zombie is left (`orphan.rs`): at once if it has exited, else by a small detached task on
//! the current runtime that waits as `wait` does, else (dropped outside a runtime, or while
//! one shuts down) at the next spawn, `wait` or `try_wait` of any child in the process.
//! A `Child` passed to `mem::forget` is the one leak: its descriptors stay open and, once
//! the process exits, it stays a zombie until this process ends.
//!
//! Differences from tokio: the types are `!Send` (their pipes and exit watch belong to this
//! thread's runtime), as tickslab's sockets are. `spawn`, `status` and `output` panic
//! outside a runtime with tokio's message ("there is no reactor running, ..."), before any
//! process is started. A `Child` may be waited for in a runtime other than the one that
//! spawned it (its exit watch moves to the runtime current at the wait; its pipes stay
//! with the first runtime, as tokio's).
//!
//! Invariants (each file states its own): a `Child` is running or done, and only a reaping
//! call makes it done (`child.rs`); a wait's place among the waiters is given back when
//! its future drops (`exit.rs`); every abandoned child is reaped or queued for reaping,
//! never lost (`orphan.rs`); no runtime, no process started (`command.rs`).
//!
//! Miri cannot spawn processes: this module's tests (`runtime/tests/process.rs`, and the
//! unit tests of the `SIGCHLD` fallback in `tests.rs`) run natively and under
//! AddressSanitizer only.
//!
//! Layering: above `net/` (the pipes, `Evented`), `signal/` (the fallback) and `spawn.rs`
//! (the reaper task); nothing imports it.

mod child;
mod command;
mod exit;
mod orphan;
#[cfg(any(target_os = "linux", target_os = "android"))]
mod pidfd;
mod stdio;
#[cfg(all(test, not(miri), not(loom)))]
mod tests;

pub use child::Child;
pub use command::Command;
pub use stdio::{ChildStderr, ChildStdin, ChildStdout};
