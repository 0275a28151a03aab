//! `select!`: tokio's semantics, after the cases of tokio's `tests/macros_select.rs`
//! (written anew): branch forms, `else`, `biased;`, preconditions, refutable patterns,
//! futures dropped before the handler, the random start, the cooperative budget, and the
//! panic when every branch is disabled. The crate forbids `unsafe` code: the expansion
//! compiles under it (its one pin projection is pin-project-lite's, an external macro).
#![forbid(unsafe_code)]

use std::cell::Cell;
use std::future::{Future, pending, poll_fn, ready};
use std::pin::pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use tickslab::sync::oneshot;

async fn one() -> usize {
    1
}

/// Polls `f` once with a waker that does nothing.
fn poll_once<F: Future + ?Sized>(f: std::pin::Pin<&mut F>) -> Poll<F::Output> {
    f.poll(&mut Context::from_waker(Waker::noop()))
}

#[tickslab::test]
async fn one_branch_in_every_form() {
    let a = tickslab::select! { v = async { 1 } => v, };
    let b = tickslab::select! { v = async { 2 } => v };
    let c = tickslab::select! { v = async { 3 } => { v } };
    let d = tickslab::select! { v = one() => v };
    let fut = one();
    let e = tickslab::select! { v = fut => v + 4 };
    assert_eq!((a, b, c, d, e), (1, 2, 3, 1, 5));
}

#[tickslab::test]
async fn else_alone_runs_the_else() {
    assert_eq!(tickslab::select! { else => 1 }, 1);
    assert_eq!(tickslab::select! { biased; else => 2, }, 2);
}

#[tickslab::test]
async fn nested_selects() {
    let v = tickslab::select! {
        x = async { 1 } => tickslab::select! { y = async { 2 } => x + y },
    };
    assert_eq!(v, 3);
}

#[tickslab::test]
async fn only_the_winner_runs_when_both_are_ready() {
    let count = Cell::new(0);
    let v = tickslab::select! {
        a = async { count.set(count.get() + 1); 1 } => a,
        b = async { count.set(count.get() + 1); 2 } => b,
    };
    assert_eq!(count.get(), 1, "the second future is never polled");
    assert!(v == 1 || v == 2);
}

#[tickslab::test]
async fn futures_borrowed_mutably_are_usable_after_select() {
    let (tx1, mut rx1) = oneshot::channel::<i32>();
    let (tx2, mut rx2) = oneshot::channel::<i32>();
    tx1.send(1).unwrap();
    tx2.send(2).unwrap();
    let sum = tickslab::select! {
        r = &mut rx1 => r.unwrap() + rx2.await.unwrap(),
        r = &mut rx2 => r.unwrap() + rx1.await.unwrap(),
    };
    assert_eq!(sum, 3);
}

#[tickslab::test]
async fn futures_are_dropped_before_the_handler_runs() {
    /// A never-ready future that borrows `value` mutably and says when it is dropped.
    struct Holds<'a> {
        dropped: &'a Cell<bool>,
        _value: &'a mut i32,
    }
    impl Future for Holds<'_> {
        type Output = ();
        fn poll(self: std::pin::Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
            Poll::Pending
        }
    }
    impl Drop for Holds<'_> {
        fn drop(&mut self) {
            self.dropped.set(true);
        }
    }
    let dropped = Cell::new(false);
    let mut value = 1;
    tickslab::select! {
        _ = Holds { dropped: &dropped, _value: &mut value } => unreachable!(),
        _ = async {} => {
            assert!(dropped.get(), "the pending branch's future is gone");
            value += 10; // the future's borrow has ended
        }
    }
    assert_eq!(value, 11);
}

#[tickslab::test]
async fn a_value_that_does_not_match_disables_its_branch() {
    let polls = Rc::new(Cell::new(0));
    let p = polls.clone();
    let once_none = poll_fn(move |_| {
        p.set(p.get() + 1);
        assert_eq!(p.get(), 1, "a disabled branch is never polled again");
        Poll::Ready(None::<u32>)
    });
    let (tx, rx) = oneshot::channel::<u32>();
    let sender = tickslab::spawn(async move {
        tickslab::task::yield_now().await;
        tickslab::task::yield_now().await;
        tx.send(9).unwrap();
    });
    let v = tickslab::select! {
        Some(v) = once_none => v,
        r = rx => r.unwrap(),
    };
    assert_eq!(v, 9);
    assert_eq!(polls.get(), 1);
    sender.await.unwrap();
}

#[tickslab::test]
async fn a_false_precondition_never_polls_the_future() {
    let never = poll_fn(|_| -> Poll<()> { panic!("polled a disabled branch") });
    let v = tickslab::select! {
        _ = never, if false => unreachable!(),
        v = async { 5 } => v,
    };
    assert_eq!(v, 5);
}

#[tickslab::test]
async fn preconditions_are_evaluated_before_the_futures() {
    let sleep = tickslab::time::sleep(std::time::Duration::from_secs(3600));
    tickslab::pin!(sleep);
    // The precondition borrows `sleep` immutably, the future mutably: legal only because the
    // condition is evaluated (and its borrow over) before the future expression.
    tickslab::select! {
        _ = &mut sleep, if !sleep.is_elapsed() => panic!("an hour passed"),
        _ = async {} => {}
    }
}

#[tickslab::test]
async fn a_loop_with_preconditions_collects_both_values() {
    let (tx1, mut rx1) = oneshot::channel::<u32>();
    let (tx2, mut rx2) = oneshot::channel::<u32>();
    let sender = tickslab::spawn(async move {
        tx2.send(456).unwrap();
        tickslab::task::yield_now().await;
        tx1.send(123).unwrap();
    });
    let (mut a, mut b) = (None, None);
    while a.is_none() || b.is_none() {
        tickslab::select! {
            v = &mut rx1, if a.is_none() => a = Some(v.unwrap()),
            v = &mut rx2, if b.is_none() => b = Some(v.unwrap())
        }
    }
    assert_eq!((a, b), (Some(123), Some(456)));
    sender.await.unwrap();
}

#[tickslab::test]
async fn every_branch_disabled_runs_else() {
    let mut runs = 0;
    let v = tickslab::select! {
        _ = async {}, if false => 1,
        Some(x) = async { None::<i32> } => x,
        else => { runs += 1; 0 }
    };
    assert_eq!((v, runs), (0, 1));
}

#[test]
#[should_panic(expected = "all branches are disabled and there is no else branch")]
fn every_branch_disabled_without_else_panics() {
    tickslab::Runtime::new().unwrap().block_on(async {
        tickslab::select! {
            Some(x) = async { None::<i32> } => x,
            _ = async {}, if false => 0,
        }
    });
}

#[tickslab::test]
async fn biased_polls_in_written_order() {
    for _ in 0..100 {
        let v = tickslab::select! {
            biased;
            _ = pending::<()>() => unreachable!(),
            v = ready(2) => v,
            _ = ready(3) => panic!("polled after an earlier ready branch"),
        };
        assert_eq!(v, 2);
    }
}

#[tickslab::test]
async fn biased_with_preconditions_goes_in_order() {
    let first = async {};
    let second = async { tickslab::task::yield_now().await };
    let third = async { tickslab::task::yield_now().await };
    tickslab::pin!(first, second, third);
    let mut count = 0;
    loop {
        tickslab::select! {
            biased;
            _ = &mut second, if count < 2 => { count += 1; assert_eq!(count, 2); }
            _ = &mut third, if count < 3 => { count += 1; assert_eq!(count, 3); }
            _ = &mut first, if count < 1 => { count += 1; assert_eq!(count, 1); }
            else => break,
        }
    }
    assert_eq!(count, 3);
}

#[tickslab::test]
async fn unbiased_start_varies() {
    let mut wins = [0u32; 2];
    for _ in 0..1000 {
        let i = tickslab::select! {
            _ = ready(()) => 0,
            _ = ready(()) => 1,
        };
        wins[i] += 1;
    }
    // Fails with probability 2^-999 if the start is a fair coin; always if it is fixed.
    assert!(wins[0] > 0 && wins[1] > 0, "{wins:?}");
}

#[tickslab::test]
async fn sixty_four_branches() {
    let v = tickslab::select! {
        biased;
        _ = pending::<()>() => 0, _ = pending::<()>() => 1, _ = pending::<()>() => 2,
        _ = pending::<()>() => 3, _ = pending::<()>() => 4, _ = pending::<()>() => 5,
        _ = pending::<()>() => 6, _ = pending::<()>() => 7, _ = pending::<()>() => 8,
        _ = pending::<()>() => 9, _ = pending::<()>() => 10, _ = pending::<()>() => 11,
        _ = pending::<()>() => 12, _ = pending::<()>() => 13, _ = pending::<()>() => 14,
        _ = pending::<()>() => 15, _ = pending::<()>() => 16, _ = pending::<()>() => 17,
        _ = pending::<()>() => 18, _ = pending::<()>() => 19, _ = pending::<()>() => 20,
        _ = pending::<()>() => 21, _ = pending::<()>() => 22, _ = pending::<()>() => 23,
        _ = pending::<()>() => 24, _ = pending::<()>() => 25, _ = pending::<()>() => 26,
        _ = pending::<()>() => 27, _ = pending::<()>() => 28, _ = pending::<()>() => 29,
        _ = pending::<()>() => 30, _ = pending::<()>() => 31, _ = pending::<()>() => 32,
        _ = pending::<()>() => 33, _ = pending::<()>() => 34, _ = pending::<()>() => 35,
        _ = pending::<()>() => 36, _ = pending::<()>() => 37, _ = pending::<()>() => 38,
        _ = pending::<()>() => 39, _ = pending::<()>() => 40, _ = pending::<()>() => 41,
        _ = pending::<()>() => 42, _ = pending::<()>() => 43, _ = pending::<()>() => 44,
        _ = pending::<()>() => 45, _ = pending::<()>() => 46, _ = pending::<()>() => 47,
        _ = pending::<()>() => 48, _ = pending::<()>() => 49, _ = pending::<()>() => 50,
        _ = pending::<()>() => 51, _ = pending::<()>() => 52, _ = pending::<()>() => 53,
        _ = pending::<()>() => 54, _ = pending::<()>() => 55, _ = pending::<()>() => 56,
        _ = pending::<()>() => 57, _ = pending::<()>() => 58, _ = pending::<()>() => 59,
        _ = pending::<()>() => 60, _ = pending::<()>() => 61, _ = pending::<()>() => 62,
        v = ready(63) => v,
    };
    assert_eq!(v, 63);
}

#[tickslab::test]
async fn mut_and_ref_in_patterns() {
    let v = tickslab::select! {
        mut a = async { 1 } => { a += 1; a }
    };
    assert_eq!(v, 2);
    tickslab::select! {
        Some(mut s) = async { Some(String::from("1")) } => {
            s.push('2');
            assert_eq!(s, "12");
        }
    }
    tickslab::select! {
        Some(ref s) = async { Some(String::from("1")) } => assert_eq!(s, "1"),
    }
    tickslab::select! {
        Some(ref mut s) = async { Some(String::from("1")) } => {
            s.push('3');
            assert_eq!(s, "13");
        }
    }
}

#[tickslab::test]
async fn control_flow_in_handlers_reaches_the_caller() {
    let mut n = 0;
    let out = loop {
        n += 1;
        tickslab::select! {
            v = async { n } => {
                if v < 3 { continue; }
                break v * 10;
            }
        }
    };
    assert_eq!(out, 30);
    let r: Result<u32, &str> = async {
        let v = tickslab::select! { r = async { Err::<u32, &str>("bad") } => r? };
        Ok(v)
    }
    .await;
    assert_eq!(r, Err("bad"));
}

#[tickslab::test]
async fn into_future_is_accepted() {
    struct Later;
    impl std::future::IntoFuture for Later {
        type Output = u8;
        type IntoFuture = std::future::Ready<u8>;
        fn into_future(self) -> Self::IntoFuture {
            ready(8)
        }
    }
    assert_eq!(tickslab::select! { v = Later => v }, 8);
}

#[tickslab::test]
async fn select_yields_when_the_budget_is_spent() {
    use tickslab::task::coop;
    // Inside one poll, selects whose first branch spends budget complete until the budget
    // is gone; the next one is pending although its second branch is ready.
    let completed = poll_fn(|cx| {
        let mut done = 0;
        loop {
            let f = pin!(async {
                tickslab::select! {
                    biased;
                    _ = coop::consume_budget() => {}
                    _ = ready(()) => {}
                }
            });
            match f.poll(cx) {
                Poll::Ready(()) => done += 1,
                Poll::Pending => return Poll::Ready(done),
            }
        }
    })
    .await;
    assert_eq!(completed, coop::BUDGET as usize);
}

#[test]
fn a_pending_select_wakes_when_a_branch_is_ready() {
    let rt = tickslab::Runtime::new().unwrap();
    let (tx, rx) = oneshot::channel::<u8>();
    let mut fut = Box::pin(async move {
        tickslab::select! {
            v = rx => v.unwrap(),
            _ = pending::<()>() => 0,
        }
    });
    assert!(poll_once(fut.as_mut()).is_pending());
    tx.send(4).unwrap();
    assert_eq!(rt.block_on(fut), 4);
}

/// The select's share of an enclosing future: 32, 40 and 48 bytes, what tokio's own test
/// asserts for its `select!` (one pinned struct, and a closure that owns its pin).
#[cfg(target_pointer_width = "64")]
#[test]
fn select_future_sizes() {
    let one = async {
        let a = ready(0i32);
        tickslab::select! { _ = a => {} }
    };
    let two = async {
        let (a, b) = (ready(0i32), ready(0i32));
        tickslab::select! { _ = a => {}, _ = b => {} }
    };
    let three = async {
        let (a, b, c) = (ready(0i32), ready(0i32), ready(0i32));
        tickslab::select! { _ = a => {}, _ = b => {}, _ = c => {} }
    };
    assert_eq!(
        (size_of_val(&one), size_of_val(&two), size_of_val(&three)),
        (32, 40, 48)
    );
}
