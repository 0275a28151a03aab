//! The reactor: mio registrations and the readiness they report, per socket.
//!
//! Each registered socket owns a [`ScheduledIo`]: its readiness bits and, per direction, the
//! wakers of the tasks waiting on it. The socket is registered (edge-triggered, as mio always is) under a token made
//! of a slot index and that slot's generation, so an event for a socket that has since been
//! dropped finds a newer generation and is ignored. Operations follow the usual pattern: wait
//! until the direction is ready, try the syscall, and on `WouldBlock` clear the readiness and
//! wait again. Several tasks may wait on one socket and direction (two receivers sharing a
//! `&UdpSocket`, say): all are woken on readiness and race for the data; none is lost.
//! Nothing is allocated per operation: the waiter lists keep their capacity, and registration
//! slots are reused.

use std::cell::{Cell, RefCell};
use std::io;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

const READABLE: u8 = 1 << 0;
const WRITABLE: u8 = 1 << 1;
const READ_CLOSED: u8 = 1 << 2;
const WRITE_CLOSED: u8 = 1 << 3;
const ERROR: u8 = 1 << 4;
/// The runtime is gone: every operation fails.
const SHUTDOWN: u8 = 1 << 5;

const NO_SLOT: u32 = u32::MAX;

/// Which way an operation goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Direction {
    Read,
    Write,
}

impl Direction {
    /// Bits that make an operation in this direction worth trying.
    fn ready_mask(self) -> u8 {
        match self {
            Direction::Read => READABLE | READ_CLOSED | ERROR | SHUTDOWN,
            Direction::Write => WRITABLE | WRITE_CLOSED | ERROR | SHUTDOWN,
        }
    }

    /// The bits that a `WouldBlock` clears: every readiness bit of this direction (only
    /// `SHUTDOWN` stays). Closed and error bits are sticky until the kernel says otherwise:
    /// a `WouldBlock` is that word. A truly closed direction never answers `WouldBlock` (a
    /// TCP read at end of stream returns `Ok(0)`, a write after a reset fails), so clearing
    /// loses nothing there; where the bits are not terminal (a UDP socket's ICMP error is
    /// reported as `ERROR`, and by mio as write-closed, yet the socket lives on), keeping
    /// them would make `poll_io` retry the syscall forever without yielding.
    fn edge(self) -> u8 {
        match self {
            Direction::Read => READABLE | READ_CLOSED | ERROR,
            Direction::Write => WRITABLE | WRITE_CLOSED | ERROR,
        }
    }
}

/// A socket's readiness and wakers.
#[derive(Default)]
pub(crate) struct ScheduledIo {
    readiness: Cell<u8>,
    read_wakers: Cell<Vec<Waker>>,
    write_wakers: Cell<Vec<Waker>>,
}

/// Wakers taken out of a `ScheduledIo`, to be woken once the slot table is released; the
/// lists then go back (keeping their capacity).
pub(crate) struct TakenWakers {
    lists: [(Direction, Vec<Waker>); 2],
}

impl ScheduledIo {
    fn wakers(&self, dir: Direction) -> &Cell<Vec<Waker>> {
        match dir {
            Direction::Read => &self.read_wakers,
            Direction::Write => &self.write_wakers,
        }
    }

    /// Adds `waker` unless one that wakes the same task is already waiting.
    fn register(&self, dir: Direction, waker: &Waker) {
        let cell = self.wakers(dir);
        let mut list = cell.take();
        if !list.iter().any(|w| w.will_wake(waker)) {
            list.push(waker.clone());
        }
        cell.set(list);
    }

    /// Records readiness; returns the wakers to wake (once the slot table is released).
    fn set_readiness(&self, bits: u8) -> TakenWakers {
        self.readiness.set(self.readiness.get() | bits);
        // Only lists with waiters leave the cell; an empty one stays, with its capacity.
        let take = |dir: Direction| {
            let cell = self.wakers(dir);
            let list = cell.take();
            if bits & dir.ready_mask() != 0 && !list.is_empty() {
                list
            } else {
                cell.set(list);
                Vec::new()
            }
        };
        TakenWakers {
            lists: [
                (Direction::Read, take(Direction::Read)),
                (Direction::Write, take(Direction::Write)),
            ],
        }
    }

    /// Puts an emptied list back so its capacity is reused, unless new waiters arrived
    /// meanwhile or the list in place is already the roomier one.
    fn restore(&self, dir: Direction, list: Vec<Waker>) {
        let cell = self.wakers(dir);
        let current = cell.take();
        cell.set(
            if current.is_empty() && list.capacity() > current.capacity() {
                list
            } else {
                current
            },
        );
    }

    /// Clears the state for the slot's next socket. Waiters (rare at drop) are handed out
    /// to be dropped outside the table; empty lists stay, keeping their capacity.
    fn reset(&self) -> TakenWakers {
        self.readiness.set(0);
        let take_waiting = |dir: Direction| {
            let cell = self.wakers(dir);
            let list = cell.take();
            if list.is_empty() {
                cell.set(list);
                Vec::new()
            } else {
                list
            }
        };
        TakenWakers {
            lists: [
                (Direction::Read, take_waiting(Direction::Read)),
                (Direction::Write, take_waiting(Direction::Write)),
            ],
        }
    }
}

impl TakenWakers {
    fn is_empty(&self) -> bool {
        self.lists.iter().all(|(_, list)| list.capacity() == 0)
    }

    /// Wakes every waiter; returns the emptied lists for `restore`.
    fn wake_all(mut self) -> Self {
        for (_, list) in &mut self.lists {
            for w in list.drain(..) {
                w.wake();
            }
        }
        self
    }
}

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
        let taken = {
            let slots = self.slots.borrow();
            match slots.get(index as usize) {
                Some(s) if s.in_use && s.generation == generation => s.io.set_readiness(bits),
                _ => return, // a socket dropped since: stale event
            }
        };
        if taken.is_empty() {
            return; // nobody was waiting: the common case under load
        }
        let emptied = taken.wake_all();
        let slots = self.slots.borrow();
        if let Some(s) = slots.get(index as usize)
            && s.in_use
            && s.generation == generation
        {
            for (dir, list) in emptied.lists {
                s.io.restore(dir, list);
            }
        }
    }

    /// The runtime is going away: fail every operation from now on and wake all waiters.
    pub(crate) fn shutdown(&self) {
        self.shut_down.set(true);
        let taken: Vec<TakenWakers> = self
            .slots
            .borrow()
            .iter()
            .filter(|s| s.in_use)
            .map(|s| s.io.set_readiness(SHUTDOWN))
            .collect();
        for t in taken {
            t.wake_all();
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
            .readiness
            .get()
    }

    /// Ready when an operation in `dir` is worth trying (or the socket is closed, errored,
    /// or its runtime gone); otherwise stores the waker.
    pub(crate) fn poll_ready(&self, cx: &mut Context<'_>, dir: Direction) -> Poll<io::Result<()>> {
        let slots = self.reactor.slots.borrow();
        let io = &slots[self.index as usize].io;
        let r = io.readiness.get();
        if r & SHUTDOWN != 0 {
            return Poll::Ready(Err(shut_down_error()));
        }
        if r & dir.ready_mask() != 0 {
            return Poll::Ready(Ok(()));
        }
        io.register(dir, cx.waker());
        Poll::Pending
    }

    /// Runs a non-blocking syscall when `dir` is ready; on `WouldBlock`, clears the
    /// readiness and waits for the next edge.
    pub(crate) fn poll_io<R>(
        &self,
        cx: &mut Context<'_>,
        dir: Direction,
        mut op: impl FnMut() -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        loop {
            if let Err(e) = std::task::ready!(self.poll_ready(cx, dir)) {
                return Poll::Ready(Err(e));
            }
            match op() {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.clear(dir),
                other => return Poll::Ready(other),
            }
        }
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
        if matches!(&out, Err(e) if e.kind() == io::ErrorKind::WouldBlock) {
            self.clear(dir);
        }
        out
    }

    fn clear(&self, dir: Direction) {
        let slots = self.reactor.slots.borrow();
        let io = &slots[self.index as usize].io;
        io.readiness.set(io.readiness.get() & !dir.edge());
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
