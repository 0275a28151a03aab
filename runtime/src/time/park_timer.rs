//! A `timerfd` registered with epoll, so that `block_on` can sleep until a timer's tick with
//! microsecond precision: epoll's own timeout counts whole milliseconds and would round a
//! sub-millisecond wait up to the next one. Linux only (and not under Miri, which has no
//! timerfd): elsewhere the driver falls back to epoll's timeout.
//!
//! Invariant: the descriptor is owned here and registered with the runtime's epoll for
//! reading under the driver's timer token; the driver reads it after each of its events.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

use mio::unix::SourceFd;

/// The runtime's park timer.
pub(crate) struct ParkTimer {
    fd: OwnedFd,
}

impl ParkTimer {
    /// A disarmed timer, registered with `registry` under `token`.
    pub(crate) fn new(registry: &mio::Registry, token: mio::Token) -> io::Result<ParkTimer> {
        // SAFETY: `timerfd_create` takes no pointers; a negative result is an error.
        let raw = unsafe {
            libc::timerfd_create(
                libc::CLOCK_MONOTONIC,
                libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
            )
        };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `raw` is a descriptor that was just opened and that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        registry.register(
            &mut SourceFd(&fd.as_raw_fd()),
            token,
            mio::Interest::READABLE,
        )?;
        Ok(ParkTimer { fd })
    }

    /// Arms the timer to fire once, `after` from now (at least one nanosecond: a zero
    /// value would disarm it).
    pub(crate) fn arm(&self, after: Duration) -> io::Result<()> {
        let after = after.max(Duration::from_nanos(1));
        let spec = libc::itimerspec {
            it_interval: libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: libc::timespec {
                tv_sec: libc::time_t::try_from(after.as_secs()).unwrap_or(libc::time_t::MAX),
                tv_nsec: libc::c_long::from(after.subsec_nanos()),
            },
        };
        // SAFETY: the descriptor is a live timerfd; `spec` is a valid `itimerspec` on the
        // stack for the call, and a null `old_value` is allowed.
        let r =
            unsafe { libc::timerfd_settime(self.fd.as_raw_fd(), 0, &spec, std::ptr::null_mut()) };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Clears an expiration after the timer's epoll event (edge-triggered: the next one
    /// reports again only once this one is read).
    pub(crate) fn clear(&self) {
        let mut expirations = [0u8; 8];
        // SAFETY: the descriptor is a live timerfd and the buffer is 8 writable bytes, the
        // size a timerfd read needs. A `WouldBlock` (nothing expired) is fine to ignore.
        let _ = unsafe {
            libc::read(
                self.fd.as_raw_fd(),
                expirations.as_mut_ptr().cast(),
                expirations.len(),
            )
        };
    }
}
