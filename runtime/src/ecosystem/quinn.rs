//! quinn 0.11 (QUIC) on tickslab (feature `quinn`): [`Runtime`] implements
//! [`quinn::Runtime`], so an endpoint runs on the tickslab thread:
//!
//! ```no_run
//! # #[cfg(feature = "quinn")]
//! # fn demo(server_config: quinn::ServerConfig) -> std::io::Result<()> {
//! use std::sync::Arc;
//!
//! let rt = tickslab_runtime::Runtime::new().unwrap();
//! rt.block_on(async {
//!     let socket = std::net::UdpSocket::bind("127.0.0.1:0")?;
//!     let endpoint = quinn::Endpoint::new(
//!         quinn::EndpointConfig::default(),
//!         Some(server_config),
//!         socket,
//!         Arc::new(tickslab_runtime::quinn::Runtime::new()),
//!     )?;
//!     while let Some(incoming) = endpoint.accept().await {
//!         tickslab_runtime::spawn(async move {
//!             let _connection = incoming.await;
//!         });
//!     }
//!     Ok(())
//! })
//! # }
//! ```
//!
//! - **Where to call it.** Create the endpoint inside the runtime (in
//!   [`block_on`](crate::Runtime::block_on) or a task): its socket registers with the
//!   runtime of the thread that wraps it, and `Endpoint::new` fails with an `io::Error`
//!   outside one. quinn spawns its endpoint and connection drivers through [`Runtime`]: on the
//!   runtime thread they become local tasks; from another thread (an `Endpoint::connect`
//!   there) they go through the [`Handle`] given to
//!   [`Runtime::with_handle`], or panic saying so without one.
//! - **The socket** is tickslab's [`UdpSocket`](crate::net::UdpSocket) driven by quinn-udp's
//!   `UdpSocketState`: GSO (segmentation offload on send), GRO (on receive) and ECN where the
//!   kernel has them, many datagrams per system call, nothing allocated per datagram.
//! - **Timers** are tickslab sleeps on the runtime's wheel, on the runtime's clock
//!   ([`Runtime::now`](::quinn::Runtime::now) reads it, so a paused clock pauses QUIC too).
//!   quinn asks for one boxed timer per connection and re-arms it in place.
//! - **The thread rule.** quinn wants timers and sockets that are `Send + Sync`; ours are
//!   thread-affine: see the [thread rule](super#the-thread-rule-hyper-quinn). A socket used on
//!   another thread fails with an `io::Error`; a timer polled or dropped there, or a socket
//!   whose last reference is dropped there, panics and leaks. quinn only touches them from
//!   its drivers, which run on the tickslab thread.

use std::fmt;
use std::future::Future;
use std::io::{self, IoSliceMut};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use ::quinn::udp::{RecvMeta, Transmit};
use ::quinn::{AsyncTimer, AsyncUdpSocket, UdpPoller};
use quinn_udp::UdpSocketState;
use send_wrapper::SendWrapper;

use super::thread_bound::{local_io, local_mut};
use crate::Handle;
use crate::io::Direction;

/// quinn's runtime on tickslab: see the [module docs](self).
#[derive(Clone, Debug, Default)]
pub struct Runtime {
    /// Where drivers spawned from other threads go.
    handle: Option<Handle>,
}

impl Runtime {
    /// A runtime for endpoints used from the tickslab thread only (quinn's drivers are
    /// spawned as local tasks of the current runtime).
    pub fn new() -> Runtime {
        Runtime { handle: None }
    }

    /// A runtime that also accepts spawns from other threads (an `Endpoint::connect` called
    /// elsewhere), sending them to `handle`'s runtime.
    pub fn with_handle(handle: &Handle) -> Runtime {
        Runtime {
            handle: Some(handle.clone()),
        }
    }
}

impl ::quinn::Runtime for Runtime {
    fn new_timer(&self, deadline: Instant) -> Pin<Box<dyn AsyncTimer>> {
        Box::pin(Timer {
            sleep: SendWrapper::new(crate::time::sleep_until(crate::time::Instant::from_std(
                deadline,
            ))),
        })
    }

    #[track_caller]
    fn spawn(&self, future: Pin<Box<dyn Future<Output = ()> + Send>>) {
        // On the runtime thread: a local task; the future is already boxed, so it fits a
        // slab slot of any size when the runtime has one (no second allocation).
        let future = match crate::try_spawn_slab(future) {
            Ok(handle) => return drop(handle),
            Err(refused) if refused.kind() == crate::SpawnErrorKind::NoRuntime => {
                refused.into_future()
            }
            Err(refused) => return drop(crate::spawn(refused.into_future())),
        };
        match &self.handle {
            Some(handle) => {
                if let Err(refused) = handle.try_spawn(future) {
                    drop(refused); // the runtime is shutting down: nothing will drive it
                }
            }
            None => panic!(
                "tickslab::quinn::Runtime::spawn called outside a tickslab runtime: use the \
                 endpoint from tasks on the runtime thread, or build the quinn runtime with \
                 `tickslab::quinn::Runtime::with_handle(rt.handle())`"
            ),
        }
    }

    fn wrap_udp_socket(&self, socket: std::net::UdpSocket) -> io::Result<Arc<dyn AsyncUdpSocket>> {
        let state = UdpSocketState::new((&socket).into())?;
        let local_addr = socket.local_addr()?;
        // quinn reports this as an endpoint error; sockets themselves panic outside a
        // runtime, as tokio's do.
        if !crate::io::reactor::in_runtime() {
            return Err(io::Error::other(
                "tickslab::quinn::Runtime: endpoints must be made inside a tickslab runtime \
                 (in `block_on`, a task, or under `Runtime::enter`)",
            ));
        }
        let io = crate::net::UdpSocket::from_std(socket)?;
        Ok(Arc::new(UdpSocket {
            io: SendWrapper::new(io),
            state,
            local_addr,
        }))
    }

    fn now(&self) -> Instant {
        crate::time::now().into_std()
    }
}

/// A quinn timer: a tickslab sleep, thread-affine.
struct Timer {
    sleep: SendWrapper<crate::time::Sleep>,
}

impl AsyncTimer for Timer {
    #[track_caller]
    fn reset(self: Pin<&mut Self>, deadline: Instant) {
        local_mut(&mut self.get_mut().sleep, "a tickslab quinn timer")
            .reset(crate::time::Instant::from_std(deadline));
    }

    #[track_caller]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let sleep = local_mut(&mut self.get_mut().sleep, "a tickslab quinn timer");
        Pin::new(sleep).poll(cx)
    }
}

impl Drop for Timer {
    /// Off its thread: a panic saying so, and the timer leaks (see
    /// [`thread_bound`](super::thread_bound)).
    fn drop(&mut self) {
        super::thread_bound::check_drop(&self.sleep, "a tickslab quinn timer");
    }
}

impl fmt::Debug for Timer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("tickslab::quinn::Timer")
            .field("on_this_thread", &self.sleep.valid())
            .finish_non_exhaustive()
    }
}

/// A quinn socket: tickslab's UDP socket, thread-affine, driven by quinn-udp.
struct UdpSocket {
    io: SendWrapper<crate::net::UdpSocket>,
    state: UdpSocketState,
    /// Read when wrapped: quinn asks for it from any thread.
    local_addr: SocketAddr,
}

const SOCKET: &str = "a tickslab quinn socket";

impl AsyncUdpSocket for UdpSocket {
    fn create_io_poller(self: Arc<Self>) -> Pin<Box<dyn UdpPoller>> {
        Box::pin(Poller {
            socket: self,
            make: writable,
            waiting: None,
        })
    }

    fn try_send(&self, transmit: &Transmit<'_>) -> io::Result<()> {
        local_io(&self.io, SOCKET)?
            .try_io_raw(Direction::Write, |s| self.state.send(s.into(), transmit))
    }

    fn poll_recv(
        &self,
        cx: &mut Context<'_>,
        bufs: &mut [IoSliceMut<'_>],
        meta: &mut [RecvMeta],
    ) -> Poll<io::Result<usize>> {
        match local_io(&self.io, SOCKET) {
            Ok(io) => io.poll_io_raw(cx, Direction::Read, |s| {
                self.state.recv(s.into(), bufs, meta)
            }),
            Err(e) => Poll::Ready(Err(e)),
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.local_addr)
    }

    fn may_fragment(&self) -> bool {
        self.state.may_fragment()
    }

    fn max_transmit_segments(&self) -> usize {
        self.state.max_gso_segments()
    }

    fn max_receive_segments(&self) -> usize {
        self.state.gro_segments()
    }
}

impl Drop for UdpSocket {
    /// Off its thread (the last `Arc` of the endpoint dropped elsewhere): a panic saying
    /// so, and the socket leaks (its registration is never touched from there).
    fn drop(&mut self) {
        super::thread_bound::check_drop(&self.io, SOCKET);
    }
}

impl fmt::Debug for UdpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("tickslab::quinn::UdpSocket")
            .field("local_addr", &self.local_addr)
            .finish_non_exhaustive()
    }
}

pin_project_lite::pin_project! {
    /// Waits for the socket to be writable. Each connection has its own poller, so each
    /// keeps its own waiter on the socket's write list (the socket's `writable()` future),
    /// inline in the poller: no allocation per wait, and no connection's waker displaces
    /// another's.
    struct Poller<F> {
        socket: Arc<UdpSocket>,
        make: fn(Arc<UdpSocket>) -> F,
        #[pin]
        waiting: Option<SendWrapper<F>>,
    }
}

impl<F> fmt::Debug for Poller<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("tickslab::quinn::Poller")
            .field("waiting", &self.waiting.is_some())
            .finish_non_exhaustive()
    }
}

/// Waits until `socket` is writable (on its own thread; an error elsewhere).
async fn writable(socket: Arc<UdpSocket>) -> io::Result<()> {
    local_io(&socket.io, SOCKET)?.writable().await
}

impl<F> UdpPoller for Poller<F>
where
    F: Future<Output = io::Result<()>> + 'static,
{
    fn poll_writable(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut this = self.project();
        if let Some(waiting) = this.waiting.as_ref().as_pin_ref()
            && !waiting.valid()
        {
            // Leave the foreign wait alone (dropping it here would touch the socket).
            return Poll::Ready(local_io(&this.socket.io, SOCKET).map(drop));
        }
        if this.waiting.is_none() {
            let wait = (this.make)(this.socket.clone());
            this.waiting.set(Some(SendWrapper::new(wait)));
        }
        let Some(waiting) = this.waiting.as_mut().as_pin_mut() else {
            unreachable!("set just above");
        };
        let res = waiting.poll(cx);
        if res.is_ready() {
            this.waiting.set(None);
        }
        res
    }
}
