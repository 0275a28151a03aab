//! `Handle`: reach a runtime from other threads: spawn `Send` futures onto it, join them
//! from anywhere, and ask it to shut down; on the runtime's own thread, `block_on` drives it
//! (through `home.rs`, since this file sits below `runtime.rs`).

use std::fmt;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Wake, Waker};

use crate::blocking::{BlockingJoinHandle, BlockingPool};
use crate::core::task::JoinError;
use crate::core::{Core, RemoteJob};
use crate::home::Found;

/// A `Send + Sync + Clone` handle to a [`Runtime`](crate::Runtime), from
/// [`Runtime::handle`](crate::Runtime::handle).
///
/// ```
/// let rt = tickslab_runtime::Runtime::new().unwrap();
/// let handle = rt.handle().clone();
/// let game = std::thread::spawn(move || {
///     let job = handle.spawn(async { 6 * 7 });
///     let answer = job.join().unwrap();             // blocks this thread
///     handle.shutdown();                            // and stop the I/O thread
///     answer
/// });
/// let finished = rt.block_on_until_shutdown(std::future::pending::<()>());
/// assert!(finished.is_none(), "stopped by the shutdown request");
/// assert_eq!(game.join().unwrap(), 42);
/// ```
#[derive(Clone)]
pub struct Handle {
    core: Arc<Core>,
    /// The runtime's blocking pool (`None` for a handle taken while no pool was current:
    /// then `spawn_blocking` reports its job cancelled, as after shutdown).
    blocking: Option<Arc<BlockingPool>>,
}

impl Handle {
    pub(crate) fn new(core: Arc<Core>, blocking: Option<Arc<BlockingPool>>) -> Handle {
        Handle { core, blocking }
    }

    /// Spawns a `Send` future onto the runtime from any thread, as tokio's `Handle::spawn`.
    /// It runs the next time the runtime is driven (a sleeping runtime is woken).
    ///
    /// After [`shutdown`](Self::shutdown) was requested, or once the runtime is gone, the
    /// future is dropped here and the handle reports the task cancelled (tokio's behaviour);
    /// [`try_spawn`](Self::try_spawn) hands the future back instead.
    ///
    /// Most tickslab futures (timers, sockets, local channels) are not `Send`, since they
    /// belong to the runtime's thread: to run such work, use [`spawn_with`](Self::spawn_with).
    pub fn spawn<F>(&self, future: F) -> RemoteJoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        match self.try_spawn(future) {
            Ok(handle) => handle,
            Err(refused) => {
                drop(refused);
                RemoteJoinHandle::cancelled()
            }
        }
    }

    /// Spawns a `Send` future onto the runtime from any thread, or hands it back inside the
    /// error after [`shutdown`](Self::shutdown) was requested or once the runtime is gone.
    /// (If the runtime shuts down between this call and the task's first poll, the future is
    /// dropped and the join handle reports it cancelled: never lost silently.)
    pub fn try_spawn<F>(
        &self,
        future: F,
    ) -> Result<RemoteJoinHandle<F::Output>, RemoteSpawnError<F>>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        match self.spawn_with(move || future) {
            Ok(handle) => Ok(handle),
            Err(e) => Err(RemoteSpawnError {
                future: (e.future)(),
            }),
        }
    }

    /// Sends `make` to the runtime's thread, which calls it and spawns the future it
    /// returns: the future itself need not be `Send` (it may use timers, sockets, local
    /// channels). Only `make` and the output cross threads. Costs two small allocations.
    ///
    /// If `make` panics, the panic is caught on the runtime's thread (which goes on) and the
    /// [`RemoteJoinHandle`] reports it ([`JoinError::is_panic`]).
    ///
    /// Refused (with `make` handed back) after a shutdown request or once the runtime is
    /// gone, as [`try_spawn`](Self::try_spawn).
    pub fn spawn_with<C, F>(
        &self,
        make: C,
    ) -> Result<RemoteJoinHandle<F::Output>, RemoteSpawnError<C>>
    where
        C: FnOnce() -> F + Send + 'static,
        F: Future + 'static,
        F::Output: Send + 'static,
    {
        if self.core.is_shut_down() || self.core.is_shutdown_requested() {
            return Err(RemoteSpawnError { future: make });
        }
        let slot = Arc::new(ResultSlot::new());
        let job = RemoteTask {
            make,
            completer: Completer(Some(slot.clone())),
        };
        self.core.inject(Box::new(job));
        Ok(RemoteJoinHandle { slot })
    }

    /// Asks the runtime to stop: [`Runtime::block_on_until_shutdown`] returns `None`, and
    /// later [`spawn`](Self::spawn)s are refused. The tasks themselves are cancelled when
    /// the `Runtime` is dropped.
    ///
    /// [`Runtime::block_on_until_shutdown`]: crate::Runtime::block_on_until_shutdown
    pub fn shutdown(&self) {
        self.core.request_shutdown();
    }

    /// Whether a shutdown was requested or the runtime is gone.
    pub fn is_shutdown(&self) -> bool {
        self.core.is_shutdown_requested() || self.core.is_shut_down()
    }

    /// The handle of the runtime current on this thread, as tokio's `Handle::current`.
    ///
    /// # Panics
    /// Outside a runtime (not inside `block_on`, a task, or a `Runtime::enter` guard);
    /// [`try_current`](Self::try_current) says so with an error instead. (A runtime that
    /// shut down while its guard lived still gives its handle, as in tokio.)
    #[track_caller]
    pub fn current() -> Handle {
        match Handle::try_current() {
            Ok(h) => h,
            Err(e) => panic!("{e}"),
        }
    }

    /// The handle of the runtime current on this thread, or why there is none.
    ///
    /// As tokio's, a runtime entered with a guard that outlived it (the runtime was shut
    /// down or dropped while a [`Runtime::enter`](crate::Runtime::enter) guard lived) still
    /// gives its handle: [`is_shutdown`](Self::is_shutdown) says so, and what the handle is
    /// asked to do fails as after a shutdown.
    pub fn try_current() -> Result<Handle, TryCurrentError> {
        crate::context::entered_core()
            .map(|core| Handle::new(core, crate::blocking::current_pool()))
            .ok_or(TryCurrentError {
                why: crate::context::NoCore::NoRuntime,
            })
    }

    /// Runs `future` to completion on the calling thread, as tokio's `Handle::block_on`.
    ///
    /// - On the runtime's own thread, while the runtime is alive, it drives the runtime
    ///   exactly as [`Runtime::block_on`](crate::Runtime::block_on) does: its tasks, sockets,
    ///   timers and files make progress while `future` waits. (tokio's current-thread
    ///   runtime runs the future there without driving its I/O and timers.)
    /// - On another thread it does not drive the runtime: `future` may wait on anything that
    ///   crosses threads (a [`RemoteJoinHandle`], a cross-thread channel), while the
    ///   runtime's own thread runs its tasks.
    /// - Once the runtime has shut down (dropped, `shutdown_timeout`, `shutdown_background`),
    ///   `future` runs on the calling thread as on another thread, and what it asks of the
    ///   runtime fails as tokio's does: sockets and files return an error that
    ///   [`is_rt_shutdown_err`](crate::io::is_rt_shutdown_err) recognises, `spawn_blocking`
    ///   reports its job cancelled, timers panic with tokio's "being shutdown".
    ///
    /// If the future drops the [`Runtime`](crate::Runtime) that this call drives, the runtime
    /// runs on until `future` completes and shuts down before this call returns.
    ///
    /// ```
    /// use tickslab_runtime::{Handle, Runtime, time::sleep};
    /// use std::time::Duration;
    ///
    /// let rt = Runtime::new()?;
    /// let _guard = rt.enter();
    /// // Code that only knows the current handle (a library's sync API, say):
    /// let out = Handle::current().block_on(async {
    ///     sleep(Duration::from_millis(1)).await; // the runtime's timers are driven
    ///     tickslab_runtime::spawn(async { 6 * 7 }).await.unwrap()
    /// });
    /// assert_eq!(out, 42);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Panics
    /// Inside a runtime this thread is driving (in `block_on`, `tick`, `frame` or a task),
    /// with tokio's message "Cannot start a runtime from within a runtime": the outer
    /// runtime would stall, and a future waiting on it would never finish; `.await` the
    /// future there instead. Also from a destructor that the runtime's own shutdown runs
    /// (nothing can drive a runtime that is being torn down).
    #[track_caller]
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        if crate::context::is_driving() {
            crate::context::nested("Handle::block_on");
        }
        match crate::home::find(self.core.id()) {
            Found::Alive(home) => {
                let mut output = None;
                {
                    let mut future = std::pin::pin!(future);
                    let root = std::future::poll_fn(|cx| {
                        let out = std::task::ready!(future.as_mut().poll(cx));
                        output = Some(out);
                        Poll::Ready(())
                    });
                    home.block_on_root(std::pin::pin!(root));
                }
                // The last reference, if the future dropped the `Runtime`: it shuts down now.
                drop(home);
                return output.expect("the root future completed");
            }
            Found::Dropping => panic!(
                "tickslab: `Handle::block_on` called while its runtime is shutting down on this \
                 thread (from a destructor or a job the shutdown drops): nothing can drive the \
                 runtime any more, and a future waiting on it would never finish"
            ),
            Found::Elsewhere => {}
        }
        struct Unpark(std::thread::Thread);
        impl Wake for Unpark {
            fn wake(self: Arc<Self>) {
                self.0.unpark();
            }
        }
        let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
        let mut cx = Context::from_waker(&waker);
        let mut future = std::pin::pin!(future);
        loop {
            if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
                return out;
            }
            std::thread::park();
        }
    }

    /// Makes this runtime current on this thread until the guard drops, as tokio's
    /// `Handle::enter`: `spawn`, sockets, timers and files then use it. A tickslab runtime
    /// belongs to one thread, and its handle can enter it only there: where it is already
    /// current (inside `block_on`, a task, or a [`Runtime::enter`](crate::Runtime::enter)
    /// guard; the guard then keeps it current even if inner guards come and go), or, on the
    /// thread that built it, as `Runtime::enter` would. Other threads reach it with
    /// [`spawn`](Self::spawn). If the runtime is dropped while the guard lives, what is then
    /// asked of it fails as after a shutdown.
    ///
    /// # Panics
    /// On another thread than the runtime's; while the runtime's own shutdown runs.
    #[track_caller]
    pub fn enter(&self) -> HandleEnterGuard {
        if let Some(inner) = crate::context::reenter(&self.core) {
            return HandleEnterGuard { _inner: inner };
        }
        match crate::home::find(self.core.id()) {
            Found::Alive(home) => HandleEnterGuard {
                _inner: home.enter_context(),
            },
            Found::Dropping | Found::Elsewhere => panic!(
                "Local tasks can only be spawned on a LocalRuntime from the thread the runtime \
                 was created on (tickslab: `Handle::enter` on another thread than its \
                 runtime's, or while the runtime shuts down: a tickslab runtime lives on the \
                 thread that built it; other threads reach it with `Handle::spawn`)"
            ),
        }
    }

    /// The runtime's name, if the builder gave it one (`Builder::name`, or the `name`
    /// argument of `#[tickslab::main]`).
    pub fn name(&self) -> Option<&str> {
        self.core.name()
    }

    /// The kind of runtime: always current-thread.
    pub fn runtime_flavor(&self) -> RuntimeFlavor {
        RuntimeFlavor::CurrentThread
    }

    /// The runtime's id, as tokio's `Handle::id`: the same for every handle of one runtime,
    /// different for any two runtimes of the process.
    pub fn id(&self) -> RuntimeId {
        RuntimeId(std::num::NonZeroU64::new(self.core.id()).expect("runtime ids start at 1"))
    }

    /// Runs `f` on this runtime's blocking pool, from any thread, as tokio's
    /// `Handle::spawn_blocking` (see [`task::spawn_blocking`](crate::task::spawn_blocking)).
    /// Once the runtime is shutting down, the job never runs: `f` is dropped here and the
    /// handle reports [`JoinError::is_cancelled`].
    pub fn spawn_blocking<F, R>(&self, f: F) -> BlockingJoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        match &self.blocking {
            Some(pool) => crate::blocking::spawn_blocking_on(pool, f),
            None => {
                // No pool to run it: a shut-down one refuses the job, which reports it
                // cancelled (no thread is started by `new` or `shutdown`).
                let refusing =
                    BlockingPool::new(0, std::time::Duration::ZERO, std::sync::Weak::new());
                let _ = refusing.shutdown(Some(std::time::Duration::ZERO));
                crate::blocking::spawn_blocking_on(&refusing, f)
            }
        }
    }
}

/// A runtime's id, as tokio's `runtime::Id` (tickslab's `runtime::Id` is this type): from
/// [`Handle::id`], unique among the process's runtimes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RuntimeId(std::num::NonZeroU64);

impl fmt::Display for RuntimeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The kind of runtime, as tokio's `RuntimeFlavor`: tickslab has only one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RuntimeFlavor {
    /// One thread runs everything (tokio's current-thread and local runtimes).
    CurrentThread,
}

/// Guard from [`Handle::enter`]: restores the previous context on drop. Guards must be
/// dropped in reverse order of creation, as [`Runtime::enter`](crate::Runtime::enter)'s.
#[must_use = "the runtime is current only while the guard lives"]
pub struct HandleEnterGuard {
    _inner: crate::context::EnterGuard,
}

impl fmt::Debug for HandleEnterGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HandleEnterGuard")
    }
}

/// Why [`Handle::try_current`] found no runtime.
#[derive(Debug)]
pub struct TryCurrentError {
    why: crate::context::NoCore,
}

impl TryCurrentError {
    /// No runtime is entered on this thread.
    pub fn is_missing_context(&self) -> bool {
        self.why == crate::context::NoCore::NoRuntime
    }

    /// tokio's "the thread-local context was destroyed" (a call from another thread-local's
    /// destructor at thread exit). tickslab's context slot has no destructor, so this is
    /// always false; a runtime dropped while its guard lived still gives its handle.
    pub fn is_thread_local_destroyed(&self) -> bool {
        self.why == crate::context::NoCore::ShutDown
    }
}

impl fmt::Display for TryCurrentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.why {
            crate::context::NoCore::NoRuntime => f.write_str(
                "there is no tickslab runtime current on this thread: call this inside \
                 `Runtime::block_on`, one of its tasks, or while a `Runtime::enter` guard lives",
            ),
            crate::context::NoCore::ShutDown => {
                f.write_str("the tickslab runtime entered on this thread has shut down")
            }
        }
    }
}

impl std::error::Error for TryCurrentError {}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handle")
            .field("shutdown", &self.is_shutdown())
            .finish()
    }
}

/// A spawn through a [`Handle`] that was refused because the runtime is shutting down or
/// gone. The future (or, for [`Handle::spawn_with`], the closure) comes back.
pub struct RemoteSpawnError<F> {
    future: F,
}

impl<F> RemoteSpawnError<F> {
    /// The future (or closure) that was not spawned.
    pub fn into_future(self) -> F {
        self.future
    }
}

impl<F> fmt::Debug for RemoteSpawnError<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RemoteSpawnError(shutdown)")
    }
}

impl<F> fmt::Display for RemoteSpawnError<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("cannot spawn: the runtime is shutting down or has shut down")
    }
}

impl<F> std::error::Error for RemoteSpawnError<F> {}

struct RemoteTask<C, T> {
    make: C,
    completer: Completer<T>,
}

impl<C, F> RemoteJob for RemoteTask<C, F::Output>
where
    C: FnOnce() -> F + Send + 'static,
    F: Future + 'static,
    F::Output: Send + 'static,
{
    fn run(self: Box<Self>, core: &Core) {
        let RemoteTask {
            make,
            mut completer,
        } = *self;
        let future = match catch_unwind(AssertUnwindSafe(make)) {
            Ok(future) => future,
            Err(payload) => {
                completer.complete(Err(JoinError::panicked(payload)));
                return;
            }
        };
        let task = RemoteFuture { future, completer };
        match core.try_spawn_slab(task) {
            Ok(handle) => drop(handle),
            Err((_, task)) => drop(core.spawn_boxed(task)),
        }
    }
}

/// The task that runs a remote future and reports its result.
struct RemoteFuture<F: Future> {
    future: F,
    completer: Completer<F::Output>,
}

impl<F: Future> Future for RemoteFuture<F> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // SAFETY: structural pinning of `future` only: `RemoteFuture` never moves it out
        // and has no `Unpin` impl of its own; `completer` is not pinned (plain field access).
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: see above; `this.future` stays where it is until dropped in place.
        let future = unsafe { Pin::new_unchecked(&mut this.future) };
        let result = match catch_unwind(AssertUnwindSafe(|| future.poll(cx))) {
            Ok(Poll::Pending) => return Poll::Pending,
            Ok(Poll::Ready(value)) => Ok(value),
            Err(payload) => Err(JoinError::panicked(payload)),
        };
        this.completer.complete(result);
        Poll::Ready(())
    }
}

/// Reports the result, or, if dropped first (never run, or cancelled), that the task was
/// cancelled.
struct Completer<T>(Option<Arc<ResultSlot<T>>>);

impl<T> Completer<T> {
    fn complete(&mut self, result: Result<T, JoinError>) {
        if let Some(slot) = self.0.take() {
            slot.complete(result);
        }
    }
}

impl<T> Drop for Completer<T> {
    fn drop(&mut self) {
        self.complete(Err(JoinError::cancelled()));
    }
}

struct ResultSlot<T> {
    state: Mutex<SlotState<T>>,
}

struct SlotState<T> {
    result: Option<Result<T, JoinError>>,
    done: bool,
    waker: Option<Waker>,
}

impl<T> ResultSlot<T> {
    fn new() -> Self {
        ResultSlot {
            state: Mutex::new(SlotState {
                result: None,
                done: false,
                waker: None,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, SlotState<T>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn complete(&self, result: Result<T, JoinError>) {
        let waker = {
            let mut s = self.lock();
            s.result = Some(result);
            s.done = true;
            s.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }
}

/// Joins a task spawned through a [`Handle`], from any thread: `.await` it in any executor,
/// or [`join`](Self::join) blocking. Dropping it detaches the task.
pub struct RemoteJoinHandle<T> {
    slot: Arc<ResultSlot<T>>,
}

impl<T> RemoteJoinHandle<T> {
    /// A handle of a task that was never spawned: it reports it cancelled.
    fn cancelled() -> Self {
        let slot = Arc::new(ResultSlot::new());
        slot.complete(Err(JoinError::cancelled()));
        RemoteJoinHandle { slot }
    }

    /// Whether the task has finished (or was cancelled).
    pub fn is_finished(&self) -> bool {
        self.slot.lock().done
    }

    /// Blocks this thread until the task finishes. Do not call it on the runtime's own
    /// thread while the runtime would have to run the task: it would wait forever.
    pub fn join(self) -> Result<T, JoinError> {
        struct Unpark(std::thread::Thread);
        impl Wake for Unpark {
            fn wake(self: Arc<Self>) {
                self.0.unpark();
            }
        }
        let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
        let mut cx = Context::from_waker(&waker);
        let mut this = self;
        loop {
            if let Poll::Ready(out) = Pin::new(&mut this).poll(&mut cx) {
                return out;
            }
            std::thread::park();
        }
    }
}

impl<T> Future for RemoteJoinHandle<T> {
    type Output = Result<T, JoinError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut s = self.slot.lock();
        if let Some(result) = s.result.take() {
            return Poll::Ready(result);
        }
        assert!(!s.done, "RemoteJoinHandle polled after it returned Ready");
        match &s.waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => s.waker = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}

impl<T> fmt::Debug for RemoteJoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteJoinHandle")
            .field("finished", &self.is_finished())
            .finish()
    }
}
