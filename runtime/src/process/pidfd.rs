//! A process file descriptor (Linux `pidfd_open(2)`, kernel 5.3 or later): readable once its
//! process has exited, so a wait for a child is one more reactor registration, with no
//! thread and no signal handler.
//!
//! Invariants: a [`PidFd`] owns a descriptor the kernel gave for one of this process's
//! children that nobody has reaped yet (the pid cannot have been reused: an unreaped child
//! keeps it), and closes it on drop. [`PidFd::open`] says `None` where the call is not
//! available (an old kernel: `ENOSYS`; a seccomp filter: `EPERM`), and remembers that for
//! the rest of the process, so that the fallback (`SIGCHLD`, see `exit.rs`) costs one
//! failed system call in all.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};

/// Set once `pidfd_open` is known not to work in this process.
static UNAVAILABLE: AtomicBool = AtomicBool::new(false);

#[cfg(test)]
thread_local! {
    /// Test-only switch: makes `open` say "unavailable" on this thread, so that the unit
    /// tests run the `SIGCHLD` fallback on a kernel that has pidfds.
    pub(super) static FORCE_FALLBACK: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// A child's process descriptor (see the module docs).
#[derive(Debug)]
pub(super) struct PidFd(OwnedFd);

impl PidFd {
    /// A descriptor for the unreaped child `pid`; `None` if pidfds are not available here
    /// (then, or after any other failure, the caller falls back to `SIGCHLD`).
    pub(super) fn open(pid: u32) -> Option<PidFd> {
        #[cfg(test)]
        if FORCE_FALLBACK.with(std::cell::Cell::get) {
            return None;
        }
        if UNAVAILABLE.load(Ordering::Relaxed) {
            return None;
        }
        let pid = libc::pid_t::try_from(pid).ok()?;
        // SAFETY: `pidfd_open(pid, flags)` takes two integers by value and returns a new
        // descriptor or -1; no memory is passed to the kernel.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0 as libc::c_uint) };
        if fd < 0 {
            let errno = io::Error::last_os_error().raw_os_error();
            if matches!(errno, Some(libc::ENOSYS | libc::EPERM)) {
                UNAVAILABLE.store(true, Ordering::Relaxed);
            }
            return None;
        }
        let fd = RawFd::try_from(fd).ok()?;
        // SAFETY: the kernel just returned `fd`: an open descriptor that nothing else owns.
        Some(PidFd(unsafe { OwnedFd::from_raw_fd(fd) }))
    }
}

impl mio::event::Source for PidFd {
    fn register(
        &mut self,
        registry: &mio::Registry,
        token: mio::Token,
        interest: mio::Interest,
    ) -> io::Result<()> {
        mio::unix::SourceFd(&self.0.as_raw_fd()).register(registry, token, interest)
    }

    fn reregister(
        &mut self,
        registry: &mio::Registry,
        token: mio::Token,
        interest: mio::Interest,
    ) -> io::Result<()> {
        mio::unix::SourceFd(&self.0.as_raw_fd()).reregister(registry, token, interest)
    }

    fn deregister(&mut self, registry: &mio::Registry) -> io::Result<()> {
        mio::unix::SourceFd(&self.0.as_raw_fd()).deregister(registry)
    }
}
