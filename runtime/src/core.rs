//! The executor core: one per runtime, behind an `Arc` so wakers on any thread can reach it.
//!
//! # Threads
//!
//! `Core` is split in two. The thread-safe half (remote queue, flags for the parker and the
//! root future, the orphan lock) is used from any thread. The `local` half (run queue, list
//! of live tasks, the slab, counters) is plain `Cell`s, used **only on the runtime's thread**
//! (`owner`): the `Runtime`, `JoinHandle` and `SlabClaim` are `!Send`, and a waker checks
//! the thread before it takes the local path. That is what the `unsafe impl Sync` rests on.
//!
//! # Queues
//!
//! - The local run queue is an intrusive FIFO list through the task headers: no allocation.
//!   A wake on the runtime's thread appends to it directly.
//! - The remote queue is a `crossbeam_queue::ArrayQueue` of tagged task pointers: a wake from
//!   another thread sets the task's `REMOTE_QUEUED` bit (so a task is in it at most once),
//!   pushes, and unparks the runtime if it sleeps. A task whose last reference is dropped on
//!   another thread is also sent home through it (tag `RELEASE`), so slab slots are only
//!   freed on the runtime thread. Beyond the queue's capacity, entries spill into a
//!   mutex-protected `Vec` (the one path here that can allocate, and only on overflow).
//!
//! # Shutdown and orphans
//!
//! Dropping the runtime cancels every live task (destructors run on the runtime thread),
//! then, under the `orphans` lock, marks the core dead and drains the remote queue. If no
//! task block or slab claim is still referenced, the slab is dropped. Otherwise (a
//! `JoinHandle` or a `Waker` outlives the runtime) the slab moves into [`Orphans`] with a
//! count of what is outstanding and a strong reference to the core; each later release
//! frees its block under that lock, and the last one drops the slab and the core. Nothing
//! leaks and nothing touches freed memory, whichever thread lets go last.

use std::cell::{Cell, UnsafeCell};
use std::future::Future;
use std::ptr::{self, NonNull};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering, fence};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, RawWaker, RawWakerVTable, Waker};

use crossbeam_queue::{ArrayQueue, SegQueue};
use tickslab_alloc::slab::{ErasedSlab, RawSlot};

use crate::handle::Injected;
use crate::io::reactor::Reactor;
use crate::task::{
    JoinHandle, Storage, TaskRef, borrowed_task_waker, dealloc_box, flags, new_task_header_for,
    task_layout, write_task,
};
use crate::time::Timers;

// ---- threads --------------------------------------------------------------------------------

static NEXT_THREAD_TOKEN: AtomicU64 = AtomicU64::new(1);

thread_local! {
    /// A number unique to this thread for the life of the process (never reused, unlike a
    /// thread-local's address).
    static THREAD_TOKEN: Cell<u64> = const { Cell::new(0) };
    /// The runtime whose `block_on`/`tick`/`enter` is running on this thread, if any.
    static CONTEXT: Cell<*const Core> = const { Cell::new(ptr::null()) };
}

#[inline]
pub(crate) fn thread_token() -> u64 {
    THREAD_TOKEN.with(|t| {
        let v = t.get();
        if v != 0 {
            return v;
        }
        let v = NEXT_THREAD_TOKEN.fetch_add(1, Ordering::Relaxed);
        t.set(v);
        v
    })
}

/// The runtime entered on this thread, if any. The pointer is live while it is installed.
#[inline]
pub(crate) fn current() -> Option<NonNull<Core>> {
    NonNull::new(CONTEXT.with(Cell::get) as *mut Core)
}

/// The current runtime's timers, if a runtime is current.
pub(crate) fn current_timers() -> Option<Rc<Timers>> {
    // SAFETY: an installed context is alive while installed; runtime thread.
    current().and_then(|c| unsafe { c.as_ref() }.timers().cloned())
}

/// The current runtime's reactor, if a runtime is current.
pub(crate) fn current_reactor() -> Option<Rc<Reactor>> {
    // SAFETY: as `current_timers`.
    current().and_then(|c| unsafe { c.as_ref() }.reactor().cloned())
}

/// Installs a runtime as this thread's current one; restores the previous one on drop, so
/// nested and sequential runtimes on one thread each see their own.
pub(crate) struct EnterGuard {
    prev: *const Core,
}

impl EnterGuard {
    pub(crate) fn enter(core: &Core) -> EnterGuard {
        EnterGuard {
            prev: CONTEXT.with(|c| c.replace(core.self_ptr)),
        }
    }
}

impl Drop for EnterGuard {
    fn drop(&mut self) {
        CONTEXT.with(|c| c.set(self.prev));
    }
}

// ---- remote queue entries -----------------------------------------------------------------

/// Entry tag: "the last reference was dropped elsewhere: free this block". Untagged entries
/// are wakes. Headers are 8-aligned, so the low bit is free.
const RELEASE_TAG: usize = 1;

enum Entry {
    Wake(TaskRef),
    Release(TaskRef),
}

/// An `Entry` as stored in the remote queue: a task pointer, tagged in its low bit, keeping
/// its provenance (no integer round trip).
#[derive(Clone, Copy)]
struct RawEntry(*const ());

// SAFETY: the pointer is only a message: the receiving side owns the reference it carries
// and touches the task under the same rules as any waker (see `task/mod.rs`).
unsafe impl Send for RawEntry {}

impl Entry {
    fn encode(self) -> RawEntry {
        match self {
            Entry::Wake(t) => RawEntry(t.as_ptr()),
            Entry::Release(t) => RawEntry(t.as_ptr().map_addr(|a| a | RELEASE_TAG)),
        }
    }

    /// # Safety
    /// `raw` came from `encode`.
    unsafe fn decode(raw: RawEntry) -> Entry {
        // SAFETY: `encode` stored a live task pointer, tagged in its free low bit.
        let task = unsafe { TaskRef::from_ptr(raw.0.map_addr(|a| a & !RELEASE_TAG)) };
        if raw.0.addr() & RELEASE_TAG == 0 {
            Entry::Wake(task)
        } else {
            Entry::Release(task)
        }
    }
}

// ---- the core -------------------------------------------------------------------------------

/// Settings fixed at build time.
pub(crate) struct CoreConfig {
    pub(crate) slab: Option<ErasedSlab>,
    pub(crate) budget: usize,
    pub(crate) remote_capacity: usize,
    pub(crate) unparker: mio::Waker,
    pub(crate) timers: Rc<Timers>,
    pub(crate) reactor: Rc<Reactor>,
    pub(crate) forbid_alloc_in_slab_polls: bool,
}

pub(crate) struct Core {
    /// This core's address with the provenance of its `Arc` allocation (tasks store it and
    /// may turn it back into strong references).
    self_ptr: *const Core,
    owner: u64,
    dead: AtomicBool,
    pub(crate) root_woken: AtomicBool,
    sleeping: AtomicBool,
    /// Set after anything is pushed to `remote`, `overflow` or `inject`; the runtime checks
    /// this one flag per pass instead of probing three queues.
    remote_pending: AtomicBool,
    remote: ArrayQueue<RawEntry>,
    overflow: Mutex<Vec<RawEntry>>,
    overflow_len: AtomicUsize,
    unparker: mio::Waker,
    remote_wakes: AtomicU64,
    /// Futures spawned from other threads through a `Handle`, waiting to be spawned here.
    inject: SegQueue<Box<dyn Injected>>,
    shutdown_requested: AtomicBool,
    orphans: Mutex<Option<Orphans>>,
    local: Local,
}

/// Runtime-thread-only state.
struct Local {
    run_head: Cell<Option<TaskRef>>,
    run_tail: Cell<Option<TaskRef>>,
    run_len: Cell<usize>,
    owned_head: Cell<Option<TaskRef>>,
    live: Cell<usize>,
    /// Task blocks (boxed or slab) not yet freed, plus outstanding slab claims.
    allocated: Cell<usize>,
    /// Taken out only at shutdown, when nothing borrows it.
    slab: UnsafeCell<Option<ErasedSlab>>,
    /// Runtime-thread `Rc`s, taken out at shutdown (on the runtime thread) so the last
    /// `Arc<Core>`, wherever it drops, never touches them.
    timers: UnsafeCell<Option<Rc<Timers>>>,
    reactor: UnsafeCell<Option<Rc<Reactor>>>,
    slot_waiters: Cell<Vec<Waker>>,
    /// Whether `slot_waiters` holds anyone (read on every slot free: cheaper than a take).
    has_slot_waiters: Cell<bool>,
    slot_waiters_epoch: Cell<u64>,
    shutting_down: Cell<bool>,
    forbid_alloc_in_slab_polls: bool,
    budget: Cell<usize>,
    spawned: Cell<u64>,
    completed: Cell<u64>,
    polls: Cell<u64>,
    parks: Cell<u64>,
    passes: Cell<u64>,
    local_wakes: Cell<u64>,
    frame_bytes: Cell<usize>,
}

// SAFETY: the `local` half is only touched on the `owner` thread (see the module docs); every
// other field is atomic, a lock-free queue, a mutex, or a `mio::Waker` (`Send + Sync`).
unsafe impl Sync for Core {}
// SAFETY: as above; the last `Arc<Core>` may be dropped on any thread, after the runtime has
// shut down, when `local` holds nothing but empty lists and counters.
unsafe impl Send for Core {}

/// A slab whose runtime has been dropped while some of its blocks were still referenced.
struct Orphans {
    slab: Option<ErasedSlab>,
    outstanding: usize,
    /// A strong reference to the core, from `Arc::into_raw`, released with the last block.
    core: *const Core,
}

// SAFETY: `ErasedSlab` is `Send`; the raw pointer is a strong `Arc<Core>` reference, and
// `Core` is `Send + Sync`.
unsafe impl Send for Orphans {}

enum Freed {
    Task(TaskRef),
    Slot(RawSlot),
}

impl Orphans {
    /// # Safety
    /// `what` is an unreferenced block or claim of this slab (or a boxed task of this core).
    unsafe fn free(&mut self, what: Freed) {
        // SAFETY: guaranteed by the caller; the lock makes us the slab's only user.
        unsafe {
            match what {
                Freed::Task(task) => match task.storage() {
                    Storage::Boxed => dealloc_box(task),
                    Storage::Slab => self.slab().free(task.slab_slot()),
                },
                Freed::Slot(slot) => self.slab().free(slot),
            }
        }
        self.outstanding -= 1;
    }

    fn slab(&self) -> &ErasedSlab {
        self.slab
            .as_ref()
            .expect("an orphaned slab task implies a slab")
    }

    /// Drops the slab and the core reference once nothing is outstanding. Call with the lock
    /// released: this may drop the last reference to the core that holds the lock.
    fn finish(done: Option<Orphans>) {
        if let Some(o) = done {
            debug_assert_eq!(o.outstanding, 0);
            drop(o.slab);
            // SAFETY: `o.core` is the strong reference taken with `Arc::into_raw` at shutdown.
            unsafe { Arc::decrement_strong_count(o.core) };
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Nothing panics while these locks are held; recover the data regardless.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Core {
    pub(crate) fn new(config: CoreConfig) -> Arc<Core> {
        Arc::new_cyclic(|weak| Core {
            self_ptr: weak.as_ptr(),
            owner: thread_token(),
            dead: AtomicBool::new(false),
            root_woken: AtomicBool::new(false),
            sleeping: AtomicBool::new(false),
            remote_pending: AtomicBool::new(false),
            remote: ArrayQueue::new(config.remote_capacity.max(1)),
            overflow: Mutex::new(Vec::new()),
            overflow_len: AtomicUsize::new(0),
            unparker: config.unparker,
            remote_wakes: AtomicU64::new(0),
            inject: SegQueue::new(),
            shutdown_requested: AtomicBool::new(false),
            orphans: Mutex::new(None),
            local: Local {
                run_head: Cell::new(None),
                run_tail: Cell::new(None),
                run_len: Cell::new(0),
                owned_head: Cell::new(None),
                live: Cell::new(0),
                allocated: Cell::new(0),
                slab: UnsafeCell::new(config.slab),
                timers: UnsafeCell::new(Some(config.timers)),
                reactor: UnsafeCell::new(Some(config.reactor)),
                slot_waiters: Cell::new(Vec::new()),
                has_slot_waiters: Cell::new(false),
                slot_waiters_epoch: Cell::new(0),
                shutting_down: Cell::new(false),
                forbid_alloc_in_slab_polls: config.forbid_alloc_in_slab_polls,
                budget: Cell::new(config.budget.max(1)),
                spawned: Cell::new(0),
                completed: Cell::new(0),
                polls: Cell::new(0),
                parks: Cell::new(0),
                passes: Cell::new(0),
                local_wakes: Cell::new(0),
                frame_bytes: Cell::new(0),
            },
        })
    }

    #[inline]
    fn ptr(&self) -> NonNull<Core> {
        // SAFETY: `self_ptr` is the address of this live core.
        unsafe { NonNull::new_unchecked(self.self_ptr as *mut Core) }
    }

    /// The slab, if one was configured.
    #[inline]
    pub(crate) fn slab(&self) -> Option<&ErasedSlab> {
        // SAFETY: runtime thread (every caller is); the slab is only taken out at shutdown,
        // when no reference from here is alive.
        unsafe { (*self.local.slab.get()).as_ref() }
    }

    /// The runtime's clock and timers (runtime thread, before shutdown).
    pub(crate) fn timers(&self) -> Option<&Rc<Timers>> {
        // SAFETY: runtime thread; only taken out at shutdown, when no reference is alive.
        unsafe { (*self.local.timers.get()).as_ref() }
    }

    /// The runtime's reactor (runtime thread, before shutdown).
    pub(crate) fn reactor(&self) -> Option<&Rc<Reactor>> {
        // SAFETY: as `timers`.
        unsafe { (*self.local.reactor.get()).as_ref() }
    }

    pub(crate) fn is_shut_down(&self) -> bool {
        self.dead.load(Ordering::SeqCst)
    }

    /// Records the arena bytes the last frame used (for the stats).
    pub(crate) fn set_frame_bytes(&self, bytes: usize) {
        self.local.frame_bytes.set(bytes);
    }

    pub(crate) fn is_shutdown_requested(&self) -> bool {
        self.shutdown_requested.load(Ordering::Acquire)
    }

    /// Asks the runtime to stop (from any thread).
    pub(crate) fn request_shutdown(&self) {
        self.shutdown_requested.store(true, Ordering::Release);
        // Wake the loop through the root's flag: `block_on_until_shutdown` checks for the
        // request each time round; a plain `block_on` just polls its root once more.
        self.root_woken.store(true, Ordering::Release);
        self.unpark();
    }

    /// Hands a future spawned elsewhere to the runtime thread (any thread).
    pub(crate) fn inject(&self, job: Box<dyn Injected>) {
        self.inject.push(job);
        self.remote_pending.store(true, Ordering::SeqCst);
        // As `push_remote`: either the runtime sees the job, or we see it dead and drop the
        // queue's contents ourselves (cancelling them: their join handles say so).
        fence(Ordering::SeqCst);
        if self.dead.load(Ordering::Relaxed) {
            while let Some(job) = self.inject.pop() {
                drop(job);
            }
        } else {
            self.unpark();
        }
    }

    // ---- spawning ---------------------------------------------------------------------------

    /// Spawns `future` in a fresh heap block.
    pub(crate) fn spawn_boxed<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
    {
        let mem = self.alloc_boxed_block::<F>();
        // SAFETY: `mem` is a fresh block with the task's layout, freed by `dealloc_box`.
        unsafe { self.spawn_at(mem, Storage::Boxed, 0, future, 0) }
    }

    /// A fresh heap block for a task running `F`, counted in `allocated`.
    fn alloc_boxed_block<F: Future>(&self) -> NonNull<u8> {
        let layout = task_layout::<F>();
        // SAFETY: the layout is never zero-sized (it holds a header).
        let mem = unsafe { std::alloc::alloc(layout) };
        let Some(mem) = NonNull::new(mem) else {
            std::alloc::handle_alloc_error(layout)
        };
        self.local.allocated.set(self.local.allocated.get() + 1);
        mem
    }

    /// Spawns `future` in a slab slot this core handed out (counted in `allocated` already).
    ///
    /// # Safety
    /// `slot` was claimed from this core's slab and the task fits it (`fits_slot`).
    pub(crate) unsafe fn spawn_in_slot<F>(&self, slot: RawSlot, future: F) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
    {
        // SAFETY: guaranteed by the caller.
        unsafe { self.spawn_at(slot.ptr, Storage::Slab, slot.chunk, future, 0) }
    }

    /// # Safety
    /// `mem` holds `task_layout::<F>()` bytes, stays put until freed per `storage`.
    unsafe fn spawn_at<F>(
        &self,
        mem: NonNull<u8>,
        storage: Storage,
        chunk: u32,
        future: F,
        extra_flags: u16,
    ) -> JoinHandle<F::Output>
    where
        F: Future,
    {
        let header = new_task_header_for::<F>(
            self.ptr(),
            storage,
            chunk,
            flags::LIVE | flags::HANDLE | flags::LOCAL_QUEUED | extra_flags,
        );
        // SAFETY: guaranteed by the caller.
        let task = unsafe { write_task(mem, header, future) };
        self.local.live.set(self.local.live.get() + 1);
        self.local.spawned.set(self.local.spawned.get() + 1);
        // SAFETY: the task was just written; we are on the runtime thread.
        unsafe {
            self.link_owned(task);
            self.push_run(task);
            JoinHandle::from_task(task)
        }
    }

    /// Spawns a task whose future may borrow data of a frame (not `'static`), in a slab
    /// slot if one is free and fits, else in a heap block. The task carries the `FRAME`
    /// hold until `release_frame_task`.
    ///
    /// # Safety
    /// The caller guarantees the future is dropped (completed or cancelled through
    /// `cancel_frame_task`) before anything it borrows goes away.
    pub(crate) unsafe fn spawn_frame_task<F: Future>(&self, future: F) -> JoinHandle<F::Output> {
        let fits = self
            .slab()
            .is_some_and(|s| crate::spawn::fits_slot_size::<F>(s.slot_size()));
        let (mem, storage, chunk) = match fits.then(|| self.try_claim_slot()).flatten() {
            Some(slot) => (slot.ptr, Storage::Slab, slot.chunk),
            None => (self.alloc_boxed_block::<F>(), Storage::Boxed, 0),
        };
        // SAFETY: `mem` fits the task and is freed per `storage`; the caller guarantees the
        // future's borrows outlive it.
        unsafe { self.spawn_at(mem, storage, chunk, future, flags::FRAME) }
    }

    /// Cancels a frame task if it is still live (the frame is unwinding).
    ///
    /// # Safety
    /// Runtime thread; `task` carries the `FRAME` hold.
    pub(crate) unsafe fn cancel_frame_task(&self, task: TaskRef) {
        // SAFETY: guaranteed by the caller; the hold keeps it live; nothing of this runtime
        // is running (the frame's closure or its wait loop is on the stack, not a poll).
        unsafe {
            if task.flags() & flags::LIVE != 0 {
                self.cancel(task);
            }
        }
    }

    /// Drops a frame task's `FRAME` hold (the frame has ended).
    ///
    /// # Safety
    /// Runtime thread; `task` carries the `FRAME` hold; called once per task.
    pub(crate) unsafe fn release_frame_task(&self, task: TaskRef) {
        // SAFETY: guaranteed by the caller.
        unsafe {
            task.set_flags(task.flags() & !flags::FRAME);
            release_local_if_idle(task);
        }
    }

    /// Claims a slab slot, counting it as allocated.
    pub(crate) fn try_claim_slot(&self) -> Option<RawSlot> {
        let slot = self.slab()?.try_claim()?;
        self.local.allocated.set(self.local.allocated.get() + 1);
        Some(slot)
    }

    /// Returns a claimed, never-used slot.
    ///
    /// # Safety
    /// `slot` came from `try_claim_slot` on this core and was not used or freed.
    pub(crate) unsafe fn free_claimed_slot(core: NonNull<Core>, slot: RawSlot) {
        // SAFETY: the outstanding claim keeps the core alive (as a live runtime or an orphan).
        let c = unsafe { core.as_ref() };
        if c.owner == thread_token() && !c.dead.load(Ordering::Relaxed) {
            // SAFETY: runtime thread; the slot is ours.
            unsafe { c.slab().expect("a claim implies a slab").free(slot) };
            c.local.allocated.set(c.local.allocated.get() - 1);
            c.slot_freed();
        } else {
            // SAFETY: the runtime is gone; the slot is an outstanding orphan.
            unsafe { orphan_free(core, Freed::Slot(slot)) }
        }
    }

    /// Registers a waker to be woken when a slab slot frees up. Returns the registration
    /// epoch: a waiter registered in the current epoch need not register again.
    pub(crate) fn wait_for_slot(&self, waker: &Waker, registered: Option<u64>) -> u64 {
        let epoch = self.local.slot_waiters_epoch.get();
        if registered != Some(epoch) {
            let mut waiters = self.local.slot_waiters.take();
            waiters.push(waker.clone());
            self.local.slot_waiters.set(waiters);
            self.local.has_slot_waiters.set(true);
        }
        epoch
    }

    /// A slot came back: wake everyone waiting for one (they race to claim it; the losers
    /// register again).
    #[inline]
    fn slot_freed(&self) {
        if !self.local.has_slot_waiters.get() || self.local.shutting_down.get() {
            return;
        }
        self.wake_slot_waiters();
    }

    #[inline(never)]
    fn wake_slot_waiters(&self) {
        self.local.has_slot_waiters.set(false);
        let mut waiters = self.local.slot_waiters.take();
        self.local
            .slot_waiters_epoch
            .set(self.local.slot_waiters_epoch.get() + 1);
        for waker in waiters.drain(..) {
            waker.wake();
        }
        // Keep the allocation for next time (waking never registers, but stay correct if a
        // waker somehow did).
        let newer = self.local.slot_waiters.take();
        if !newer.is_empty() {
            waiters.extend(newer);
            self.local.has_slot_waiters.set(true);
        }
        self.local.slot_waiters.set(waiters);
    }

    // ---- the local run queue and the owned list ---------------------------------------------

    /// # Safety
    /// Runtime thread; `task` is live and not in the run queue.
    #[inline]
    unsafe fn push_run(&self, task: TaskRef) {
        // SAFETY: guaranteed by the caller; the tail is a live queued task.
        unsafe {
            task.header().run_next.set(None);
            match self.local.run_tail.replace(Some(task)) {
                Some(tail) => tail.header().run_next.set(Some(task)),
                None => self.local.run_head.set(Some(task)),
            }
        }
        self.local.run_len.set(self.local.run_len.get() + 1);
    }

    #[inline]
    fn pop_run(&self) -> Option<TaskRef> {
        let task = self.local.run_head.get()?;
        // SAFETY: queued tasks are live (the queue is one of their local holds).
        let next = unsafe { task.header().run_next.take() };
        self.local.run_head.set(next);
        if next.is_none() {
            self.local.run_tail.set(None);
        }
        self.local.run_len.set(self.local.run_len.get() - 1);
        Some(task)
    }

    /// # Safety
    /// Runtime thread; `task` is live and not linked.
    unsafe fn link_owned(&self, task: TaskRef) {
        let head = self.local.owned_head.replace(Some(task));
        // SAFETY: guaranteed by the caller; `head` is a live linked task.
        unsafe {
            let h = task.header();
            h.owned_prev.set(None);
            h.owned_next.set(head);
            if let Some(head) = head {
                head.header().owned_prev.set(Some(task));
            }
        }
    }

    /// # Safety
    /// Runtime thread; `task` is live and linked.
    unsafe fn unlink_owned(&self, task: TaskRef) {
        // SAFETY: guaranteed by the caller; neighbours of a linked task are linked and live.
        unsafe {
            let h = task.header();
            let (prev, next) = (h.owned_prev.take(), h.owned_next.take());
            match prev {
                Some(p) => p.header().owned_next.set(next),
                None => self.local.owned_head.set(next),
            }
            if let Some(n) = next {
                n.header().owned_prev.set(prev);
            }
        }
    }

    /// Appends a live task to the run queue unless it is already there.
    ///
    /// # Safety
    /// Runtime thread; `task` is live.
    #[inline]
    unsafe fn schedule_local(&self, task: TaskRef) {
        // SAFETY: guaranteed by the caller.
        unsafe {
            let f = task.flags();
            if f & (flags::LIVE | flags::LOCAL_QUEUED) == flags::LIVE {
                task.set_flags(f | flags::LOCAL_QUEUED);
                self.push_run(task);
                self.local.local_wakes.set(self.local.local_wakes.get() + 1);
            }
        }
    }

    // ---- running tasks ----------------------------------------------------------------------

    /// Tasks waiting in the local run queue.
    pub(crate) fn run_queue_len(&self) -> usize {
        self.local.run_len.get()
    }

    /// Takes in remote wakes, then polls the tasks that were queued when the pass began, up
    /// to the budget. Tasks woken during the pass wait for the next one, so the root future
    /// and the I/O driver get their turn in between. Returns how many tasks were polled.
    pub(crate) fn run_pass(&self) -> usize {
        self.local.passes.set(self.local.passes.get() + 1);
        self.drain_remote();
        let n = self.local.run_len.get().min(self.local.budget.get());
        for _ in 0..n {
            let Some(task) = self.pop_run() else { break };
            // SAFETY: runtime thread; a queued task is live.
            unsafe { self.poll_task(task) };
        }
        n
    }

    /// # Safety
    /// Runtime thread; `task` was just popped from the run queue.
    unsafe fn poll_task(&self, task: TaskRef) {
        // SAFETY: guaranteed by the caller; the queue's hold keeps the task live until the
        // flags below drop it.
        unsafe {
            let f = task.flags() & !flags::LOCAL_QUEUED;
            task.set_flags(f);
            if f & flags::LIVE == 0 {
                // Finished while it sat in the queue: the queue was its last local hold?
                release_local_if_idle(task);
                return;
            }
            if f & flags::CANCEL != 0 {
                self.cancel(task);
                return;
            }
            task.set_flags(f | flags::RUNNING);
            let waker = borrowed_task_waker(task);
            let mut cx = Context::from_waker(&waker);
            let forbid_alloc =
                self.local.forbid_alloc_in_slab_polls && task.storage() == Storage::Slab;
            let ready = task.poll_future(&mut cx, forbid_alloc);
            self.local.polls.set(self.local.polls.get() + 1);
            let f = task.flags() & !flags::RUNNING;
            if ready {
                task.set_flags((f & !flags::FUTURE) | flags::OUTPUT);
                self.complete(task);
            } else {
                task.set_flags(f);
                if f & flags::CANCEL != 0 {
                    self.cancel(task);
                }
            }
        }
    }

    /// Drops a live task's future and completes it as cancelled.
    ///
    /// # Safety
    /// Runtime thread; `task` is live (`LIVE`) and not running.
    unsafe fn cancel(&self, task: TaskRef) {
        // SAFETY: guaranteed by the caller.
        unsafe {
            task.cancel_future();
            let f = task.flags();
            task.set_flags((f & !flags::FUTURE) | flags::OUTPUT);
            self.complete(task);
        }
    }

    /// The output is stored: unlink, hand it to the handle (or drop it), release.
    ///
    /// # Safety
    /// Runtime thread; `task` is `LIVE` and `OUTPUT` is set.
    unsafe fn complete(&self, task: TaskRef) {
        // SAFETY: guaranteed by the caller. The task stays live until `release_local_if_idle`
        // and we touch it no more after that.
        unsafe {
            self.unlink_owned(task);
            self.local.live.set(self.local.live.get() - 1);
            self.local.completed.set(self.local.completed.get() + 1);
            let f = (task.flags() & !(flags::LIVE | flags::CANCEL)) | flags::COMPLETE;
            let join_waker = if f & flags::HANDLE != 0 {
                task.set_flags(f);
                task.take_join_waker()
            } else {
                // Detached: nobody will read the output.
                task.set_flags(f & !flags::OUTPUT);
                let _ =
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| task.drop_output()));
                None
            };
            release_local_if_idle(task);
            if let Some(waker) = join_waker {
                waker.wake();
            }
        }
    }

    /// Frees a block whose last reference is gone.
    ///
    /// # Safety
    /// Runtime thread of a live (not dead) core; `task` belongs to this core, its stage is
    /// empty and nothing references it.
    unsafe fn free_local(&self, task: TaskRef) {
        // SAFETY: guaranteed by the caller.
        unsafe {
            debug_assert_eq!(task.flags() & (flags::FUTURE | flags::OUTPUT), 0);
            match task.storage() {
                Storage::Boxed => dealloc_box(task),
                Storage::Slab => {
                    self.slab()
                        .expect("a slab task implies a slab")
                        .free(task.slab_slot());
                    self.slot_freed();
                }
            }
        }
        self.local.allocated.set(self.local.allocated.get() - 1);
    }

    // ---- the remote queue, parking ------------------------------------------------------

    /// # Safety
    /// The core stays alive for the call: the caller holds a task reference (wake entries)
    /// or a strong reference to the core (release entries).
    unsafe fn push_remote(core: NonNull<Core>, entry: Entry) {
        // SAFETY: guaranteed by the caller.
        let c = unsafe { core.as_ref() };
        let raw = entry.encode();
        if c.remote.push(raw).is_err() {
            lock(&c.overflow).push(raw);
            c.overflow_len.fetch_add(1, Ordering::Release);
        }
        // After the push: a runtime that clears the flag and then drains either finds the
        // entry or sees the flag set again.
        c.remote_pending.store(true, Ordering::SeqCst);
        // Pairs with the fences in `park` and `shutdown`: either they see this entry, or we
        // see that the runtime sleeps (and wake it) or is dead (and drain it ourselves).
        fence(Ordering::SeqCst);
        if c.dead.load(Ordering::Relaxed) {
            // SAFETY: as above.
            unsafe { drain_orphans(core) };
        } else {
            c.unpark();
        }
    }

    fn pop_remote(&self) -> Option<RawEntry> {
        if let Some(raw) = self.remote.pop() {
            return Some(raw);
        }
        if self.overflow_len.load(Ordering::Acquire) == 0 {
            return None;
        }
        let raw = lock(&self.overflow).pop()?;
        self.overflow_len.fetch_sub(1, Ordering::Release);
        Some(raw)
    }

    /// Takes in wakes and releases sent from other threads, and futures spawned through a
    /// `Handle`. Runtime thread, core alive.
    pub(crate) fn drain_remote(&self) -> usize {
        // The common case, nothing from elsewhere, costs one plain load.
        if !self.remote_pending.load(Ordering::Relaxed)
            || !self.remote_pending.swap(false, Ordering::SeqCst)
        {
            return 0;
        }
        let mut n = 0;
        while let Some(job) = self.inject.pop() {
            job.spawn(self);
            n += 1;
        }
        while let Some(raw) = self.pop_remote() {
            n += 1;
            // SAFETY: entries hold a reference (wakes) or are unreferenced blocks of this core
            // (releases); we are on the runtime thread of a live core.
            unsafe {
                match Entry::decode(raw) {
                    Entry::Wake(task) => {
                        task.clear_remote_queued();
                        if task.flags() & flags::LIVE != 0 {
                            self.schedule_local(task);
                        }
                        drop_ref(task);
                    }
                    Entry::Release(task) => self.free_local(task),
                }
            }
        }
        n
    }

    /// Whether another thread has left work: remote entries or a root wake.
    pub(crate) fn has_remote_work(&self) -> bool {
        self.remote_pending.load(Ordering::Relaxed)
            || !self.remote.is_empty()
            || self.overflow_len.load(Ordering::Relaxed) > 0
            || self.root_woken.load(Ordering::Relaxed)
            || !self.inject.is_empty()
    }

    /// Announces that the runtime thread is about to sleep. Returns `false` (and stays
    /// awake) if work arrived meanwhile; otherwise the caller sleeps, then calls `unsleep`.
    pub(crate) fn prepare_sleep(&self) -> bool {
        self.sleeping.store(true, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        if self.has_remote_work() {
            self.sleeping.store(false, Ordering::Relaxed);
            return false;
        }
        self.local.parks.set(self.local.parks.get() + 1);
        true
    }

    pub(crate) fn unsleep(&self) {
        self.sleeping.store(false, Ordering::SeqCst);
    }

    /// Wakes the runtime thread if it sleeps. Call after publishing the work.
    pub(crate) fn unpark(&self) {
        fence(Ordering::SeqCst);
        if self.sleeping.load(Ordering::Relaxed) && self.sleeping.swap(false, Ordering::SeqCst) {
            // A failed wake means the eventfd counter is saturated: a wake is pending anyway.
            let _ = self.unparker.wake();
        }
    }

    // ---- the root future ----------------------------------------------------------------

    /// A waker for the root future that holds no reference, for the duration of `block_on`.
    pub(crate) fn borrowed_root_waker(&self) -> std::mem::ManuallyDrop<Waker> {
        // SAFETY: the root vtable upholds the `RawWaker` contract for a `self_ptr`, which the
        // runtime keeps alive through `block_on`; the borrowed waker is never dropped.
        std::mem::ManuallyDrop::new(unsafe {
            Waker::from_raw(RawWaker::new(self.self_ptr.cast(), &ROOT_WAKER_VTABLE))
        })
    }

    /// Takes the root's wake flag.
    #[inline]
    pub(crate) fn take_root_woken(&self) -> bool {
        self.root_woken.load(Ordering::Relaxed) && self.root_woken.swap(false, Ordering::Acquire)
    }

    // ---- statistics ---------------------------------------------------------------------------

    pub(crate) fn stats(&self) -> crate::RuntimeStats {
        let slab = self.slab();
        crate::RuntimeStats {
            tasks_live: self.local.live.get(),
            tasks_spawned: self.local.spawned.get(),
            tasks_completed: self.local.completed.get(),
            polls: self.local.polls.get(),
            parks: self.local.parks.get(),
            remote_wakes: self.remote_wakes.load(Ordering::Relaxed),
            local_wakes: self.local.local_wakes.get(),
            passes: self.local.passes.get(),
            frame_bytes: self.local.frame_bytes.get(),
            run_queue_len: self.local.run_len.get(),
            slab_slot_size: slab.map(ErasedSlab::slot_size),
            slab_capacity: slab.and_then(ErasedSlab::capacity),
            slab_used: slab.map_or(0, ErasedSlab::used),
            slab_peak: slab.map_or(0, ErasedSlab::peak),
            timers_armed: self.timers().map_or(0, |t| t.armed()),
            sockets: self.reactor().map_or(0, |r| r.registered()),
        }
    }

    // ---- shutdown -----------------------------------------------------------------------

    /// Cancels every task and retires the core. Runtime thread; called once, from
    /// `Runtime::drop`.
    pub(crate) fn shutdown(this: &Arc<Core>) {
        let c: &Core = this;
        let enter = EnterGuard::enter(c);
        c.local.shutting_down.set(true);
        loop {
            while let Some(task) = c.local.owned_head.get() {
                // SAFETY: runtime thread; owned tasks are live and (outside any poll of this
                // runtime, which `&mut Runtime` rules out) not running.
                unsafe { c.cancel(task) };
            }
            c.drain_remote();
            while let Some(task) = c.pop_run() {
                // SAFETY: runtime thread; the queue's hold kept it live until now.
                unsafe {
                    task.set_flags(task.flags() & !flags::LOCAL_QUEUED);
                    release_local_if_idle(task);
                }
            }
            drop(c.local.slot_waiters.take());
            // Destructors may have spawned: go round until nothing is left.
            if c.local.owned_head.get().is_none() && c.local.run_len.get() == 0 {
                break;
            }
        }
        // Sockets that outlive the runtime fail from now on; their waiters are woken.
        // SAFETY: runtime thread; no task code runs any more, so nothing borrows these.
        let (timers, reactor) = unsafe {
            (
                (*c.local.timers.get()).take(),
                (*c.local.reactor.get()).take(),
            )
        };
        if let Some(reactor) = &reactor {
            reactor.shutdown();
        }
        drop((timers, reactor));
        drop(enter);

        // From here on no user code runs: only atomics and frees, under the orphans lock.
        let mut orphans = lock(&c.orphans);
        c.dead.store(true, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        while let Some(raw) = c.pop_remote() {
            // SAFETY: as in `drain_remote`; the slab is still ours, no task is live, and a
            // block whose count drops to zero here is freed directly (not via
            // `release_final`, which would take the lock we hold).
            unsafe {
                match Entry::decode(raw) {
                    Entry::Wake(task) => {
                        task.clear_remote_queued();
                        if task.ref_dec() {
                            c.free_local(task);
                        }
                    }
                    Entry::Release(task) => c.free_local(task),
                }
            }
        }
        // SAFETY: nothing borrows the slab now (no task code runs any more).
        let slab = unsafe { (*c.local.slab.get()).take() };
        let outstanding = c.local.allocated.get();
        if outstanding > 0 {
            *orphans = Some(Orphans {
                slab,
                outstanding,
                core: Arc::into_raw(Arc::clone(this)),
            });
            drop(orphans);
        } else {
            drop(orphans);
            drop(slab);
        }
        // Futures spawned from other threads that never ran: dropping them reports them
        // cancelled to their join handles (outside the lock: that wakes foreign wakers).
        while let Some(job) = c.inject.pop() {
            drop(job);
        }
    }
}

// ---- task reference transitions (any thread unless noted) ----------------------------------

/// Wakes `task`: straight into the local run queue on the runtime's thread, else through
/// the remote queue.
///
/// # Safety
/// The caller holds a reference to `task` (an owned or borrowed waker).
pub(crate) unsafe fn schedule_from_waker(task: TaskRef) {
    // SAFETY: the caller's reference keeps the task, and so its core, alive.
    unsafe {
        let core = task.core();
        let c = core.as_ref();
        if c.owner == thread_token() && !c.dead.load(Ordering::Relaxed) {
            c.schedule_local(task);
        } else if task.mark_remote_queued() {
            task.ref_inc();
            c.remote_wakes.fetch_add(1, Ordering::Relaxed);
            Core::push_remote(core, Entry::Wake(task));
        }
    }
}

/// Drops one atomic reference; frees the block if it was the last.
///
/// # Safety
/// The caller holds the reference it drops.
pub(crate) unsafe fn drop_ref(task: TaskRef) {
    // SAFETY: guaranteed by the caller.
    unsafe {
        if task.ref_dec() {
            release_final(task);
        }
    }
}

/// Drops the runtime thread's local reference if no local hold (live, handle, queued) is
/// left. Call exactly where a hold was just removed.
///
/// # Safety
/// Runtime thread (or the owner thread of a dead core); the local reference is still held.
pub(crate) unsafe fn release_local_if_idle(task: TaskRef) {
    // SAFETY: guaranteed by the caller.
    unsafe {
        if task.flags() & flags::LOCAL_HOLDS == 0 && task.release_local_ref() {
            release_final(task);
        }
    }
}

/// Requests cancellation of a live task (see `JoinHandle::abort`).
///
/// # Safety
/// Runtime thread; the caller holds `HANDLE` on `task`.
pub(crate) unsafe fn abort_task(task: TaskRef) {
    // SAFETY: guaranteed by the caller; a `LIVE` task's core is alive and not dead.
    unsafe {
        let f = task.flags();
        if f & flags::LIVE == 0 || f & flags::CANCEL != 0 {
            return;
        }
        task.set_flags(f | flags::CANCEL);
        if f & (flags::RUNNING | flags::LOCAL_QUEUED) == 0 {
            task.core().as_ref().schedule_cancelled(task);
        }
    }
}

impl Core {
    /// # Safety
    /// Runtime thread; `task` is live, flagged `CANCEL`, and not queued or running.
    unsafe fn schedule_cancelled(&self, task: TaskRef) {
        // SAFETY: guaranteed by the caller.
        unsafe {
            task.set_flags(task.flags() | flags::LOCAL_QUEUED);
            self.push_run(task);
        }
    }
}

/// The last reference to `task` is gone: free its block where that is allowed.
///
/// # Safety
/// No reference to `task` remains; its stage is empty.
unsafe fn release_final(task: TaskRef) {
    // SAFETY: the block is ours alone; its core outlives it (a live runtime, or an orphan
    // entry counting this block, keeps a strong reference).
    unsafe {
        let core = task.core();
        let c = core.as_ptr();
        let dead = (*c).dead.load(Ordering::SeqCst);
        if !dead && (*c).owner == thread_token() {
            (*c).free_local(task);
        } else if !dead {
            // Send it home. Hold the core: once the entry is in, the runtime may free the block
            // and shut down before `push_remote` returns.
            Arc::increment_strong_count(c);
            Core::push_remote(core, Entry::Release(task));
            Arc::decrement_strong_count(c);
        } else {
            orphan_free(core, Freed::Task(task));
        }
    }
}

/// Frees an orphaned block or claim under the lock; the last one retires slab and core.
///
/// # Safety
/// The core is dead and `what` is one of its outstanding orphans, unreferenced.
unsafe fn orphan_free(core: NonNull<Core>, what: Freed) {
    let done = {
        // SAFETY: the orphan entry holds a strong reference until `finish`.
        let c = unsafe { core.as_ref() };
        let mut guard = lock(&c.orphans);
        let orphans = guard
            .as_mut()
            .expect("a dead runtime with outstanding blocks has orphans");
        // SAFETY: guaranteed by the caller.
        unsafe { orphans.free(what) };
        if orphans.outstanding == 0 {
            guard.take()
        } else {
            None
        }
    };
    Orphans::finish(done);
}

/// Processes remote entries that arrived after the runtime died.
///
/// # Safety
/// The core is alive for the call (see `push_remote`) and dead.
unsafe fn drain_orphans(core: NonNull<Core>) {
    let done = {
        // SAFETY: guaranteed by the caller.
        let c = unsafe { core.as_ref() };
        let mut guard = lock(&c.orphans);
        let Some(orphans) = guard.as_mut() else {
            return;
        };
        while let Some(raw) = c.pop_remote() {
            // SAFETY: entries hold a reference (wakes) or are unreferenced blocks (releases),
            // all counted as outstanding orphans.
            unsafe {
                match Entry::decode(raw) {
                    Entry::Wake(task) => {
                        task.clear_remote_queued();
                        if task.ref_dec() {
                            orphans.free(Freed::Task(task));
                        }
                    }
                    Entry::Release(task) => orphans.free(Freed::Task(task)),
                }
            }
        }
        if orphans.outstanding == 0 {
            guard.take()
        } else {
            None
        }
    };
    Orphans::finish(done);
}

// ---- the root waker -------------------------------------------------------------------------

/// The root future's waker points at the core; clones hold a strong `Arc` reference.
static ROOT_WAKER_VTABLE: RawWakerVTable =
    RawWakerVTable::new(root_clone, root_wake, root_wake_by_ref, root_drop);

unsafe fn root_clone(ptr: *const ()) -> RawWaker {
    // SAFETY: `ptr` is a `self_ptr` (from the core's `Arc`), alive while this waker exists.
    unsafe { Arc::increment_strong_count(ptr.cast::<Core>()) };
    RawWaker::new(ptr, &ROOT_WAKER_VTABLE)
}

unsafe fn root_wake(ptr: *const ()) {
    // SAFETY: this owned waker holds a strong reference, given back by `root_drop`.
    unsafe {
        root_wake_by_ref(ptr);
        root_drop(ptr);
    }
}

unsafe fn root_wake_by_ref(ptr: *const ()) {
    // SAFETY: the waker keeps the core alive for the call.
    let c = unsafe { &*ptr.cast::<Core>() };
    c.root_woken.store(true, Ordering::Release);
    if c.owner != thread_token() {
        c.unpark();
    }
}

unsafe fn root_drop(ptr: *const ()) {
    // SAFETY: this owned waker holds a strong reference.
    unsafe { Arc::decrement_strong_count(ptr.cast::<Core>()) };
}
