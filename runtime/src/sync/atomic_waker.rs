//! A one-waker slot that one task registers into and any thread wakes, with atomics only:
//! no lock, no allocation.
//!
//! The well-known protocol (as in `futures`' `AtomicWaker`), written from its description:
//! a small state word arbitrates between the single registering side and any number of
//! waking sides.
//!
//! - `WAITING`: nobody is inside; the slot may hold a waker.
//! - `REGISTERING`: the registering side is writing the slot.
//! - `WAKING`: a waking side is taking the waker out.
//!
//! A wake that arrives while a registration is in progress sets `WAKING` and leaves; the
//! registering side sees it when it tries to return to `WAITING` and wakes the new waker
//! itself. A registration that arrives while a wake is in progress wakes its own waker at
//! once (the caller is polled again and re-checks its condition). So a wake that happens
//! after a registration began is never lost.

use std::cell::UnsafeCell;
// loom's under `--cfg loom`, so that the model of file operations (`fs/loom_tests.rs`) and
// of `spawn_blocking`'s job (`blocking/loom_tests.rs`) explores this protocol too.
#[cfg(loom)]
use loom::sync::atomic::{AtomicUsize, Ordering};
#[cfg(not(loom))]
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::Waker;

const WAITING: usize = 0;
const REGISTERING: usize = 0b01;
const WAKING: usize = 0b10;

/// A waker slot: one registering side (the receiver), any number of waking sides.
pub(crate) struct AtomicWaker {
    state: AtomicUsize,
    waker: UnsafeCell<Option<Waker>>,
}

// SAFETY: the slot is only read or written by the side that holds the state word's lock
// (`REGISTERING` moved in from `WAITING`, or `WAKING` moved in from `WAITING`), and the
// acquire/release transitions of `state` order those accesses. `Waker` is `Send + Sync`.
unsafe impl Send for AtomicWaker {}
// SAFETY: as above.
unsafe impl Sync for AtomicWaker {}

impl AtomicWaker {
    /// An empty slot.
    #[cfg(not(loom))]
    pub(crate) const fn new() -> AtomicWaker {
        AtomicWaker {
            state: AtomicUsize::new(WAITING),
            waker: UnsafeCell::new(None),
        }
    }

    /// An empty slot (loom's atomics have no `const` constructor).
    #[cfg(loom)]
    pub(crate) fn new() -> AtomicWaker {
        AtomicWaker {
            state: AtomicUsize::new(WAITING),
            waker: UnsafeCell::new(None),
        }
    }

    /// Stores `waker` (a clone, unless the stored one already wakes the same task), to be
    /// woken by the next [`wake`](Self::wake).
    ///
    /// Callers must not register concurrently with each other (the receiver registers
    /// through `&mut self`); concurrent wakes are fine.
    pub(crate) fn register(&self, waker: &Waker) {
        match self
            .state
            .compare_exchange(WAITING, REGISTERING, Ordering::Acquire, Ordering::Acquire)
            .unwrap_or_else(|actual| actual)
        {
            WAITING => {
                // SAFETY: we moved the state from WAITING to REGISTERING: we alone may touch
                // the slot until we leave that state.
                let replaced = unsafe {
                    let slot = &mut *self.waker.get();
                    match slot {
                        Some(old) if old.will_wake(waker) => None,
                        _ => slot.replace(waker.clone()),
                    }
                };
                match self.state.compare_exchange(
                    REGISTERING,
                    WAITING,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                ) {
                    Ok(_) => drop(replaced),
                    Err(actual) => {
                        // A wake came in while we were registering; it left the waker for
                        // us to wake. Only we can clear the WAKING bit set meanwhile.
                        debug_assert_eq!(actual, REGISTERING | WAKING);
                        // SAFETY: the state still has our REGISTERING bit: we alone touch
                        // the slot.
                        let waker = unsafe { (*self.waker.get()).take() };
                        self.state.swap(WAITING, Ordering::AcqRel);
                        drop(replaced);
                        if let Some(w) = waker {
                            w.wake();
                        }
                    }
                }
            }
            WAKING => {
                // A wake is in progress and will take whatever it finds: wake the new waker
                // right away so the caller re-checks its condition.
                waker.wake_by_ref();
                std::hint::spin_loop();
            }
            state => {
                // REGISTERING or REGISTERING | WAKING: concurrent registration, which the
                // callers rule out.
                debug_assert!(false, "concurrent AtomicWaker::register (state {state})");
            }
        }
    }

    /// Takes the stored waker out, if any and if no registration is in progress (a
    /// registration in progress then wakes its new waker itself).
    pub(crate) fn take(&self) -> Option<Waker> {
        match self.state.fetch_or(WAKING, Ordering::AcqRel) {
            WAITING => {
                // SAFETY: we moved the state from WAITING to WAKING: we alone may touch the
                // slot until we clear the bit.
                let waker = unsafe { (*self.waker.get()).take() };
                self.state.fetch_and(!WAKING, Ordering::Release);
                waker
            }
            // A registration is in progress (it will see WAKING and wake), or another wake
            // is (it takes the waker).
            _ => None,
        }
    }

    /// Wakes the stored waker, if any (see [`take`](Self::take)).
    pub(crate) fn wake(&self) {
        if let Some(waker) = self.take() {
            waker.wake();
        }
    }
}

impl std::fmt::Debug for AtomicWaker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AtomicWaker")
            .field("state", &self.state.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}
