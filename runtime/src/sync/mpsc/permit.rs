//! The bounded channel's permits: room for a message held before the message exists
//! ([`Sender::reserve`], [`Sender::reserve_many`], [`Sender::reserve_owned`]).
//!
//! Invariant: each permit holds exactly the semaphore permits it stands for (`Permit` and
//! `OwnedPermit` one, `PermitIterator` `left`), and gives back what it did not send through
//! `give_back`, whose rule wakes a closed receiver once nothing is outstanding.

use std::fmt;

use super::bounded::{Bounded, Sender, give_back};
use super::chan::Chan;

/// Room for one message, held ([`Sender::reserve`]); given back if dropped unused.
#[must_use = "the room is given back as soon as the permit is dropped"]
pub struct Permit<'a, T> {
    pub(super) chan: &'a Chan<Bounded<T>>,
}

impl<T> Permit<'_, T> {
    /// Sends `value` into the held room: never waits, never fails (if the receiver is gone
    /// the value is dropped).
    pub fn send(self, value: T) {
        let chan = self.chan;
        std::mem::forget(self);
        chan.push(value);
    }
}

impl<T> Drop for Permit<'_, T> {
    fn drop(&mut self) {
        give_back(self.chan, 1);
    }
}

impl<T> fmt::Debug for Permit<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Permit").finish_non_exhaustive()
    }
}

/// Room for several messages ([`Sender::reserve_many`]): yields one [`Permit`] per
/// message; the room not taken goes back when it is dropped.
pub struct PermitIterator<'a, T> {
    pub(super) chan: &'a Chan<Bounded<T>>,
    pub(super) left: usize,
}

impl<'a, T> Iterator for PermitIterator<'a, T> {
    type Item = Permit<'a, T>;

    fn next(&mut self) -> Option<Permit<'a, T>> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        Some(Permit { chan: self.chan })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl<T> ExactSizeIterator for PermitIterator<'_, T> {}

impl<T> Drop for PermitIterator<'_, T> {
    fn drop(&mut self) {
        if self.left > 0 {
            give_back(self.chan, std::mem::take(&mut self.left));
        }
    }
}

impl<T> fmt::Debug for PermitIterator<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PermitIterator")
            .field("left", &self.left)
            .finish()
    }
}

/// Room for one message held with its sender ([`Sender::reserve_owned`]), `'static`.
#[must_use = "the room is given back as soon as the permit is dropped"]
pub struct OwnedPermit<T> {
    pub(super) sender: Option<Sender<T>>,
}

impl<T> OwnedPermit<T> {
    /// Sends `value` into the held room and gives the sender back.
    pub fn send(mut self, value: T) -> Sender<T> {
        let sender = self.sender.take().expect("an OwnedPermit holds its sender");
        sender.chan.push(value);
        sender
    }

    /// Gives the room back unused, and the sender.
    pub fn release(mut self) -> Sender<T> {
        let sender = self.sender.take().expect("an OwnedPermit holds its sender");
        give_back(&sender.chan, 1);
        sender
    }
}

impl<T> Drop for OwnedPermit<T> {
    fn drop(&mut self) {
        if let Some(sender) = self.sender.take() {
            give_back(&sender.chan, 1);
        }
    }
}

impl<T> fmt::Debug for OwnedPermit<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedPermit").finish_non_exhaustive()
    }
}
