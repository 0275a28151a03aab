//! Driving modes: `tick()` from a game's own loop, and busy polling.

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use tickslab_runtime::*;

#[test]
fn tick_runs_one_bounded_pass_and_reports_what_it_did() {
    let mut rt = Runtime::builder().task_budget(4).build();
    let count = Rc::new(Cell::new(0));
    for _ in 0..10 {
        let c = count.clone();
        drop(rt.spawn(async move { c.set(c.get() + 1) }));
    }
    // Ten ready tasks, a budget of four per tick.
    let r1 = rt.tick();
    assert_eq!((r1.tasks_polled, r1.tasks_ready), (4, 6));
    assert!(r1.has_ready_work());
    let r2 = rt.tick();
    let r3 = rt.tick();
    assert_eq!(
        (r2.tasks_polled, r3.tasks_polled, r3.tasks_ready),
        (4, 2, 0)
    );
    assert_eq!(count.get(), 10);
    let idle = rt.tick();
    assert_eq!(
        idle,
        TickReport::default(),
        "an idle tick does nothing and never sleeps"
    );
}

#[test]
fn tick_fires_timers_when_due_and_reports_the_next_one() {
    let mut rt = Runtime::new().unwrap();
    let h = rt.spawn(async {
        time::sleep(Duration::from_millis(20)).await;
        "woke"
    });
    let first = rt.tick();
    assert_eq!(first.tasks_polled, 1);
    let next = first.next_timer.expect("a timer is armed");
    assert!(next > Instant::now());
    // A game loop: tick, then do other work until the timer is due.
    let start = Instant::now();
    let mut fired = 0;
    while !h.is_finished() {
        let r = rt.tick();
        fired += r.timers_fired;
        std::thread::sleep(Duration::from_millis(1));
        assert!(start.elapsed() < Duration::from_secs(10), "hang detector");
    }
    assert_eq!(fired, 1);
    assert!(start.elapsed() >= Duration::from_millis(19));
    assert_eq!(rt.block_on(h).unwrap(), "woke");
}

#[test]
fn tick_takes_in_wakes_from_other_threads() {
    let mut rt = Runtime::new().unwrap();
    let handle = rt.handle().clone();
    let t = std::thread::spawn(move || handle.spawn(async { 9 }).join().unwrap());
    let start = Instant::now();
    while !t.is_finished() {
        rt.tick();
        assert!(start.elapsed() < Duration::from_secs(10), "hang detector");
        std::thread::yield_now();
    }
    assert_eq!(t.join().unwrap(), 9);
}

#[test]
fn busy_polling_never_parks() {
    let rt = Runtime::builder().busy_poll(true).build();
    rt.block_on(async {
        time::sleep(Duration::from_millis(5)).await;
        let flag = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let f = flag.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(5));
            f.store(true, std::sync::atomic::Ordering::Release);
        });
        while !flag.load(std::sync::atomic::Ordering::Acquire) {
            yield_now().await;
        }
        t.join().unwrap();
    });
    assert_eq!(rt.stats().parks, 0);
    let rt = Runtime::new().unwrap();
    rt.block_on_busy(time::sleep(Duration::from_millis(2)));
    assert_eq!(rt.stats().parks, 0);
    rt.block_on(time::sleep(Duration::from_millis(2)));
    assert!(rt.stats().parks >= 1, "plain block_on sleeps in epoll");
}

/// `block_on` takes `&self` (tokio's signature), so its own future can reach the runtime:
/// reading stats and spawning work, calling `block_on` again panics (the thread's drive
/// slot is taken) and leaves the runtime usable.
#[test]
fn block_on_by_shared_reference_refuses_to_nest_and_stays_usable() {
    let rt = Runtime::new().unwrap();
    let out = rt.block_on(async {
        let h = rt.spawn(async { 2 });
        assert_eq!(rt.stats().tasks_live, 1);
        let nested =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| rt.block_on(async { 1 })));
        let msg = nested.expect_err("a nested block_on must panic");
        let msg = msg.downcast_ref::<String>().expect("a formatted message");
        assert!(msg.contains("already running a tickslab runtime"), "{msg}");
        h.await.unwrap()
    });
    assert_eq!(out, 2);
    assert_eq!(rt.block_on(async { 3 }), 3, "the runtime is still usable");
}
