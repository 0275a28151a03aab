//! A mio source paired with its reactor registration.

use std::future::poll_fn;
use std::io;
use std::task::{Context, Poll};

use crate::io::Direction;
use crate::io::reactor::{Registration, Wait};

/// A mio source registered with the current runtime's reactor. Dropping it deregisters the
/// source from epoll, then closes it.
pub(crate) struct Evented<S: mio::event::Source> {
    source: S,
    reg: Registration,
}

impl<S: mio::event::Source> Evented<S> {
    /// Registers `source` with the current runtime (an error outside one).
    pub(crate) fn new(mut source: S) -> io::Result<Self> {
        let reg = Registration::new(&mut source)?;
        Ok(Evented { source, reg })
    }

    /// The socket, for calls that do not wait (addresses, options).
    pub(crate) fn get(&self) -> &S {
        &self.source
    }

    /// Ready when an operation in `dir` is worth trying (poll-style: the waker goes in the
    /// direction's shared slot, replaced by the next poll).
    pub(crate) fn poll_ready(&self, cx: &mut Context<'_>, dir: Direction) -> Poll<io::Result<()>> {
        crate::coop::poll_budgeted(cx, |cx| self.reg.poll_ready(cx, dir, None))
    }

    /// Waits for readiness in `dir`, runs `op`, and waits again on `WouldBlock`
    /// (poll-style).
    pub(crate) fn poll_io<R>(
        &self,
        cx: &mut Context<'_>,
        dir: Direction,
        mut op: impl FnMut(&S) -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        self.reg.poll_io(cx, dir, None, || op(&self.source))
    }

    /// Runs `op` once if `dir` looks ready; `WouldBlock` otherwise.
    pub(crate) fn try_io<R>(
        &self,
        dir: Direction,
        op: impl FnOnce(&S) -> io::Result<R>,
    ) -> io::Result<R> {
        self.reg.try_io(dir, || op(&self.source))
    }

    /// Waits until an operation in `dir` is worth trying. Dropping the future while it
    /// waits removes its waker.
    pub(crate) async fn ready(&self, dir: Direction) -> io::Result<()> {
        let wait = Wait::new(&self.reg, dir);
        poll_fn(|cx| crate::coop::poll_budgeted(cx, |cx| self.reg.poll_ready(cx, dir, Some(&wait))))
            .await
    }

    /// `poll_io` as a future. Dropping it while it waits removes its waker.
    pub(crate) async fn io<R>(
        &self,
        dir: Direction,
        mut op: impl FnMut(&S) -> io::Result<R>,
    ) -> io::Result<R> {
        let wait = Wait::new(&self.reg, dir);
        poll_fn(|cx| self.reg.poll_io(cx, dir, Some(&wait), || op(&self.source))).await
    }
}

impl<S: mio::event::Source> Drop for Evented<S> {
    fn drop(&mut self) {
        // Out of epoll first; the source (closing the fd) and the registration (freeing
        // the reactor slot) drop after this, as fields.
        self.reg.deregister(&mut self.source);
    }
}
