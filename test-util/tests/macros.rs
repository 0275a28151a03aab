//! The assertion macros: values they return, and their panics with tokio-test's messages.

use std::task::Poll;
use std::time::Duration;

use tickslab_test::{
    assert_elapsed, assert_err, assert_ok, assert_pending, assert_ready, assert_ready_eq,
    assert_ready_err, assert_ready_ok,
};

#[test]
fn ready_forms_return_the_value() {
    assert_eq!(assert_ready!(Poll::Ready(1)), 1);
    assert_eq!(assert_ready!(Poll::Ready(2), "with {}", "msg"), 2);
    assert_eq!(assert_ready_ok!(Poll::Ready(Ok::<_, ()>(3))), 3);
    assert_eq!(assert_ready_err!(Poll::Ready(Err::<(), _>(4))), 4);
    assert_ready_eq!(Poll::Ready(5), 5);
    assert_ready_eq!(Poll::Ready(5), 5, "msg {}", 1);
    assert_pending!(Poll::<()>::Pending);
    assert_pending!(Poll::<()>::Pending, "msg");
    assert_eq!(assert_ok!(Ok::<_, ()>(6)), 6);
    assert_eq!(assert_ok!(Ok::<_, ()>(6),), 6);
    assert_eq!(assert_err!(Err::<(), _>(7)), 7);
}

#[test]
#[should_panic(expected = "pending; while reading 3")]
fn assert_ready_on_pending_panics_with_the_message() {
    assert_ready!(Poll::<()>::Pending, "while reading {}", 3);
}

#[test]
#[should_panic(expected = "ready; value = 9")]
fn assert_pending_on_ready_panics_with_the_value() {
    assert_pending!(Poll::Ready(9));
}

#[test]
#[should_panic(expected = "assertion failed: Err(\"bad\"): parsing")]
fn assert_ok_on_err_panics_with_the_error() {
    assert_ok!(Err::<(), _>("bad"), "parsing");
}

#[test]
#[should_panic(expected = "assertion failed: Ok(1)")]
fn assert_err_on_ok_panics_with_the_value() {
    assert_err!(Ok::<_, ()>(1));
}

#[test]
#[should_panic(expected = "assertion failed: Ok(2)")]
fn assert_ready_err_on_ok_panics() {
    assert_ready_err!(Poll::Ready(Ok::<_, ()>(2)));
}

#[test]
#[should_panic(expected = "left: 1")]
fn assert_ready_eq_on_a_different_value_panics() {
    assert_ready_eq!(Poll::Ready(1), 2);
}

#[tickslab::test(start_paused = true)]
async fn assert_elapsed_accepts_the_slept_time_on_the_paused_clock() {
    let start = tickslab::time::Instant::now();
    tickslab::time::sleep(Duration::from_millis(50)).await;
    assert_elapsed!(start, Duration::from_millis(50));
}

#[tickslab::test(start_paused = true)]
#[should_panic(expected = "actual = 50ms, expected = 40ms")]
async fn assert_elapsed_refuses_more_than_a_millisecond_over() {
    let start = tickslab::time::Instant::now();
    tickslab::time::sleep(Duration::from_millis(50)).await;
    assert_elapsed!(start, Duration::from_millis(40));
}

/// The macros reach each other through `$crate`: they work when the crate is renamed.
mod renamed {
    extern crate tickslab_test as tokio_test_under_another_name;

    #[test]
    fn nested_macros_resolve_through_dollar_crate() {
        use std::task::Poll;
        let v = tokio_test_under_another_name::assert_ready_ok!(Poll::Ready(Ok::<_, ()>(1)));
        assert_eq!(v, 1);
    }
}
