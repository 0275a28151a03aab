//! tokio's macros: `select!`, `join!`, `try_join!`, `pin!` (and `#[main]`, `#[test]`,
//! re-exported from `tickslab-macros` at the crate root).
//!
//! `select!`, `join!` and `try_join!` are `macro_rules!` that hand their input, led by
//! `$crate`, to the procedural engines of `tickslab-macros`: `$crate` keeps every generated
//! path pointing at this crate under whatever name the user gave it (`tokio = { package =
//! "tickslab" }` included). `pin!` is plain `macro_rules!` over `core::pin::pin!`.

#[doc(hidden)]
pub mod support;

/// Waits on several futures at once and runs the handler of the first to complete with a
/// matching value, as tokio's `select!`.
///
/// ```text
/// select! {
///     [biased;]
///     <pattern> = <future> [, if <precondition>] => <handler>,
///     ...
///     [else => <expression>]
/// }
/// ```
///
/// - Every precondition is evaluated first; a false one disables its branch. Then every
///   future expression is evaluated (disabled branches' too) and pinned in place: no
///   `.fuse()`, no `Unpin` bound, no allocation.
/// - Each poll starts at a random branch (a cheap thread-local generator), or, after
///   `biased;`, goes in the written order.
/// - A future that completes disables its branch. If its value does not match the pattern,
///   the others keep going; otherwise every future is dropped and then the handler runs,
///   so it may use what the futures borrowed.
/// - With every branch disabled, `else` runs; without an `else`, `select!` panics.
/// - It respects the task's cooperative budget (it yields when the budget is spent).
///
/// ```
/// use std::time::Duration;
/// use tickslab::sync::mpsc;
///
/// # tickslab::Runtime::new().unwrap().block_on(async {
/// let (tx, mut rx) = mpsc::channel::<u32>(8);
/// tx.try_send(7).unwrap();
/// drop(tx);
/// let mut sum = 0;
/// let sleep = tickslab::time::sleep(Duration::from_secs(60));
/// tickslab::pin!(sleep);
/// loop {
///     tickslab::select! {
///         Some(v) = rx.recv() => sum += v,       // `None` (closed) disables the branch
///         _ = &mut sleep => panic!("timed out"),
///         else => break,                          // unreachable while `sleep` runs
///     }
///     if sum == 7 { break; }
/// }
/// assert_eq!(sum, 7);
/// # });
/// ```
#[cfg(feature = "macros")]
#[macro_export]
macro_rules! select {
    ($($input:tt)*) => {
        $crate::__private::select_impl!(($crate) $($input)*)
    };
}

/// Polls several futures concurrently until all are done, and returns their outputs as a
/// tuple, as tokio's `join!`. Each future is dropped as soon as it completes; polls start
/// one future further along each time (fairness), or in order after `biased;`.
///
/// ```
/// # tickslab::Runtime::new().unwrap().block_on(async {
/// let (a, b) = tickslab::join!(async { 1 }, async { "two" });
/// assert_eq!((a, b), (1, "two"));
/// # });
/// ```
#[cfg(feature = "macros")]
#[macro_export]
macro_rules! join {
    ($($input:tt)*) => {
        $crate::__private::join_impl!(($crate) $($input)*)
    };
}

/// As [`join!`], for futures of `Result<T, E>` with one `E`: returns `Ok` of the tuple of
/// their `T`s, or the first `Err` at once (dropping the futures still running), as tokio's.
///
/// ```
/// # tickslab::Runtime::new().unwrap().block_on(async {
/// let ok: Result<(u8, u16), &str> = tickslab::try_join!(async { Ok(1) }, async { Ok(2) });
/// assert_eq!(ok, Ok((1, 2)));
/// let err: Result<(u8, u16), &str> =
///     tickslab::try_join!(async { Ok(1) }, async { Err("no") });
/// assert_eq!(err, Err("no"));
/// # });
/// ```
#[cfg(feature = "macros")]
#[macro_export]
macro_rules! try_join {
    ($($input:tt)*) => {
        $crate::__private::try_join_impl!(($crate) $($input)*)
    };
}

/// Pins values on the stack, as tokio's `pin!`: `pin!(a, b);` shadows each variable with a
/// `Pin<&mut _>` to it, and `pin! { let x = expr; }` declares pinned variables. Safe:
/// built on `core::pin::pin!`.
///
/// ```
/// # tickslab::Runtime::new().unwrap().block_on(async {
/// let fut = async { 5 };
/// tickslab::pin!(fut);
/// assert_eq!((&mut fut).await, 5);
/// tickslab::pin! {
///     let other = async { 6 };
/// }
/// assert_eq!(other.await, 6);
/// # });
/// ```
#[macro_export]
macro_rules! pin {
    ($(let $x:ident = $init:expr;)*) => {
        $(
            #[allow(unused_mut)]
            let mut $x = ::core::pin::pin!($init);
        )*
    };
    ($($x:ident),* $(,)?) => {
        $(
            #[allow(unused_mut)]
            let mut $x = ::core::pin::pin!($x);
        )*
    };
}
