//! One socket's readiness and the tasks waiting on it, per direction.
//!
//! Two kinds of waiters, as in tokio:
//! - **poll-style callers** (`poll_read`, `poll_recv`, `AsyncRead`...) have no destructor to
//!   clean up after them: they share one slot per direction, which each poll replaces;
//! - **`async` operations** (`recv().await`, `accept().await`, `readable().await`...) hold a
//!   [`WaiterKey`] for as long as they wait: their waker lives under that key, and the
//!   operation's destructor ([`crate::net`]'s `Wait` guard) clears it. A wait that is
//!   abandoned (a `timeout` fires, a `select!` takes the other branch) therefore never keeps
//!   its task, nor the task's slab slot, alive.
//!
//! The first keyed waiter of a direction is stored inline; a second and later ones go in a
//! list that keeps its capacity. Readiness wakes every waiter that was there at the edge, one
//! at a time: each waker is taken out while the slot table is borrowed and woken once it is
//! released, because a waker may run foreign code that touches the reactor again.
//!
//! Runtime thread only (plain cells, behind the reactor's `RefCell`). Invariant: `waiting`
//! counts the wakers stored in the direction, so a readiness edge with nobody waiting, and
//! a pop that finds the list empty, cost one comparison.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::task::Waker;

/// Readiness bits.
pub(crate) const READABLE: u8 = 1 << 0;
pub(crate) const WRITABLE: u8 = 1 << 1;
pub(crate) const READ_CLOSED: u8 = 1 << 2;
pub(crate) const WRITE_CLOSED: u8 = 1 << 3;
pub(crate) const ERROR: u8 = 1 << 4;
/// The runtime is gone: every operation fails.
pub(crate) const SHUTDOWN: u8 = 1 << 5;

/// Which way an operation goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Direction {
    Read,
    Write,
}

impl Direction {
    /// Bits that make an operation in this direction worth trying.
    pub(crate) fn ready_mask(self) -> u8 {
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
    pub(crate) fn edge(self) -> u8 {
        match self {
            Direction::Read => READABLE | READ_CLOSED | ERROR,
            Direction::Write => WRITABLE | WRITE_CLOSED | ERROR,
        }
    }
}

/// Names a keyed waiter's place in a direction's waiters; held by the waiting operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct WaiterKey(u32);

/// One keyed place beyond the first: taken by an operation for as long as it waits.
#[derive(Default)]
struct Place {
    taken: bool,
    waker: Option<Waker>,
}

/// The waiters of one direction.
#[derive(Default)]
struct DirWaiters {
    /// The poll-style callers' shared slot.
    polled: Cell<Option<Waker>>,
    /// Key 0.
    first: Cell<Option<Waker>>,
    first_taken: Cell<bool>,
    /// Keys 1.. (index + 1).
    more: RefCell<Vec<Place>>,
    /// Wakers stored now, in `polled`, `first` and `more`.
    waiting: Cell<u32>,
}

impl DirWaiters {
    #[inline]
    fn take_key(&self) -> WaiterKey {
        if !self.first_taken.replace(true) {
            return WaiterKey(0);
        }
        let mut more = self.more.borrow_mut();
        let index = match more.iter().position(|p| !p.taken) {
            Some(i) => i,
            None => {
                more.push(Place::default());
                more.len() - 1
            }
        };
        more[index].taken = true;
        WaiterKey(u32::try_from(index + 1).expect("fewer than 2^32 waiters on one socket"))
    }

    #[inline]
    fn give_back_key(&self, key: WaiterKey) -> Option<Waker> {
        let waker = match key.0 {
            0 => {
                self.first_taken.set(false);
                self.first.take()
            }
            k => {
                let mut more = self.more.borrow_mut();
                let place = &mut more[k as usize - 1];
                place.taken = false;
                place.waker.take()
            }
        };
        if waker.is_some() {
            self.waiting.set(self.waiting.get() - 1);
        }
        waker
    }

    /// Stores `waker` in `slot` unless it already wakes the same task; returns the waker it
    /// replaced, to be dropped by the caller outside the table.
    #[inline]
    fn store(&self, slot: &mut Option<Waker>, waker: &Waker) -> Option<Waker> {
        match slot {
            Some(old) if old.will_wake(waker) => None,
            Some(_) => slot.replace(waker.clone()),
            None => {
                self.waiting.set(self.waiting.get() + 1);
                *slot = Some(waker.clone());
                None
            }
        }
    }

    #[inline]
    fn store_in_cell(&self, cell: &Cell<Option<Waker>>, waker: &Waker) -> Option<Waker> {
        let mut slot = cell.take();
        let replaced = self.store(&mut slot, waker);
        cell.set(slot);
        replaced
    }

    #[inline]
    fn register(&self, key: Option<WaiterKey>, waker: &Waker) -> Option<Waker> {
        match key {
            None => self.store_in_cell(&self.polled, waker),
            Some(WaiterKey(0)) => self.store_in_cell(&self.first, waker),
            Some(WaiterKey(k)) => {
                let mut more = self.more.borrow_mut();
                self.store(&mut more[k as usize - 1].waker, waker)
            }
        }
    }

    /// Takes one stored waker out, if any.
    #[inline]
    fn pop(&self) -> Option<Waker> {
        if self.waiting.get() == 0 {
            return None;
        }
        let waker = self
            .polled
            .take()
            .or_else(|| self.first.take())
            .or_else(|| {
                self.more
                    .borrow_mut()
                    .iter_mut()
                    .find_map(|p| p.waker.take())
            });
        debug_assert!(waker.is_some(), "`waiting` counts the stored wakers");
        if waker.is_some() {
            self.waiting.set(self.waiting.get() - 1);
        }
        waker
    }

    /// Clears every place for the slot's next socket; returns the poll-style waker and any
    /// keyed ones (only a forgotten `Wait` leaves those), to be dropped outside the table.
    fn reset(&self) -> (Option<Waker>, Vec<Waker>) {
        let polled = self.polled.take();
        let mut keyed: Vec<Waker> = self.first.take().into_iter().collect();
        self.first_taken.set(false);
        for place in self.more.borrow_mut().iter_mut() {
            place.taken = false;
            keyed.extend(place.waker.take());
        }
        self.waiting.set(0);
        (polled, keyed)
    }
}

/// A socket's readiness and waiters. Shared by a reactor slot and the registration of the
/// socket that has the slot now; reused by the slot's next socket (a new generation).
#[derive(Default)]
pub(crate) struct ScheduledIo {
    readiness: Cell<u8>,
    /// Counts the sockets that had this state; events carry it in their token.
    generation: Cell<u32>,
    /// Whether a socket has this state now.
    in_use: Cell<bool>,
    /// Counts readiness changes (wrapping): a readiness observed at one tick may be cleared
    /// only while the tick is unchanged, so an edge that came in between is never lost
    /// (`AsyncFd`'s guards hold readiness across `.await`s).
    tick: Cell<u32>,
    read: DirWaiters,
    write: DirWaiters,
    /// The socket of this runtime that this one's sends reach (a connected UDP socket's
    /// peer, a TCP stream's other end) and its generation, to hint it readable
    /// (`loopback.rs`). Dropped by `reset`, so two linked ends hold each other only while
    /// both are open.
    peer: Cell<Option<(Rc<ScheduledIo>, u32)>>,
}

impl ScheduledIo {
    /// Records (or forgets) the socket of this runtime that this one's sends reach, and its
    /// generation.
    pub(crate) fn set_peer(&self, peer: Option<(Rc<ScheduledIo>, u32)>) {
        drop(self.peer.replace(peer));
    }

    /// Something was just sent: hints the socket this one's sends reach readable, if there
    /// is one and it is still the socket of that generation (`loopback.rs`). Runs wakers.
    #[inline]
    pub(crate) fn poke_peer(&self) {
        let Some((peer, generation)) = self.peer.take() else {
            return;
        };
        if peer.is_live(generation) {
            peer.wake_ready(READABLE, generation);
        }
        // Put back, unless a waker recorded another peer meanwhile.
        let now = self.peer.take();
        self.peer.set(now.or(Some((peer, generation))));
    }

    /// Readies the state for a new socket, which starts with `readiness`; returns the
    /// socket's generation.
    pub(crate) fn start(&self, readiness: u8) -> u32 {
        self.readiness.set(readiness);
        self.in_use.set(true);
        self.generation.get()
    }

    /// Whether the socket of `generation` still has this state.
    #[inline]
    pub(crate) fn is_live(&self, generation: u32) -> bool {
        self.in_use.get() && self.generation.get() == generation
    }

    /// The generation of the socket that has this state, if one has.
    pub(crate) fn live_generation(&self) -> Option<u32> {
        self.in_use.get().then(|| self.generation.get())
    }

    #[inline]
    pub(crate) fn readiness(&self) -> u8 {
        self.readiness.get()
    }

    /// Adds `bits` to the readiness without counting an event (see
    /// `Registration::assume_ready`).
    pub(crate) fn assume(&self, bits: u8) {
        self.readiness.set(self.readiness.get() | bits);
    }

    /// The readiness and the tick it was observed at.
    pub(crate) fn readiness_tick(&self) -> (u8, u32) {
        (self.readiness.get(), self.tick.get())
    }

    /// Clears `bits` if no readiness arrived since `tick` (else the newer edge stands).
    pub(crate) fn clear_at(&self, bits: u8, tick: u32) {
        if self.tick.get() == tick {
            self.readiness.set(self.readiness.get() & !bits);
        }
    }

    /// Clears only the plain readiness bit of `dir` (closed and error bits stay): after a
    /// short transfer on a byte stream, see `Evented::poll_stream_io`.
    #[inline]
    pub(crate) fn clear_ready_bit(&self, dir: Direction) {
        let bit = match dir {
            Direction::Read => READABLE,
            Direction::Write => WRITABLE,
        };
        self.readiness.set(self.readiness.get() & !bit);
    }

    #[inline]
    pub(crate) fn clear(&self, dir: Direction) {
        self.readiness.set(self.readiness.get() & !dir.edge());
    }

    #[inline]
    fn dir(&self, dir: Direction) -> &DirWaiters {
        match dir {
            Direction::Read => &self.read,
            Direction::Write => &self.write,
        }
    }

    /// A key for an `async` operation that is about to wait in `dir`.
    #[inline]
    pub(crate) fn take_key(&self, dir: Direction) -> WaiterKey {
        self.dir(dir).take_key()
    }

    /// Frees `key`; returns its waker, if stored, for the caller to drop outside the table.
    #[inline]
    pub(crate) fn give_back_key(&self, dir: Direction, key: WaiterKey) -> Option<Waker> {
        self.dir(dir).give_back_key(key)
    }

    /// Stores the waker of a waiter (keyed, or the poll-style slot when `key` is `None`).
    /// Returns a replaced waker for the caller to drop outside the table.
    #[inline]
    pub(crate) fn register(
        &self,
        dir: Direction,
        key: Option<WaiterKey>,
        waker: &Waker,
    ) -> Option<Waker> {
        self.dir(dir).register(key, waker)
    }

    /// Records readiness and wakes the waiters of each direction it makes ready: those
    /// there at the edge, one at a time, with nothing borrowed while a waker runs (it may
    /// run code that touches this socket, even drops it: then `generation` is no longer
    /// live and the rest of the wakers were dropped with the socket's waiters).
    #[inline(always)]
    pub(crate) fn wake_ready(&self, bits: u8, generation: u32) {
        self.readiness.set(self.readiness.get() | bits);
        self.tick.set(self.tick.get().wrapping_add(1));
        for dir in [Direction::Read, Direction::Write] {
            if bits & dir.ready_mask() == 0 {
                continue;
            }
            let waiters = self.dir(dir);
            for _ in 0..waiters.waiting.get() {
                match waiters.pop() {
                    Some(waker) => waker.wake(),
                    None => break,
                }
                if !self.is_live(generation) {
                    return;
                }
            }
        }
    }

    /// Ends this socket's use of the state (events and wakes in flight for it find a newer
    /// generation); returns the wakers still stored, for the caller to drop afterwards.
    pub(crate) fn reset(&self) -> [(Option<Waker>, Vec<Waker>); 2] {
        self.readiness.set(0);
        drop(self.peer.take());
        self.in_use.set(false);
        self.generation.set(self.generation.get().wrapping_add(1));
        [self.read.reset(), self.write.reset()]
    }
}
