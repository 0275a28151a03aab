//! The assertion macros of tokio-test, with its names, forms and messages.
//!
//! Each macro has a plain form and a form with a custom message (format arguments), returns
//! the value it unwraps, and panics with the value it found otherwise. They take any
//! `Poll` / `Result`, so they work on futures of any runtime. Nested macros are reached
//! through `$crate`, so they work under any name the crate is imported as (tokio-test's
//! reach `tokio_test::` literally).

/// Asserts that a `Poll` is `Ready`, and returns its value.
///
/// ```
/// use tickslab_test::{assert_ready, task};
///
/// let mut fut = task::spawn(async { 7 });
/// assert_eq!(assert_ready!(fut.poll()), 7);
/// ```
///
/// # Panics
/// On `Poll::Pending`, with "pending" (and the custom message, if given).
#[macro_export]
macro_rules! assert_ready {
    ($e:expr $(,)?) => {
        match $e {
            ::core::task::Poll::Ready(v) => v,
            ::core::task::Poll::Pending => ::core::panic!("pending"),
        }
    };
    ($e:expr, $($msg:tt)+) => {
        match $e {
            ::core::task::Poll::Ready(v) => v,
            ::core::task::Poll::Pending => {
                ::core::panic!("pending; {}", ::core::format_args!($($msg)+))
            }
        }
    };
}

/// Asserts that a `Poll<Result<T, E>>` is `Ready(Ok(_))`, and returns the `T`.
///
/// ```
/// use tickslab_test::{assert_ready_ok, task};
///
/// let mut fut = task::spawn(async { Ok::<_, ()>(3) });
/// assert_eq!(assert_ready_ok!(fut.poll()), 3);
/// ```
///
/// # Panics
/// On `Pending` or `Ready(Err(_))` (which it prints with `Debug`).
#[macro_export]
macro_rules! assert_ready_ok {
    ($e:expr $(,)?) => {{
        let val = $crate::assert_ready!($e);
        $crate::assert_ok!(val)
    }};
    ($e:expr, $($msg:tt)+) => {{
        let val = $crate::assert_ready!($e, $($msg)+);
        $crate::assert_ok!(val, $($msg)+)
    }};
}

/// Asserts that a `Poll<Result<T, E>>` is `Ready(Err(_))`, and returns the `E`.
///
/// ```
/// use tickslab_test::{assert_ready_err, task};
///
/// let mut fut = task::spawn(async { Err::<(), _>("no") });
/// assert_eq!(assert_ready_err!(fut.poll()), "no");
/// ```
///
/// # Panics
/// On `Pending` or `Ready(Ok(_))` (which it prints with `Debug`).
#[macro_export]
macro_rules! assert_ready_err {
    ($e:expr $(,)?) => {{
        let val = $crate::assert_ready!($e);
        $crate::assert_err!(val)
    }};
    ($e:expr, $($msg:tt)+) => {{
        let val = $crate::assert_ready!($e, $($msg)+);
        $crate::assert_err!(val, $($msg)+)
    }};
}

/// Asserts that a `Poll` is `Pending`.
///
/// ```
/// use tickslab_test::{assert_pending, task};
///
/// let mut fut = task::spawn(std::future::pending::<()>());
/// assert_pending!(fut.poll());
/// ```
///
/// # Panics
/// On `Ready(v)`, printing `v` with `Debug`.
#[macro_export]
macro_rules! assert_pending {
    ($e:expr $(,)?) => {
        match $e {
            ::core::task::Poll::Pending => {}
            ::core::task::Poll::Ready(v) => ::core::panic!("ready; value = {:?}", v),
        }
    };
    ($e:expr, $($msg:tt)+) => {
        match $e {
            ::core::task::Poll::Pending => {}
            ::core::task::Poll::Ready(v) => {
                ::core::panic!("ready; value = {:?}; {}", v, ::core::format_args!($($msg)+))
            }
        }
    };
}

/// Asserts that a `Poll` is `Ready` with a value equal to the expected one.
///
/// ```
/// use tickslab_test::{assert_ready_eq, task};
///
/// let mut fut = task::spawn(async { 42 });
/// assert_ready_eq!(fut.poll(), 42);
/// ```
///
/// # Panics
/// On `Pending`, or when the values differ (as `assert_eq!`).
#[macro_export]
macro_rules! assert_ready_eq {
    ($e:expr, $expect:expr $(,)?) => {{
        let val = $crate::assert_ready!($e);
        ::core::assert_eq!(val, $expect)
    }};
    ($e:expr, $expect:expr, $($msg:tt)+) => {{
        let val = $crate::assert_ready!($e, $($msg)+);
        ::core::assert_eq!(val, $expect, $($msg)+)
    }};
}

/// Asserts that a `Result` is `Ok`, and returns the value.
///
/// ```
/// use tickslab_test::assert_ok;
///
/// let n: u32 = assert_ok!("123".parse());
/// let m: u32 = assert_ok!("7".parse(), "parsing {:?}", "7");
/// assert_eq!(n + m, 130);
/// ```
///
/// # Panics
/// On `Err(e)`, with "assertion failed: Err(e)" (`Debug`) and the custom message.
#[macro_export]
macro_rules! assert_ok {
    ($e:expr $(,)?) => {
        match $e {
            ::core::result::Result::Ok(v) => v,
            ::core::result::Result::Err(e) => ::core::panic!("assertion failed: Err({:?})", e),
        }
    };
    ($e:expr, $($arg:tt)+) => {
        match $e {
            ::core::result::Result::Ok(v) => v,
            ::core::result::Result::Err(e) => ::core::panic!(
                "assertion failed: Err({:?}): {}",
                e,
                ::core::format_args!($($arg)+)
            ),
        }
    };
}

/// Asserts that a `Result` is `Err`, and returns the error.
///
/// ```
/// use tickslab_test::assert_err;
///
/// let e = assert_err!("x".parse::<u32>());
/// assert_eq!(e.to_string(), "invalid digit found in string");
/// ```
///
/// # Panics
/// On `Ok(v)`, with "assertion failed: Ok(v)" (`Debug`) and the custom message.
#[macro_export]
macro_rules! assert_err {
    ($e:expr $(,)?) => {
        match $e {
            ::core::result::Result::Ok(v) => ::core::panic!("assertion failed: Ok({:?})", v),
            ::core::result::Result::Err(e) => e,
        }
    };
    ($e:expr, $($arg:tt)+) => {
        match $e {
            ::core::result::Result::Ok(v) => ::core::panic!(
                "assertion failed: Ok({:?}): {}",
                v,
                ::core::format_args!($($arg)+)
            ),
            ::core::result::Result::Err(e) => e,
        }
    };
}

/// Asserts that `$start.elapsed()` lies in `[$dur, $dur + 1 ms]` (tokio-test's window: the
/// timer rounds to its resolution). `$start` is anything with an `elapsed()` returning a
/// `Duration`: tickslab's `time::Instant` follows a paused clock.
///
/// ```
/// use std::time::Duration;
/// use tickslab::time::{self, Instant};
/// use tickslab_test::assert_elapsed;
///
/// tickslab_test::block_on(async {
///     time::pause();
///     let start = Instant::now();
///     time::sleep(Duration::from_millis(50)).await;
///     assert_elapsed!(start, Duration::from_millis(50));
/// });
/// ```
///
/// # Panics
/// Outside the window, with both durations.
#[macro_export]
macro_rules! assert_elapsed {
    ($start:expr, $dur:expr $(,)?) => {{
        let elapsed = $start.elapsed();
        // Named type: a wrong argument type is reported here, not inside `+`.
        let lower: ::std::time::Duration = $dur;
        let upper = lower + ::std::time::Duration::from_millis(1);
        ::core::assert!(
            elapsed >= lower && elapsed <= upper,
            "actual = {:?}, expected = {:?}",
            elapsed,
            lower
        );
    }};
}
