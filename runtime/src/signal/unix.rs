//! Unix signals by kind, as tokio's `signal::unix`: [`signal`] returns a [`Signal`]
//! listener whose [`recv`](Signal::recv) completes once per delivery (deliveries that come
//! before the listener looks again count as one).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::{driver, registry};

/// A kind of Unix signal, as tokio's `SignalKind`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SignalKind(libc::c_int);

impl SignalKind {
    /// Any signal by number (listening fails for `SIGKILL`, `SIGSTOP`, `SIGILL`, `SIGFPE`,
    /// `SIGSEGV` and numbers out of range).
    pub const fn from_raw(signum: libc::c_int) -> SignalKind {
        SignalKind(signum)
    }

    /// The signal's number.
    pub const fn as_raw_value(&self) -> libc::c_int {
        self.0
    }

    /// `SIGALRM`.
    pub const fn alarm() -> SignalKind {
        SignalKind(libc::SIGALRM)
    }

    /// `SIGCHLD`.
    pub const fn child() -> SignalKind {
        SignalKind(libc::SIGCHLD)
    }

    /// `SIGHUP`.
    pub const fn hangup() -> SignalKind {
        SignalKind(libc::SIGHUP)
    }

    /// `SIGINT` (Ctrl-C).
    pub const fn interrupt() -> SignalKind {
        SignalKind(libc::SIGINT)
    }

    /// `SIGIO`.
    pub const fn io() -> SignalKind {
        SignalKind(libc::SIGIO)
    }

    /// `SIGPIPE`.
    pub const fn pipe() -> SignalKind {
        SignalKind(libc::SIGPIPE)
    }

    /// `SIGQUIT`.
    pub const fn quit() -> SignalKind {
        SignalKind(libc::SIGQUIT)
    }

    /// `SIGTERM`.
    pub const fn terminate() -> SignalKind {
        SignalKind(libc::SIGTERM)
    }

    /// `SIGUSR1`.
    pub const fn user_defined1() -> SignalKind {
        SignalKind(libc::SIGUSR1)
    }

    /// `SIGUSR2`.
    pub const fn user_defined2() -> SignalKind {
        SignalKind(libc::SIGUSR2)
    }

    /// `SIGWINCH`.
    pub const fn window_change() -> SignalKind {
        SignalKind(libc::SIGWINCH)
    }
}

impl From<libc::c_int> for SignalKind {
    fn from(signum: libc::c_int) -> SignalKind {
        SignalKind(signum)
    }
}

impl From<SignalKind> for libc::c_int {
    fn from(kind: SignalKind) -> libc::c_int {
        kind.0
    }
}

/// A listener for one kind of signal, made by [`signal`]. Several listeners of one signal
/// (in one runtime or several) are all woken by each delivery.
pub struct Signal {
    kind: SignalKind,
    slot: &'static registry::Slot,
    place: usize,
    seen: u64,
}

/// Listens for `kind`, as tokio's `signal::unix::signal`: installs the process-wide handler
/// the first time (for good: the signal's default action, such as ending the process, no
/// longer happens) and makes the current runtime watch the signal pipe. Deliveries before
/// this call are not seen. Fails for signals that cannot be caught (`SIGKILL`, `SIGSTOP`,
/// `SIGILL`, `SIGFPE`, `SIGSEGV`, numbers out of range).
///
/// # Panics
/// Outside a running tickslab runtime, as tokio's panics outside one of its own (a listener
/// there could never be woken).
///
/// ```
/// use tickslab_runtime::signal::unix::{SignalKind, signal};
/// # tickslab_runtime::Runtime::new().unwrap().block_on(async {
/// let mut hangups = signal(SignalKind::hangup())?;
/// # if false {
/// while let Some(()) = hangups.recv().await {
///     println!("reloading the configuration");
/// }
/// # }
/// # Ok::<(), std::io::Error>(())
/// # }).unwrap();
/// ```
#[track_caller]
pub fn signal(kind: SignalKind) -> io::Result<Signal> {
    assert!(
        crate::io::reactor::in_runtime(),
        "tickslab: signal() must be called inside a running tickslab runtime \
         (Runtime::block_on or one of its tasks)"
    );
    crate::io::reactor::assert_io_enabled();
    driver::arm()?;
    let slot = registry::globals()?.slot(kind.0)?;
    let place = slot.take_place();
    Ok(Signal {
        kind,
        slot,
        place,
        seen: slot.generation(),
    })
}

impl Signal {
    /// Waits for the next delivery. `None` if the signal can no longer be watched from
    /// here (polled outside a runtime, or after its runtime shut down). Dropping the
    /// future while it waits removes its waker.
    pub fn recv(&mut self) -> Recv<'_> {
        Recv { signal: self }
    }

    /// The signal this listens for.
    pub fn kind(&self) -> SignalKind {
        self.kind
    }

    /// Polls for the next delivery; `Pending` stores the waker (replaced by the next poll).
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<()>> {
        if driver::arm().is_err() {
            return Poll::Ready(None);
        }
        match self.slot.check_or_wait(self.seen, self.place, cx.waker()) {
            Some(now) => {
                self.seen = now;
                Poll::Ready(Some(()))
            }
            None => Poll::Pending,
        }
    }
}

impl Signal {
    /// Drops the waker that `poll_recv` stored (a waiting future that stops waiting).
    pub(crate) fn clear_waker(&self) {
        self.slot.clear(self.place);
    }
}

impl std::fmt::Debug for Signal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signal")
            .field("kind", &self.kind)
            .field("seen", &self.seen)
            .finish()
    }
}

impl Drop for Signal {
    fn drop(&mut self) {
        self.slot.give_back(self.place);
    }
}

/// The future of [`Signal::recv`].
#[derive(Debug)]
#[must_use = "futures do nothing unless polled"]
pub struct Recv<'a> {
    signal: &'a mut Signal,
}

impl Future for Recv<'_> {
    type Output = Option<()>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<()>> {
        self.signal.poll_recv(cx)
    }
}

impl Drop for Recv<'_> {
    fn drop(&mut self) {
        self.signal.slot.clear(self.place());
    }
}

impl Recv<'_> {
    fn place(&self) -> usize {
        self.signal.place
    }
}
