//! The io_uring backend: a ring sized to the in-flight depth, its completion eventfd
//! registered in the runtime's mio poll.
//!
//! Invariants:
//! 1. **Never more in flight than the ring holds.** Operations come from the driver's pool of
//!    `depth` slots, and the ring has at least `depth` submission entries and twice as many
//!    completion entries: a push always finds room and no completion is ever dropped.
//! 2. **Every submitted operation is completed once**, with the `user_data` it was pushed
//!    with: the address of its `OpCell`, which holds the executor's reference (`op.rs`
//!    invariant 1) until [`take_completions`](Uring::take_completions) hands it to
//!    `op::complete`.
//! 3. **The ring outlives what the kernel does.** The driver's shutdown waits until nothing
//!    is in flight before the ring (and any parked buffer) can go.
//!
//! Detection: building the ring, registering the eventfd and one `NOP` round trip must all
//! work; otherwise (`ENOSYS` on old kernels, `EPERM` under seccomp, `io_uring_disabled`)
//! `Auto` falls back to the blocking pool.

use std::io;
use std::mem::ManuallyDrop;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::ptr::NonNull;

use io_uring::{IoUring, opcode, types};

use super::op::{OpCell, OpKind};

/// Transfers of at least this many bytes go to the kernel's io-wq workers
/// (`IOSQE_ASYNC`) instead of being copied inline when the ring is entered.
const ASYNC_FROM: usize = 64 * 1024;

/// `user_data` of the detection `NOP`.
const PROBE: u64 = 0;
/// `user_data` of the shutdown's cancellation request (cells are 8-aligned: never 1).
const CANCEL: u64 = 1;

pub(crate) struct Uring {
    /// Dropped by `Drop` only when nothing is in flight (invariant 3).
    ring: ManuallyDrop<IoUring>,
    eventfd: OwnedFd,
    in_flight: usize,
}

impl Uring {
    pub(crate) fn new(
        depth: usize,
        registry: &mio::Registry,
        token: mio::Token,
    ) -> io::Result<Uring> {
        let entries = u32::try_from(depth.next_power_of_two()).unwrap_or(1 << 15);
        let mut ring: IoUring = IoUring::builder()
            .setup_cqsize(entries * 2)
            .build(entries)?;
        // SAFETY: `eventfd` returns a new descriptor (or -1, checked), which we own.
        let eventfd = unsafe {
            let fd = libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC);
            if fd < 0 {
                return Err(io::Error::last_os_error());
            }
            OwnedFd::from_raw_fd(fd)
        };
        ring.submitter().register_eventfd(eventfd.as_raw_fd())?;
        // Probe: a seccomp profile may allow the setup and refuse `io_uring_enter`.
        let nop = opcode::Nop::new().build().user_data(PROBE);
        // SAFETY: a NOP references no memory.
        unsafe { ring.submission().push(&nop) }.map_err(|_| io::Error::other("ring full"))?;
        ring.submit_and_wait(1)?;
        let probe = ring.completion().next();
        match probe {
            Some(cqe) if cqe.result() >= 0 => {}
            Some(cqe) => return Err(io::Error::from_raw_os_error(-cqe.result())),
            None => return Err(io::Error::other("io_uring NOP probe did not complete")),
        }
        registry.register(
            &mut mio::unix::SourceFd(&eventfd.as_raw_fd()),
            token,
            mio::Interest::READABLE,
        )?;
        let mut uring = Uring {
            ring: ManuallyDrop::new(ring),
            eventfd,
            in_flight: 0,
        };
        uring.clear_event();
        Ok(uring)
    }

    pub(crate) fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// Queues `cell`'s operation (the kernel sees it at the next [`submit`](Self::submit)).
    pub(crate) fn push(&mut self, cell: NonNull<OpCell>) {
        // SAFETY: `op.rs` invariant 2: fixed fields, readable while we hold the executor's
        // reference.
        let c = unsafe { cell.as_ref() };
        let fd = types::Fd(c.fd);
        let len = u32::try_from(c.io_len).unwrap_or(u32::MAX);
        let entry = match c.kind {
            OpKind::Read => opcode::Read::new(fd, c.io_ptr, len)
                .offset(c.offset)
                .build(),
            OpKind::Write => opcode::Write::new(fd, c.io_ptr, len)
                .offset(c.offset)
                .build(),
            OpKind::SyncAll => opcode::Fsync::new(fd).build(),
            OpKind::SyncData => opcode::Fsync::new(fd)
                .flags(types::FsyncFlags::DATASYNC)
                .build(),
            OpKind::OpenAt => {
                let (flags, mode) = c.open_flags();
                opcode::OpenAt::new(types::Fd(libc::AT_FDCWD), c.io_ptr.cast_const().cast())
                    .flags(flags)
                    .mode(mode)
                    .build()
            }
        }
        .user_data(cell.as_ptr().expose_provenance() as u64);
        // A large transfer from the page cache would otherwise be copied inline, on this
        // thread, when the ring is entered: hand it to the kernel's workers instead, which
        // run on the other cores while the runtime goes on.
        let entry = if c.io_len >= ASYNC_FROM && matches!(c.kind, OpKind::Read | OpKind::Write) {
            entry.flags(io_uring::squeue::Flags::ASYNC)
        } else {
            entry
        };
        loop {
            // SAFETY: the entry's buffer is the parked buffer of `cell`, which lives until
            // the completion is reaped (`op.rs` invariant 1); the descriptor is kept open by
            // the cell (invariant 4).
            if unsafe { self.ring.submission().push(&entry) }.is_ok() {
                break;
            }
            // Invariant 1 says this cannot happen; if it did, make room rather than lose it.
            let _ = self.ring.submit();
        }
        self.in_flight += 1;
    }

    /// Tells the kernel about queued entries (one `io_uring_enter`, only if there are any).
    pub(crate) fn submit(&mut self) {
        if !self.ring.submission().is_empty() {
            // A failure (EINTR, EAGAIN, EBUSY) leaves the entries queued for the next try.
            let _ = self.ring.submit();
        }
    }

    /// Moves up to `out.len()` completions into `out`; returns how many.
    pub(crate) fn take_completions(&mut self, out: &mut [(NonNull<OpCell>, i64)]) -> usize {
        let mut n = 0;
        for cqe in self.ring.completion() {
            if cqe.user_data() == PROBE || cqe.user_data() == CANCEL {
                continue;
            }
            let ptr = std::ptr::with_exposed_provenance_mut::<OpCell>(cqe.user_data() as usize);
            // Invariant 2: the address came from a live cell's `NonNull`.
            out[n] = (
                NonNull::new(ptr).expect("user_data is a cell address"),
                cqe.result() as i64,
            );
            n += 1;
            self.in_flight -= 1;
            if n == out.len() {
                break;
            }
        }
        n
    }

    /// Resets the eventfd's counter (its edge brought us here).
    pub(crate) fn clear_event(&mut self) {
        let mut value = 0u64;
        // SAFETY: reads 8 bytes into a local `u64` from our own non-blocking eventfd.
        let _ = unsafe { libc::read(self.eventfd.as_raw_fd(), (&raw mut value).cast(), 8) };
    }

    /// Asks the kernel to cancel everything in flight (the runtime is going away): a read of
    /// a pipe or FIFO that no writer will feed would otherwise keep the shutdown waiting.
    /// Regular-file operations in progress finish; cancelled ones complete with
    /// `ECANCELED`. Best effort: a kernel without `IORING_ASYNC_CANCEL_ANY` (before 5.19)
    /// refuses it, and the shutdown then waits for the operations to finish.
    pub(crate) fn cancel_all(&mut self) {
        if self.in_flight == 0 {
            return;
        }
        let cancel = opcode::AsyncCancel2::new(types::CancelBuilder::any())
            .build()
            .user_data(CANCEL);
        // SAFETY: a cancellation request references no memory of ours.
        if unsafe { self.ring.submission().push(&cancel) }.is_err() {
            let _ = self.ring.submit();
            // SAFETY: as above.
            let _ = unsafe { self.ring.submission().push(&cancel) };
        }
        let _ = self.ring.submit();
    }

    /// Submits and, if anything is in flight, blocks until at least one completion arrives.
    /// Returns the operations in flight before waiting (0: nothing to wait for).
    pub(crate) fn wait_some(&mut self) -> usize {
        let n = self.in_flight;
        if n > 0 {
            match self.ring.submit_and_wait(1) {
                Ok(_) => {}
                Err(e) if e.raw_os_error() == Some(libc::EINTR) => {}
                // The ring cannot be entered any more: nothing else can complete the
                // operations, so their cells (and buffers) must not be freed. Leak them
                // (never a kernel write into freed memory).
                Err(_) => {
                    self.in_flight = 0;
                    return 0;
                }
            }
        }
        n
    }
}

impl Drop for Uring {
    fn drop(&mut self) {
        // Invariant 3: the driver's shutdown left nothing in flight; if it could not (a ring
        // that refused to be entered), the ring's memory is leaked, not unmapped under the
        // kernel.
        if self.in_flight == 0 {
            // SAFETY: dropped once, here, and never used again.
            unsafe { ManuallyDrop::drop(&mut self.ring) };
        }
    }
}
