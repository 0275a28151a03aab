//! [`Barrier`]: tokio's `sync::Barrier`, thread-safe, no allocation per wait.
//!
//! A count and a generation behind a `std::sync::Mutex`, and a [`Notify`]. The task that
//! completes a round bumps the generation and calls `notify_waiters`; the others made their
//! `Notified` under the lock, before that bump could happen, so none misses it.
//!
//! As tokio's, `wait` counts the caller in as soon as it is first polled: a `wait` future
//! dropped afterwards still counts toward the round.

use std::fmt;
use std::pin::pin;
use std::sync::Mutex;

use super::notify::Notify;
use super::wake_list::lock;

struct State {
    arrived: usize,
    generation: usize,
}

/// Lets `n` tasks wait until all of them have arrived (tokio's `sync::Barrier`).
///
/// ```
/// use std::sync::Arc;
/// use tickslab_runtime::{Runtime, spawn, sync::Barrier};
///
/// let rt = Runtime::new().unwrap();
/// rt.block_on(async {
///     let barrier = Arc::new(Barrier::new(3));
///     let tasks: Vec<_> = (0..3)
///         .map(|_| {
///             let b = barrier.clone();
///             spawn(async move { b.wait().await.is_leader() })
///         })
///         .collect();
///     let mut leaders = 0;
///     for t in tasks {
///         leaders += t.await.unwrap() as usize;
///     }
///     assert_eq!(leaders, 1);
/// });
/// ```
pub struct Barrier {
    n: usize,
    state: Mutex<State>,
    notify: Notify,
}

/// What [`Barrier::wait`] returns: whether this task completed the round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BarrierWaitResult(bool);

impl BarrierWaitResult {
    /// `true` for exactly one task per round: the one that arrived last.
    pub fn is_leader(&self) -> bool {
        self.0
    }
}

impl Barrier {
    /// A barrier for `n` tasks (0 counts as 1, as tokio's).
    pub fn new(n: usize) -> Barrier {
        Barrier {
            n: n.max(1),
            state: Mutex::new(State {
                arrived: 0,
                generation: 0,
            }),
            notify: Notify::new(),
        }
    }

    /// Waits until `n` tasks are waiting; then all of them go on, and the barrier is ready
    /// for the next round.
    pub async fn wait(&self) -> BarrierWaitResult {
        let generation = {
            let mut st = lock(&self.state);
            st.arrived += 1;
            if st.arrived == self.n {
                st.arrived = 0;
                st.generation = st.generation.wrapping_add(1);
                drop(st);
                self.notify.notify_waiters();
                return BarrierWaitResult(true);
            }
            st.generation
        };
        loop {
            // Made before the check: the round's `notify_waiters` reaches it.
            let notified = pin!(self.notify.notified());
            if lock(&self.state).generation != generation {
                return BarrierWaitResult(false);
            }
            notified.await;
        }
    }
}

impl fmt::Debug for Barrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Barrier").field("n", &self.n).finish()
    }
}
