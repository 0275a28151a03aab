//! Task-scoped memory: [`TaskArenas`] and [`TaskArena`] (documented on [`TaskArenas`]).

use std::fmt;
use std::ops::Deref;

use tickslab_alloc::arena::{ArenaConfig, FrameArena};

use super::config::{PoolConfig, PoolStats};
use super::{Pool, PoolBox};

/// Task-scoped memory: allocations that live exactly as long as the task that made them.
///
/// A task takes a [`TaskArena`] from a [`TaskArenas`] pool and keeps it in its own future
/// (a local of its `async` block). Allocations borrow the arena, so they can be held across
/// any number of `.await`s and die with it; when the task completes or is cancelled its
/// future is dropped, the arena is reset in one step (no per-allocation free) and goes back
/// to the pool with its chunks, so once warm a task's scratch memory costs **no heap
/// allocation**. Memory comes from a [`FrameArena`](tickslab_alloc::arena::FrameArena) per
/// scope: bump allocation, values without destructors only.
///
/// ```
/// use tickslab_runtime::{Runtime, spawn_slab, pool::TaskArenas};
/// use tickslab_alloc::arena::ArenaConfig;
///
/// let rt = Runtime::builder().slab_bounded::<512>(64).build();
/// let arenas = TaskArenas::new(16, ArenaConfig::DEFAULT);   // at most 16 scopes at once
/// let sum = rt.block_on(async move {
///     let arenas2 = arenas.clone();
///     let task = spawn_slab(async move {
///         let mem = arenas2.scope().await;                   // waits if 16 are in use
///         let xs = mem.alloc_slice_copy(&[1u32, 2, 3]);      // lives as long as the task
///         tickslab_runtime::yield_now().await;               // held across an await
///         xs.iter().sum::<u32>()
///     });                                                    // arena reset + returned here
///     task.await.unwrap()
/// });
/// assert_eq!(sum, 6);
/// ```
///
/// # Safe by construction
///
/// The borrow checker enforces the scope; what framealloc's lints warn about does not
/// compile. An allocation cannot outlive its arena:
///
/// ```compile_fail,E0597
/// # let arenas = tickslab_runtime::pool::TaskArenas::new(1, Default::default());
/// let x = {
///     let mem = arenas.try_scope().unwrap();
///     mem.alloc(1u32)            // error: `mem` does not live long enough
/// };
/// ```
///
/// nor survive the arena going back to the pool:
///
/// ```compile_fail,E0505
/// # let arenas = tickslab_runtime::pool::TaskArenas::new(1, Default::default());
/// let mem = arenas.try_scope().unwrap();
/// let x = mem.alloc(1u32);
/// drop(mem);                     // error: cannot move out of `mem` while borrowed
/// *x += 1;
/// ```
///
/// nor be captured by a `'static` task spawned from the scope's task:
///
/// ```compile_fail,E0597
/// # let arenas = tickslab_runtime::pool::TaskArenas::new(1, Default::default());
/// # let rt = tickslab_runtime::Runtime::new().unwrap();
/// rt.block_on(async {
///     let mem = arenas.try_scope().unwrap();
///     let x = mem.alloc(1u32);
///     tickslab_runtime::spawn(async move { *x += 1 }); // error: `mem` does not live long enough
/// });
/// ```
///
/// nor be sent to another thread (the arena itself cannot leave its thread either):
///
/// ```compile_fail,E0597
/// # let arenas = tickslab_runtime::pool::TaskArenas::new(1, Default::default());
/// let mem = arenas.try_scope().unwrap();
/// let x = mem.alloc(1u32);
/// std::thread::spawn(move || *x += 1); // error: `mem` does not live long enough
/// ```
///
/// and values with destructors are refused, since the reset runs none (a
/// post-monomorphization error, seen by `cargo build`):
///
/// ```compile_fail,E0080
/// # let arenas = tickslab_runtime::pool::TaskArenas::new(1, Default::default());
/// let mem = arenas.try_scope().unwrap();
/// mem.alloc(String::from("owns heap memory")); // error: has a destructor
/// ```
///
/// Cloning a `TaskArenas` gives another handle to the same arenas.
#[derive(Clone)]
pub struct TaskArenas {
    pool: Pool<FrameArena>,
}

impl TaskArenas {
    /// Room for `max_scopes` scopes alive at once; each arena is sized by `config` (chunk
    /// size, byte limit) and allocates its first chunk when first used.
    ///
    /// # Panics
    /// If `max_scopes` is 0, or `config.chunk_size` is 0.
    #[track_caller]
    pub fn new(max_scopes: usize, config: ArenaConfig) -> TaskArenas {
        Self::with_config(PoolConfig::bounded(max_scopes), config)
    }

    /// Scopes in a pool as `pool` says (e.g. growing), each arena sized by `arena`.
    #[track_caller]
    pub fn with_config(pool: PoolConfig, arena: ArenaConfig) -> TaskArenas {
        drop(FrameArena::with_config(arena)); // checks the config now, not in a task
        TaskArenas {
            pool: Pool::recycling_with(pool, move || FrameArena::with_config(arena)),
        }
    }

    /// A scope now, or `None` when `max_scopes` are in use.
    pub fn try_scope(&self) -> Option<TaskArena> {
        self.pool.try_take().map(|arena| TaskArena { arena })
    }

    /// A scope, waiting while `max_scopes` are in use.
    pub async fn scope(&self) -> TaskArena {
        TaskArena {
            arena: self.pool.take().await,
        }
    }

    /// The pool's counters (`len`: scopes alive now).
    pub fn stats(&self) -> PoolStats {
        self.pool.stats()
    }
}

impl fmt::Debug for TaskArenas {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskArenas")
            .field("stats", &self.stats())
            .finish()
    }
}

/// One task's scratch memory: derefs to a [`FrameArena`] (`alloc`, `alloc_slice_copy`,
/// `alloc_str`, `vec`, ...) whose allocations borrow this scope. Dropping it (with the task's
/// future) resets the arena in one step and returns it to its [`TaskArenas`].
pub struct TaskArena {
    arena: PoolBox<FrameArena>,
}

impl Deref for TaskArena {
    type Target = FrameArena;

    fn deref(&self) -> &FrameArena {
        &self.arena
    }
}

impl fmt::Debug for TaskArena {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskArena")
            .field("stats", &self.arena.stats())
            .finish()
    }
}
