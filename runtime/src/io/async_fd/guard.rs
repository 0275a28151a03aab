//! The guards an [`AsyncFd`] readiness wait returns, and the constructors' error.
//!
//! A guard holds the readiness it was handed and the tick it was observed at (`Event`):
//! clearing goes through `Event::clear`, which the reactor ignores if a newer event came.
//! Dropping a guard without clearing keeps the readiness (tokio's `retain_ready`), so the next
//! wait returns at once.

use std::error::Error;
use std::fmt;
use std::io;
use std::os::fd::AsRawFd;

use super::{AsyncFd, Event};
use crate::io::Ready;

/// What [`AsyncFd::ready`] and its kin found ready, lending the `AsyncFd` shared.
#[must_use = "a guard that is dropped without clearing keeps the readiness"]
pub struct AsyncFdReadyGuard<'a, T: AsRawFd> {
    async_fd: &'a AsyncFd<T>,
    event: Option<Event>,
}

/// What [`AsyncFd::ready_mut`] and its kin found ready, lending the `AsyncFd` mutably.
#[must_use = "a guard that is dropped without clearing keeps the readiness"]
pub struct AsyncFdReadyMutGuard<'a, T: AsRawFd> {
    async_fd: &'a mut AsyncFd<T>,
    event: Option<Event>,
}

/// The error of a guard's `try_io` when the operation would block (the readiness has been
/// cleared: wait again).
#[derive(Debug)]
pub struct TryIoError(());

/// Registering a descriptor failed: the error, and the value handed back.
pub struct AsyncFdRegisterError<T> {
    inner: T,
    cause: io::Error,
}

/// Clears `ready` out of `event` (what is left stays in the guard).
fn clear_matching(
    fd_reg: &crate::io::reactor::Registration,
    slot: &mut Option<Event>,
    ready: Ready,
) {
    if let Some(mut event) = slot.take() {
        Event {
            ready: event.ready & ready,
            tick: event.tick,
        }
        .clear(fd_reg);
        event.ready = event.ready - ready;
        if !event.ready.is_empty() {
            *slot = Some(event);
        }
    }
}

fn is_would_block<R>(out: &io::Result<R>) -> bool {
    matches!(out, Err(e) if e.kind() == io::ErrorKind::WouldBlock)
}

impl<'a, T: AsRawFd> AsyncFdReadyGuard<'a, T> {
    pub(super) fn new(async_fd: &'a AsyncFd<T>, event: Event) -> Self {
        AsyncFdReadyGuard {
            async_fd,
            event: Some(event),
        }
    }

    /// Forgets the readiness this guard found (call it after a `WouldBlock`): the next wait
    /// waits for a new event. A readiness event that came since the guard was made stands.
    pub fn clear_ready(&mut self) {
        if let Some(event) = self.event.take() {
            event.clear(&self.async_fd.reg);
        }
    }

    /// Forgets only `ready` out of what this guard found (say, `Ready::READABLE` after a
    /// read hit `WouldBlock`, keeping `WRITABLE`). Closed readiness is never forgotten.
    pub fn clear_ready_matching(&mut self, ready: Ready) {
        clear_matching(&self.async_fd.reg, &mut self.event, ready);
    }

    /// Keeps the readiness (what dropping the guard does).
    pub fn retain_ready(&mut self) {}

    /// What this guard found ready (less what it cleared).
    pub fn ready(&self) -> Ready {
        self.event.map_or(Ready::EMPTY, |e| e.ready)
    }

    /// Runs `f`; on `WouldBlock` clears the readiness and returns `Err(TryIoError)`, else
    /// `Ok` with `f`'s result.
    pub fn try_io<R>(
        &mut self,
        f: impl FnOnce(&'a AsyncFd<T>) -> io::Result<R>,
    ) -> Result<io::Result<R>, TryIoError> {
        let out = f(self.async_fd);
        if is_would_block(&out) {
            self.clear_ready();
            return Err(TryIoError(()));
        }
        Ok(out)
    }

    /// The `AsyncFd`.
    pub fn get_ref(&self) -> &'a AsyncFd<T> {
        self.async_fd
    }

    /// The `AsyncFd`'s inner value.
    pub fn get_inner(&self) -> &'a T {
        self.async_fd.get_ref()
    }
}

impl<'a, T: AsRawFd> AsyncFdReadyMutGuard<'a, T> {
    pub(super) fn new(async_fd: &'a mut AsyncFd<T>, event: Event) -> Self {
        AsyncFdReadyMutGuard {
            async_fd,
            event: Some(event),
        }
    }

    /// As [`AsyncFdReadyGuard::clear_ready`].
    pub fn clear_ready(&mut self) {
        if let Some(event) = self.event.take() {
            event.clear(&self.async_fd.reg);
        }
    }

    /// As [`AsyncFdReadyGuard::clear_ready_matching`].
    pub fn clear_ready_matching(&mut self, ready: Ready) {
        clear_matching(&self.async_fd.reg, &mut self.event, ready);
    }

    /// Keeps the readiness (what dropping the guard does).
    pub fn retain_ready(&mut self) {}

    /// What this guard found ready (less what it cleared).
    pub fn ready(&self) -> Ready {
        self.event.map_or(Ready::EMPTY, |e| e.ready)
    }

    /// As [`AsyncFdReadyGuard::try_io`], lending the `AsyncFd` mutably.
    pub fn try_io<R>(
        &mut self,
        f: impl FnOnce(&mut AsyncFd<T>) -> io::Result<R>,
    ) -> Result<io::Result<R>, TryIoError> {
        let out = f(self.async_fd);
        if is_would_block(&out) {
            self.clear_ready();
            return Err(TryIoError(()));
        }
        Ok(out)
    }

    /// The `AsyncFd`.
    pub fn get_ref(&self) -> &AsyncFd<T> {
        self.async_fd
    }

    /// The `AsyncFd`, mutably.
    pub fn get_mut(&mut self) -> &mut AsyncFd<T> {
        self.async_fd
    }

    /// The `AsyncFd`'s inner value.
    pub fn get_inner(&self) -> &T {
        self.async_fd.get_ref()
    }

    /// The `AsyncFd`'s inner value, mutably.
    pub fn get_inner_mut(&mut self) -> &mut T {
        self.async_fd.get_mut()
    }
}

impl<T: AsRawFd + fmt::Debug> fmt::Debug for AsyncFdReadyGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadyGuard")
            .field("async_fd", &self.async_fd)
            .finish()
    }
}

impl<T: AsRawFd + fmt::Debug> fmt::Debug for AsyncFdReadyMutGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MutReadyGuard")
            .field("async_fd", &self.async_fd)
            .finish()
    }
}

impl<T> AsyncFdRegisterError<T> {
    pub(super) fn new(inner: T, cause: io::Error) -> Self {
        AsyncFdRegisterError { inner, cause }
    }

    /// The value that was to be registered, and why it could not be.
    pub fn into_parts(self) -> (T, io::Error) {
        (self.inner, self.cause)
    }
}

impl<T> fmt::Display for AsyncFdRegisterError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.cause, f)
    }
}

impl<T> fmt::Debug for AsyncFdRegisterError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.cause, f)
    }
}

impl<T> Error for AsyncFdRegisterError<T> {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&self.cause)
    }
}

impl<T> From<AsyncFdRegisterError<T>> for io::Error {
    fn from(e: AsyncFdRegisterError<T>) -> io::Error {
        e.cause
    }
}
