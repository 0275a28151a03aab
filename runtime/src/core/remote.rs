//! The cross-thread protocol: wakes and final releases that arrive from other threads,
//! jobs injected through a `Handle`, and parking.
//!
//! - A wake from another thread sets the task's `REMOTE_QUEUED` bit (so a task is in the
//!   queue at most once), takes a reference for the entry, pushes a *wake* entry and unparks
//!   the runtime if it sleeps.
//! - A last reference dropped on another thread pushes a *release* entry (no reference: the
//!   count is already zero), so slab slots are only freed on the runtime thread.
//! - The queue is a `crossbeam_queue::ArrayQueue`; beyond its capacity, entries spill into a
//!   mutex-protected `Vec` (allocating, and only then). Wakes and releases allocate nothing
//!   otherwise; jobs from a `Handle` arrive boxed (`Handle::spawn` allocates, on the calling
//!   thread) in a `crossbeam_queue::SegQueue`.
//! - Every push is followed by a `SeqCst` fence and a look at `dead`: either the runtime's
//!   shutdown (which sets `dead`, fences, then drains under the orphans lock) sees the entry,
//!   or the pusher sees `dead` and drains it itself under that lock (`orphans.rs`). The same
//!   handshake with `sleeping` makes sure a parked runtime is woken. `loom_tests.rs` checks
//!   this protocol.

use std::sync::{Arc, PoisonError};

use super::Core;
use super::orphans::{Freed, drain_orphans, orphan_free};
use super::sync::{Mutex, MutexGuard, Ordering, fence};
use super::task::{TaskRef, is_live};

/// Work sent from another thread to be run on the runtime thread (a `Handle` spawn).
pub(crate) trait RemoteJob: Send {
    /// Runs on the runtime thread of a live core. Dropping the job instead (the runtime shut
    /// down first) must report it cancelled to whoever waits for it.
    fn run(self: Box<Self>, core: &Core);
}

/// Entry tag: "the last reference was dropped elsewhere: free this block". Untagged entries
/// are wakes. Headers are 8-aligned, so the low bit is free.
const RELEASE_TAG: usize = 1;

pub(super) enum Entry {
    /// Holds one reference to the task.
    Wake(TaskRef),
    /// Holds none: the block's count is zero.
    Release(TaskRef),
}

/// An `Entry` as stored in the remote queue: a task pointer, tagged in its low bit, keeping
/// its provenance (no integer round trip).
#[derive(Clone, Copy)]
pub(super) struct RawEntry(*const ());

// SAFETY: the pointer is only a message: the receiving side owns what it carries (a reference,
// or the unreferenced block) and touches the task under the rules of `task/mod.rs`.
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
    pub(super) unsafe fn decode(raw: RawEntry) -> Entry {
        // SAFETY: `encode` stored a live task pointer, tagged in its free low bit.
        let task = unsafe { TaskRef::from_ptr(raw.0.map_addr(|a| a & !RELEASE_TAG)) };
        if raw.0.addr() & RELEASE_TAG == 0 {
            Entry::Wake(task)
        } else {
            Entry::Release(task)
        }
    }
}

impl Entry {
    /// For a runtime that will not run the task again (dead, or dying): gives back a wake
    /// entry's reference and returns the block if nothing references it any more; a release
    /// entry's block is unreferenced already.
    ///
    /// # Safety
    /// The caller owns the entry (it was popped from the queue).
    pub(super) unsafe fn into_unreferenced(self) -> Option<TaskRef> {
        match self {
            // SAFETY: the entry's reference keeps the task live until it is given back here.
            Entry::Wake(task) => unsafe {
                task.state().clear_remote_queued();
                task.state().ref_dec().then_some(task)
            },
            Entry::Release(task) => Some(task),
        }
    }
}

pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // No user code runs while these locks are held; recover the data regardless.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Core {
    /// Hands a job to the runtime thread (any thread). If the runtime has died meanwhile,
    /// the job is dropped here, which reports it cancelled.
    pub(crate) fn inject(&self, job: Box<dyn RemoteJob>) {
        self.inject.push(job);
        self.remote_pending.store(true, Ordering::SeqCst);
        // As `push_remote`: either shutdown sees the job, or we see `dead` and drop it.
        fence(Ordering::SeqCst);
        if self.dead.load(Ordering::Relaxed) {
            self.drop_injected();
        } else {
            self.unpark();
        }
    }

    /// Drops the jobs that will never run (the runtime is dead): each reports itself
    /// cancelled. A panic in that report is the dropper's; the rest are still dropped.
    pub(super) fn drop_injected(&self) -> Option<Box<dyn std::any::Any + Send>> {
        let mut first = None;
        while let Some(job) = self.inject.pop() {
            if let Err(p) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(job))) {
                first.get_or_insert(p);
            }
        }
        first
    }

    /// # Safety
    /// The core stays alive for the call: the caller holds a task reference (wake entries)
    /// or a strong reference to the core (release entries).
    unsafe fn push_remote(core: std::ptr::NonNull<Core>, entry: Entry) {
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
        // Pairs with the fences in `prepare_sleep` and `shutdown`: either they see this entry,
        // or we see that the runtime sleeps (and wake it) or is dead (and drain it ourselves).
        fence(Ordering::SeqCst);
        if c.dead.load(Ordering::Relaxed) {
            // SAFETY: as above.
            unsafe { drain_orphans(core) };
        } else {
            c.unpark();
        }
    }

    pub(super) fn pop_remote(&self) -> Option<RawEntry> {
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

    /// Takes in jobs, wakes and releases sent from other threads. Runtime thread, core
    /// alive. A job whose user code panics is contained (see `RemoteJob`), and the rest of
    /// the queue still runs.
    pub(crate) fn drain_remote(&self) -> usize {
        // The common case, nothing from elsewhere, costs one plain load.
        if !self.remote_pending.load(Ordering::Relaxed)
            || !self.remote_pending.swap(false, Ordering::SeqCst)
        {
            return 0;
        }
        // Only the jobs already there: a job that sends another (from its closure, through a
        // `Handle`) leaves it for the next pass instead of keeping this one going forever
        // (its push set `remote_pending` again).
        let jobs = self.inject.len();
        for _ in 0..jobs {
            let Some(job) = self.inject.pop() else { break };
            self.contain(|| job.run(self));
        }
        jobs + self.drain_entries()
    }

    /// Takes in the wake and release entries (not the jobs). Runtime thread, core alive.
    pub(super) fn drain_entries(&self) -> usize {
        let mut n = 0;
        while let Some(raw) = self.pop_remote() {
            n += 1;
            // SAFETY: entries hold a reference (wakes) or are unreferenced blocks of this core
            // (releases); we are on the runtime thread of a live core.
            unsafe {
                match Entry::decode(raw) {
                    Entry::Wake(task) => {
                        task.state().clear_remote_queued();
                        if is_live(task) {
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

    /// Whether another thread has left work: remote entries, jobs or a root wake.
    ///
    /// Two loads: every push (`push_remote`, `inject`) sets `remote_pending` after its entry
    /// is in, and only `drain_remote` clears it, on this thread, before it drains; an entry
    /// that its drain leaves behind (pushed meanwhile, or a job beyond the count it took) set
    /// the flag again after the clear. So a queued entry always has the flag set.
    #[inline]
    pub(crate) fn has_remote_work(&self) -> bool {
        self.remote_pending.load(Ordering::Relaxed) || self.root_woken.load(Ordering::Relaxed)
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
}

// ---- task reference transitions (any thread) -------------------------------------------------

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
        if c.is_owner_thread() && !c.dead.load(Ordering::Relaxed) {
            c.schedule_local(task);
        } else if task.state().mark_remote_queued() {
            task.state().ref_inc();
            c.remote_wakes.fetch_add(1, Ordering::Relaxed);
            Core::push_remote(core, Entry::Wake(task));
        }
    }
}

/// Drops one reference; frees the block if it was the last.
///
/// # Safety
/// The caller holds the reference it drops.
pub(crate) unsafe fn drop_ref(task: TaskRef) {
    // SAFETY: guaranteed by the caller.
    unsafe {
        if task.state().ref_dec() {
            release_final(task);
        }
    }
}

/// The last reference to `task` is gone: free its block where that is allowed.
///
/// # Safety
/// No reference to `task` remains; its stage is empty.
pub(crate) unsafe fn release_final(task: TaskRef) {
    // SAFETY: the block is ours alone; its core outlives it (a live runtime, or an orphan
    // record counting this block, keeps a strong reference).
    unsafe {
        let core = task.core();
        let c = core.as_ptr();
        let dead = (*c).dead.load(Ordering::SeqCst);
        if !dead && (*c).is_owner_thread() {
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
