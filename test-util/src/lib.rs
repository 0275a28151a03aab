//! tokio-test's API over tickslab: what a tokio program's tests use, for the program that
//! switched by renaming its dependencies.
//!
//! ```toml
//! [dependencies]
//! tokio = { package = "tickslab", version = "0.1", features = ["full"] }
//!
//! [dev-dependencies]
//! tokio-test = { package = "tickslab-test", version = "0.1" }
//! ```
//!
//! With both lines renamed, test code written for tokio-test 0.4 compiles unchanged:
//! - [`block_on`] runs a future on a new tickslab runtime;
//! - [`io::Builder`] scripts a [`io::Mock`] that implements tickslab's
//!   [`AsyncRead`](tickslab_runtime::io::AsyncRead) and
//!   [`AsyncWrite`](tickslab_runtime::io::AsyncWrite) and panics on what the script does not
//!   expect; its waits are tickslab timers, so they follow a paused clock;
//! - [`task::spawn`] wraps a future or stream in a mock task that polls it without a runtime
//!   and counts its wakes;
//! - [`stream_mock`] scripts a `Stream`;
//! - the macros [`assert_ready!`], [`assert_ready_ok!`], [`assert_ready_err!`],
//!   [`assert_ready_eq!`], [`assert_pending!`], [`assert_ok!`], [`assert_err!`],
//!   [`assert_elapsed!`].
//!
//! ```
//! use tickslab::io::{AsyncReadExt, AsyncWriteExt};
//!
//! let mut mock = tickslab_test::io::Builder::new()
//!     .write(b"ping")
//!     .read(b"pong")
//!     .build();
//! tickslab_test::block_on(async {
//!     mock.write_all(b"ping").await.unwrap();
//!     let mut buf = [0; 4];
//!     mock.read_exact(&mut buf).await.unwrap();
//!     assert_eq!(&buf, b"pong");
//! });
//! ```
//!
//! Where tickslab differs from tokio, so does this crate: a [`io::Mock`] holds a tickslab
//! timer while it waits, so it stays on its runtime's thread (`!Send`, unlike tokio-test's).
//!
//! Layering: this crate uses only tickslab's public API (`tickslab-runtime`).
#![warn(missing_docs)]
#![forbid(unsafe_code)]

pub mod io;
mod macros;
pub mod stream_mock;
pub mod task;

/// Runs `future` to completion on a new current-thread tickslab runtime, blocking this
/// thread (tokio-test's `block_on`).
///
/// Timers, sockets and spawning work inside it as under `#[tickslab::test]`.
///
/// ```
/// let n = tickslab_test::block_on(async {
///     let h = tickslab::spawn(async { 40 + 2 });
///     h.await.unwrap()
/// });
/// assert_eq!(n, 42);
/// ```
///
/// # Panics
/// If the runtime cannot be built (its reactor needs an epoll instance), and where the
/// runtime's `block_on` panics: when called from inside a runtime.
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    let rt = tickslab_runtime::Runtime::new()
        .unwrap_or_else(|e| panic!("tickslab_test::block_on: cannot build a runtime: {e}"));
    rt.block_on(future)
}
