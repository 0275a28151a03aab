//! [`AsyncFd`]: any file descriptor (a pipe, a device, a socket tickslab has no type for)
//! registered with the runtime's reactor, as tokio's `io::unix::AsyncFd`.
//!
//! The descriptor's readiness lives in the reactor like a socket's (`reactor.rs`,
//! `scheduled_io.rs`); `AsyncFd` adds tokio's *guard* protocol on top: a readiness wait
//! returns an [`AsyncFdReadyGuard`] that remembers what was found ready and at which *tick*
//! (a counter of the descriptor's readiness events). The user tries the system call and, on
//! `WouldBlock`, clears the readiness through the guard; the clear takes effect only if no
//! event came since the tick, so an edge that arrived while the guard was held (across an
//! `.await`) is never lost.
//!
//! Invariants:
//! - the descriptor is registered (in epoll) from construction until [`AsyncFd::into_inner`]
//!   or the drop, which deregister it *before* giving the inner value back or dropping it
//!   (closing the descriptor);
//! - an `async` wait (`ready`, `readable`, `writable` and their `_mut` forms) takes a waiter
//!   key only while it waits and gives it back in its destructor: a wait abandoned by a
//!   `select!` or a `timeout` leaves no waker behind. The poll-style calls
//!   (`poll_read_ready`, `poll_write_ready`) share one slot per direction, replaced by each
//!   poll, as tokio's do;
//! - closed readiness (`READ_CLOSED`, `WRITE_CLOSED`) is final: clearing never removes it;
//! - once the runtime has shut down, every wait and `try_io` fails.
//!
//! No `unsafe` code: [`AsyncFd::register`] is an `unsafe fn` for tokio's signature and its
//! I/O-safety contract (the descriptor must stay open while registered), which tickslab's
//! memory safety does not rely on: an event for a descriptor closed and reused since is
//! matched by registration generation and ignored.

mod guard;

use std::future::Future;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::pin::Pin;
use std::task::{Context, Poll};

use super::reactor::{self, Registration, Wait};
use super::{Direction, Interest, Ready};

pub use guard::{AsyncFdReadyGuard, AsyncFdReadyMutGuard, AsyncFdRegisterError, TryIoError};

/// tokio's older name of [`AsyncFdRegisterError`].
pub type AsyncFdTryNewError<T> = AsyncFdRegisterError<T>;

/// A file descriptor registered with the current runtime's reactor, as tokio's
/// `io::unix::AsyncFd`: wait for readiness, try the operation, clear the readiness on
/// `WouldBlock`.
///
/// The inner value must be in non-blocking mode for its operations not to block the
/// runtime's thread. Dropping the `AsyncFd` deregisters the descriptor, then drops the
/// inner value.
///
/// ```
/// use std::io::{Read, Write};
/// use std::os::unix::net::UnixStream;
/// use tickslab_runtime::io::unix::AsyncFd;
///
/// # fn main() -> std::io::Result<()> {
/// let rt = tickslab_runtime::Runtime::new()?;
/// rt.block_on(async {
///     let (a, mut b) = UnixStream::pair()?;
///     a.set_nonblocking(true)?;
///     let a = AsyncFd::try_new(a)?;
///     b.write_all(b"hi")?;
///     let mut buf = [0; 2];
///     let n = a
///         .async_io(tickslab_runtime::io::Interest::READABLE, |mut s| s.read(&mut buf))
///         .await?;
///     assert_eq!(&buf[..n], b"hi");
///     Ok(())
/// })
/// # }
/// ```
pub struct AsyncFd<T: AsRawFd> {
    reg: Registration,
    fd: RawFd,
    inner: Option<T>,
}

/// The mio interest that `interest` registers for (mio's cannot be empty and has no
/// error interest: errors are always reported, so an error-only interest registers for
/// reading, which adds nothing to epoll's error events).
fn mio_interest(interest: Interest) -> mio::Interest {
    let mut m: Option<mio::Interest> = None;
    let mut add = |i: mio::Interest| m = Some(m.map_or(i, |m| m.add(i)));
    if interest.is_readable() || interest.is_error() {
        add(mio::Interest::READABLE);
    }
    if interest.is_writable() {
        add(mio::Interest::WRITABLE);
    }
    if interest.is_priority() {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        add(mio::Interest::PRIORITY);
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        add(mio::Interest::READABLE);
    }
    m.unwrap_or(mio::Interest::READABLE)
}

impl<T: AsRawFd> AsyncFd<T> {
    /// Registers `inner`'s descriptor for reading and writing with the current runtime.
    ///
    /// # Safety
    /// tokio's contract (I/O safety): the descriptor must stay open, and refer to the same
    /// open file, until this `AsyncFd` is dropped or [`into_inner`](Self::into_inner) is
    /// called. tickslab's own memory safety does not depend on it (see the module docs), but
    /// a descriptor closed while registered can make other registrations miss events.
    ///
    /// # Panics
    /// Outside a tickslab runtime, or in one built by tokio's builder without `enable_io`,
    /// with tokio's messages, at the caller.
    #[track_caller]
    pub unsafe fn register(inner: T) -> Result<Self, AsyncFdRegisterError<T>> {
        Self::register_inner(inner, Interest::READABLE | Interest::WRITABLE)
    }

    /// Registers `inner`'s descriptor for `interest` only.
    ///
    /// # Safety
    /// As [`register`](Self::register).
    ///
    /// # Panics
    /// Outside a tickslab runtime, at the caller.
    #[track_caller]
    pub unsafe fn register_with_interest(
        inner: T,
        interest: Interest,
    ) -> Result<Self, AsyncFdRegisterError<T>> {
        Self::register_inner(inner, interest)
    }

    /// [`register`](Self::register) without `unsafe`, returning an `io::Error` (tokio's
    /// older constructor, deprecated there since it cannot promise I/O safety).
    ///
    /// # Panics
    /// Outside a tickslab runtime, at the caller.
    #[track_caller]
    #[deprecated(note = "cannot promise I/O safety, as tokio's: use `AsyncFd::register`")]
    pub fn new(inner: T) -> io::Result<Self> {
        Ok(Self::register_inner(
            inner,
            Interest::READABLE | Interest::WRITABLE,
        )?)
    }

    /// [`register_with_interest`](Self::register_with_interest) without `unsafe` (tokio's
    /// older constructor).
    ///
    /// # Panics
    /// Outside a tickslab runtime, at the caller.
    #[track_caller]
    #[deprecated(
        note = "cannot promise I/O safety, as tokio's: use `AsyncFd::register_with_interest`"
    )]
    pub fn with_interest(inner: T, interest: Interest) -> io::Result<Self> {
        Ok(Self::register_inner(inner, interest)?)
    }

    /// [`register`](Self::register) without `unsafe` (tokio's older constructor): the
    /// error gives `inner` back.
    ///
    /// # Panics
    /// Outside a tickslab runtime, at the caller.
    #[track_caller]
    pub fn try_new(inner: T) -> Result<Self, AsyncFdTryNewError<T>> {
        Self::register_inner(inner, Interest::READABLE | Interest::WRITABLE)
    }

    /// [`register_with_interest`](Self::register_with_interest) without `unsafe`: the error
    /// gives `inner` back.
    ///
    /// # Panics
    /// Outside a tickslab runtime, at the caller.
    #[track_caller]
    pub fn try_with_interest(inner: T, interest: Interest) -> Result<Self, AsyncFdTryNewError<T>> {
        Self::register_inner(inner, interest)
    }

    #[track_caller]
    fn register_inner(inner: T, interest: Interest) -> Result<Self, AsyncFdRegisterError<T>> {
        let fd = inner.as_raw_fd();
        match Registration::with_interest(&mut mio::unix::SourceFd(&fd), mio_interest(interest)) {
            Ok(reg) => Ok(AsyncFd {
                reg,
                fd,
                inner: Some(inner),
            }),
            Err(cause) => Err(AsyncFdRegisterError::new(inner, cause)),
        }
    }

    /// The inner value.
    pub fn get_ref(&self) -> &T {
        self.inner
            .as_ref()
            .expect("present until into_inner or drop")
    }

    /// The inner value, mutably.
    pub fn get_mut(&mut self) -> &mut T {
        self.inner
            .as_mut()
            .expect("present until into_inner or drop")
    }

    /// Deregisters the descriptor and gives the inner value back (the descriptor stays
    /// open).
    pub fn into_inner(mut self) -> T {
        self.take_inner().expect("present until into_inner or drop")
    }

    fn take_inner(&mut self) -> Option<T> {
        let inner = self.inner.take()?;
        self.reg.deregister(&mut mio::unix::SourceFd(&self.fd));
        Some(inner)
    }

    /// Polls for read readiness (poll-style: only the last poll's waker is kept, per
    /// direction). Ready with a guard saying what is ready; an error once the runtime has
    /// shut down. Spends a unit of the task's budget (`tickslab::coop`) when ready.
    pub fn poll_read_ready<'a>(
        &'a self,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<AsyncFdReadyGuard<'a, T>>> {
        self.poll_dir(cx, Direction::Read)
            .map_ok(|event| AsyncFdReadyGuard::new(self, event))
    }

    /// [`poll_read_ready`](Self::poll_read_ready) with a guard that lends the `AsyncFd`
    /// mutably.
    pub fn poll_read_ready_mut<'a>(
        &'a mut self,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<AsyncFdReadyMutGuard<'a, T>>> {
        let event = std::task::ready!(self.poll_dir(cx, Direction::Read))?;
        Poll::Ready(Ok(AsyncFdReadyMutGuard::new(self, event)))
    }

    /// Polls for write readiness (poll-style, as [`poll_read_ready`](Self::poll_read_ready)).
    pub fn poll_write_ready<'a>(
        &'a self,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<AsyncFdReadyGuard<'a, T>>> {
        self.poll_dir(cx, Direction::Write)
            .map_ok(|event| AsyncFdReadyGuard::new(self, event))
    }

    /// [`poll_write_ready`](Self::poll_write_ready) with a guard that lends the `AsyncFd`
    /// mutably.
    pub fn poll_write_ready_mut<'a>(
        &'a mut self,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<AsyncFdReadyMutGuard<'a, T>>> {
        let event = std::task::ready!(self.poll_dir(cx, Direction::Write))?;
        Poll::Ready(Ok(AsyncFdReadyMutGuard::new(self, event)))
    }

    fn poll_dir(&self, cx: &mut Context<'_>, dir: Direction) -> Poll<io::Result<Event>> {
        let reg = &self.reg;
        crate::coop::poll_budgeted(cx, |cx| reg.poll_ready(cx, dir, None)).map_ok(|()| {
            let interest = match dir {
                Direction::Read => Interest::READABLE,
                Direction::Write => Interest::WRITABLE,
            };
            Event::observe(reg, interest)
        })
    }

    /// Waits until `interest` finds something ready; the guard says what. Dropping the
    /// future while it waits removes its wakers.
    pub async fn ready(&self, interest: Interest) -> io::Result<AsyncFdReadyGuard<'_, T>> {
        let event = WaitReady::new(&self.reg, interest).await?;
        Ok(AsyncFdReadyGuard::new(self, event))
    }

    /// [`ready`](Self::ready) with a guard that lends the `AsyncFd` mutably.
    pub async fn ready_mut(
        &mut self,
        interest: Interest,
    ) -> io::Result<AsyncFdReadyMutGuard<'_, T>> {
        let event = WaitReady::new(&self.reg, interest).await?;
        Ok(AsyncFdReadyMutGuard::new(self, event))
    }

    /// Waits for read readiness: `ready(Interest::READABLE)`.
    pub async fn readable(&self) -> io::Result<AsyncFdReadyGuard<'_, T>> {
        self.ready(Interest::READABLE).await
    }

    /// Waits for read readiness, lending the `AsyncFd` mutably to the guard.
    pub async fn readable_mut(&mut self) -> io::Result<AsyncFdReadyMutGuard<'_, T>> {
        self.ready_mut(Interest::READABLE).await
    }

    /// Waits for write readiness: `ready(Interest::WRITABLE)`.
    pub async fn writable(&self) -> io::Result<AsyncFdReadyGuard<'_, T>> {
        self.ready(Interest::WRITABLE).await
    }

    /// Waits for write readiness, lending the `AsyncFd` mutably to the guard.
    pub async fn writable_mut(&mut self) -> io::Result<AsyncFdReadyMutGuard<'_, T>> {
        self.ready_mut(Interest::WRITABLE).await
    }

    /// Waits for `interest`, runs `f`, and on `WouldBlock` clears the readiness and waits
    /// again; any other result is returned.
    pub async fn async_io<R>(
        &self,
        interest: Interest,
        mut f: impl FnMut(&T) -> io::Result<R>,
    ) -> io::Result<R> {
        loop {
            let mut guard = self.ready(interest).await?;
            if let Ok(out) = guard.try_io(|fd| f(fd.get_ref())) {
                return out;
            }
        }
    }

    /// [`async_io`](Self::async_io) with the inner value lent mutably.
    pub async fn async_io_mut<R>(
        &mut self,
        interest: Interest,
        mut f: impl FnMut(&mut T) -> io::Result<R>,
    ) -> io::Result<R> {
        loop {
            let mut guard = self.ready_mut(interest).await?;
            if let Ok(out) = guard.try_io(|fd| f(fd.get_mut())) {
                return out;
            }
        }
    }

    /// Runs `f` once if `interest` finds something ready (else `WouldBlock` without calling
    /// it); a `WouldBlock` from `f` clears that readiness.
    pub fn try_io<R>(
        &self,
        interest: Interest,
        f: impl FnOnce(&T) -> io::Result<R>,
    ) -> io::Result<R> {
        let event = self.try_event(interest)?;
        let out = f(self.get_ref());
        if matches!(&out, Err(e) if e.kind() == io::ErrorKind::WouldBlock) {
            event.clear(&self.reg);
        }
        out
    }

    /// [`try_io`](Self::try_io) with the inner value lent mutably.
    pub fn try_io_mut<R>(
        &mut self,
        interest: Interest,
        f: impl FnOnce(&mut T) -> io::Result<R>,
    ) -> io::Result<R> {
        let event = self.try_event(interest)?;
        let out = f(self.get_mut());
        if matches!(&out, Err(e) if e.kind() == io::ErrorKind::WouldBlock) {
            event.clear(&self.reg);
        }
        out
    }

    fn try_event(&self, interest: Interest) -> io::Result<Event> {
        if !self.reg.is_live() {
            return Err(reactor::shut_down_error());
        }
        let event = Event::observe(&self.reg, interest);
        if event.ready.is_empty() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        Ok(event)
    }
}

impl<T: AsRawFd> AsRawFd for AsyncFd<T> {
    fn as_raw_fd(&self) -> RawFd {
        self.fd
    }
}

/// Borrows the inner value's descriptor (tokio's `AsFd` asks only `AsRawFd` of the inner
/// type; tickslab asks `AsFd` too, which keeps this free of `unsafe`).
impl<T: AsRawFd + AsFd> AsFd for AsyncFd<T> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.get_ref().as_fd()
    }
}

impl<T: AsRawFd + std::fmt::Debug> std::fmt::Debug for AsyncFd<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncFd")
            .field("inner", &self.inner)
            .finish()
    }
}

impl<T: AsRawFd> Drop for AsyncFd<T> {
    fn drop(&mut self) {
        // Out of epoll first, then the inner value (which may close the descriptor); the
        // registration frees its slot after this, as a field.
        drop(self.take_inner());
    }
}

/// What a readiness wait found, and the tick it found it at.
#[derive(Clone, Copy)]
struct Event {
    ready: Ready,
    tick: u32,
}

impl Event {
    fn observe(reg: &Registration, interest: Interest) -> Event {
        let (bits, tick) = reg.readiness_tick();
        Event {
            ready: Ready::from_bits(bits) & interest.mask(),
            tick,
        }
    }

    /// Clears this event's readiness (not closed readiness), unless a newer one came.
    fn clear(self, reg: &Registration) {
        reg.clear_at(self.ready.clearable_bits(), self.tick);
    }
}

/// The future of a readiness wait: holds its waiter keys while it waits and gives them
/// back when dropped.
struct WaitReady<'a> {
    reg: &'a Registration,
    interest: Interest,
    read: Wait,
    write: Wait,
}

impl<'a> WaitReady<'a> {
    fn new(reg: &'a Registration, interest: Interest) -> Self {
        WaitReady {
            reg,
            interest,
            read: Wait::default(),
            write: Wait::default(),
        }
    }
}

impl Future for WaitReady<'_> {
    type Output = io::Result<Event>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<Event>> {
        let this = self.get_mut();
        let (reg, interest) = (this.reg, this.interest);
        let (read, write) = (&mut this.read, &mut this.write);
        // No budget spent, as tokio's `AsyncFd::ready` (the poll-style calls spend it).
        reg.poll_ready_interest(cx, interest, read, write)
            .map_ok(|_| Event::observe(reg, interest))
    }
}

impl Drop for WaitReady<'_> {
    fn drop(&mut self) {
        self.read.end(self.reg, Direction::Read);
        self.write.end(self.reg, Direction::Write);
    }
}
