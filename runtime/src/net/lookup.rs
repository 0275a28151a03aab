//! [`lookup_host`], and the one place where net code runs blocking work off the runtime's
//! thread ([`off_thread`]).
//!
//! The system resolver (`getaddrinfo`) blocks for as long as DNS takes: on a game's I/O
//! thread that is a frame hitch or worse. So a lookup runs on a helper thread of its own
//! (named `tickslab-lookup`), and the task waits for its answer like for any other event.
//! Numeric addresses never get here (see `addr.rs`).
//!
//! When the runtime has a blocking pool (`spawn_blocking`), [`off_thread`] is the single
//! function to switch to it: its signature is already that of a blocking job (a `Send`
//! closure in, a future of its result out).
//!
//! Invariant: the helper thread and the waiting future share one `Arc<Mutex<..>>`: the
//! result is stored, then the waker taken and woken outside the lock; the future stores its
//! waker and checks for the result under the same lock, so no answer is missed. A thread
//! that panics stores the panic as an error instead of leaving the future waiting.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};

use super::ToSocketAddrs;

/// Resolves `host` to socket addresses, as tokio's `net::lookup_host`: a `"host:port"`
/// string, a `(host, port)` pair, or anything else [`ToSocketAddrs`] takes. A numeric
/// address resolves at once; a host name is looked up on a helper thread, so the runtime
/// keeps running while DNS answers.
///
/// ```
/// # tickslab_runtime::Runtime::new().unwrap().block_on(async {
/// use tickslab_runtime::net::lookup_host;
/// let mut addrs = lookup_host("127.0.0.1:8080").await?;
/// assert_eq!(addrs.next(), Some("127.0.0.1:8080".parse().unwrap()));
/// let localhost = lookup_host(("localhost", 80)).await?;
/// assert!(localhost.into_iter().all(|a| a.ip().is_loopback()));
/// # Ok::<(), std::io::Error>(())
/// # }).unwrap();
/// ```
pub async fn lookup_host(host: impl ToSocketAddrs) -> io::Result<impl Iterator<Item = SocketAddr>> {
    super::addr::resolve(host).await
}

/// Runs `f` on a helper thread and waits for its result without blocking the runtime.
pub(crate) fn off_thread<R, F>(f: F) -> OffThread<R>
where
    R: Send + 'static,
    F: FnOnce() -> R + Send + 'static,
{
    let shared = Arc::new(Mutex::new(Shared {
        result: None,
        waker: None,
    }));
    let theirs = shared.clone();
    let spawned = std::thread::Builder::new()
        .name("tickslab-lookup".into())
        .spawn(move || {
            let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
                .map_err(|_| io::Error::other("tickslab: the lookup thread panicked"));
            let waker = {
                let mut s = theirs.lock().unwrap_or_else(PoisonError::into_inner);
                s.result = Some(out);
                s.waker.take()
            };
            if let Some(w) = waker {
                w.wake();
            }
        });
    if let Err(e) = spawned {
        shared.lock().unwrap_or_else(PoisonError::into_inner).result = Some(Err(e));
    }
    OffThread { shared }
}

struct Shared<R> {
    result: Option<io::Result<R>>,
    waker: Option<Waker>,
}

/// The future of [`off_thread`]: its closure's result, or an error if the thread could not
/// start or panicked. Dropping it leaves the thread to finish on its own.
pub(crate) struct OffThread<R> {
    shared: Arc<Mutex<Shared<R>>>,
}

impl<R> Future for OffThread<R> {
    type Output = io::Result<R>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<R>> {
        let mut s = self.shared.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(out) = s.result.take() {
            return Poll::Ready(out);
        }
        match &mut s.waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            slot => *slot = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}
