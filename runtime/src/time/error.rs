//! Time's errors, under tokio's path `time::error`: [`Elapsed`] (a [`timeout`] ran out) and
//! [`Error`] (a timer could not be used).
//!
//! tickslab's timers never fail at run time (its wheel grows, and a sleep outside a runtime
//! panics as tokio's does), so no tickslab function returns an [`Error`] today: the type is
//! here with tokio's constructors and predicates so that code naming it compiles.
//!
//! [`timeout`]: super::timeout

use std::fmt;

/// The error of a [`timeout`](super::timeout) whose deadline passed first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Elapsed(());

impl Elapsed {
    pub(crate) fn new() -> Elapsed {
        Elapsed(())
    }
}

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("deadline has elapsed")
    }
}

impl std::error::Error for Elapsed {}

impl From<Elapsed> for std::io::Error {
    fn from(e: Elapsed) -> Self {
        std::io::Error::new(std::io::ErrorKind::TimedOut, e)
    }
}

/// A timer error, as tokio's `time::error::Error`: the runtime is shutting down, the timer
/// is at capacity, or a deadline is out of range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Error(Kind);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Shutdown,
    AtCapacity,
    Invalid,
}

impl Error {
    /// The timer's runtime is shutting down.
    pub fn shutdown() -> Error {
        Error(Kind::Shutdown)
    }

    /// Whether the error is [`Error::shutdown`].
    pub fn is_shutdown(&self) -> bool {
        self.0 == Kind::Shutdown
    }

    /// The timer is at capacity.
    pub fn at_capacity() -> Error {
        Error(Kind::AtCapacity)
    }

    /// Whether the error is [`Error::at_capacity`].
    pub fn is_at_capacity(&self) -> bool {
        self.0 == Kind::AtCapacity
    }

    /// The deadline is out of range.
    pub fn invalid() -> Error {
        Error(Kind::Invalid)
    }

    /// Whether the error is [`Error::invalid`].
    pub fn is_invalid(&self) -> bool {
        self.0 == Kind::Invalid
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.0 {
            Kind::Shutdown => "the timer is shutdown, must be called from the context of a runtime",
            Kind::AtCapacity => "timer is at capacity and cannot create a new entry",
            Kind::Invalid => "timer duration exceeds maximum duration",
        })
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_told_apart() {
        let all = [Error::shutdown(), Error::at_capacity(), Error::invalid()];
        let flags: Vec<_> = all
            .iter()
            .map(|e| (e.is_shutdown(), e.is_at_capacity(), e.is_invalid()))
            .collect();
        assert_eq!(
            flags,
            [
                (true, false, false),
                (false, true, false),
                (false, false, true)
            ]
        );
        assert_eq!(Elapsed::new().to_string(), "deadline has elapsed");
    }
}
