//! Shutdown: cancel every task, retire the core, hand what is still referenced to the
//! orphan record. Runs once, on the runtime thread, from `Runtime::drop`.
//!
//! User code runs here: futures' destructors (caught by the task's vtable), join wakers,
//! slot waiters, the jobs and wakers of `Handle` spawns that never ran. None of it can stop
//! shutdown halfway: each call is contained (`Core::contain`) and the first panic is
//! returned to the caller, which re-raises it once the runtime is fully retired. Destructors
//! may spawn: the loop goes round until nothing is left.

use std::any::Any;
use std::sync::Arc;

use super::Core;
use super::orphans::Orphans;
use super::remote::{Entry, lock};
use super::sync::{Ordering, fence};

impl Core {
    /// Cancels every task and retires the core. Returns the first panic of user code met on
    /// the way (the caller re-raises it after its own cleanup).
    ///
    /// The caller installs this runtime as the thread's context first, so that destructors
    /// which spawn reach it (and are cancelled in turn).
    pub(crate) fn shutdown(this: &Arc<Core>) -> Option<Box<dyn Any + Send>> {
        let c: &Core = this;
        debug_assert!(c.is_owner_thread());
        c.local.shutting_down.set(true);
        loop {
            while let Some(task) = c.owned().first() {
                // SAFETY: runtime thread; owned tasks are live and not running: shutdown runs
                // from the runtime's drop, which no drive loop of it can be inside (each holds
                // a reference to what is being dropped: `Runtime::block_on` borrows the
                // `Runtime`, `Handle::block_on` holds an `Rc` of its driving parts).
                unsafe { c.cancel(task) };
            }
            // Jobs sent from other threads are dropped, not run: they report "cancelled".
            if let Some(payload) = c.drop_injected() {
                c.defer_panic(payload);
            }
            c.drain_entries();
            while let Some(task) = c.run_queue().pop() {
                // SAFETY: runtime thread; the task was just popped from the run queue.
                unsafe { c.unqueue_without_poll(task) };
            }
            c.drop_slot_waiters();
            // Destructors may have spawned (or woken, or injected): go round until idle.
            if c.owned().first().is_none() && c.run_queue().len() == 0 && c.inject.is_empty() {
                break;
            }
        }

        // From here on no user code runs: only atomics and frees, under the orphans lock.
        let mut orphans = lock(&c.orphans);
        c.dead.store(true, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        while let Some(raw) = c.pop_remote() {
            // SAFETY: as in `drain_entries`; the slab is still ours, no task is live, and a
            // block nobody references any more is freed directly (not via `release_final`,
            // which would take the lock we hold).
            unsafe {
                if let Some(task) = Entry::decode(raw).into_unreferenced() {
                    c.free_local(task);
                }
            }
        }
        // SAFETY: runtime thread; nothing borrows the slab now (no task code runs any more,
        // and `slab()` borrows end within the calls that make them).
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
        // Jobs that raced in before `dead` was set: nobody else will see them.
        if let Some(payload) = c.drop_injected() {
            c.defer_panic(payload);
        }
        c.take_deferred_panic()
    }
}
