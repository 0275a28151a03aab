//! tickslab's procedural macros. Use them through the `tickslab` crate, never directly:
//!
//! - `#[tickslab::main]` and `#[tickslab::test]` (`entry.rs`): run an `async fn` on a
//!   current-thread tickslab runtime, with tokio's arguments where they apply.
//! - The engines behind `tickslab::select!`, `join!` and `try_join!` (`select.rs`,
//!   `join.rs`). Those three are `macro_rules!` macros in the facade that hand their input
//!   here with `$crate` as the first token group: a procedural macro cannot name the crate
//!   it serves (a user may have renamed it, `tokio = { package = "tickslab" }`), and `$crate`
//!   re-emitted from here still resolves to it.
//!
//! Invariants of the generated code: no allocation; every path into the runtime goes
//! through the crate path it was given; no `unsafe` of its own. The futures of a `select!` or
//! `join!` are held in one struct pinned with `core::pin::pin!` and projected by
//! `pin-project-lite`'s `pin_project!` (its expansion holds the one `unsafe`, as in any
//! crate using it; an external macro, so `#![forbid(unsafe_code)]` callers compile).
//! The polling closure owns that pin (a `move` closure) and returns the result itself, so a
//! `select!` or `join!` adds to the caller's future what tokio's does, or less (tests assert
//! the sizes). Pinning each future alone would need no projection but would cost two
//! pointers per branch.
#![warn(missing_docs)]

use proc_macro::TokenStream;

mod entry;
mod join;
mod select;

/// Runs `async fn main` on a current-thread tickslab runtime. See `tickslab::main`.
#[proc_macro_attribute]
pub fn main(args: TokenStream, item: TokenStream) -> TokenStream {
    entry::expand(args.into(), item.into(), entry::Kind::Main).into()
}

/// Runs an `async fn` test on a fresh current-thread tickslab runtime. See `tickslab::test`.
#[proc_macro_attribute]
pub fn test(args: TokenStream, item: TokenStream) -> TokenStream {
    entry::expand(args.into(), item.into(), entry::Kind::Test).into()
}

/// The engine of `tickslab::select!`: `(crate-path) branches...`.
#[doc(hidden)]
#[proc_macro]
pub fn select_impl(input: TokenStream) -> TokenStream {
    select::expand(input.into()).into()
}

/// The engine of `tickslab::join!`: `(crate-path) futures...`.
#[doc(hidden)]
#[proc_macro]
pub fn join_impl(input: TokenStream) -> TokenStream {
    join::expand(input.into(), false).into()
}

/// The engine of `tickslab::try_join!`: `(crate-path) futures...`.
#[doc(hidden)]
#[proc_macro]
pub fn try_join_impl(input: TokenStream) -> TokenStream {
    join::expand(input.into(), true).into()
}
