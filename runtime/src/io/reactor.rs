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

use super::interest::{Interest, Ready};
use super::loopback::{LoopbackTable, Published};
use super::scheduled_io::{Direction, SHUTDOWN, ScheduledIo, WRITABLE, WaiterKey};

const NO_SLOT: u32 = u32::MAX;

/// A registration slot: a socket's [`ScheduledIo`], shared with its [`Registration`] so that
/// an operation reaches its readiness and waiters through one pointer, with no table lookup
/// or borrow. A freed slot keeps its `ScheduledIo` for the next socket, so registering
/// allocates nothing once the table has grown to the most sockets ever open at once.
struct Slot {
    io: Rc<ScheduledIo>,
    next_free: u32,
}

/// The runtime's registry of sockets. Runtime-thread only.
pub(crate) struct Reactor {
    registry: mio::Registry,
    slots: RefCell<Vec<Slot>>,
    free_head: Cell<u32>,
    shut_down: Cell<bool>,
    /// `false` when the runtime was built without tokio's `enable_io`: registering panics.
    enabled: bool,
    /// UDP sockets bound to loopback addresses, for same-runtime hints (`loopback.rs`).
    loopback: RefCell<LoopbackTable>,
}

impl Reactor {
    pub(crate) fn new(registry: mio::Registry, enabled: bool) -> Rc<Reactor> {
        Rc::new(Reactor {
            registry,
            slots: RefCell::new(Vec::new()),
            free_head: Cell::new(NO_SLOT),
            shut_down: Cell::new(false),
            enabled,
            loopback: RefCell::new(LoopbackTable::default()),
        })
    }

    /// Records an event (its token and readiness bits) and wakes the waiting tasks.
    pub(crate) fn dispatch(&self, token: mio::Token, bits: u8) {
        let (index, generation) = ((token.0 & 0xFFFF_FFFF) as u32, (token.0 >> 32) as u32);
        // Held, not borrowed, while the wakers run: one may drop this socket or open another.
        let io = {
            let slots = self.slots.borrow();
            match slots.get(index as usize) {
                Some(s) if s.io.is_live(generation) => Rc::clone(&s.io),
                _ => return, // a socket dropped since: stale event
            }
        };
        io.wake_ready(bits, generation);
    }

    /// The runtime is going away: fail every operation from now on and wake all waiters.
    pub(crate) fn shutdown(&self) {
        self.shut_down.set(true);
        let count = self.slots.borrow().len();
        for index in 0..count {
            let io = Rc::clone(&self.slots.borrow()[index].io);
            let Some(generation) = io.live_generation() else {
                continue;
            };
            io.wake_ready(SHUTDOWN, generation);
        }
    }

    /// Registered sockets.
    pub(crate) fn registered(&self) -> usize {
        self.slots
            .borrow()
            .iter()
            .filter(|s| s.io.live_generation().is_some())
            .count()
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

/// Whether a runtime that is not shut down is current on this thread.
#[cfg(unix)]
pub(crate) fn in_runtime() -> bool {
    current_reactor().is_some_and(|r| !r.shut_down.get())
}

/// Whether the current runtime (if any) lets sockets register (tokio's `enable_io`).
#[cfg(unix)]
pub(crate) fn current_io_enabled() -> bool {
    current_reactor().is_none_or(|r| r.enabled)
}

/// Panics with tokio's message if the current runtime was built without `enable_io`.
#[cfg(unix)]
#[track_caller]
pub(crate) fn assert_io_enabled() {
    if !current_io_enabled() {
        io_disabled();
    }
}

#[cold]
#[track_caller]
fn io_disabled() -> ! {
    panic!(
        "A Tokio 1.x context was found, but IO is disabled. Call `enable_io` on the runtime \
         builder to enable IO."
    )
}

/// Whether an I/O object may be registered here now, checked as `Registration::new` does
/// before anything is done: panics outside a runtime and with I/O disabled (tokio's
/// messages); the shut-down error once the current runtime is gone.
#[cfg(unix)]
#[track_caller]
pub(crate) fn check_can_register() -> io::Result<()> {
    let Some(reactor) = current_reactor() else {
        no_reactor();
    };
    if !reactor.enabled {
        io_disabled();
    }
    if reactor.shut_down.get() {
        return Err(shut_down_error());
    }
    Ok(())
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
    /// This socket's readiness and waiters (its slot's, shared).
    io: Rc<ScheduledIo>,
    index: u32,
    token: mio::Token,
    /// For a socket registered for reading only (`Registration::new_read_first`): its fd,
    /// until a write first finds the socket full and adds writable interest.
    #[cfg(unix)]
    lazy_write_fd: Cell<Option<std::os::fd::RawFd>>,
}

/// Panics as tokio does when an I/O object is made outside a runtime.
#[cold]
#[track_caller]
pub(crate) fn no_reactor() -> ! {
    panic!(
        "there is no reactor running, must be called from the context of a Tokio 1.x runtime \
         (tickslab: create sockets inside `block_on`, a task, or under `Runtime::enter`)"
    )
}

pub(crate) fn shut_down_error() -> io::Error {
    super::shutdown_err::shut_down_error("this socket belongs")
}

impl Registration {
    /// Registers `source` for reading and writing with the current runtime.
    #[track_caller]
    pub(crate) fn new(source: &mut impl mio::event::Source) -> io::Result<Registration> {
        let reg = Registration::claim_slot(0)?;
        reg.reactor.registry.register(
            source,
            reg.token,
            mio::Interest::READABLE | mio::Interest::WRITABLE,
        )?;
        Ok(reg)
    }

    /// Registers `source` with the current runtime for `interest` only (`AsyncFd`). It
    /// starts not ready: the first event says what is.
    #[cfg(unix)]
    #[track_caller]
    pub(crate) fn with_interest(
        source: &mut impl mio::event::Source,
        interest: mio::Interest,
    ) -> io::Result<Registration> {
        let reg = Registration::claim_slot(0)?;
        reg.reactor.registry.register(source, reg.token, interest)?;
        Ok(reg)
    }

    /// Registers a socket for reading only, and counts it writable until a write says
    /// otherwise (`WouldBlock`), which adds writable interest for good.
    ///
    /// For UDP: the kernel reports a writable edge each time a sent datagram leaves the send
    /// buffer, so a socket registered for both directions costs an event per datagram sent,
    /// that nobody waits for. Adding the interest later loses no edge: `EPOLL_CTL_MOD`
    /// reports the socket at once if it became writable in between.
    #[cfg(unix)]
    #[track_caller]
    pub(crate) fn new_read_first<S>(source: &mut S) -> io::Result<Registration>
    where
        S: mio::event::Source + std::os::fd::AsRawFd,
    {
        let reg = Registration::claim_slot(WRITABLE)?;
        reg.reactor
            .registry
            .register(source, reg.token, mio::Interest::READABLE)?;
        reg.lazy_write_fd.set(Some(source.as_raw_fd()));
        Ok(reg)
    }

    /// Takes a free slot of the current runtime's table, starting at `readiness`.
    ///
    /// # Panics
    /// As tokio, at the caller of the public constructor: outside a runtime, and in a runtime
    /// built without `enable_io` (tokio's builder). A runtime that shut down is an error.
    #[track_caller]
    fn claim_slot(readiness: u8) -> io::Result<Registration> {
        let Some(reactor) = current_reactor() else {
            no_reactor();
        };
        if !reactor.enabled {
            io_disabled();
        }
        if reactor.shut_down.get() {
            return Err(shut_down_error());
        }
        let (io, index) = {
            let mut slots = reactor.slots.borrow_mut();
            let index = reactor.free_head.get();
            if index != NO_SLOT {
                let slot = &slots[index as usize];
                reactor.free_head.set(slot.next_free);
                (Rc::clone(&slot.io), index)
            } else {
                let index = u32::try_from(slots.len())
                    .ok()
                    .filter(|&i| i < NO_SLOT - 1)
                    .ok_or_else(|| io::Error::other("too many sockets"))?;
                let io = Rc::new(ScheduledIo::default());
                slots.push(Slot {
                    io: Rc::clone(&io),
                    next_free: NO_SLOT,
                });
                (io, index)
            }
        };
        let generation = io.start(readiness);
        Ok(Registration {
            reactor,
            io,
            index,
            token: mio::Token(((generation as usize) << 32) | index as usize),
            #[cfg(unix)]
            lazy_write_fd: Cell::new(None),
        })
    }

    /// Removes `source` from epoll. Call before the socket is closed.
    pub(crate) fn deregister(&self, source: &mut impl mio::event::Source) {
        // Failing here means the fd is already gone from epoll; nothing to undo.
        let _ = self.reactor.registry.deregister(source);
    }

    #[inline]
    fn readiness(&self) -> u8 {
        self.io.readiness()
    }

    /// Marks the socket ready in `bits` without an event (tokio's `assume_ready`): for a
    /// stream just accepted (readable and writable) or a fresh pair (writable), so the first
    /// operation tries the socket instead of waiting for the driver's first event. A false
    /// positive costs one `WouldBlock`, which clears it as usual. The tick stays (no waiter
    /// is woken: none can be waiting on a socket that was just made); nothing after shutdown.
    pub(crate) fn assume_ready(&self, bits: u8) {
        if self.io.readiness() & SHUTDOWN == 0 {
            self.io.assume(bits);
        }
    }

    /// The readiness bits and the tick they were observed at (see `ScheduledIo::clear_at`).
    #[cfg(unix)]
    pub(crate) fn readiness_tick(&self) -> (u8, u32) {
        self.io.readiness_tick()
    }

    /// Clears the readiness `bits` observed at `tick`, unless an event came since.
    #[cfg(unix)]
    pub(crate) fn clear_at(&self, bits: u8, tick: u32) {
        self.io.clear_at(bits, tick);
    }

    /// Ready when an operation in `dir` is worth trying (or the socket is closed, errored,
    /// or its runtime gone); otherwise stores the waker: under `wait`'s key for an `async`
    /// operation, else in the direction's poll-style slot.
    #[inline]
    pub(crate) fn poll_ready(
        &self,
        cx: &mut Context<'_>,
        dir: Direction,
        wait: Option<&mut Wait>,
    ) -> Poll<io::Result<()>> {
        let r = self.readiness();
        if r & dir.ready_mask() == 0 {
            return self.park(cx, dir, wait);
        }
        if r & SHUTDOWN != 0 {
            return Poll::Ready(Err(shut_down_error()));
        }
        Poll::Ready(Ok(()))
    }

    /// Ready with what `interest` finds ready (never empty); otherwise stores the waker in
    /// each direction the interest watches, under `read`'s and `write`'s keys (both are
    /// ended by the waiting future's destructor). Not on any hot path: `ready(Interest)`.
    pub(crate) fn poll_ready_interest(
        &self,
        cx: &mut Context<'_>,
        interest: Interest,
        read: &mut Wait,
        write: &mut Wait,
    ) -> Poll<io::Result<Ready>> {
        let r = self.readiness();
        if r & SHUTDOWN != 0 {
            return Poll::Ready(Err(shut_down_error()));
        }
        let ready = Ready::from_bits(r) & interest.mask();
        if !ready.is_empty() {
            return Poll::Ready(Ok(ready));
        }
        // `park`'s one instantiation, `poll_ready`'s: a second would make LLVM stop
        // inlining the waiter bookkeeping into the hot one.
        if interest.watches_read() {
            let _: Poll<io::Result<()>> = self.park(cx, Direction::Read, Some(read));
        }
        if interest.is_writable() {
            let _: Poll<io::Result<()>> = self.park(cx, Direction::Write, Some(write));
        }
        Poll::Pending
    }

    /// Whether this registration's runtime is still running.
    #[cfg(unix)]
    pub(crate) fn is_live(&self) -> bool {
        !self.reactor.shut_down.get()
    }

    /// Whether this registration belongs to the runtime current on this thread (and it is
    /// not shut down).
    #[cfg(unix)]
    pub(crate) fn is_current(&self) -> bool {
        !self.reactor.shut_down.get()
            && current_reactor().is_some_and(|r| Rc::ptr_eq(&r, &self.reactor))
    }

    /// Stores the waker of a task that found `dir` not ready.
    #[inline(never)]
    fn park<T>(&self, cx: &mut Context<'_>, dir: Direction, wait: Option<&mut Wait>) -> Poll<T> {
        let io = &self.io;
        let key = wait.map(|w| *w.key.get_or_insert_with(|| io.take_key(dir)));
        // Dropped here, after `register` returned: dropping a waker may run code.
        let replaced = io.register(dir, key, cx.waker());
        drop(replaced);
        Poll::Pending
    }

    /// This socket, as the loopback table records it.
    fn published(&self) -> Published {
        Published::new(&self.io, (self.token.0 >> 32) as u32)
    }

    /// Publishes this (UDP) socket as bound to `addr`, for same-runtime loopback hints.
    pub(crate) fn publish_loopback(&self, addr: std::net::SocketAddr) {
        let me = self.published();
        self.reactor.loopback.borrow_mut().publish(addr, me);
    }

    /// This (UDP) socket connected to `dest`: from now on its sends hint the socket of this
    /// runtime bound there, if any (`loopback.rs`, invariant 4).
    pub(crate) fn connect_loopback(&self, dest: std::net::SocketAddr) {
        let peer = self.reactor.loopback.borrow().find(dest);
        self.io.set_peer(peer.map(Published::into_peer));
    }

    /// A datagram just went to `dest`: hint the socket of this runtime bound there, if any.
    /// Runs wakers.
    #[inline]
    pub(crate) fn poke_loopback(&self, dest: std::net::SocketAddr) {
        if !dest.ip().is_loopback() {
            return;
        }
        // The table's borrow ends before the poke runs wakers.
        let peer = self.reactor.loopback.borrow().find(dest);
        if let Some(peer) = peer {
            peer.poke();
        }
    }

    /// Publishes this TCP stream (connected from `local` to `peer`) for loopback hints.
    pub(crate) fn link_loopback_stream(
        &self,
        local: std::net::SocketAddr,
        peer: std::net::SocketAddr,
    ) {
        let me = self.published();
        self.reactor
            .loopback
            .borrow_mut()
            .link_stream(local, peer, me);
    }

    /// Something was just sent: hint the socket of this runtime that this one's sends reach
    /// readable, if any (`loopback.rs`, invariant 4). Runs wakers.
    #[inline]
    pub(crate) fn poke_peer(&self) {
        self.io.poke_peer();
    }

    /// Clears `dir`'s readiness bit, not its closed or error bits (see
    /// `Evented::poll_stream_io`). Runtime thread, between two dispatches: an edge that comes
    /// after this is seen at the next `epoll_wait`.
    #[inline]
    pub(crate) fn clear_ready_bit(&self, dir: Direction) {
        self.io.clear_ready_bit(dir);
    }

    /// Runs a non-blocking syscall when `dir` is ready; on `WouldBlock`, clears the
    /// readiness and waits for the next edge. A completed operation spends one unit of the
    /// task's budget (`crate::coop`).
    #[inline]
    pub(crate) fn poll_io<R>(
        &self,
        cx: &mut Context<'_>,
        dir: Direction,
        mut wait: Option<&mut Wait>,
        mut op: impl FnMut() -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        crate::coop::poll_budgeted(cx, |cx| {
            loop {
                if let Err(e) = std::task::ready!(self.poll_ready(cx, dir, wait.as_deref_mut())) {
                    return Poll::Ready(Err(e));
                }
                match op() {
                    Err(e) if is_would_block(&e) => {
                        // An errno owns no heap: skip the destructor's out-of-line call
                        // (every drained receive ends here).
                        if e.raw_os_error().is_some() {
                            std::mem::forget(e);
                        }
                        if let Err(e) = self.clear(dir) {
                            return Poll::Ready(Err(e));
                        }
                    }
                    other => return Poll::Ready(other),
                }
            }
        })
    }

    /// Tries a syscall once, without waiting: `WouldBlock` when not ready. After the
    /// runtime's shutdown, as tokio's: readiness seen before still lets the syscall run
    /// (bytes already queued can be read), and once a `WouldBlock` has cleared it, the
    /// shutdown error (where tokio answers `WouldBlock` forever).
    pub(crate) fn try_io<R>(
        &self,
        dir: Direction,
        op: impl FnOnce() -> io::Result<R>,
    ) -> io::Result<R> {
        let r = self.readiness();
        if r & dir.edge() == 0 {
            return Err(if r & SHUTDOWN != 0 {
                shut_down_error()
            } else {
                io::ErrorKind::WouldBlock.into()
            });
        }
        let out = op();
        if matches!(&out, Err(e) if is_would_block(e)) {
            self.clear(dir)?;
        }
        out
    }

    /// Forgets `dir`'s readiness after a `WouldBlock`, and makes sure an edge will come: a
    /// socket registered read-first gains writable interest here, the first time a write
    /// blocks (an error then means no edge would ever come: the caller fails with it).
    #[inline]
    fn clear(&self, dir: Direction) -> io::Result<()> {
        self.io.clear(dir);
        #[cfg(unix)]
        if dir == Direction::Write
            && let Some(fd) = self.lazy_write_fd.get()
        {
            self.reactor.registry.reregister(
                &mut mio::unix::SourceFd(&fd),
                self.token,
                mio::Interest::READABLE | mio::Interest::WRITABLE,
            )?;
            self.lazy_write_fd.set(None);
        }
        Ok(())
    }

    /// Ends an `async` operation's wait: frees its key and drops its waker, if stored.
    fn end_wait(&self, dir: Direction, key: WaiterKey) {
        let waker = self.io.give_back_key(dir, key);
        drop(waker); // after the waiters are consistent again: dropping a waker may run code
    }
}

/// Whether `e` says "not ready" (every non-blocking receive that drains a socket ends with
/// one). The errno comparison comes first: decoding an `io::Error`'s kind is a long match.
#[inline]
fn is_would_block(e: &io::Error) -> bool {
    e.raw_os_error() == Some(libc::EWOULDBLOCK) || e.kind() == io::ErrorKind::WouldBlock
}

/// An `async` operation's place among a socket's waiters, for as long as it waits: its
/// waker is stored under this key. The operation's future holds it and calls
/// [`Wait::end`] from its destructor (the operation finished, or was abandoned by a
/// `timeout` or `select!`), so that an abandoned wait keeps nothing alive.
#[derive(Default)]
pub(crate) struct Wait {
    key: Option<WaiterKey>,
}

impl Wait {
    /// Gives the key back, if one was taken (from the waiting future's destructor).
    #[inline]
    pub(crate) fn end(&mut self, reg: &Registration, dir: Direction) {
        if let Some(key) = self.key.take() {
            reg.end_wait(dir, key);
        }
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        let wakers = self.io.reset();
        {
            let mut slots = self.reactor.slots.borrow_mut();
            slots[self.index as usize].next_free = self.reactor.free_head.get();
            self.reactor.free_head.set(self.index);
        }
        drop(wakers); // once the slot is free: dropping a waker may run code
    }
}
