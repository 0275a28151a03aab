//! Tasks: the block, its state machine, wakers and join handles.
//!
//! # Layout (`raw.rs`)
//!
//! A task is one block of memory, `Task<F>`: a `Header` followed by a *stage*, a union that
//! holds first the future and then its output (`Result<F::Output, JoinError>`). The block
//! lives in a slot of the runtime's byte slab (`Storage::Slab`; an over-aligned block sits at
//! an aligned offset inside its slot, recorded in the header) or in its own heap allocation
//! (`Storage::Boxed`). The header's vtable holds the functions that need the future's type.
//!
//! # Who may touch what
//!
//! The runtime is single-threaded, but `Waker` is `Send + Sync`, so a waker may be cloned,
//! woken or dropped on any thread. The header is split accordingly:
//!
//! - `state` (`state.rs`) is atomic and is the **only** field other threads touch: a
//!   `REMOTE_QUEUED` bit and a count of references.
//! - everything else (`flags`, queue links, the join waker, the stage) is touched only on the
//!   runtime's thread. `JoinHandle`, `SlabClaim`, frames and the `Runtime` are `!Send`, and a
//!   waker checks the thread before it takes the local path (`core/remote.rs`).
//!
//! # References
//!
//! `state` counts: one reference per `Waker` clone and per `AbortHandle` (`abort.rs`), one
//! per remote-queue *wake* entry, and
//! one for the runtime thread as a whole, the *local* reference, held while any of the
//! `LOCAL_HOLDS` flags (`LIVE`, `HANDLE`, `LOCAL_QUEUED`, `FRAME`) is set. A remote-queue
//! *release* entry holds no reference: it carries a block whose count already reached zero
//! to the runtime thread to be freed there. When the count reaches zero the block is freed
//! (`release_final` in `core/remote.rs`): on the runtime thread directly; from another thread
//! by a release entry; once the runtime is dead, under the orphans lock (`core/orphans.rs`).
//! The hot path (spawn, poll with a borrowed waker, local wake, complete, join, free) does no
//! atomic read-modify-write: with only the local reference left, nobody can make another.
//!
//! # The state machine (`flags`, written only by `harness.rs`)
//!
//! ```text
//!              spawn (1)
//!                 │  LIVE|HANDLE|LOCAL_QUEUED|FUTURE  (+FRAME for frame tasks)
//!                 ▼
//!   ┌──────► [queued] ──poll (2)──► [running] ──Pending──► [idle] ──wake (5)──┐
//!   │          │  ▲                  │ RUNNING               │ (LIVE|FUTURE)  │
//!   │          │  └──────────────────┼───────────────────────┴────────────────┘
//!   │   CANCEL set (2)          Ready or panic (2)
//!   │          │                     │
//!   │          ▼                     ▼
//!   │      cancel (3) ─────────► complete (4): LIVE→COMPLETE, FUTURE→OUTPUT,
//!   │                            unlinked; detached: OUTPUT dropped at once
//!   │                                │
//!   abort (7): sets CANCEL,          ├── join (8): OUTPUT taken by the handle
//!   queues an idle task              ├── detach (9): HANDLE (and unread OUTPUT) dropped
//!                                    └── frame end (6): FRAME dropped
//!                                          │ no LOCAL_HOLDS left
//!                                          ▼
//!                              local reference released; freed at zero references
//! ```
//!
//! | # | transition | function (`harness.rs`) | flags before → after |
//! |---|---|---|---|
//! | 1 | spawn | `Core::spawn_at` | ∅ → `LIVE HANDLE LOCAL_QUEUED FUTURE` (+`FRAME`) |
//! | 2 | poll | `Core::poll_task` | `-LOCAL_QUEUED`; `+RUNNING` for the poll; `-RUNNING` after |
//! | 3 | cancel | `Core::cancel` | `FUTURE` → `OUTPUT` (`Err(cancelled)` or the drop's panic), then 4 |
//! | 4 | complete | `Core::complete` | `LIVE CANCEL` → `COMPLETE`; detached: `-OUTPUT` |
//! | 5 | schedule | `Core::schedule_local` | `LIVE` without `LOCAL_QUEUED` → `+LOCAL_QUEUED` |
//! | 6 | frame end | `Core::release_frame_task` | `-FRAME` |
//! | 7 | abort | `abort_task` | `LIVE` → `+CANCEL` (`+LOCAL_QUEUED` if idle) |
//! | 8 | join | `poll_join` | `OUTPUT` → `-OUTPUT` (the handle owns the output now) |
//! | 9 | detach | `drop_join_handle` | `-HANDLE -OUTPUT` |
//! | – | shutdown drain | `Core::unqueue_without_poll` | `-LOCAL_QUEUED` |
//!
//! Never together: `FUTURE` and `OUTPUT`; `LIVE` and `COMPLETE`; `CANCEL` without `LIVE`;
//! `RUNNING` without `LIVE` and `FUTURE`. `RUNNING` makes re-entrant polls impossible: a
//! task is only polled when popped from the run queue, and it is queued again only through
//! `schedule_local`, which a running task may do (its next poll comes in a later pass).
//!
//! # Safety, case by case
//!
//! - *Stage access*: the vtable's `poll`/`cancel` run only with `FUTURE` set and not
//!   `RUNNING`; `take_output`/`drop_output` only with `OUTPUT` set, and clear it first.
//! - *Freeing*: only at zero references, with an empty stage (no `FUTURE`, no `OUTPUT`);
//!   a slab slot only on the runtime thread or under the orphans lock.
//! - *The core pointer*: a task's header points to its `Core`, which outlives every block:
//!   the `Runtime` owns it while alive; after shutdown the orphan record keeps a strong
//!   reference until the last outstanding block or claim is freed.
//! - *User code*: futures, destructors and foreign wakers may panic. Every call into them
//!   happens after the flags are final; a future's panic becomes its output, and the rest
//!   are contained (`Core::contain`) and re-raised once the runtime is consistent.

mod abort;
mod harness;
mod id;
mod join;
mod raw;
mod state;
mod waker;

pub use abort::AbortHandle;
pub(crate) use harness::is_live;
pub use id::Id;
pub(crate) use id::{running_for, with_id};
pub use join::{JoinError, JoinHandle};
pub use raw::MAX_SLAB_TASK_ALIGN;
pub(crate) use raw::{
    SlotMisfit, Storage, TaskRef, fits_slot, place_in_slot, slab_block_align, slab_block_size,
};
pub(crate) use raw::{dealloc_box, task_layout};
pub(crate) use state::flags;
