//! `Handle`: spawning from other threads, joining there, shutdown requests, spawning after
//! shutdown, and futures that never got to run.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tickslab_runtime::*;

use support::rt;

const ROUNDS: u64 = if cfg!(miri) { 5 } else { 100 };

#[test]
#[cfg_attr(
    miri,
    ignore = "Miri's epoll reports an eventfd edge only when it turns readable, not on every write as Linux does; repeated unparks would look like a deadlock"
)]
fn spawn_from_another_thread_and_join_there() {
    let rt = rt();
    let handle = rt.handle().clone();
    let game = std::thread::spawn(move || {
        let mut total = 0u64;
        for i in 0..ROUNDS {
            let h = handle
                .try_spawn(async move {
                    yield_now().await;
                    i * 2
                })
                .unwrap();
            total += h.join().unwrap();
        }
        handle.shutdown();
        total
    });
    assert!(
        rt.block_on_until_shutdown(std::future::pending::<()>())
            .is_none()
    );
    assert_eq!(game.join().unwrap(), ROUNDS * (ROUNDS - 1));
    let s = rt.stats();
    assert_eq!((s.tasks_spawned, s.tasks_live), (ROUNDS, 0));
    assert!(s.parks >= 1, "the runtime slept while waiting: {s:?}");
}

#[test]
#[cfg_attr(
    miri,
    ignore = "Miri's epoll reports an eventfd edge only when it turns readable, not on every write as Linux does; repeated unparks would look like a deadlock"
)]
fn remote_tasks_can_use_timers_and_panics_are_reported() {
    let rt = rt();
    let handle = rt.handle().clone();
    let t = std::thread::spawn(move || {
        // Timers are !Send: build the future on the runtime's thread.
        let slow = handle
            .spawn_with(|| async {
                time::sleep(Duration::from_millis(5)).await;
                "slept"
            })
            .unwrap();
        let bad = handle.try_spawn(async { panic!("remote bug") }).unwrap();
        let out = (slow.join().unwrap(), bad.join().unwrap_err());
        handle.shutdown();
        out
    });
    rt.block_on_until_shutdown(std::future::pending::<()>());
    let (slept, err) = t.join().unwrap();
    assert_eq!(slept, "slept");
    assert!(
        err.is_panic() && err.to_string().contains("remote bug"),
        "{err}"
    );
}

#[test]
fn remote_join_handle_can_be_awaited_on_the_runtime_too() {
    let rt = rt();
    let handle = rt.handle().clone();
    let out = rt.block_on(async move {
        let h = handle.try_spawn(async { 5 }).unwrap();
        h.await.unwrap()
    });
    assert_eq!(out, 5);
}

#[test]
fn spawn_after_shutdown_hands_the_future_back() {
    let rt = rt();
    let handle = rt.handle().clone();
    handle.shutdown();
    assert!(handle.is_shutdown());
    let err = handle.try_spawn(async { 1 }).unwrap_err();
    assert!(err.to_string().contains("shut"), "{err}");
    let fut = err.into_future();
    // Block_on_until_shutdown returns at once; plain block_on still works.
    assert!(rt.block_on_until_shutdown(async { 2 }).is_none());
    assert_eq!(rt.block_on(fut), 1);
    drop(rt);
    let h2 = rt_gone_handle();
    assert!(h2.try_spawn(async {}).is_err());
}

fn rt_gone_handle() -> Handle {
    let rt = rt();
    rt.handle().clone()
}

#[test]
fn futures_that_never_ran_are_reported_cancelled_when_the_runtime_drops() {
    let rt = rt();
    let handle = rt.handle().clone();
    let dropped = Arc::new(AtomicUsize::new(0));
    struct Count(Arc<AtomicUsize>);
    impl Drop for Count {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let c = Count(dropped.clone());
    let queued = handle
        .try_spawn(async move {
            let _c = c;
        })
        .unwrap();
    // Never driven: dropping the runtime drops the queued future.
    drop(rt);
    assert_eq!(dropped.load(Ordering::SeqCst), 1);
    assert!(queued.join().unwrap_err().is_cancelled());
}

#[test]
fn pending_remote_tasks_are_cancelled_at_runtime_drop() {
    let rt = rt();
    let handle = rt.handle().clone();
    let h = handle.try_spawn(std::future::pending::<()>()).unwrap();
    rt.block_on(async {
        for _ in 0..3 {
            yield_now().await;
        }
    });
    assert!(!h.is_finished());
    drop(rt);
    assert!(h.is_finished());
    assert!(h.join().unwrap_err().is_cancelled());
}

const PER_THREAD: u64 = if cfg!(miri) { 10 } else { 250 };

#[test]
#[cfg_attr(
    miri,
    ignore = "Miri's epoll reports an eventfd edge only when it turns readable, not on every write as Linux does; repeated unparks would look like a deadlock"
)]
fn many_threads_spawn_concurrently() {
    let rt = rt();
    let handle = rt.handle().clone();
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let handle = handle.clone();
            std::thread::spawn(move || {
                let hs: Vec<_> = (0..PER_THREAD)
                    .map(|i| handle.try_spawn(async move { t * 1000 + i }).unwrap())
                    .collect();
                hs.into_iter().map(|h| h.join().unwrap()).sum::<u64>()
            })
        })
        .collect();
    let stopper = {
        let handle = handle.clone();
        std::thread::spawn(move || {
            let sums: u64 = threads.into_iter().map(|t| t.join().unwrap()).sum();
            handle.shutdown();
            sums
        })
    };
    rt.block_on_until_shutdown(std::future::pending::<()>());
    let expected: u64 = (0..4u64)
        .map(|t| (0..250).map(|i| t * 1000 + i).sum::<u64>())
        .sum();
    assert_eq!(stopper.join().unwrap(), expected);
}

#[test]
fn handle_is_send_sync_clone() {
    fn check<T: Send + Sync + Clone>() {}
    check::<Handle>();
    fn send<T: Send>() {}
    send::<RemoteJoinHandle<u32>>();
}

#[test]
fn spawn_after_shutdown_reports_the_task_cancelled_as_tokio() {
    let rt = rt();
    let handle = rt.handle().clone();
    handle.shutdown();
    let dropped = Arc::new(AtomicUsize::new(0));
    struct Count(Arc<AtomicUsize>);
    impl Drop for Count {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let c = Count(dropped.clone());
    let h = handle.spawn(async move {
        let _c = c;
    });
    assert_eq!(
        dropped.load(Ordering::SeqCst),
        1,
        "the future was dropped at once"
    );
    assert!(h.is_finished());
    assert!(h.join().unwrap_err().is_cancelled());
    drop(rt);
    let h = handle.spawn(async { 1 });
    assert!(
        h.join().unwrap_err().is_cancelled(),
        "and once the runtime is gone"
    );
}
