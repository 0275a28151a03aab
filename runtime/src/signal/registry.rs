//! The process-wide state of signals: one self-pipe, and per signal number its handler
//! installation, pending flag, generation and listeners' wakers.
//!
//! Invariants:
//! 1. A signal's generation only grows, and only [`broadcast`] bumps it, under the
//!    signal's waiter lock; a listener compares it with the generation it last saw under
//!    the same lock before storing its waker. So a listener either sees the new
//!    generation or has its waker taken and woken by the broadcast: no delivery is missed.
//! 2. The handler's actions (set the flag, then write a byte) run in that order, so the
//!    drain that reads the byte finds the flag set (signal-hook runs a signal's actions in
//!    the order they were registered).
//! 3. A listener's place in the waiter list is its own from [`Slot::take_place`] to
//!    [`Slot::give_back`] (its destructor): wakers are taken out one at a time and woken
//!    outside the lock, since a waker may run code that comes back here.

use std::io;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::task::Waker;

/// Signal numbers served: 1 to 64 (Linux's real-time signals end at 64).
pub(crate) const SIGNALS: usize = 65;

pub(crate) struct Globals {
    /// The pipe's write end (each signal's handler writes to a duplicate of it).
    sender: UnixStream,
    /// The pipe's read end (each runtime's driver registers a duplicate of it).
    pub(crate) receiver: UnixStream,
    slots: Box<[Slot]>,
}

/// One signal number's state.
pub(crate) struct Slot {
    /// The handler's installation, done once (`Err` keeps the message: `io::Error` is not
    /// `Clone`).
    installed: OnceLock<Result<(), String>>,
    /// Set by the handler; cleared by the broadcast that reports it.
    pending: Arc<AtomicBool>,
    /// Broadcasts of this signal so far (invariant 1).
    generation: AtomicU64,
    waiters: Mutex<Vec<Place>>,
}

#[derive(Default)]
struct Place {
    taken: bool,
    waker: Option<Waker>,
}

static GLOBALS: OnceLock<io::Result<Globals>> = OnceLock::new();

/// The process's signal state, created on first use.
pub(crate) fn globals() -> io::Result<&'static Globals> {
    GLOBALS
        .get_or_init(|| {
            let (receiver, sender) = UnixStream::pair()?;
            receiver.set_nonblocking(true)?;
            sender.set_nonblocking(true)?;
            let slots = (0..SIGNALS)
                .map(|_| Slot {
                    installed: OnceLock::new(),
                    pending: Arc::new(AtomicBool::new(false)),
                    generation: AtomicU64::new(0),
                    waiters: Mutex::new(Vec::new()),
                })
                .collect();
            Ok(Globals {
                sender,
                receiver,
                slots,
            })
        })
        .as_ref()
        .map_err(|e| io::Error::new(e.kind(), e.to_string()))
}

impl Globals {
    /// The slot of signal `signum`, with its handler installed; an error for a signal that
    /// cannot be listened for (out of range, or one of `signal_hook::consts::FORBIDDEN`:
    /// `SIGKILL`, `SIGSTOP`, `SIGILL`, `SIGFPE`, `SIGSEGV`).
    pub(crate) fn slot(&'static self, signum: i32) -> io::Result<&'static Slot> {
        let index = usize::try_from(signum)
            .ok()
            .filter(|&i| i > 0 && i < SIGNALS && !signal_hook::consts::FORBIDDEN.contains(&signum))
            .ok_or_else(|| io::Error::other(format!("refusing to register signal {signum}")))?;
        let slot = &self.slots[index];
        slot.installed
            .get_or_init(|| self.install(signum, slot).map_err(|e| e.to_string()))
            .clone()
            .map_err(|msg| {
                io::Error::other(format!("installing a handler for signal {signum}: {msg}"))
            })?;
        Ok(slot)
    }

    fn install(&self, signum: i32, slot: &Slot) -> io::Result<()> {
        // Invariant 2: the flag first, then the byte.
        signal_hook::flag::register(signum, slot.pending.clone())?;
        signal_hook::low_level::pipe::register(signum, self.sender.try_clone()?)?;
        Ok(())
    }
}

impl Slot {
    fn lock(&self) -> MutexGuard<'_, Vec<Place>> {
        // Nothing under this lock can panic halfway through a change.
        self.waiters.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The current generation.
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// A place in the waiter list, for a listener's lifetime.
    pub(crate) fn take_place(&self) -> usize {
        let mut places = self.lock();
        let index = match places.iter().position(|p| !p.taken) {
            Some(i) => i,
            None => {
                places.push(Place::default());
                places.len() - 1
            }
        };
        places[index].taken = true;
        index
    }

    /// Frees `place` (the listener is gone); its waker is dropped outside the lock.
    pub(crate) fn give_back(&self, place: usize) {
        let waker = {
            let mut places = self.lock();
            places[place].taken = false;
            places[place].waker.take()
        };
        drop(waker);
    }

    /// Forgets the waker in `place` (an abandoned `recv`).
    pub(crate) fn clear(&self, place: usize) {
        let waker = self.lock()[place].waker.take();
        drop(waker);
    }

    /// The generation if it moved past `seen`; otherwise stores `waker` in `place` and
    /// returns `None` (invariant 1).
    pub(crate) fn check_or_wait(&self, seen: u64, place: usize, waker: &Waker) -> Option<u64> {
        let replaced = {
            let mut places = self.lock();
            let now = self.generation.load(Ordering::Acquire);
            if now != seen {
                return Some(now);
            }
            let slot = &mut places[place].waker;
            match slot {
                Some(w) if w.will_wake(waker) => None,
                _ => slot.replace(waker.clone()),
            }
        };
        drop(replaced);
        None
    }
}

/// Reports every signal that arrived since the last broadcast: bumps its generation and
/// wakes its listeners (in every runtime of the process).
///
/// A listener's waker that panics does not stop the others: every signal is reported and
/// every waker woken first, then the first panic goes on.
pub(crate) fn broadcast() {
    let Ok(globals) = globals() else { return };
    let mut panic = None;
    for slot in globals.slots.iter() {
        if !slot.pending.swap(false, Ordering::AcqRel) {
            continue;
        }
        {
            let _places = slot.lock();
            slot.generation.fetch_add(1, Ordering::AcqRel);
        }
        let mut next = 0;
        loop {
            let waker = {
                let mut places = slot.lock();
                let found = places[next..]
                    .iter_mut()
                    .enumerate()
                    .find_map(|(i, p)| p.waker.take().map(|w| (next + i, w)));
                match found {
                    Some((i, w)) => {
                        next = i + 1;
                        w
                    }
                    None => break,
                }
            };
            // Outside the lock (invariant 3).
            let woken = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| waker.wake()));
            if let Err(p) = woken {
                panic.get_or_insert(p);
            }
        }
    }
    if let Some(p) = panic {
        std::panic::resume_unwind(p);
    }
}
