//! Children dropped before they were reaped: killed if asked (`kill_on_drop`), then reaped
//! in the background, so that no zombie is left, as tokio does (tokio documents that a
//! dropped `Child` is not waited for, and reaps what it can "on a best-effort basis").
//!
//! Where the child goes ([`abandon`]):
//! 1. it has exited already: `try_wait` reaps it there and then;
//! 2. a runtime is current and running: a small detached task on it ([`Reap`], one heap
//!    block) waits for the exit as `Child::wait` does (pidfd or `SIGCHLD`, no thread) and
//!    reaps it;
//! 3. otherwise (dropped outside a runtime, or while a runtime shuts down and cancels the
//!    task that held it, or a `Reap` task cancelled that way): a process-wide queue, reaped
//!    by `try_wait` at the next `Command::spawn`, `Child::wait` or `Child::try_wait` of any
//!    child, in any runtime. Until then such a child, once it exits, stays a zombie (tokio's
//!    queue is reaped at the next `SIGCHLD` a runtime with a signal driver sees).
//!
//! Invariants: `abandon` never panics of its own (it spawns with `try_spawn_detached`, which
//! hands the task back where a spawn would panic), and by the time it runs, the wait that
//! stored a waker in the child's watch has taken it back; the queue holds only children
//! that were running when queued, its lock is held for `try_wait` calls only, and a child
//! leaves it once reaped (or once `try_wait` fails: nobody can reap it any more). A `Child`
//! that is `mem::forget`-ten is never seen here: it leaks its descriptors and, once it
//! exits, stays a zombie until this process ends.

use std::future::Future;
use std::pin::Pin;
use std::process::Child as StdChild;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};

use super::exit::{Exit, WaitKey};

/// Children abandoned where no runtime could take them (case 3).
static QUEUE: Mutex<Vec<StdChild>> = Mutex::new(Vec::new());
/// `QUEUE`'s length, read without the lock by `reap_queued`'s fast path.
static QUEUED: AtomicUsize = AtomicUsize::new(0);

fn queue() -> MutexGuard<'static, Vec<StdChild>> {
    QUEUE.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Hands over a child that its `Child` no longer waits for (see the module docs).
pub(super) fn abandon(mut exit: Exit, kill: bool) {
    if !matches!(exit.std.try_wait(), Ok(None)) {
        return; // reaped now, or not ours to reap any more
    }
    if kill {
        let _ = exit.std.kill();
    }
    let reap = Reap {
        exit: Some(exit),
        key: WaitKey::default(),
    };
    if let Err(mut reap) = crate::spawn::try_spawn_detached(reap)
        && let Some(exit) = reap.exit.take()
    {
        push(exit);
    }
}

/// Case 3: queues the child (its watch is dropped: the pidfd is closed).
fn push(mut exit: Exit) {
    if !matches!(exit.std.try_wait(), Ok(None)) {
        return;
    }
    let mut queue = queue();
    queue.push(exit.std);
    QUEUED.store(queue.len(), Ordering::Relaxed);
}

/// Reaps the queued children that have exited (one atomic load when none is queued).
pub(super) fn reap_queued() {
    if QUEUED.load(Ordering::Relaxed) == 0 {
        return;
    }
    let mut queue = queue();
    queue.retain_mut(|child| matches!(child.try_wait(), Ok(None)));
    QUEUED.store(queue.len(), Ordering::Relaxed);
}

/// The reaper task of case 2. Cancelled before the exit (its runtime shuts down), it
/// queues the child (case 3).
struct Reap {
    exit: Option<Exit>,
    key: WaitKey,
}

impl Future for Reap {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        let Some(exit) = this.exit.as_mut() else {
            return Poll::Ready(());
        };
        match exit.poll_exit(cx, &mut this.key) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Ok(_)) => {
                exit.end_wait(&mut this.key);
                this.exit = None;
            }
            // The watch failed (no descriptor left, say): queue it rather than lose it.
            Poll::Ready(Err(_)) => {
                if let Some(mut exit) = this.exit.take() {
                    exit.end_wait(&mut this.key);
                    push(exit);
                }
            }
        }
        reap_queued();
        Poll::Ready(())
    }
}

impl Drop for Reap {
    fn drop(&mut self) {
        if let Some(mut exit) = self.exit.take() {
            exit.end_wait(&mut self.key);
            push(exit);
        }
    }
}
