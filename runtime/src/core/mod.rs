//! The executor core: one per runtime, behind an `Arc` so that wakers on any thread can
//! reach it. This module is the runtime's unsafe core, one concept per file:
//!
//! | file | what |
//! |---|---|
//! | `task/` | the task block, its state machine (`task/mod.rs`), wakers, join handles |
//! | `run_queue.rs` | the intrusive run queue and owned list (runtime thread) |
//! | `slots.rs` | spawning into the slab or a heap block, slab claims, slot waiters |
//! | `remote.rs` | the cross-thread protocol: remote wakes and releases, parking, injected jobs |
//! | `orphans.rs` | blocks and claims that outlive the runtime |
//! | `shutdown.rs` | cancelling everything and retiring the core, whatever user code does |
//! | `root.rs` | the root future's waker |
//!
//! # Threads
//!
//! `Core` is split in two. The thread-safe half (remote queue, flags for the parker and the
//! root future, the orphan lock) is used from any thread. The `local` half (run queue, owned
//! list, the slab, counters) is plain `Cell`s, used **only on the runtime's thread**
//! (`owner`): the `Runtime`, `JoinHandle` and `SlabClaim` are `!Send`, the thread-local
//! context only ever holds cores of its own thread, and a waker checks the thread before
//! it takes the local path. That is what the `unsafe impl Sync` rests on.
//!
//! # Lifetime
//!
//! The `Runtime` holds the first `Arc<Core>`; the thread-local context (`crate::context`)
//! holds one while the runtime is entered, `Handle`s hold one each, and after shutdown the
//! orphan record holds one while any task block or claim is outstanding. So a raw
//! `NonNull<Core>` in a task header or a claim always points to a live `Core`. A *dead*
//! core (`is_shut_down`) has no slab, no tasks and refuses spawns.

mod orphans;
pub(crate) mod remote;
mod root;
mod run_queue;
mod shutdown;
mod slots;
mod sync;
pub(crate) mod task;

#[cfg(all(test, loom))]
mod loom_tests;

use std::any::Any;
use std::cell::{Cell, UnsafeCell};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr::NonNull;
use std::sync::Arc;
use std::task::Waker;

use tickslab_alloc::slab::ErasedSlab;

use orphans::Orphans;
use remote::RawEntry;
pub(crate) use remote::RemoteJob;
use run_queue::{OwnedList, RunQueue};
pub(crate) use slots::SlabRefusal;
use sync::{ArrayQueue, AtomicBool, AtomicU64, AtomicUsize, Mutex, Ordering, SegQueue};

// ---- threads --------------------------------------------------------------------------------

static NEXT_THREAD_TOKEN: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

#[cfg(not(loom))]
thread_local! {
    /// A number unique to this thread for the life of the process (never reused, unlike a
    /// thread-local's address).
    static THREAD_TOKEN: Cell<u64> = const { Cell::new(0) };
}

// Loom runs its threads on one OS thread: their identities live in loom's thread-locals.
#[cfg(loom)]
loom::thread_local! {
    static THREAD_TOKEN: Cell<u64> = Cell::new(0);
}

#[inline]
pub(crate) fn thread_token() -> u64 {
    THREAD_TOKEN.with(|t| {
        let v = t.get();
        if v != 0 {
            return v;
        }
        let v = NEXT_THREAD_TOKEN.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        t.set(v);
        v
    })
}

/// A fresh runtime id (1, 2, ...): a `u64` counter does not wrap in practice.
fn next_runtime_id() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

// ---- the core -------------------------------------------------------------------------------

/// Settings fixed at build time.
pub(crate) struct CoreConfig {
    pub(crate) slab: Option<ErasedSlab>,
    pub(crate) budget: usize,
    pub(crate) remote_capacity: usize,
    pub(crate) unparker: mio::Waker,
    pub(crate) forbid_alloc_in_slab_polls: bool,
    /// The runtime's name (`Builder::name`), for `Handle::name`.
    pub(crate) name: Option<Box<str>>,
}

pub(crate) struct Core {
    /// This core's address with the provenance of its `Arc` allocation (tasks store it and
    /// may turn it back into strong references).
    self_ptr: *const Core,
    owner: u64,
    /// Unique among the process's runtimes (a global counter), for `Handle::id`.
    id: u64,
    dead: AtomicBool,
    root_woken: AtomicBool,
    sleeping: AtomicBool,
    /// Set after anything is pushed to `remote`, `overflow` or `inject`; the runtime checks
    /// this one flag per pass instead of probing three queues.
    remote_pending: AtomicBool,
    remote: ArrayQueue<RawEntry>,
    overflow: Mutex<Vec<RawEntry>>,
    overflow_len: AtomicUsize,
    unparker: mio::Waker,
    remote_wakes: AtomicU64,
    /// Jobs sent from other threads through a `Handle`, to be run here.
    inject: SegQueue<Box<dyn RemoteJob>>,
    shutdown_requested: AtomicBool,
    orphans: Mutex<Option<Orphans>>,
    /// Set at build time, never changed: read from any thread.
    name: Option<Box<str>>,
    local: Local,
}

/// Runtime-thread-only state.
struct Local {
    run: RunQueue,
    owned: OwnedList,
    live: Cell<usize>,
    /// Task blocks (boxed or slab) not yet freed, plus outstanding slab claims.
    allocated: Cell<usize>,
    /// Taken out only at shutdown, when nothing borrows it.
    slab: UnsafeCell<Option<ErasedSlab>>,
    slot_waiters: Cell<Vec<Waker>>,
    /// Whether `slot_waiters` holds anyone (read on every slot free: cheaper than a take).
    has_slot_waiters: Cell<bool>,
    slot_waiters_epoch: Cell<u64>,
    shutting_down: Cell<bool>,
    /// The first panic of user code that was not a task's own (a join waker's `wake`, a
    /// `Handle::spawn_with` closure at shutdown, ...), kept until it can be re-raised
    /// without leaving the runtime half-updated.
    deferred_panic: Cell<Option<Box<dyn Any + Send>>>,
    /// Whether `deferred_panic` holds one (checked after every pass: one byte to read).
    has_deferred_panic: Cell<bool>,
    forbid_alloc_in_slab_polls: bool,
    budget: Cell<usize>,
    spawned: Cell<u64>,
    completed: Cell<u64>,
    polls: Cell<u64>,
    parks: Cell<u64>,
    park_spins_hit: Cell<u64>,
    park_spins_empty: Cell<u64>,
    passes: Cell<u64>,
    local_wakes: Cell<u64>,
    frame_bytes: Cell<usize>,
    /// The task being polled (`task::id()`); `None` between polls and in the root future.
    current_task: Cell<Option<task::TaskRef>>,
}

// SAFETY: the `local` half is only touched on the `owner` thread (see the module docs); every
// other field is atomic, a lock-free queue, a mutex, or a `mio::Waker` (`Send + Sync`).
unsafe impl Sync for Core {}
// SAFETY: as above; the last `Arc<Core>` may be dropped on any thread, after the runtime has
// shut down, when `local` holds nothing but empty lists and counters.
unsafe impl Send for Core {}

/// Counters of the task side of a runtime (the runtime adds timers and sockets).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct CoreStats {
    pub(crate) tasks_live: usize,
    pub(crate) tasks_spawned: u64,
    pub(crate) tasks_completed: u64,
    pub(crate) polls: u64,
    pub(crate) parks: u64,
    pub(crate) park_spins_hit: u64,
    pub(crate) park_spins_empty: u64,
    pub(crate) remote_wakes: u64,
    pub(crate) local_wakes: u64,
    pub(crate) passes: u64,
    pub(crate) run_queue_len: usize,
    pub(crate) slab_slot_size: Option<usize>,
    pub(crate) slab_capacity: Option<usize>,
    pub(crate) slab_used: usize,
    pub(crate) slab_peak: usize,
    pub(crate) frame_bytes: usize,
}

impl Core {
    pub(crate) fn new(config: CoreConfig) -> Arc<Core> {
        Arc::new_cyclic(|weak| Core {
            self_ptr: weak.as_ptr(),
            owner: thread_token(),
            id: next_runtime_id(),
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
            name: config.name,
            local: Local {
                run: RunQueue::new(),
                owned: OwnedList::new(),
                live: Cell::new(0),
                allocated: Cell::new(0),
                slab: UnsafeCell::new(config.slab),
                slot_waiters: Cell::new(Vec::new()),
                has_slot_waiters: Cell::new(false),
                slot_waiters_epoch: Cell::new(0),
                shutting_down: Cell::new(false),
                deferred_panic: Cell::new(None),
                has_deferred_panic: Cell::new(false),
                forbid_alloc_in_slab_polls: config.forbid_alloc_in_slab_polls,
                budget: Cell::new(config.budget.max(1)),
                spawned: Cell::new(0),
                completed: Cell::new(0),
                polls: Cell::new(0),
                parks: Cell::new(0),
                park_spins_hit: Cell::new(0),
                park_spins_empty: Cell::new(0),
                passes: Cell::new(0),
                local_wakes: Cell::new(0),
                frame_bytes: Cell::new(0),
                current_task: Cell::new(None),
            },
        })
    }

    /// This core's address, for records that keep it alive otherwise (a claim is counted in
    /// `allocated`, so the core outlives it as a live runtime or an orphan record).
    #[inline]
    pub(crate) fn ptr(&self) -> NonNull<Core> {
        // SAFETY: `self_ptr` is the address of this live core.
        unsafe { NonNull::new_unchecked(self.self_ptr as *mut Core) }
    }

    /// This runtime's id: unique among the process's runtimes, never 0.
    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    /// The runtime's name, if it was given one.
    pub(crate) fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// Whether this is the thread the runtime was built on.
    #[inline]
    pub(crate) fn is_owner_thread(&self) -> bool {
        self.owner == thread_token()
    }

    /// The slab, if one was configured (and the runtime is not dead).
    #[inline]
    pub(crate) fn slab(&self) -> Option<&ErasedSlab> {
        // SAFETY: runtime thread (every caller is); the slab is only taken out at shutdown,
        // by `shutdown`, which holds no reference from here while it does.
        unsafe { (*self.local.slab.get()).as_ref() }
    }

    /// Whether the runtime has been dropped. A dead core refuses every spawn.
    #[inline]
    pub(crate) fn is_shut_down(&self) -> bool {
        self.dead.load(Ordering::SeqCst)
    }

    /// Whether `shutdown` is cancelling the tasks (runtime thread): a task spawned now would
    /// be cancelled before its first poll.
    pub(crate) fn is_shutting_down(&self) -> bool {
        self.local.shutting_down.get()
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

    #[inline]
    fn run_queue(&self) -> &RunQueue {
        &self.local.run
    }

    #[inline]
    fn owned(&self) -> &OwnedList {
        &self.local.owned
    }

    /// Tasks waiting in the local run queue.
    #[inline]
    pub(crate) fn run_queue_len(&self) -> usize {
        self.local.run.len()
    }

    #[inline]
    fn forbid_alloc_in_slab_polls(&self) -> bool {
        self.local.forbid_alloc_in_slab_polls
    }

    // ---- user code that is not a task's own ------------------------------------------------

    /// Runs `f` (user code: a foreign waker, a closure from another thread), keeping its
    /// panic, if any, for [`take_deferred_panic`](Self::take_deferred_panic): the caller
    /// goes on with its bookkeeping as if `f` had returned.
    #[inline]
    pub(crate) fn contain(&self, f: impl FnOnce()) {
        if let Err(payload) = catch_unwind(AssertUnwindSafe(f)) {
            self.defer_panic(payload);
        }
    }

    /// Keeps `payload` to be re-raised later (the first one wins; later ones are dropped).
    pub(crate) fn defer_panic(&self, payload: Box<dyn Any + Send>) {
        let first = self.local.deferred_panic.take();
        self.local
            .deferred_panic
            .set(Some(first.unwrap_or(payload)));
        self.local.has_deferred_panic.set(true);
    }

    /// The contained panic, if any: the driver re-raises it once the runtime is consistent.
    #[inline]
    pub(crate) fn take_deferred_panic(&self) -> Option<Box<dyn Any + Send>> {
        if !self.local.has_deferred_panic.get() {
            return None;
        }
        self.local.has_deferred_panic.set(false);
        self.local.deferred_panic.take()
    }

    // ---- running --------------------------------------------------------------------------

    /// Takes in remote wakes, then polls the tasks that were queued when the pass began, up
    /// to the budget. Tasks woken during the pass wait for the next one, so the root future
    /// and the I/O driver get their turn in between. Returns how many tasks were polled.
    pub(crate) fn run_pass(&self) -> usize {
        self.local.passes.set(self.local.passes.get() + 1);
        self.drain_remote();
        let n = self.local.run.len().min(self.local.budget.get());
        for _ in 0..n {
            let Some(task) = self.local.run.pop() else {
                break;
            };
            // SAFETY: runtime thread; the task was just popped from the run queue.
            unsafe { self.poll_task(task) };
        }
        n
    }

    /// Wakes that came from other threads so far (the driver spins before parking only
    /// when some arrived since its last park).
    #[inline]
    pub(crate) fn remote_wake_count(&self) -> u64 {
        self.remote_wakes.load(Ordering::Relaxed)
    }

    /// Counts a spin before parking, and whether it found work.
    pub(crate) fn count_park_spin(&self, hit: bool) {
        let counter = if hit {
            &self.local.park_spins_hit
        } else {
            &self.local.park_spins_empty
        };
        counter.set(counter.get() + 1);
    }

    /// Records the arena bytes the last frame used (for the stats).
    pub(crate) fn set_frame_bytes(&self, bytes: usize) {
        self.local.frame_bytes.set(bytes);
    }

    // ---- counters -------------------------------------------------------------------------

    #[inline]
    fn count_spawn(&self) {
        self.local.live.set(self.local.live.get() + 1);
        self.local.spawned.set(self.local.spawned.get() + 1);
    }

    #[inline]
    fn count_complete(&self) {
        self.local.live.set(self.local.live.get() - 1);
        self.local.completed.set(self.local.completed.get() + 1);
    }

    /// Makes `task` the one being polled; returns the previous one, to put back.
    #[inline]
    fn set_current_task(&self, task: Option<task::TaskRef>) -> Option<task::TaskRef> {
        self.local.current_task.replace(task)
    }

    /// The id of the task being polled on this runtime, if any (runtime thread).
    pub(crate) fn current_task_id(&self) -> Option<task::Id> {
        self.local.current_task.get().map(task::Id::of)
    }

    #[inline]
    fn count_poll(&self) {
        self.local.polls.set(self.local.polls.get() + 1);
    }

    #[inline]
    fn count_local_wake(&self) {
        self.local.local_wakes.set(self.local.local_wakes.get() + 1);
    }

    pub(crate) fn stats(&self) -> CoreStats {
        let slab = self.slab();
        CoreStats {
            tasks_live: self.local.live.get(),
            tasks_spawned: self.local.spawned.get(),
            tasks_completed: self.local.completed.get(),
            polls: self.local.polls.get(),
            parks: self.local.parks.get(),
            park_spins_hit: self.local.park_spins_hit.get(),
            park_spins_empty: self.local.park_spins_empty.get(),
            remote_wakes: self.remote_wakes.load(Ordering::Relaxed),
            local_wakes: self.local.local_wakes.get(),
            passes: self.local.passes.get(),
            run_queue_len: self.local.run.len(),
            slab_slot_size: slab.map(ErasedSlab::slot_size),
            slab_capacity: slab.and_then(ErasedSlab::capacity),
            slab_used: slab.map_or(0, ErasedSlab::used),
            slab_peak: slab.map_or(0, ErasedSlab::peak),
            frame_bytes: self.local.frame_bytes.get(),
        }
    }
}
