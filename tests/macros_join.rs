//! `join!`, `try_join!` and `pin!`, after the cases of tokio's `tests/macros_join.rs`,
//! `macros_try_join.rs` and `macros_pin.rs` (written anew): outputs in order, futures
//! dropped as they complete, fairness, `biased;`, the early `Err`, and pinning forms.
#![forbid(unsafe_code)]

use std::cell::{Cell, RefCell};
use std::future::{Future, pending, poll_fn, ready};
use std::pin::pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use tickslab::sync::oneshot;

/// A flag set when dropped.
struct DropFlag(Rc<Cell<bool>>);
impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.set(true);
    }
}

#[tickslab::test]
async fn join_returns_outputs_in_order() {
    assert_eq!(tickslab::join!(), ());
    let (a,) = tickslab::join!(async { 1 });
    let (b, c, d) = tickslab::join!(async { 'b' }, ready("c"), async { 4u64 },);
    assert_eq!((a, b, c, d), (1, 'b', "c", 4));
}

#[tickslab::test]
async fn join_waits_for_every_future() {
    let (tx1, rx1) = oneshot::channel::<u8>();
    let (tx2, rx2) = oneshot::channel::<u8>();
    let sender = tickslab::spawn(async move {
        tx2.send(2).unwrap();
        tickslab::task::yield_now().await;
        tx1.send(1).unwrap();
    });
    let (a, b) = tickslab::join!(rx1, rx2);
    assert_eq!((a.unwrap(), b.unwrap()), (1, 2));
    sender.await.unwrap();
}

#[tickslab::test]
async fn join_drops_each_future_when_it_completes() {
    let dropped = Rc::new(Cell::new(false));
    let flag = DropFlag(dropped.clone());
    let seen = dropped.clone();
    let (a, b) = tickslab::join!(
        async move {
            let _flag = flag;
        },
        async move {
            // Let the other future complete first.
            tickslab::task::yield_now().await;
            seen.get()
        }
    );
    assert_eq!(a, ());
    assert!(
        b,
        "the finished future was dropped while the other still ran"
    );
}

#[tickslab::test]
async fn join_rotates_which_future_goes_first() {
    // Each poll of the join starts one future further along: record who is polled first.
    let order = RefCell::new(Vec::new());
    let polls = |id: u8| {
        let order = &order;
        let mut n = 0;
        poll_fn(move |cx: &mut Context<'_>| {
            order.borrow_mut().push(id);
            n += 1;
            if n == 3 {
                Poll::Ready(())
            } else {
                cx.waker().wake_by_ref();
                Poll::Pending
            }
        })
    };
    tickslab::join!(polls(0), polls(1));
    assert_eq!(*order.borrow(), [0, 1, 1, 0, 0, 1]);
    order.borrow_mut().clear();
    tickslab::join!(biased; polls(0), polls(1));
    assert_eq!(*order.borrow(), [0, 1, 0, 1, 0, 1]);
}

#[tickslab::test]
async fn try_join_returns_every_ok() {
    let r: Result<(), ()> = tickslab::try_join!();
    assert_eq!(r, Ok(()));
    let r: Result<(u8, &str), String> = tickslab::try_join!(async { Ok(1) }, async { Ok("x") });
    assert_eq!(r, Ok((1, "x")));
}

#[tickslab::test]
async fn try_join_returns_the_first_err_and_drops_the_rest() {
    let dropped = Rc::new(Cell::new(false));
    let flag = DropFlag(dropped.clone());
    let never = async move {
        let _flag = flag;
        pending::<Result<u8, &str>>().await
    };
    let r: Result<(u8, u8), &str> = tickslab::try_join!(never, async { Err("no") });
    assert_eq!(r, Err("no"));
    assert!(dropped.get(), "the pending future was dropped");
}

#[tickslab::test]
async fn try_join_err_after_an_ok() {
    let (tx, rx) = oneshot::channel::<u8>();
    let sender = tickslab::spawn(async move {
        tickslab::task::yield_now().await;
        tx.send(1).unwrap();
    });
    let r: Result<(u8, u8), String> = tickslab::try_join!(async { Ok(5) }, async {
        Err(format!("got {}", rx.await.unwrap()))
    });
    assert_eq!(r, Err("got 1".to_string()));
    sender.await.unwrap();
}

#[test]
fn join_is_pending_until_all_are_done() {
    let (tx, rx) = oneshot::channel::<u8>();
    let mut fut = pin!(async move { tickslab::join!(async { 1 }, rx) });
    let mut cx = Context::from_waker(Waker::noop());
    assert!(fut.as_mut().poll(&mut cx).is_pending());
    tx.send(2).unwrap();
    match fut.as_mut().poll(&mut cx) {
        Poll::Ready((a, b)) => assert_eq!((a, b.unwrap()), (1, 2)),
        Poll::Pending => panic!("both are done"),
    }
}

#[tickslab::test]
async fn pin_forms() {
    async fn two() -> u8 {
        2
    }
    let a = async { 1u8 };
    let b = two();
    tickslab::pin!(a, b);
    assert_eq!((&mut a).await + (&mut b).await, 3);
    tickslab::pin! {
        let c = async { 3u8 };
        let d = two();
    }
    assert_eq!(c.as_mut().await + d.await, 5);
}

/// The join's share of an enclosing future: 32 bytes for one future and 40 for two (tokio's
/// own test asserts 32 and 48): the futures share one pinned struct with their outputs, and
/// the polling closure owns the pin and returns the outputs itself.
#[cfg(target_pointer_width = "64")]
#[test]
fn join_future_sizes() {
    let one = async {
        let a = ready(0i32);
        tickslab::join!(a)
    };
    let two = async {
        let (a, b) = (ready(0i32), ready(0i32));
        tickslab::join!(a, b)
    };
    let two_try = async {
        let (a, b) = (ready(Ok::<i32, ()>(0)), ready(Ok::<i32, ()>(0)));
        tickslab::try_join!(a, b)
    };
    assert_eq!(
        (size_of_val(&one), size_of_val(&two), size_of_val(&two_try)),
        (32, 40, 48)
    );
}
