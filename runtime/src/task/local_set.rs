//! `LocalSet`: tokio's set of `!Send` tasks, over a runtime where every task is already
//! local.
//!
//! A tickslab runtime runs `!Send` tasks by itself, so a `LocalSet` is not an executor: it
//! is a *group* of tasks spawned on the current runtime, with tokio's observable rules:
//! - awaiting the set (or [`LocalSet::block_on`] / [`LocalSet::run_until`]) runs the
//!   runtime, and the set as a future completes once every task spawned through it has;
//! - dropping the set aborts the tasks spawned through it that are still running.
//!
//! What differs: tokio lets `spawn_local` on a set be called before any runtime exists and
//! runs those tasks once the set is driven; a tickslab task is created on a runtime, so
//! [`LocalSet::spawn_local`] needs one: the current one (inside `block_on`, a task, or after
//! `Runtime::enter`), else the last runtime built on this thread that is still alive (the
//! set's *home*: tokio's pattern `let rt = ..; local.spawn_local(..); local.block_on(&rt,
//! ..)`); with neither, it panics, saying so. A set whose tasks went to its home runtime
//! that is then driven on another one panics instead of leaving them unpolled.
//!
//! As in tokio, [`spawn_local`](crate::task::spawn_local) called while the set runs a
//! future (inside [`LocalSet::run_until`] / [`LocalSet::block_on`], or inside one of the
//! set's tasks) spawns into the set: a thread-local names the set whose code is running.
//!
//! Invariants: `live` counts the set's tasks whose future has not been dropped yet (each
//! task's future carries a guard that decrements it on drop, however the task ends); the
//! abort list holds an `AbortHandle` per task, pruned of finished tasks whenever it would
//! grow (so it keeps its capacity and stops allocating once it has held the peak count).

use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use crate::core::task::{AbortHandle, JoinHandle};

#[derive(Default)]
struct Shared {
    /// The id of the runtime that took the set's tasks while none was entered, if any.
    home: Cell<Option<u64>>,
    live: Cell<usize>,
    /// Woken when `live` drops to zero (the set awaited as a future).
    idle: Cell<Option<Waker>>,
    aborts: RefCell<Vec<AbortHandle>>,
}

thread_local! {
    /// The set whose future or task is being polled on this thread, if any.
    static CURRENT: RefCell<Option<Rc<Shared>>> = const { RefCell::new(None) };
}

/// Makes `shared` the current set until dropped; puts back the previous one (also when the
/// poll unwinds).
struct Enter(Option<Rc<Shared>>);

impl Enter {
    fn new(shared: &Rc<Shared>) -> Enter {
        Enter(CURRENT.with(|c| c.replace(Some(shared.clone()))))
    }
}

impl Drop for Enter {
    fn drop(&mut self) {
        let prev = self.0.take();
        let _ = CURRENT.try_with(|c| c.replace(prev));
    }
}

/// Spawns `future` into the set being run on this thread, if one is; hands it back if not.
pub(crate) fn spawn_in_current<F>(future: F) -> Result<JoinHandle<F::Output>, F>
where
    F: Future + 'static,
{
    match CURRENT.with(|c| c.borrow().clone()) {
        Some(shared) => Ok(spawn_tracked(&shared, future)),
        None => Err(future),
    }
}

#[track_caller]
fn spawn_tracked<F>(shared: &Rc<Shared>, future: F) -> JoinHandle<F::Output>
where
    F: Future + 'static,
{
    // Counted before the guard exists: if the spawn panics (no runtime), dropping the
    // guard takes the count back.
    shared.live.set(shared.live.get() + 1);
    let tracked = Tracked {
        future,
        shared: shared.clone(),
        _guard: LiveGuard(shared.clone()),
    };
    let handle = match crate::context::last_built().filter(|_| !crate::context::is_entered()) {
        // No runtime entered: the set's home takes the task (see the module docs).
        Some(core) => {
            shared.home.set(Some(core.id()));
            core.spawn_boxed(tracked)
        }
        // Panics, saying why, when no runtime is entered or the entered one is gone.
        None => crate::spawn(tracked),
    };
    let mut aborts = shared.aborts.borrow_mut();
    if aborts.len() == aborts.capacity() {
        aborts.retain(|a| !a.is_finished());
    }
    aborts.push(handle.abort_handle());
    handle
}

/// Decrements the set's live count when the task's future is dropped.
struct LiveGuard(Rc<Shared>);

impl Drop for LiveGuard {
    fn drop(&mut self) {
        let live = self.0.live.get() - 1;
        self.0.live.set(live);
        if live == 0
            && let Some(w) = self.0.idle.take()
        {
            w.wake();
        }
    }
}

pin_project_lite::pin_project! {
    /// A task of a `LocalSet`: its future, and the guard that says when it is gone.
    struct Tracked<F> {
        #[pin]
        future: F,
        shared: Rc<Shared>,
        _guard: LiveGuard,
    }
}

impl<F: Future> Future for Tracked<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let _enter = Enter::new(this.shared);
        this.future.poll(cx)
    }
}

/// A group of `!Send` tasks on the current runtime, as tokio's `task::LocalSet`.
///
/// ```
/// use std::rc::Rc;
/// use tickslab_runtime::task::LocalSet;
///
/// let rt = tickslab_runtime::Runtime::new().unwrap();
/// let local = LocalSet::new();
/// let shared = Rc::new(5);
/// let out = local.block_on(&rt, async {
///     let s = shared.clone();
///     let h = tickslab_runtime::task::spawn_local(async move { *s * 2 });
///     h.await.unwrap()
/// });
/// assert_eq!(out, 10);
/// ```
pub struct LocalSet {
    shared: Rc<Shared>,
}

impl Default for LocalSet {
    fn default() -> Self {
        LocalSet::new()
    }
}

impl LocalSet {
    /// An empty set.
    pub fn new() -> LocalSet {
        LocalSet {
            shared: Rc::new(Shared::default()),
        }
    }

    /// Spawns `future` on the current runtime as a task of this set; with none entered, on
    /// the last runtime built on this thread (see the module docs).
    ///
    /// # Panics
    /// When no runtime is entered and none built on this thread is alive (unlike tokio's,
    /// a set cannot hold tasks before a runtime exists).
    #[track_caller]
    pub fn spawn_local<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
    {
        spawn_tracked(&self.shared, future)
    }

    /// Runs `future` on `rt` until it completes, with this set's tasks running meanwhile:
    /// [`Runtime::block_on`](crate::Runtime::block_on).
    #[track_caller]
    ///
    /// # Panics
    /// As `Runtime::block_on`; and when tasks were spawned on this set while no runtime was
    /// entered, so went to the last one built on this thread, and `rt` is another one.
    pub fn block_on<F: Future>(&self, rt: &crate::Runtime, future: F) -> F::Output {
        if let Some(home) = self.shared.home.get() {
            assert!(
                home == rt.core_id(),
                "tickslab: this LocalSet's tasks were spawned while no runtime was entered, \
                 so on the last runtime built on this thread, and it is driven on another \
                 one where they would never run: drive it on that runtime, or spawn inside \
                 `block_on` / after `Runtime::enter`"
            );
        }
        rt.block_on(self.run_until(future))
    }

    /// Runs `future` until it completes, with this set's tasks running meanwhile (they are
    /// the runtime's tasks: they run whenever it does).
    pub fn run_until<F: Future>(&self, future: F) -> RunUntil<'_, F> {
        RunUntil { future, set: self }
    }

    /// Makes this set the current one until the guard drops, as tokio's `LocalSet::enter`:
    /// [`spawn_local`](crate::task::spawn_local) then spawns into this set. The guard puts
    /// back the set that was current before (guards dropped out of order restore an older
    /// set, never a dangling one).
    ///
    /// Unlike tokio's, a task can only be spawned while a runtime is current (see the
    /// module docs): `spawn_local` under this guard alone, outside a runtime, panics.
    pub fn enter(&self) -> LocalEnterGuard {
        LocalEnterGuard {
            _enter: Enter::new(&self.shared),
        }
    }

    /// Tasks of this set whose future has not finished or been dropped.
    pub fn len(&self) -> usize {
        self.shared.live.get()
    }

    /// Whether every task of this set is done.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Future for LocalSet {
    type Output = ();

    /// Ready once every task spawned through the set is done.
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.shared.live.get() == 0 {
            return Poll::Ready(());
        }
        self.shared.idle.set(Some(cx.waker().clone()));
        Poll::Pending
    }
}

impl Drop for LocalSet {
    /// Aborts the set's tasks that are still running (tokio drops them with the set).
    fn drop(&mut self) {
        for abort in self.shared.aborts.borrow().iter() {
            abort.abort();
        }
    }
}

impl fmt::Debug for LocalSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalSet")
            .field("live", &self.len())
            .finish()
    }
}

/// Guard of [`LocalSet::enter`]: the set is current until it drops.
#[must_use = "the set is current only while the guard lives"]
pub struct LocalEnterGuard {
    _enter: Enter,
}

impl fmt::Debug for LocalEnterGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LocalEnterGuard")
    }
}

pin_project_lite::pin_project! {
    /// Future of [`LocalSet::run_until`].
    pub struct RunUntil<'a, F> {
        #[pin]
        future: F,
        set: &'a LocalSet,
    }
}

impl<F: Future> Future for RunUntil<'_, F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let _enter = Enter::new(&this.set.shared);
        this.future.poll(cx)
    }
}

impl<F> fmt::Debug for RunUntil<'_, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RunUntil")
    }
}
