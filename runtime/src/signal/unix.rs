//! Unix signals: [`signal`] makes a [`Signal`] listener for one [`SignalKind`].
//!
//! Invariant: a `Signal` owns its signal-hook registration (`SigId`) and the read end of its
//! self-pipe; dropping it unregisters the handler first (which closes the write end), then
//! deregisters and closes the read end.

use std::fmt;
use std::io::{self, Read};
use std::os::raw::c_int;
use std::task::{Context, Poll};

use signal_hook::SigId;
use signal_hook::low_level::{pipe, unregister};

use crate::io::Direction;
use crate::net::evented::Evented;

/// A kind of Unix signal, as tokio's `SignalKind`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SignalKind(c_int);

impl SignalKind {
    /// The signal of number `signum`.
    pub const fn from_raw(signum: c_int) -> SignalKind {
        SignalKind(signum)
    }

    /// The signal's number.
    pub const fn as_raw_value(&self) -> c_int {
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

impl From<c_int> for SignalKind {
    fn from(signum: c_int) -> SignalKind {
        SignalKind(signum)
    }
}

impl From<SignalKind> for c_int {
    fn from(kind: SignalKind) -> c_int {
        kind.0
    }
}

/// Listens for one kind of signal, from [`signal`]. Stays on the runtime's thread.
pub struct Signal {
    id: SigId,
    kind: SignalKind,
    read: Evented<mio::net::UnixStream>,
}

/// Starts listening for `kind` on the current runtime, as tokio's `signal::unix::signal`.
///
/// ```no_run
/// use tickslab_runtime::signal::unix::{SignalKind, signal};
///
/// # tickslab_runtime::Runtime::new().block_on(async {
/// let mut hangups = signal(SignalKind::hangup())?;
/// while hangups.recv().await.is_some() {
///     // reload the configuration
/// }
/// # Ok::<(), std::io::Error>(())
/// # }).unwrap();
/// ```
///
/// # Errors
/// Outside a runtime; for a signal that cannot be handled (`SIGKILL`, `SIGSTOP`, `SIGSEGV`,
/// `SIGILL`, `SIGFPE`); or if the self-pipe cannot be made.
pub fn signal(kind: SignalKind) -> io::Result<Signal> {
    if signal_hook::consts::FORBIDDEN.contains(&kind.0) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("signal {} cannot be handled by a process", kind.0),
        ));
    }
    let (read, write) = mio::net::UnixStream::pair()?;
    // Registered with the reactor before the handler: outside a runtime nothing is
    // installed.
    let read = Evented::new(read)?;
    let write = std::os::unix::net::UnixStream::from(std::os::fd::OwnedFd::from(write));
    let id = pipe::register(kind.0, write)?;
    Ok(Signal { id, kind, read })
}

impl Signal {
    /// Waits for the next arrival of the signal; arrivals since the last call count as one.
    /// Never `None` while the listener lives (tokio's signature).
    pub async fn recv(&mut self) -> Option<()> {
        let read = &self.read;
        read.io(Direction::Read, |mut s| drain(&mut s)).await.ok()
    }

    /// Polls for the next arrival, as [`recv`](Self::recv).
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<()>> {
        self.read
            .poll_io(cx, Direction::Read, |mut s| drain(&mut s))
            .map(|r| r.ok())
    }

    /// The signal this listens for.
    pub fn kind(&self) -> SignalKind {
        self.kind
    }
}

/// Reads every byte the handler wrote: `Ok` if there was at least one, `WouldBlock` if none.
fn drain(mut s: impl Read) -> io::Result<()> {
    let mut buf = [0u8; 32];
    let mut got = false;
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(_) => got = true,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    if got {
        Ok(())
    } else {
        Err(io::ErrorKind::WouldBlock.into())
    }
}

impl Drop for Signal {
    fn drop(&mut self) {
        // The handler goes first (closing the write end); the read end after, as a field.
        unregister(self.id);
    }
}

impl fmt::Debug for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signal").field("kind", &self.kind).finish()
    }
}
