//! The driver's event buffer: what one `epoll_wait` reported, as (token, readiness bits).
//!
//! mio registers every source (edge-triggered, its token in the event's data word) and stays
//! the registry; on Linux the driver reads the events itself, with one `epoll_wait(2)` on
//! mio's epoll descriptor into a buffer it owns, and turns each event's flags into the
//! reactor's readiness bits in one step: going through `mio::Poll::poll` and
//! `mio::event::Event`'s accessors cost 42 of a UDP round trip's 1,681 instructions, and of a
//! TCP echo's 1,708 (`benches/callgrind.sh`). On other systems, and under Miri (whose epoll
//! model then sees only mio's calls, as before), mio's own poll is used; both give the same
//! bits (`epoll_flags_read_as_mio_reads_them`).
//!
//! Invariant (the one `unsafe` block): `len <= buf.len()` and `buf[..len]` is what the kernel
//! wrote in the last wait; the kernel is given the buffer's pointer and its length, never more.

use std::io;
use std::time::Duration;

use super::scheduled_io::{ERROR, READ_CLOSED, READABLE, WRITABLE, WRITE_CLOSED};

/// The readiness bits of epoll `flags`, as mio reads them (`mio::event::Event`'s
/// `is_readable` .. `is_write_closed`; priority data counts as readable, see
/// `Interest::PRIORITY`).
#[cfg(all(any(target_os = "linux", target_os = "android"), not(miri)))]
#[inline]
fn epoll_bits(flags: u32) -> u8 {
    let f = flags as libc::c_int;
    let has = |bit: libc::c_int| f & bit != 0;
    let mut bits = 0;
    if has(libc::EPOLLIN | libc::EPOLLPRI) {
        bits |= READABLE;
    }
    if has(libc::EPOLLOUT) {
        bits |= WRITABLE;
    }
    if has(libc::EPOLLERR) {
        bits |= ERROR;
    }
    if has(libc::EPOLLHUP) || (has(libc::EPOLLIN) && has(libc::EPOLLRDHUP)) {
        bits |= READ_CLOSED;
    }
    if has(libc::EPOLLHUP) || (has(libc::EPOLLOUT) && has(libc::EPOLLERR)) || f == libc::EPOLLERR {
        bits |= WRITE_CLOSED;
    }
    bits
}

/// The bits of a mio event (the portable path).
#[cfg(not(all(any(target_os = "linux", target_os = "android"), not(miri))))]
fn mio_bits(event: &mio::event::Event) -> u8 {
    let mut bits = 0;
    if event.is_readable() {
        bits |= READABLE;
    }
    if event.is_writable() {
        bits |= WRITABLE;
    }
    if event.is_error() {
        bits |= ERROR;
    }
    if event.is_read_closed() {
        bits |= READ_CLOSED;
    }
    if event.is_write_closed() {
        bits |= WRITE_CLOSED;
    }
    #[cfg(any(target_os = "linux", target_os = "android"))]
    if event.is_priority() {
        bits |= READABLE;
    }
    bits
}

/// The epoll timeout in milliseconds for `timeout`, rounded up as mio does (a sub-millisecond
/// wait must not become a zero one); `-1` waits for ever.
#[cfg(all(any(target_os = "linux", target_os = "android"), not(miri)))]
fn timeout_ms(timeout: Option<Duration>) -> libc::c_int {
    match timeout {
        None => -1,
        Some(t) if t.is_zero() => 0,
        Some(t) => {
            let ms = t.saturating_add(Duration::from_nanos(999_999)).as_millis();
            libc::c_int::try_from(ms).unwrap_or(libc::c_int::MAX)
        }
    }
}

/// The driver's events: a buffer of raw epoll events read straight from mio's descriptor.
#[cfg(all(any(target_os = "linux", target_os = "android"), not(miri)))]
pub(crate) struct Events {
    buf: Vec<libc::epoll_event>,
    len: usize,
}

#[cfg(all(any(target_os = "linux", target_os = "android"), not(miri)))]
impl Events {
    /// Room for `capacity` events per wait (at least one).
    pub(crate) fn with_capacity(capacity: usize) -> Events {
        let empty = libc::epoll_event { events: 0, u64: 0 };
        Events {
            buf: vec![empty; capacity.clamp(1, libc::c_int::MAX as usize)],
            len: 0,
        }
    }

    /// Waits on `poll`'s epoll instance for up to `timeout` (`Some(ZERO)`: just look).
    #[inline]
    pub(crate) fn wait(
        &mut self,
        poll: &mut mio::Poll,
        timeout: Option<Duration>,
    ) -> io::Result<()> {
        use std::os::fd::AsRawFd;
        self.len = 0;
        // The buffer's length fits a c_int (`with_capacity` clamps it).
        let room = self.buf.len() as libc::c_int;
        // SAFETY: the kernel writes at most `room` events into the buffer we own, for the
        // duration of the call (the module invariant); the descriptor is mio's live epoll
        // instance, borrowed through `poll`.
        let n = unsafe {
            libc::epoll_wait(
                poll.as_raw_fd(),
                self.buf.as_mut_ptr(),
                room,
                timeout_ms(timeout),
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        self.len = n as usize;
        Ok(())
    }

    /// The events of the last wait: (token, readiness bits).
    #[inline]
    pub(crate) fn iter(&self) -> impl Iterator<Item = (mio::Token, u8)> + '_ {
        self.buf[..self.len]
            .iter()
            .map(|e| (mio::Token(e.u64 as usize), epoll_bits(e.events)))
    }
}

/// The driver's events (portable path): mio's.
#[cfg(not(all(any(target_os = "linux", target_os = "android"), not(miri))))]
pub(crate) struct Events(mio::Events);

#[cfg(not(all(any(target_os = "linux", target_os = "android"), not(miri))))]
impl Events {
    /// Room for `capacity` events per wait.
    pub(crate) fn with_capacity(capacity: usize) -> Events {
        Events(mio::Events::with_capacity(capacity.max(1)))
    }

    /// Waits on `poll` for up to `timeout` (`Some(ZERO)`: just look).
    pub(crate) fn wait(
        &mut self,
        poll: &mut mio::Poll,
        timeout: Option<Duration>,
    ) -> io::Result<()> {
        poll.poll(&mut self.0, timeout)
    }

    /// The events of the last wait: (token, readiness bits).
    pub(crate) fn iter(&self) -> impl Iterator<Item = (mio::Token, u8)> + '_ {
        self.0.iter().map(|e| (e.token(), mio_bits(e)))
    }
}

#[cfg(all(test, any(target_os = "linux", target_os = "android"), not(miri)))]
mod tests {
    use super::*;

    /// The bits of each flag combination are mio's (`mio::event::Event`'s accessors, as
    /// documented in mio 1.x's epoll selector).
    #[test]
    fn epoll_flags_read_as_mio_reads_them() {
        let (i, o, e, h, r, p) = (
            libc::EPOLLIN as u32,
            libc::EPOLLOUT as u32,
            libc::EPOLLERR as u32,
            libc::EPOLLHUP as u32,
            libc::EPOLLRDHUP as u32,
            libc::EPOLLPRI as u32,
        );
        assert_eq!(epoll_bits(i), READABLE);
        assert_eq!(epoll_bits(p), READABLE);
        assert_eq!(epoll_bits(o), WRITABLE);
        assert_eq!(epoll_bits(i | o), READABLE | WRITABLE);
        // RDHUP alone is not a read close: mio wants it with IN.
        assert_eq!(epoll_bits(r), 0);
        assert_eq!(epoll_bits(i | r), READABLE | READ_CLOSED);
        assert_eq!(epoll_bits(h), READ_CLOSED | WRITE_CLOSED);
        // ERR alone closes the write side; with OUT too; with IN only it is just an error.
        assert_eq!(epoll_bits(e), ERROR | WRITE_CLOSED);
        assert_eq!(epoll_bits(o | e), WRITABLE | ERROR | WRITE_CLOSED);
        assert_eq!(epoll_bits(i | e), READABLE | ERROR);
        assert_eq!(
            epoll_bits(i | o | e | h | r),
            READABLE | WRITABLE | ERROR | READ_CLOSED | WRITE_CLOSED
        );
    }

    #[test]
    fn sub_millisecond_timeouts_round_up_and_zero_stays_zero() {
        assert_eq!(timeout_ms(None), -1);
        assert_eq!(timeout_ms(Some(Duration::ZERO)), 0);
        assert_eq!(timeout_ms(Some(Duration::from_nanos(1))), 1);
        assert_eq!(timeout_ms(Some(Duration::from_micros(1_500))), 2);
        assert_eq!(timeout_ms(Some(Duration::from_millis(7))), 7);
        assert_eq!(timeout_ms(Some(Duration::MAX)), libc::c_int::MAX);
    }
}
