//! `sync::{Barrier, OnceCell, SetOnce, CancellationToken}`: rounds and leaders, one
//! initialiser at a time (and the next one after a cancelled, failed or panicking one),
//! waiters woken by `set`, cancellation through a tree whose middle token is dropped,
//! `drop_guard`, `run_until_cancelled`, tokens used across threads. In the spirit of
//! tokio's `tests/sync_barrier.rs`, `sync_once_cell.rs`, `sync_set_once.rs` and
//! tokio-util's `tests/sync_cancellation_token.rs` (written anew).

mod support;

use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Waker};
use std::thread;

use tickslab_runtime::sync::{Barrier, CancellationToken, OnceCell, SetOnce};
use tickslab_runtime::*;

use support::rt;

fn poll<F: Future>(f: Pin<&mut F>) -> Poll<F::Output> {
    f.poll(&mut Context::from_waker(Waker::noop()))
}

#[test]
fn barrier_releases_whole_rounds_with_one_leader_each() {
    let rt = rt();
    rt.block_on(async {
        let barrier = Arc::new(Barrier::new(3));
        let tasks: Vec<_> = (0..6)
            .map(|_| {
                let b = barrier.clone();
                spawn(async move { b.wait().await.is_leader() as usize })
            })
            .collect();
        let mut leaders = 0;
        for t in tasks {
            leaders += t.await.unwrap();
        }
        assert_eq!(leaders, 2, "two rounds of three");
        // Fewer than n wait: nobody goes on.
        let b = Barrier::new(2);
        assert!(poll(pin!(b.wait())).is_pending());
        assert!(Barrier::new(0).wait().await.is_leader(), "0 counts as 1");
    });
}

#[test]
fn once_cell_runs_one_initialiser() {
    let rt = rt();
    rt.block_on(async {
        let cell = Arc::new(OnceCell::new());
        let runs = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..4)
            .map(|i| {
                let (cell, runs) = (cell.clone(), runs.clone());
                spawn(async move {
                    *cell
                        .get_or_init(|| async move {
                            runs.fetch_add(1, Ordering::SeqCst);
                            yield_now().await; // the others wait meanwhile
                            i
                        })
                        .await
                })
            })
            .collect();
        let mut values = Vec::new();
        for t in tasks {
            values.push(t.await.unwrap());
        }
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        assert!(values.iter().all(|v| *v == values[0]));
        assert!(cell.set(9).unwrap_err().is_already_init_err());
    });
}

#[test]
fn once_cell_next_initialiser_runs_after_a_cancelled_failed_or_panicking_one() {
    let rt = rt();
    rt.block_on(async {
        let cell = OnceCell::<u32>::new();
        {
            // Cancelled mid-initialisation: the permit goes back.
            let mut init = pin!(cell.get_or_init(std::future::pending));
            assert!(poll(init.as_mut()).is_pending());
            assert!(cell.set(1).unwrap_err().is_initializing_err());
        }
        assert_eq!(
            cell.get_or_try_init(|| async { Err::<u32, _>("no") }).await,
            Err("no")
        );
        assert!(!cell.initialized());
        let cell = Arc::new(cell);
        let c = cell.clone();
        let r = spawn(async move {
            c.get_or_init(|| async { panic!("initialiser panics") })
                .await;
        })
        .await;
        assert!(r.unwrap_err().is_panic());
        assert_eq!(*cell.get_or_init(|| async { 3 }).await, 3);
        let mut cell = Arc::try_unwrap(cell).unwrap();
        assert_eq!(cell.take(), Some(3));
        assert_eq!(cell.get(), None);
    });
}

#[test]
fn set_once_wakes_waiters_and_refuses_a_second_value() {
    let rt = rt();
    rt.block_on(async {
        let s = Arc::new(SetOnce::new());
        let waiters: Vec<_> = (0..3)
            .map(|_| {
                let s = s.clone();
                spawn(async move { *s.wait().await })
            })
            .collect();
        yield_now().await;
        s.set(5).unwrap();
        assert_eq!(s.set(6).unwrap_err().0, 6);
        for w in waiters {
            assert_eq!(w.await.unwrap(), 5);
        }
    });
    // From another thread.
    let s = Arc::new(SetOnce::<u8>::new());
    let s2 = s.clone();
    let t = thread::spawn(move || s2.set(1).unwrap());
    let rt2 = support::rt();
    assert_eq!(rt2.block_on(async move { *s.wait().await }), 1);
    t.join().unwrap();
}

#[test]
fn cancel_reaches_children_not_parents() {
    let root = CancellationToken::new();
    let child = root.child_token();
    let grandchild = child.child_token();
    let other = root.child_token();
    child.cancel();
    assert!(child.is_cancelled() && grandchild.is_cancelled());
    assert!(!root.is_cancelled() && !other.is_cancelled());
    root.cancel();
    assert!(other.is_cancelled());
    assert!(
        root.child_token().is_cancelled(),
        "a child of a cancelled token starts so"
    );
}

#[test]
fn dropping_a_middle_token_keeps_grandchildren_reachable() {
    let root = CancellationToken::new();
    let middle = root.child_token();
    let leaf = middle.child_token();
    let leaf2 = leaf.clone();
    drop(middle);
    drop(leaf2);
    root.cancel();
    assert!(leaf.is_cancelled());
}

#[test]
fn cancelled_futures_wake_and_are_cancel_safe() {
    let rt = rt();
    rt.block_on(async {
        let token = CancellationToken::new();
        {
            let mut dropped = pin!(token.cancelled());
            assert!(poll(dropped.as_mut()).is_pending());
        }
        let waiters: Vec<_> = (0..3)
            .map(|_| spawn(token.clone().cancelled_owned()))
            .collect();
        yield_now().await;
        token.cancel();
        for w in waiters {
            w.await.unwrap();
        }
        assert!(poll(pin!(token.cancelled())).is_ready());
    });
}

#[test]
fn drop_guard_and_run_until_cancelled() {
    let rt = rt();
    rt.block_on(async {
        let token = CancellationToken::new();
        let guard = token.clone().drop_guard();
        let kept = guard.disarm();
        assert!(!kept.is_cancelled());
        drop(kept.clone().drop_guard());
        assert!(token.is_cancelled());

        let token = CancellationToken::new();
        assert_eq!(token.run_until_cancelled(async { 1 }).await, Some(1));
        let t2 = token.clone();
        let cancel = spawn(async move { t2.cancel() });
        assert_eq!(
            token
                .run_until_cancelled(std::future::pending::<u8>())
                .await,
            None
        );
        cancel.await.unwrap();
    });
}

#[test]
fn tokens_across_threads() {
    const N: usize = if cfg!(miri) { 4 } else { 50 };
    for _ in 0..N {
        let root = CancellationToken::new();
        let children: Vec<_> = (0..4).map(|_| root.child_token()).collect();
        let threads: Vec<_> = children
            .into_iter()
            .map(|c| {
                thread::spawn(move || {
                    let grand = c.child_token();
                    drop(c);
                    let rt = rt();
                    rt.block_on(grand.cancelled());
                })
            })
            .collect();
        root.cancel();
        for t in threads {
            t.join().unwrap();
        }
    }
}

#[test]
fn the_cancelled_future_is_named_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>(_: &T) {}
    let token = CancellationToken::new();
    let fut: tickslab_runtime::sync::WaitForCancellationFuture<'_> = token.cancelled();
    assert_send_sync(&fut);
    let mut fut = pin!(fut);
    assert!(poll(fut.as_mut()).is_pending());
    token.cancel();
    assert!(poll(fut.as_mut()).is_ready());
}
