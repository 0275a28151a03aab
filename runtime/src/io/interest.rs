//! [`Interest`] and [`Ready`]: what a socket's `ready` call waits for, and what it found, as
//! tokio's `io::Interest` and `io::Ready`.
//!
//! Both are bit sets over plain integers (`Copy`, no allocation). Invariant: an `Interest`
//! is never empty (its constructors are the non-empty constants and their unions, and
//! [`Interest::remove`] returns `None` rather than an empty set); a `Ready` may be.

use std::fmt;
use std::ops;

const READABLE: u8 = 1 << 0;
const WRITABLE: u8 = 1 << 1;
const READ_CLOSED: u8 = 1 << 2;
const WRITE_CLOSED: u8 = 1 << 3;
const ERROR: u8 = 1 << 4;
const PRIORITY: u8 = 1 << 5;

/// The readiness a task waits for, as tokio's `io::Interest`: combine with `|`.
///
/// ```
/// use tickslab_runtime::io::Interest;
/// let both = Interest::READABLE | Interest::WRITABLE;
/// assert!(both.is_readable() && both.is_writable());
/// assert_eq!(both.remove(Interest::WRITABLE), Some(Interest::READABLE));
/// assert_eq!(Interest::READABLE.remove(Interest::READABLE), None);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Interest(u8);

impl Interest {
    /// Data to read (or the end of the stream, or an error).
    pub const READABLE: Interest = Interest(READABLE);
    /// Room to write.
    pub const WRITABLE: Interest = Interest(WRITABLE);
    /// An error on the socket (tickslab watches for it through the read direction's
    /// events; a wait on this alone completes only for an error).
    pub const ERROR: Interest = Interest(ERROR);
    /// Priority (out-of-band) data. tickslab does not register for it: a wait on this
    /// alone waits as [`READABLE`](Self::READABLE) does.
    pub const PRIORITY: Interest = Interest(PRIORITY);

    /// Whether this includes [`READABLE`](Self::READABLE).
    pub const fn is_readable(self) -> bool {
        self.0 & READABLE != 0
    }

    /// Whether this includes [`WRITABLE`](Self::WRITABLE).
    pub const fn is_writable(self) -> bool {
        self.0 & WRITABLE != 0
    }

    /// Whether this includes [`ERROR`](Self::ERROR).
    pub const fn is_error(self) -> bool {
        self.0 & ERROR != 0
    }

    /// Whether this includes [`PRIORITY`](Self::PRIORITY).
    pub const fn is_priority(self) -> bool {
        self.0 & PRIORITY != 0
    }

    /// Both interests (as `|`, usable in `const` contexts).
    #[must_use]
    pub const fn add(self, other: Interest) -> Interest {
        Interest(self.0 | other.0)
    }

    /// This interest without `other`; `None` if nothing would be left.
    #[must_use]
    pub fn remove(self, other: Interest) -> Option<Interest> {
        let left = self.0 & !other.0;
        (left != 0).then_some(Interest(left))
    }

    /// The readiness that satisfies this interest.
    pub(crate) fn mask(self) -> Ready {
        let mut r = 0;
        if self.0 & (READABLE | PRIORITY) != 0 {
            r |= READABLE | READ_CLOSED;
        }
        if self.is_writable() {
            r |= WRITABLE | WRITE_CLOSED;
        }
        Ready(r | ERROR)
    }

    /// Whether a wait on this interest watches the read direction (an interest in errors or
    /// priority data alone is watched there: tickslab reports both with readability).
    pub(crate) fn watches_read(self) -> bool {
        self.0 & (READABLE | ERROR | PRIORITY) != 0
    }
}

impl ops::BitOr for Interest {
    type Output = Interest;

    fn bitor(self, other: Interest) -> Interest {
        self.add(other)
    }
}

impl ops::BitOrAssign for Interest {
    fn bitor_assign(&mut self, other: Interest) {
        *self = self.add(other);
    }
}

impl fmt::Debug for Interest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = [
            (READABLE, "READABLE"),
            (WRITABLE, "WRITABLE"),
            (ERROR, "ERROR"),
            (PRIORITY, "PRIORITY"),
        ];
        write_names(f, self.0, &names)
    }
}

/// The readiness a socket's `ready` call found, as tokio's `io::Ready`.
///
/// ```
/// use tickslab_runtime::io::Ready;
/// let r = Ready::READABLE | Ready::WRITE_CLOSED;
/// assert!(r.is_readable() && r.is_writable() && r.is_write_closed());
/// assert!((r - Ready::READABLE).is_writable());
/// assert!(Ready::EMPTY.is_empty());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ready(u8);

impl Ready {
    /// Nothing.
    pub const EMPTY: Ready = Ready(0);
    /// Readable.
    pub const READABLE: Ready = Ready(READABLE);
    /// Writable.
    pub const WRITABLE: Ready = Ready(WRITABLE);
    /// The read side is closed (end of stream).
    pub const READ_CLOSED: Ready = Ready(READ_CLOSED);
    /// The write side is closed.
    pub const WRITE_CLOSED: Ready = Ready(WRITE_CLOSED);
    /// An error is pending on the socket.
    pub const ERROR: Ready = Ready(ERROR);
    /// Priority data (tickslab never reports it: it does not register for it).
    pub const PRIORITY: Ready = Ready(PRIORITY);
    /// Every readiness.
    pub const ALL: Ready =
        Ready(READABLE | WRITABLE | READ_CLOSED | WRITE_CLOSED | ERROR | PRIORITY);

    /// Whether nothing is ready.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Readable, or the read side closed (a read returns at once).
    pub fn is_readable(self) -> bool {
        self.0 & (READABLE | READ_CLOSED) != 0
    }

    /// Writable, or the write side closed (a write returns at once).
    pub fn is_writable(self) -> bool {
        self.0 & (WRITABLE | WRITE_CLOSED) != 0
    }

    /// The read side is closed.
    pub fn is_read_closed(self) -> bool {
        self.0 & READ_CLOSED != 0
    }

    /// The write side is closed.
    pub fn is_write_closed(self) -> bool {
        self.0 & WRITE_CLOSED != 0
    }

    /// An error is pending.
    pub fn is_error(self) -> bool {
        self.0 & ERROR != 0
    }

    /// Priority data is there.
    pub fn is_priority(self) -> bool {
        self.0 & PRIORITY != 0
    }

    /// From the reactor's bits (same layout for the first five).
    pub(crate) fn from_bits(bits: u8) -> Ready {
        Ready(bits & (READABLE | WRITABLE | READ_CLOSED | WRITE_CLOSED | ERROR))
    }

    /// The reactor's bits for this readiness, less the closed ones, which are final: what
    /// clearing it may take away (tokio keeps closed readiness too).
    #[cfg(unix)]
    pub(crate) fn clearable_bits(self) -> u8 {
        self.0 & (READABLE | WRITABLE | ERROR)
    }
}

impl ops::BitOr for Ready {
    type Output = Ready;

    fn bitor(self, other: Ready) -> Ready {
        Ready(self.0 | other.0)
    }
}

impl ops::BitOrAssign for Ready {
    fn bitor_assign(&mut self, other: Ready) {
        self.0 |= other.0;
    }
}

impl ops::BitAnd for Ready {
    type Output = Ready;

    fn bitand(self, other: Ready) -> Ready {
        Ready(self.0 & other.0)
    }
}

impl ops::Sub for Ready {
    type Output = Ready;

    fn sub(self, other: Ready) -> Ready {
        Ready(self.0 & !other.0)
    }
}

impl fmt::Debug for Ready {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = [
            (READABLE, "READABLE"),
            (WRITABLE, "WRITABLE"),
            (READ_CLOSED, "READ_CLOSED"),
            (WRITE_CLOSED, "WRITE_CLOSED"),
            (ERROR, "ERROR"),
            (PRIORITY, "PRIORITY"),
        ];
        write_names(f, self.0, &names)
    }
}

fn write_names(f: &mut fmt::Formatter<'_>, bits: u8, names: &[(u8, &str)]) -> fmt::Result {
    let mut sep = "";
    for (bit, name) in names {
        if bits & bit != 0 {
            write!(f, "{sep}{name}")?;
            sep = " | ";
        }
    }
    if sep.is_empty() {
        f.write_str("EMPTY")?;
    }
    Ok(())
}
