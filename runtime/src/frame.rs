//! Frames: scratch memory tied to the runtime's tick, made safe by the borrow checker.
//!
//! [`Runtime::frame`](crate::Runtime::frame) runs one frame. Inside it, a [`Frame`] hands
//! out memory from the runtime's [`FrameArena`] that lives exactly as long as the frame, and
//! [`Frame::spawn`] runs futures that may borrow that memory and the caller's locals (no
//! `'static` needed). When the closure returns, the runtime keeps running (timers, sockets,
//! ordinary tasks too) until every frame-spawned future is done; only then is the arena
//! reset. The reset cannot happen while anything that borrows the frame is pending: the
//! same argument that makes `std::thread::scope` sound.
//!
//! ```
//! # use tickslab_runtime::*;
//! let mut rt = Runtime::new().unwrap();
//! let level = String::from("level-3");
//! let total = std::cell::Cell::new(0);
//! rt.frame(|f| {
//!     let positions = f.alloc_slice_copy(&[1u32, 2, 3]);      // lives for the frame
//!     let (name, total) = (&level, &total);                    // locals of the caller
//!     drop(f.spawn(async move {
//!         yield_now().await;                                   // a real await
//!         total.set(positions.iter().sum::<u32>() + name.len() as u32);
//!     }));
//! });                                                          // waits for the task
//! assert_eq!(total.get(), 6 + 7);
//! ```
//!
//! What the borrow checker refuses (each is a compile error, not a lint):
//!
//! Frame data returned out of the frame:
//! ```compile_fail
//! # let mut rt = tickslab_runtime::Runtime::new().unwrap();
//! let leaked: &mut u32 = rt.frame(|f| f.alloc(5u32));
//! ```
//! Frame data moved into a `'static` task:
//! ```compile_fail,E0521
//! # let mut rt = tickslab_runtime::Runtime::new().unwrap();
//! rt.frame(|f| {
//!     let x = f.alloc(1u32);
//!     drop(tickslab_runtime::spawn(async move { *x }));
//! });
//! ```
//! Frame data sent to another thread:
//! ```compile_fail,E0521
//! # let mut rt = tickslab_runtime::Runtime::new().unwrap();
//! rt.frame(|f| {
//!     let x = f.alloc(1u32);
//!     std::thread::spawn(move || *x);
//! });
//! ```
//! A scratch reference held across an `.await`:
//! ```compile_fail
//! async fn tick() {}
//! async fn task() -> u32 {
//!     let r = tickslab_runtime::frame::scratch(|s| s.alloc(1u32));
//!     tick().await;
//!     *r
//! }
//! ```
//! A frame join handle kept past the frame:
//! ```compile_fail
//! # let mut rt = tickslab_runtime::Runtime::new().unwrap();
//! let h = rt.frame(|f| f.spawn(async { 1 }));
//! ```
//!
//! Inside ordinary tasks, [`scratch`] gives a synchronous scratch scope for temporary
//! buffers (it cannot be held across an `.await`: the closure is not async).

use std::alloc::Layout;
use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::ptr::NonNull;
use std::task::{Context, Poll, Waker};

pub use tickslab_alloc::arena::{ArenaConfig, ArenaFull, ArenaStats, FrameArena, FrameVec};

use crate::core::Core;
use crate::core::task::{JoinError, JoinHandle, TaskRef};

/// One frame in progress: see the [module docs](self).
///
/// `'scope` is the frame; `'env` is what the frame may borrow from outside.
pub struct Frame<'scope, 'env: 'scope> {
    arena: &'scope FrameArena,
    core: &'scope Core,
    state: FrameState,
    number: u64,
    _scope: PhantomData<&'scope mut &'scope ()>,
    _env: PhantomData<&'env mut &'env ()>,
}

/// Bookkeeping of the frame's tasks.
pub(crate) struct FrameState {
    pending: Cell<usize>,
    spawned: Cell<usize>,
    waiter: Cell<Option<Waker>>,
    tasks: RefCell<Vec<TaskRef>>,
}

impl FrameState {
    pub(crate) fn new(tasks: Vec<TaskRef>) -> Self {
        FrameState {
            pending: Cell::new(0),
            spawned: Cell::new(0),
            waiter: Cell::new(None),
            tasks: RefCell::new(tasks),
        }
    }

    fn task_done(&self) {
        let left = self.pending.get() - 1;
        self.pending.set(left);
        if left == 0
            && let Some(w) = self.waiter.take()
        {
            w.wake();
        }
    }

    /// Ready once every frame task's future has been dropped.
    pub(crate) fn poll_all_done(&self, cx: &mut Context<'_>) -> Poll<()> {
        if self.pending.get() == 0 {
            return Poll::Ready(());
        }
        self.waiter.set(Some(cx.waker().clone()));
        Poll::Pending
    }

    pub(crate) fn spawned(&self) -> usize {
        self.spawned.get()
    }

    /// Cancels the tasks still running (the frame is unwinding), then drops the frame's
    /// holds. Returns the task list (emptied) for reuse.
    ///
    /// A cancelled future's destructor may spawn into the frame again: the new task lands
    /// in the list after it was taken, so this goes round until the list stays empty. The
    /// frame never ends with a live task, whatever destructors do.
    pub(crate) fn finish(&self, core: &Core, mut cancel_live: bool) -> Vec<TaskRef> {
        let mut tasks = std::mem::take(&mut *self.tasks.borrow_mut());
        loop {
            if cancel_live {
                for &task in &tasks {
                    // SAFETY: runtime thread; every listed task carries the FRAME hold, and
                    // none is running (the frame's closure or its wait loop is on the stack,
                    // not a poll).
                    unsafe { core.cancel_frame_task(task) };
                }
            }
            for task in tasks.drain(..) {
                // SAFETY: as above; each hold is dropped once, here.
                unsafe { core.release_frame_task(task) };
            }
            let spawned_meanwhile = std::mem::take(&mut *self.tasks.borrow_mut());
            if spawned_meanwhile.is_empty() {
                return tasks;
            }
            // Whatever was spawned since may borrow the frame: it cannot outlive it.
            cancel_live = true;
            tasks = spawned_meanwhile;
        }
    }
}

impl<'scope, 'env> Frame<'scope, 'env> {
    pub(crate) fn new(
        arena: &'scope FrameArena,
        core: &'scope Core,
        tasks: Vec<TaskRef>,
        number: u64,
    ) -> Self {
        Frame {
            arena,
            core,
            state: FrameState::new(tasks),
            number,
            _scope: PhantomData,
            _env: PhantomData,
        }
    }

    pub(crate) fn state(&self) -> &FrameState {
        &self.state
    }

    /// This frame's number (the first frame is 1).
    pub fn number(&self) -> u64 {
        self.number
    }

    /// The frame's arena, for everything [`FrameArena`] offers.
    pub fn arena(&self) -> &'scope FrameArena {
        self.arena
    }

    /// Moves `value` into the frame. Types with destructors are refused at compile time
    /// (the arena is reset, not dropped). Panics if the arena's byte limit is reached.
    pub fn alloc<T>(&self, value: T) -> &'scope mut T {
        self.arena.alloc(value)
    }

    /// As [`alloc`](Self::alloc), reporting a full arena.
    pub fn try_alloc<T>(&self, value: T) -> Result<&'scope mut T, ArenaFull> {
        self.arena.try_alloc(value)
    }

    /// Copies a slice into the frame.
    pub fn alloc_slice_copy<T: Copy>(&self, src: &[T]) -> &'scope mut [T] {
        self.arena.alloc_slice_copy(src)
    }

    /// A slice of `len` values made by `f(index)`.
    pub fn alloc_slice_fill_with<T>(
        &self,
        len: usize,
        f: impl FnMut(usize) -> T,
    ) -> &'scope mut [T] {
        self.arena.alloc_slice_fill_with(len, f)
    }

    /// Copies a string into the frame.
    pub fn alloc_str(&self, s: &str) -> &'scope mut str {
        self.arena.alloc_str(s)
    }

    /// A growable vector in the frame.
    pub fn vec<T>(&self) -> FrameVec<'scope, T> {
        self.arena.vec()
    }

    /// Runs `future` as part of this frame: it may borrow frame data and the caller's
    /// locals. The future itself is placed in the arena; the frame does not end (and the
    /// arena is not reset) until it is done.
    ///
    /// # Panics
    /// If the arena's byte limit leaves no room for the future; see
    /// [`try_spawn`](Self::try_spawn).
    #[track_caller]
    pub fn spawn<F>(&'scope self, future: F) -> FrameJoinHandle<'scope, F::Output>
    where
        F: Future + 'scope,
    {
        match self.try_spawn(future) {
            Ok(handle) => handle,
            Err((full, _)) => panic!("Frame::spawn: {full}"),
        }
    }

    /// As [`spawn`](Self::spawn), handing the future back if the arena is full.
    pub fn try_spawn<F>(
        &'scope self,
        future: F,
    ) -> Result<FrameJoinHandle<'scope, F::Output>, (ArenaFull, F)>
    where
        F: Future + 'scope,
    {
        // SAFETY: the memory stays valid until the arena's next reset, which happens only
        // after every frame task's future has been dropped (see `Runtime::frame`).
        let mem = match unsafe { self.arena.alloc_raw(Layout::new::<F>()) } {
            Ok(mem) => mem.cast::<F>(),
            Err(full) => return Err((full, future)),
        };
        // SAFETY: fresh, aligned memory for an `F`.
        unsafe { mem.as_ptr().write(future) };
        self.state.pending.set(self.state.pending.get() + 1);
        self.state.spawned.set(self.state.spawned.get() + 1);
        let wrapper = ArenaFuture {
            future: mem,
            state: &self.state,
        };
        // SAFETY: the wrapper (and the future it owns) is dropped before the frame ends:
        // `Runtime::frame` waits for every frame task, or cancels them when unwinding.
        let handle = unsafe { self.core.spawn_frame_task(wrapper) };
        self.state.tasks.borrow_mut().push(handle.task_ref());
        Ok(FrameJoinHandle {
            inner: handle,
            _scope: PhantomData,
        })
    }
}

impl fmt::Debug for Frame<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Frame")
            .field("number", &self.number)
            .field("tasks_spawned", &self.state.spawned.get())
            .field("tasks_pending", &self.state.pending.get())
            .finish()
    }
}

/// A frame task's future, which lives in the arena. Owns it: dropping this drops it in
/// place (the arena memory itself is reclaimed by the reset).
struct ArenaFuture<'scope, F> {
    future: NonNull<F>,
    state: &'scope FrameState,
}

impl<F: Future> Future for ArenaFuture<'_, F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        // SAFETY: the future was written into arena memory that does not move and is not
        // reused before this wrapper drops it in place: it is pinned for its whole life.
        unsafe { Pin::new_unchecked(&mut *self.future.as_ptr()) }.poll(cx)
    }
}

impl<F> Drop for ArenaFuture<'_, F> {
    fn drop(&mut self) {
        // Count it done even if the destructor panics.
        struct Done<'a>(&'a FrameState);
        impl Drop for Done<'_> {
            fn drop(&mut self) {
                self.0.task_done();
            }
        }
        let _done = Done(self.state);
        // SAFETY: the wrapper owns the future, which is live and dropped exactly once here.
        unsafe { std::ptr::drop_in_place(self.future.as_ptr()) };
    }
}

/// Joins a frame-spawned task; cannot leave the frame.
pub struct FrameJoinHandle<'scope, T> {
    inner: JoinHandle<T>,
    _scope: PhantomData<&'scope mut &'scope ()>,
}

impl<T> FrameJoinHandle<'_, T> {
    /// Cancels the task (see [`JoinHandle::abort`]).
    pub fn abort(&self) {
        self.inner.abort();
    }

    /// Whether the task has finished.
    pub fn is_finished(&self) -> bool {
        self.inner.is_finished()
    }
}

impl<T> Future for FrameJoinHandle<'_, T> {
    type Output = Result<T, JoinError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.inner).poll(cx)
    }
}

impl<T> fmt::Debug for FrameJoinHandle<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("FrameJoinHandle").field(&self.inner).finish()
    }
}

/// What the last frame did ([`Runtime::last_frame`](crate::Runtime::last_frame)).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FrameStats {
    /// The frame's number (the first is 1).
    pub number: u64,
    /// Arena bytes used by the frame.
    pub bytes_used: usize,
    /// The arena's chunks (kept across frames).
    pub chunks: usize,
    /// The most arena bytes any frame has used.
    pub peak_bytes: usize,
    /// Futures spawned with [`Frame::spawn`].
    pub tasks_spawned: usize,
    /// Scheduler passes the frame's end waited for its tasks.
    pub end_wait_passes: u64,
}

thread_local! {
    static SCRATCH: RefCell<FrameArena> = const { RefCell::new(FrameArena::new()) };
    static SCRATCH_DEPTH: Cell<usize> = const { Cell::new(0) };
}

/// A synchronous scratch scope: `f` gets an arena for temporary buffers, reset when the
/// outermost scope on this thread ends. Nothing allocated in it can leave the closure, and
/// the closure cannot `.await`, so scratch memory is never held across a suspension.
/// After warm-up, scratch scopes make no heap allocations.
///
/// ```
/// let total = tickslab_runtime::frame::scratch(|s| {
///     let squares = s.alloc_slice_fill_with(100, |i| (i * i) as u64);
///     squares.iter().sum::<u64>()
/// });
/// assert_eq!(total, 328_350);
/// ```
pub fn scratch<R>(f: impl for<'s> FnOnce(&'s FrameArena) -> R) -> R {
    struct Exit;
    impl Drop for Exit {
        fn drop(&mut self) {
            let depth = SCRATCH_DEPTH.with(|d| {
                d.set(d.get() - 1);
                d.get()
            });
            if depth == 0 {
                // No borrow is left: every scope on this thread has returned.
                SCRATCH.with(|a| a.borrow_mut().reset());
            }
        }
    }
    SCRATCH_DEPTH.with(|d| d.set(d.get() + 1));
    let _exit = Exit;
    SCRATCH.with(|arena| {
        let arena = arena.borrow();
        f(&arena)
    })
}
