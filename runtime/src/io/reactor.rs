//! The reactor: mio registrations and the readiness they report, per socket.
//!
//! Each registered socket owns a [`ScheduledIo`] (`scheduled_io.rs`): its readiness bits
//! and, per direction, the wakers of the tasks waiting on it. The socket is registered
//! (edge-triggered, as mio always is) under a token made of a slot index and that slot's
//! generation, so an event for a socket that has since been dropped finds a newer generation
//! and is ignored. Operations follow the usual pattern: wait until the direction is ready,
//! try the syscall, and on `WouldBlock` clear the readiness and wait again. Several tasks may
//! wait on one socket and direction (two receivers sharing a `&UdpSocket`, say): all are woken
//! on readiness and race for the data; none is lost; an `async` operation that stops waiting
//! takes its waker with it ([`Wait`]). Nothing is allocated per operation once warm: waiter
//! places keep their capacity, and registration slots are reused.

use std::cell::{Cell, RefCell};
use std::io;
use std::rc::Rc;
use std::task::{Context, Poll};

use super::scheduled_io::{
    Direction, ERROR, READ_CLOSED, READABLE, SHUTDOWN, ScheduledIo, WRITABLE, WRITE_CLOSED,
    WaiterKey,
};

const NO_SLOT: u32 = u32::MAX;

/// A registration slot. `ScheduledIo` lives here, inline, so registering a socket
/// allocates nothing once the table has grown to the most sockets ever open at once.
struct Slot {
    generation: u32,
    in_use: bool,
    io: ScheduledIo,
    next_free: u32,
}

/// The runtime's registry of sockets. Runtime-thread only.
pub(crate) struct Reactor {
    registry: mio::Registry,
    slots: RefCell<Vec<Slot>>,
    free_head: Cell<u32>,
    shut_down: Cell<bool>,
}

impl Reactor {
    pub(crate) fn new(registry: mio::Registry) -> Rc<Reactor> {
        Rc::new(Reactor {
            registry,
            slots: RefCell::new(Vec::new()),
            free_head: Cell::new(NO_SLOT),
            shut_down: Cell::new(false),
        })
    }

    /// Records an event and wakes the waiting tasks.
    pub(crate) fn dispatch(&self, event: &mio::event::Event) {
        let token = event.token().0;
        let (index, generation) = ((token & 0xFFFF_FFFF) as u32, (token >> 32) as u32);
        let mut bits = 0;
        if event.is_readable() {
            bits |= READABLE;
        }
        if event.is_writable() {
            bits |= WRITABLE;
        }
        if event.is_read_closed() {
            bits |= READ_CLOSED;
        }
        if event.is_write_closed() {
            bits |= WRITE_CLOSED;
        }
        if event.is_error() {
            bits |= ERROR;
        }
        let waiting = {
            let slots = self.slots.borrow();
            match slots.get(index as usize) {
                Some(s) if s.in_use && s.generation == generation => s.io.set_readiness(bits),
                _ => return, // a socket dropped since: stale event
            }
        };
        // Wake the waiters that were there at the edge, each once the table is released (a
        // waker may run code that touches the reactor).
        for _ in 0..waiting {
            let waker = {
                let slots = self.slots.borrow();
                match slots.get(index as usize) {
                    Some(s) if s.in_use && s.generation == generation => s.io.pop_waker(bits),
                    _ => None,
                }
            };
            match waker {
                Some(waker) => waker.wake(),
                None => break,
            }
        }
    }

    /// The runtime is going away: fail every operation from now on and wake all waiters.
    pub(crate) fn shutdown(&self) {
        self.shut_down.set(true);
        let count = self.slots.borrow().len();
        for index in 0..count {
            let waiting = {
                let slots = self.slots.borrow();
                let s = &slots[index];
                if !s.in_use {
                    continue;
                }
                s.io.set_readiness(SHUTDOWN)
            };
            for _ in 0..waiting {
                let waker = self.slots.borrow()[index].io.pop_waker(SHUTDOWN);
                match waker {
                    Some(waker) => waker.wake(),
                    None => break,
                }
            }
        }
    }

    /// Registered sockets.
    pub(crate) fn registered(&self) -> usize {
        self.slots.borrow().iter().filter(|s| s.in_use).count()
    }
}

thread_local! {
    /// The reactor of the runtime current on this thread, installed by its context guard
    /// (`crate::context`). Owned: a guard that outlives its runtime leaves a reactor marked
    /// shut down, never a dangling one.
    static CURRENT: RefCell<Option<Rc<Reactor>>> = const { RefCell::new(None) };
}

/// Installs `reactor` as this thread's current one; returns what was there.
pub(crate) fn set_current(reactor: Option<Rc<Reactor>>) -> Option<Rc<Reactor>> {
    CURRENT
        .try_with(|c| std::mem::replace(&mut *c.borrow_mut(), reactor))
        .unwrap_or(None)
}

/// The current runtime's reactor, if a runtime is entered (it may be shut down).
fn current_reactor() -> Option<Rc<Reactor>> {
    CURRENT.try_with(|c| c.borrow().clone()).unwrap_or(None)
}

/// Sockets registered in the current runtime (0 outside one).
pub(crate) fn current_registered() -> usize {
    current_reactor()
        .filter(|r| !r.shut_down.get())
        .map_or(0, |r| r.registered())
}

/// A socket's registration with the current runtime's reactor.
pub(crate) struct Registration {
    reactor: Rc<Reactor>,
    index: u32,
}

fn shut_down_error() -> io::Error {
    io::Error::other("the tickslab runtime this socket belongs to has shut down")
}

impl Registration {
    /// Registers `source` for reading and writing with the current runtime.
    pub(crate) fn new(source: &mut impl mio::event::Source) -> io::Result<Registration> {
        let reactor = current_reactor().ok_or_else(|| {
            io::Error::other("tickslab sockets must be created inside a tickslab runtime")
        })?;
        if reactor.shut_down.get() {
            return Err(shut_down_error());
        }
        let (index, generation) = {
            let mut slots = reactor.slots.borrow_mut();
            let index = reactor.free_head.get();
            if index != NO_SLOT {
                let slot = &mut slots[index as usize];
                reactor.free_head.set(slot.next_free);
                slot.in_use = true;
                (index, slot.generation)
            } else {
                let index = u32::try_from(slots.len())
                    .ok()
                    .filter(|&i| i < NO_SLOT - 1)
                    .ok_or_else(|| io::Error::other("too many sockets"))?;
                slots.push(Slot {
                    generation: 0,
                    in_use: true,
                    io: ScheduledIo::default(),
                    next_free: NO_SLOT,
                });
                (index, 0)
            }
        };
        let token = mio::Token(((generation as usize) << 32) | index as usize);
        let reg = Registration { reactor, index };
        reg.reactor.registry.register(
            source,
            token,
            mio::Interest::READABLE | mio::Interest::WRITABLE,
        )?;
        Ok(reg)
    }

    /// Removes `source` from epoll. Call before the socket is closed.
    pub(crate) fn deregister(&self, source: &mut impl mio::event::Source) {
        // Failing here means the fd is already gone from epoll; nothing to undo.
        let _ = self.reactor.registry.deregister(source);
    }

    fn readiness(&self) -> u8 {
        self.reactor.slots.borrow()[self.index as usize]
            .io
            .readiness()
    }

    /// Ready when an operation in `dir` is worth trying (or the socket is closed, errored,
    /// or its runtime gone); otherwise stores the waker: under `wait`'s key for an `async`
    /// operation, else in the direction's poll-style slot.
    pub(crate) fn poll_ready(
        &self,
        cx: &mut Context<'_>,
        dir: Direction,
        wait: Option<&Wait<'_>>,
    ) -> Poll<io::Result<()>> {
        let replaced = {
            let slots = self.reactor.slots.borrow();
            let io = &slots[self.index as usize].io;
            let r = io.readiness();
            if r & SHUTDOWN != 0 {
                return Poll::Ready(Err(shut_down_error()));
            }
            if r & dir.ready_mask() != 0 {
                return Poll::Ready(Ok(()));
            }
            let key = wait.map(|w| match w.key.get() {
                Some(key) => key,
                None => {
                    let key = io.take_key(dir);
                    w.key.set(Some(key));
                    key
                }
            });
            io.register(dir, key, cx.waker())
        };
        drop(replaced); // outside the table: dropping a waker may run code
        Poll::Pending
    }

    /// Runs a non-blocking syscall when `dir` is ready; on `WouldBlock`, clears the
    /// readiness and waits for the next edge.
    pub(crate) fn poll_io<R>(
        &self,
        cx: &mut Context<'_>,
        dir: Direction,
        wait: Option<&Wait<'_>>,
        mut op: impl FnMut() -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        // A completed operation spends one unit of the task's budget (`crate::coop`).
        crate::coop::poll_budgeted(cx, |cx| {
            loop {
                if let Err(e) = std::task::ready!(self.poll_ready(cx, dir, wait)) {
                    return Poll::Ready(Err(e));
                }
                match op() {
                    Err(e) if is_would_block(&e) => self.clear(dir),
                    other => return Poll::Ready(other),
                }
            }
        })
    }

    /// Tries a syscall once, without waiting: `WouldBlock` when not ready.
    pub(crate) fn try_io<R>(
        &self,
        dir: Direction,
        op: impl FnOnce() -> io::Result<R>,
    ) -> io::Result<R> {
        let r = self.readiness();
        if r & SHUTDOWN != 0 {
            return Err(shut_down_error());
        }
        if r & dir.ready_mask() == 0 {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let out = op();
        if matches!(&out, Err(e) if is_would_block(e)) {
            self.clear(dir);
        }
        out
    }

    fn clear(&self, dir: Direction) {
        self.reactor.slots.borrow()[self.index as usize]
            .io
            .clear(dir);
    }
}

/// Whether `e` says "not ready" (every non-blocking receive that drains a socket ends with
/// one). The errno comparison comes first: decoding an `io::Error`'s kind is a long match.
#[inline]
fn is_would_block(e: &io::Error) -> bool {
    e.raw_os_error() == Some(libc::EWOULDBLOCK) || e.kind() == io::ErrorKind::WouldBlock
}

/// An `async` operation's place among a socket's waiters, for as long as it waits: its
/// waker is stored under this key, and dropping the `Wait` (the operation finished, or was
/// abandoned by a `timeout` or `select!`) removes it, so that an abandoned wait keeps
/// nothing alive.
pub(crate) struct Wait<'a> {
    reg: &'a Registration,
    dir: Direction,
    key: Cell<Option<WaiterKey>>,
}

impl<'a> Wait<'a> {
    pub(crate) fn new(reg: &'a Registration, dir: Direction) -> Self {
        Wait {
            reg,
            dir,
            key: Cell::new(None),
        }
    }
}

impl Drop for Wait<'_> {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            let waker = {
                let slots = self.reg.reactor.slots.borrow();
                slots[self.reg.index as usize]
                    .io
                    .give_back_key(self.dir, key)
            };
            drop(waker); // outside the table
        }
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        let wakers = {
            let mut slots = self.reactor.slots.borrow_mut();
            let slot = &mut slots[self.index as usize];
            let wakers = slot.io.reset();
            slot.in_use = false;
            slot.generation = slot.generation.wrapping_add(1);
            slot.next_free = self.reactor.free_head.get();
            self.reactor.free_head.set(self.index);
            wakers
        };
        drop(wakers); // outside the table borrow: dropping a waker may run code
    }
}
