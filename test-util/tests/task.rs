//! `task::spawn`: polling by hand, the wake flag, the waker count, streams, `enter`.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use futures_util::stream;
use tickslab::sync::{mpsc, oneshot};
use tickslab_test::{assert_pending, assert_ready, assert_ready_eq, task};

#[test]
fn a_wake_after_a_poll_sets_the_flag_and_the_next_poll_clears_it() {
    let (tx, rx) = oneshot::channel::<u8>();
    let mut rx = task::spawn(rx);
    assert_pending!(rx.poll());
    assert!(!rx.is_woken());
    tx.send(1).unwrap();
    assert!(rx.is_woken());
    assert_ready_eq!(rx.poll(), Ok(1));
    assert!(!rx.is_woken(), "polling cleared the flag");
}

/// Keeps the wakers it is polled with.
struct Hoard(Vec<Waker>);

impl Future for Hoard {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.0.push(cx.waker().clone());
        Poll::Pending
    }
}

#[test]
fn waker_ref_count_counts_the_live_wakers_and_the_task() {
    let mut t = task::spawn(Hoard(Vec::new()));
    assert_eq!(t.waker_ref_count(), 1);
    assert_pending!(t.poll());
    assert_pending!(t.poll());
    assert_eq!(t.waker_ref_count(), 3);
    t.0.pop().unwrap().wake();
    assert!(t.is_woken());
    assert_eq!(t.waker_ref_count(), 2);
    t.0.clear();
    assert_eq!(t.waker_ref_count(), 1);
}

#[test]
fn a_wake_from_another_thread_is_seen() {
    let mut t = task::spawn(Hoard(Vec::new()));
    assert_pending!(t.poll());
    let w = t.0.pop().unwrap();
    std::thread::spawn(move || w.wake()).join().unwrap();
    assert!(t.is_woken());
}

#[test]
fn streams_are_polled_with_poll_next() {
    let mut s = task::spawn(stream::iter([1, 2]));
    assert_ready_eq!(s.poll_next(), Some(1));
    assert_ready_eq!(s.poll_next(), Some(2));
    assert_ready_eq!(s.poll_next(), None);
}

#[test]
fn a_tickslab_receiver_is_a_stream_here() {
    let (tx, rx) = mpsc::unbounded_channel::<u8>();
    let mut rx = task::spawn(rx);
    assert_pending!(rx.poll_next());
    tx.send(9).unwrap();
    assert!(rx.is_woken());
    assert_ready_eq!(rx.poll_next(), Some(9));
    drop(tx);
    assert_ready_eq!(rx.poll_next(), None);
}

#[test]
fn enter_gives_the_context_and_the_pinned_value_and_clears_the_flag() {
    let mut t = task::spawn(Hoard(Vec::new()));
    assert_pending!(t.poll());
    t.0.pop().unwrap().wake_by_ref();
    assert!(t.is_woken());
    let same = t.enter(|cx, hoard| {
        cx.waker().wake_by_ref();
        hoard.get_mut().0.len()
    });
    assert_eq!(same, 0);
    assert!(t.is_woken(), "the wake inside enter counts");
}

#[test]
fn deref_and_into_inner_reach_an_unpin_value() {
    let mut t = task::spawn(Hoard(Vec::new()));
    assert_pending!(t.poll());
    assert_eq!(t.0.len(), 1);
    let hoard = t.into_inner();
    assert_eq!(hoard.0.len(), 1);
}

#[test]
fn poll_until_idle_runs_through_self_wakes() {
    let mut t = task::spawn(async {
        for _ in 0..3 {
            tickslab::task::yield_now().await;
        }
        7
    });
    assert_ready_eq!(t.poll_until_idle(), 7);
}

/// Wakes itself on every poll and never finishes.
struct Spin;

impl Future for Spin {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

#[test]
#[should_panic(expected = "poll_until_idle: still pending and woken after 150 polls")]
fn poll_until_idle_refuses_a_future_that_spins() {
    let _ = task::spawn(Spin).poll_until_idle();
}

#[test]
fn spawn_is_a_future_itself() {
    let t = task::spawn(async { 5 });
    assert_eq!(tickslab_test::block_on(t), 5);
    let mut outer = task::spawn(task::spawn(async { 6 }));
    assert_eq!(assert_ready!(outer.poll()), 6);
}
