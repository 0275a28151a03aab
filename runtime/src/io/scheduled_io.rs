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
//! list that keeps its capacity. Readiness wakes every waiter in place: wakers are moved into
//! a small batch on the stack and woken once the caller has released the slot table, because
//! a waker may run foreign code that touches the reactor again.
//!
//! Runtime thread only (plain cells, behind the reactor's `RefCell`).

use std::cell::Cell;
use std::mem;
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

/// One keyed place: taken by an operation for as long as it waits.
#[derive(Default)]
struct Place {
    taken: bool,
    waker: Option<Waker>,
}

/// The waiters of one direction.
#[derive(Default)]
struct DirWaiters {
    /// The poll-style callers' shared slot.
    polled: Option<Waker>,
    /// Key 0.
    first: Place,
    /// Keys 1.. (index + 1).
    more: Vec<Place>,
    /// Wakers stored now, in `polled`, `first` and `more` (so that a readiness edge with
    /// nobody waiting costs one comparison).
    waiting: u32,
}

impl DirWaiters {
    fn place(&mut self, key: WaiterKey) -> &mut Place {
        match key.0 {
            0 => &mut self.first,
            k => &mut self.more[k as usize - 1],
        }
    }

    fn take_key(&mut self) -> WaiterKey {
        if !self.first.taken {
            self.first.taken = true;
            return WaiterKey(0);
        }
        let index = match self.more.iter().position(|p| !p.taken) {
            Some(i) => i,
            None => {
                self.more.push(Place::default());
                self.more.len() - 1
            }
        };
        self.more[index].taken = true;
        WaiterKey(u32::try_from(index + 1).expect("fewer than 2^32 waiters on one socket"))
    }

    /// Stores `waker` in `slot` unless it already wakes the same task; returns the waker it
    /// replaced, to be dropped by the caller outside the table.
    fn store(slot: &mut Option<Waker>, waiting: &mut u32, waker: &Waker) -> Option<Waker> {
        match slot {
            Some(old) if old.will_wake(waker) => None,
            Some(_) => slot.replace(waker.clone()),
            None => {
                *waiting += 1;
                *slot = Some(waker.clone());
                None
            }
        }
    }

    /// Moves up to a batch's room of stored wakers into `batch`; `true` if some are left.
    fn drain_into(&mut self, batch: &mut WakeBatch) -> bool {
        if self.waiting == 0 {
            return false;
        }
        let mut take = |slot: &mut Option<Waker>, waiting: &mut u32| {
            if slot.is_some() && batch.has_room() {
                batch.push(slot.take().expect("checked"));
                *waiting -= 1;
            }
        };
        take(&mut self.polled, &mut self.waiting);
        take(&mut self.first.waker, &mut self.waiting);
        for place in &mut self.more {
            if self.waiting == 0 {
                break;
            }
            take(&mut place.waker, &mut self.waiting);
        }
        self.waiting > 0
    }
}

/// A socket's readiness and waiters.
#[derive(Default)]
pub(crate) struct ScheduledIo {
    readiness: Cell<u8>,
    read: Cell<DirWaiters>,
    write: Cell<DirWaiters>,
}

impl ScheduledIo {
    pub(crate) fn readiness(&self) -> u8 {
        self.readiness.get()
    }

    pub(crate) fn clear(&self, dir: Direction) {
        self.readiness.set(self.readiness.get() & !dir.edge());
    }

    fn with<R>(&self, dir: Direction, f: impl FnOnce(&mut DirWaiters) -> R) -> R {
        let cell = match dir {
            Direction::Read => &self.read,
            Direction::Write => &self.write,
        };
        let mut waiters = cell.take();
        let out = f(&mut waiters);
        cell.set(waiters);
        out
    }

    /// A key for an `async` operation that is about to wait in `dir`.
    pub(crate) fn take_key(&self, dir: Direction) -> WaiterKey {
        self.with(dir, DirWaiters::take_key)
    }

    /// Frees `key`; returns its waker, if stored, for the caller to drop outside the table.
    pub(crate) fn give_back_key(&self, dir: Direction, key: WaiterKey) -> Option<Waker> {
        self.with(dir, |w| {
            let place = w.place(key);
            place.taken = false;
            let waker = place.waker.take();
            if waker.is_some() {
                w.waiting -= 1;
            }
            waker
        })
    }

    /// Stores the waker of a waiter (keyed, or the poll-style slot when `key` is `None`).
    /// Returns a replaced waker for the caller to drop outside the table.
    pub(crate) fn register(
        &self,
        dir: Direction,
        key: Option<WaiterKey>,
        waker: &Waker,
    ) -> Option<Waker> {
        self.with(dir, |w| {
            let mut waiting = w.waiting;
            let slot = match key {
                None => &mut w.polled,
                Some(key) => &mut w.place(key).waker,
            };
            let replaced = DirWaiters::store(slot, &mut waiting, waker);
            w.waiting = waiting;
            replaced
        })
    }

    /// Records readiness; moves the wakers it wakes into `batch`. Returns `true` if more
    /// remain than the batch holds (wake the batch, then call [`take_more`](Self::take_more)).
    pub(crate) fn set_readiness(&self, bits: u8, batch: &mut WakeBatch) -> bool {
        self.readiness.set(self.readiness.get() | bits);
        self.take_more(bits, batch)
    }

    /// Moves the wakers of the directions that `bits` makes ready into `batch`.
    pub(crate) fn take_more(&self, bits: u8, batch: &mut WakeBatch) -> bool {
        let mut more = false;
        for dir in [Direction::Read, Direction::Write] {
            if bits & dir.ready_mask() != 0 {
                more |= self.with(dir, |w| w.drain_into(batch));
            }
        }
        more
    }

    /// Clears the state for the slot's next socket. No `async` operation can be waiting
    /// (each borrows the socket) unless its `Wait` was forgotten; stored wakers go into
    /// `batch`, to be dropped outside the table (beyond its room, here).
    pub(crate) fn reset(&self, batch: &mut WakeBatch) {
        self.readiness.set(0);
        for dir in [Direction::Read, Direction::Write] {
            self.with(dir, |w| {
                w.drain_into(batch);
                w.polled = None;
                w.first = Place::default();
                for place in &mut w.more {
                    *place = Place::default();
                }
                w.waiting = 0;
            });
        }
    }
}

/// Wakers taken out of the table, woken (or dropped) once it is released. Lives on the
/// stack: no allocation.
pub(crate) struct WakeBatch {
    wakers: [Option<Waker>; WakeBatch::ROOM],
    len: usize,
}

impl WakeBatch {
    const ROOM: usize = 16;

    pub(crate) fn new() -> Self {
        WakeBatch {
            wakers: Default::default(),
            len: 0,
        }
    }

    fn has_room(&self) -> bool {
        self.len < Self::ROOM
    }

    fn push(&mut self, waker: Waker) {
        self.wakers[self.len] = Some(waker);
        self.len += 1;
    }

    /// Wakes every waker in the batch, emptying it. (If a `wake` panics, the rest are
    /// dropped with the batch, not woken: nothing dangles.)
    pub(crate) fn wake_all(&mut self) {
        for slot in &mut self.wakers[..mem::take(&mut self.len)] {
            if let Some(waker) = slot.take() {
                waker.wake();
            }
        }
    }
}
