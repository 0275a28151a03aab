//! hyper 1.x on tickslab (feature `hyper`): [`TcpStream`] implements `hyper::rt::Read` and
//! `hyper::rt::Write` itself, and [`Executor`] and [`Timer`] serve hyper's client and server
//! builders.
//!
//! ```no_run
//! # #[cfg(feature = "hyper")]
//! # mod demo {
//! use tickslab_runtime::hyper::Timer;
//! use tickslab_runtime::net::TcpListener;
//!
//! pub async fn serve(listener: TcpListener) -> std::io::Result<()> {
//!     loop {
//!         let (stream, _) = listener.accept().await?;
//!         tickslab_runtime::spawn(async move {
//!             let service = hyper::service::service_fn(|_req| async {
//!                 Ok::<_, std::convert::Infallible>(hyper::Response::new(String::from("hi")))
//!             });
//!             let _ = hyper::server::conn::http1::Builder::new()
//!                 .timer(Timer)
//!                 .serve_connection(stream, service)
//!                 .await;
//!         });
//!     }
//! }
//! # }
//! ```
//!
//! - **Reads are zero-copy**: `recv(2)` writes straight into hyper's `ReadBufCursor` (no
//!   zeroing, no bounce buffer, no copy); exactly the bytes the kernel wrote are marked
//!   filled. Writes go out with `write`/`writev`; flushing is a no-op; shutdown sends FIN.
//! - **[`Executor`]** spawns hyper's background futures (HTTP/2 streams, a client
//!   connection) onto the current runtime: into a slab slot when the runtime has one and the
//!   future fits, else boxed. Spawning off the runtime thread panics, as
//!   [`spawn`](crate::spawn) does.
//! - **[`Timer`]** gives hyper tickslab sleeps on the runtime's timer wheel: no task and no
//!   channel per timer; hyper's `reset` re-arms the same sleep in place. hyper's trait boxes
//!   each sleep it asks for (`Pin<Box<dyn Sleep>>`): that allocation is hyper's API.
//!   The sleeps are `Send + Sync`, as hyper requires, and thread-affine: see the
//!   [thread rule](super#the-thread-rule-hyper-quinn). Polling, resetting or dropping one on
//!   another thread panics, saying so.

use std::future::Future;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use ::hyper::rt::{self, ReadBufCursor};
use send_wrapper::SendWrapper;

use super::thread_bound::local_mut;
use crate::net::TcpStream;

/// `hyper::rt::Read` (feature `hyper`): zero-copy, straight into hyper's cursor.
#[cfg_attr(docsrs, doc(cfg(feature = "hyper")))]
impl rt::Read for TcpStream {
    #[inline]
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        // SAFETY: `as_mut` asks that no initialized byte be de-initialized through the
        // slice: `poll_read_uninit` only lets `recv(2)` write bytes into it
        // (`net/sys.rs`).
        let unfilled = unsafe { buf.as_mut() };
        let n = ready!(self.poll_read_uninit(cx, unfilled))?;
        // SAFETY: `recv(2)` wrote exactly the first `n` bytes of the cursor's unfilled part
        // (the invariant of `net/sys.rs`), so they are initialized.
        unsafe { buf.advance(n) };
        Poll::Ready(Ok(()))
    }
}

/// `hyper::rt::Write` (feature `hyper`): `write`/`writev`; flushing is a no-op; shutdown
/// sends FIN.
#[cfg_attr(docsrs, doc(cfg(feature = "hyper")))]
impl rt::Write for TcpStream {
    #[inline]
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_priv(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_vectored_priv(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(self.shutdown_write())
    }
}

/// hyper's executor on tickslab: spawns onto the current runtime, in a slab slot when the
/// runtime has one and the future fits (no allocation), else in its own heap block. The
/// task is detached: hyper watches its futures itself.
///
/// # Panics
/// When hyper spawns outside a tickslab runtime (as [`spawn`](crate::spawn)).
#[derive(Clone, Copy, Debug, Default)]
pub struct Executor;

impl<F> rt::Executor<F> for Executor
where
    F: Future + 'static,
    F::Output: 'static,
{
    #[track_caller]
    fn execute(&self, fut: F) {
        match crate::try_spawn_slab(fut) {
            Ok(handle) => drop(handle),
            Err(refused) => drop(crate::spawn(refused.into_future())),
        }
    }
}

/// hyper's timer on tickslab: sleeps on the runtime's timer wheel (no task, no channel per
/// timer), on the runtime's clock (so [`time::pause`](crate::time::pause) applies).
///
/// Each sleep belongs to the thread that asked for it: see the
/// [thread rule](super#the-thread-rule-hyper-quinn).
#[derive(Clone, Copy, Debug, Default)]
pub struct Timer;

impl rt::Timer for Timer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn rt::Sleep>> {
        Box::pin(Sleep::new(crate::time::sleep(duration)))
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn rt::Sleep>> {
        Box::pin(Sleep::new(crate::time::sleep_until(
            crate::time::Instant::from_std(deadline),
        )))
    }

    fn now(&self) -> Instant {
        crate::time::now().into_std()
    }

    /// Moves the deadline of one of our sleeps in place (no new box); any other sleep is
    /// replaced.
    fn reset(&self, sleep: &mut Pin<Box<dyn rt::Sleep>>, new_deadline: Instant) {
        match sleep.as_mut().downcast_mut_pin::<Sleep>() {
            Some(ours) => ours.get_mut().reset(new_deadline),
            None => *sleep = self.sleep_until(new_deadline),
        }
    }
}

/// A sleep handed to hyper by [`Timer`]: a [`time::Sleep`](crate::time::Sleep) made
/// `Send + Sync` by a thread check on every use (see the
/// [thread rule](super#the-thread-rule-hyper-quinn)).
#[must_use = "futures do nothing unless awaited"]
pub struct Sleep {
    inner: SendWrapper<crate::time::Sleep>,
}

impl Sleep {
    /// Wraps a sleep of this thread's runtime.
    pub fn new(sleep: crate::time::Sleep) -> Sleep {
        Sleep {
            inner: SendWrapper::new(sleep),
        }
    }

    /// Moves the deadline (re-armed on the next poll).
    ///
    /// # Panics
    /// On a thread other than the one that created the sleep.
    #[track_caller]
    pub fn reset(&mut self, deadline: Instant) {
        local_mut(&mut self.inner, "tickslab::hyper::Sleep")
            .reset(crate::time::Instant::from_std(deadline));
    }
}

impl Future for Sleep {
    type Output = ();

    #[track_caller]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let inner = local_mut(&mut self.get_mut().inner, "tickslab::hyper::Sleep");
        Pin::new(inner).poll(cx)
    }
}

impl rt::Sleep for Sleep {}

impl Drop for Sleep {
    /// On its own thread, cancels the timer. Elsewhere it panics, saying so, and leaks the
    /// timer (it stays armed until it fires, harmlessly) rather than touch the runtime's
    /// state from the wrong thread.
    fn drop(&mut self) {
        super::thread_bound::check_drop(&self.inner, "tickslab::hyper::Sleep");
    }
}

impl std::fmt::Debug for Sleep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("tickslab::hyper::Sleep")
            .field("on_this_thread", &self.inner.valid())
            .finish_non_exhaustive()
    }
}
