//! How a child's exit is learnt without a thread per child and without blocking the
//! runtime: [`Exit`] pairs the `std` child with what wakes its waiter.
//!
//! - **pidfd** (Linux 5.3+): `pidfd_open(2)` gives a descriptor that turns readable when the
//!   child exits; it is registered with the reactor like a socket (readable interest only),
//!   and a wait is the reactor's usual loop: ready, `try_wait` (`waitpid(WNOHANG)`), and on
//!   "still running" clear the readiness and wait for the next edge.
//! - **`SIGCHLD`** (other Unix systems, and Linux where `pidfd_open` fails: an old kernel, a
//!   seccomp filter): a listener of tickslab's `signal::unix`, woken at every `SIGCHLD` of
//!   the process (deliveries coalesce, so each listener checks its own child with
//!   `try_wait`). Like tokio's own fallback, this installs the process-wide `SIGCHLD`
//!   handler (chained by `signal-hook`; `SIGCHLD`'s default action is to ignore it, so
//!   nothing changes for the program). Not `spawn_blocking` of a blocking `waitpid`: a
//!   running blocking job makes the runtime's drop wait for it (the pool joins its
//!   workers), so a runtime dropped while a child runs would hang until the child exits.
//!
//! Invariants:
//! 1. The watch is made lazily, by the first poll of a wait, in the runtime current then;
//!    a pidfd registered with another runtime (or one that shut down) is replaced by one
//!    registered with the current runtime, after the wait's key among the old
//!    registration's waiters is given back. A wait polled where no runtime runs reports an
//!    exited child, and otherwise panics as sockets do (nothing could wake it).
//! 2. A wait's key ([`WaitKey`]) is given back by the waiting future's destructor
//!    ([`Exit::end_wait`]), so a wait dropped mid-way leaves no waker behind.
//! 3. `try_wait` is the only reaping call: the status is std's to cache, and a reaped
//!    child's pid is never used again by this module.

use std::io;
use std::process::{Child as StdChild, ExitStatus};
use std::task::{Context, Poll};

#[cfg(any(target_os = "linux", target_os = "android"))]
use crate::io::Direction;
use crate::io::reactor::{self, Wait};
#[cfg(any(target_os = "linux", target_os = "android"))]
use crate::net::evented::Evented;
use crate::signal::unix::{Signal, SignalKind, signal};

#[cfg(any(target_os = "linux", target_os = "android"))]
use super::pidfd::PidFd;

/// What wakes a wait for the child's exit.
enum Watch {
    /// Nothing yet: made by the first poll of a wait (invariant 1).
    None,
    /// The child's pidfd, registered with a runtime's reactor.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    Pidfd(Evented<PidFd>),
    /// A `SIGCHLD` listener (the fallback).
    Signal(Signal),
}

/// A waiting future's place among the pidfd's waiters (invariant 2).
#[derive(Default)]
pub(super) struct WaitKey(Wait);

/// A spawned child that has not been reaped, and its watch.
pub(super) struct Exit {
    pub(super) std: StdChild,
    watch: Watch,
}

impl Exit {
    pub(super) fn new(std: StdChild) -> Exit {
        Exit {
            std,
            watch: Watch::None,
        }
    }

    /// Whether the watch must be (re)made before waiting: none yet, or a pidfd registered
    /// with a runtime other than the current one.
    fn needs_watch(&self) -> bool {
        match &self.watch {
            Watch::None => true,
            #[cfg(any(target_os = "linux", target_os = "android"))]
            Watch::Pidfd(ev) => !ev.is_current(),
            Watch::Signal(_) => false,
        }
    }

    /// Whether the watch can still wake a waiter (its runtime runs, maybe not here).
    fn watch_is_live(&self) -> bool {
        match &self.watch {
            Watch::None => false,
            #[cfg(any(target_os = "linux", target_os = "android"))]
            Watch::Pidfd(ev) => ev.is_live(),
            Watch::Signal(_) => true,
        }
    }

    /// Makes the watch in the current runtime (invariant 1).
    fn watch_here(&mut self, key: &mut WaitKey) -> io::Result<()> {
        self.end_wait(key);
        self.watch = Watch::None;
        #[cfg(any(target_os = "linux", target_os = "android"))]
        if let Some(fd) = PidFd::open(self.std.id()) {
            self.watch = Watch::Pidfd(Evented::with_interest(fd, mio::Interest::READABLE)?);
            return Ok(());
        }
        self.watch = Watch::Signal(signal(SignalKind::child())?);
        Ok(())
    }

    /// Polls for the child's exit, reaping it (invariants 1 to 3). Spends a unit of the
    /// task's budget when it completes, as tokio's.
    ///
    /// # Panics
    /// When the child is still running and no runtime can wake the wait (see invariant 1).
    pub(super) fn poll_exit(
        &mut self,
        cx: &mut Context<'_>,
        key: &mut WaitKey,
    ) -> Poll<io::Result<ExitStatus>> {
        if self.needs_watch() {
            if reactor::in_runtime() {
                self.watch_here(key)?;
            } else {
                if let Some(status) = self.std.try_wait()? {
                    return Poll::Ready(Ok(status));
                }
                if !self.watch_is_live() {
                    reactor::no_reactor();
                }
            }
        }
        let std = &mut self.std;
        match &mut self.watch {
            Watch::None => unreachable!("made above"),
            #[cfg(any(target_os = "linux", target_os = "android"))]
            Watch::Pidfd(ev) => {
                ev.poll_io_waiting(cx, Direction::Read, &mut key.0, |_| match std.try_wait() {
                    Ok(Some(status)) => Ok(status),
                    Ok(None) => Err(io::ErrorKind::WouldBlock.into()),
                    Err(e) => Err(e),
                })
            }
            Watch::Signal(listener) => crate::coop::poll_budgeted(cx, |cx| {
                loop {
                    // The listener exists before this look: an exit after it is a delivery
                    // the listener sees, an exit before it is seen here.
                    if let Some(status) = std.try_wait()? {
                        return Poll::Ready(Ok(status));
                    }
                    match listener.poll_recv(cx) {
                        Poll::Ready(Some(())) => continue,
                        Poll::Ready(None) => {
                            return Poll::Ready(Err(io::Error::other(
                                "tickslab: no running runtime to watch SIGCHLD for this child",
                            )));
                        }
                        Poll::Pending => return Poll::Pending,
                    }
                }
            }),
        }
    }

    /// Ends a wait: gives its key back and drops its waker (invariant 2).
    #[cfg_attr(
        not(any(target_os = "linux", target_os = "android")),
        expect(unused_variables, reason = "keys are the pidfd's")
    )]
    pub(super) fn end_wait(&mut self, key: &mut WaitKey) {
        match &self.watch {
            Watch::None => {}
            #[cfg(any(target_os = "linux", target_os = "android"))]
            Watch::Pidfd(ev) => ev.end_wait(&mut key.0, Direction::Read),
            Watch::Signal(listener) => listener.clear_waker(),
        }
    }
}

impl Exit {
    /// What watches the exit: `none`, `pidfd` or `SIGCHLD`.
    pub(super) fn watch_kind(&self) -> &'static str {
        match &self.watch {
            Watch::None => "none",
            #[cfg(any(target_os = "linux", target_os = "android"))]
            Watch::Pidfd(_) => "pidfd",
            Watch::Signal(_) => "SIGCHLD",
        }
    }
}

impl std::fmt::Debug for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Exit")
            .field("pid", &self.std.id())
            .field("watch", &self.watch_kind())
            .finish()
    }
}
