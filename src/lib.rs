//! # tickslab
//!
//! A single-threaded async runtime for a game's I/O thread: tasks live in a pre-allocated
//! [`nexus_slab`] byte slab (no heap allocation per spawn), wakers carry a task pointer (no
//! allocation per waker) and may be woken from any thread, and the API speaks tokio.
//!
//! ```
//! use tickslab::{Runtime, spawn, spawn_slab, try_claim_slab};
//!
//! // 1,024 slots of 256 bytes, allocated once: spawning into them allocates nothing.
//! let rt = Runtime::builder().slab_bounded::<256>(1024).build();
//! let out = rt.block_on(async {
//!     let h = spawn_slab(async { 40 + 2 });          // zero heap allocation
//!     let claim = try_claim_slab().expect("room");    // reserve now, build later
//!     let h2 = claim.spawn(async { 1 });
//!     let boxed = spawn(async { 0 });                 // any size, one allocation
//!     h.await.unwrap() + h2.await.unwrap() + boxed.await.unwrap()
//! });
//! assert_eq!(out, 43);
//! ```
//!
//! Crates behind this facade:
//! - [`tickslab_runtime`] (re-exported at the root): the executor, tasks, spawning,
//!   [`sync`] channels, [`pool`]s for what tasks hold across `.await` (typed pools, buffer
//!   pools, task-scoped arenas).
//! - [`alloc`] (`tickslab-alloc`): slab glue, the frame arena, allocation counting and
//!   no-allocation guards.
//! - [`compat`] (`tickslab-compat`): `futures-task` spawners ([`compat::LocalSpawner`]).
//!
//! tokio's paths are this crate's own: [`runtime`], [`task`], [`time`], [`net`], [`io`],
//! [`sync`], and [`spawn`], [`main`](macro@main), [`test`](macro@test), [`select!`],
//! [`join!`], [`try_join!`], [`pin!`] at the root (see the README's "Switching from tokio").
//!
//! Optional features (off by default), for the crates a game's networking uses: `tokio-io`
//! (tokio's `AsyncRead` / `AsyncWrite` on the TCP types), `hyper` (`hyper::rt` on
//! `TcpStream`, `tickslab::hyper::{Executor, Timer}`), `quinn` (`tickslab::quinn::Runtime`);
//! see [`ecosystem`] and the README's table.
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub use tickslab_alloc as alloc;
pub use tickslab_compat as compat;
pub use tickslab_runtime::*;

mod macros;
pub mod runtime;

/// Runs `async fn main` on a current-thread runtime, as tokio's `#[tokio::main]`.
///
/// ```
/// #[tickslab::main]
/// async fn main() {
///     let h = tickslab::spawn(async { 40 + 2 });
///     assert_eq!(h.await.unwrap(), 42);
/// }
/// ```
///
/// Arguments (tokio's, where they apply, and one of tickslab's):
/// - `flavor = "current_thread"` (the default) or `flavor = "local"`: the same runtime.
/// - `start_paused = true`: the clock starts paused.
/// - `crate = "path"`: where this crate is, if the macro cannot find it (it reads the
///   caller's Cargo.toml, so a renamed `tokio = { package = "tickslab" }` works unaided).
/// - `slab = SLOTS` or `slab(slots = SLOTS, size = BYTES)`: a bounded slab for
///   [`spawn_slab`] (`size` defaults to 256).
///
/// A multi-thread runtime is refused at compile time, with what to use instead:
///
/// ```compile_fail
/// #[tickslab::main(flavor = "multi_thread", worker_threads = 4)]
/// async fn main() {}
/// ```
///
/// ```compile_fail
/// #[tickslab::main(worker_threads = 2)]
/// async fn main() {}
/// ```
#[cfg(feature = "macros")]
pub use tickslab_macros::main;

/// Runs an `async fn` test on a fresh current-thread runtime, as tokio's `#[tokio::test]`;
/// takes the same arguments as [`main`](macro@main).
///
/// ```no_run
/// #[tickslab::test(start_paused = true, slab = 64)]
/// async fn sleeps_without_waiting() {
///     tickslab::time::sleep(std::time::Duration::from_secs(3600)).await;
/// }
/// ```
#[cfg(feature = "macros")]
pub use tickslab_macros::test;

/// What the macros' generated code uses. Not an API.
#[doc(hidden)]
pub mod __private {
    pub use crate::macros::support::*;
    #[cfg(feature = "macros")]
    pub use tickslab_macros::{join_impl, select_impl, try_join_impl};
}

/// The README's Rust examples, compiled and run as doctests so they stay true.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
