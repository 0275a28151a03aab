//! `task::spawn_blocking` and the blocking pool: outputs, panics, the thread bound, lazy
//! start and idle exit, abort, detach, and the runtime's drop with jobs queued and running.

mod support;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, mpsc};
use std::time::Duration;

use tickslab_runtime::task::spawn_blocking;
use tickslab_runtime::{Runtime, RuntimeStats};

/// Only detects hangs.
const GUARD: Duration = Duration::from_secs(30);

fn rt_threads(threads: usize) -> Runtime {
    Runtime::builder().max_blocking_threads(threads).build()
}

#[test]
fn output_comes_back_from_another_thread() {
    let rt = Runtime::new().unwrap();
    let me = std::thread::current().id();
    let (value, other) = rt.block_on(async {
        spawn_blocking(move || (6 * 7, std::thread::current().id()))
            .await
            .unwrap()
    });
    assert_eq!(value, 42);
    assert_ne!(other, me, "the job ran on the runtime's thread");
}

#[test]
fn a_panic_is_a_join_error() {
    let rt = Runtime::new().unwrap();
    let err = rt.block_on(async {
        spawn_blocking(|| -> u32 { panic!("decoder exploded") })
            .await
            .unwrap_err()
    });
    assert!(err.is_panic());
    let payload = err.into_panic();
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"decoder exploded"));
    // The pool survives: the next job runs.
    assert_eq!(
        rt.block_on(async { spawn_blocking(|| 1).await.unwrap() }),
        1
    );
}

#[test]
fn threads_start_lazily_and_stay_within_the_bound() {
    let rt = rt_threads(2);
    assert_eq!(
        rt.stats().blocking_threads,
        0,
        "no thread before the first job"
    );
    let running = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    rt.block_on(async {
        let handles: Vec<_> = (0..8)
            .map(|i| {
                let (running, peak) = (running.clone(), peak.clone());
                spawn_blocking(move || {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(2));
                    running.fetch_sub(1, Ordering::SeqCst);
                    i
                })
            })
            .collect();
        for (i, h) in handles.into_iter().enumerate() {
            assert_eq!(h.await.unwrap(), i);
        }
    });
    let stats = rt.stats();
    assert!(stats.blocking_threads_started <= 2, "{stats:?}");
    assert!(peak.load(Ordering::SeqCst) <= 2);
    assert!(stats.blocking_threads >= 1);
}

#[test]
fn jobs_beyond_the_bound_wait_and_all_run() {
    let rt = rt_threads(2);
    // Two jobs hold both threads until a third, queued behind them, could only run later:
    // the barrier needs the two running ones only.
    let barrier = Arc::new(Barrier::new(2));
    let total = rt.block_on(async {
        let a = spawn_blocking({
            let b = barrier.clone();
            move || {
                b.wait();
                1
            }
        });
        let b = spawn_blocking({
            let b = barrier.clone();
            move || {
                b.wait();
                2
            }
        });
        let c = spawn_blocking(|| 3);
        a.await.unwrap() + b.await.unwrap() + c.await.unwrap()
    });
    assert_eq!(total, 6);
}

#[test]
fn idle_threads_exit_after_the_keep_alive() {
    let rt = Runtime::builder()
        .thread_keep_alive(Duration::from_millis(5))
        .build();
    rt.block_on(async { spawn_blocking(|| ()).await.unwrap() });
    let start = std::time::Instant::now();
    while rt.stats().blocking_threads > 0 {
        assert!(start.elapsed() < GUARD, "the idle thread never left");
        std::thread::sleep(Duration::from_millis(1));
    }
    // And a new job starts a new one.
    rt.block_on(async { spawn_blocking(|| ()).await.unwrap() });
    assert_eq!(rt.stats().blocking_threads_started, 2);
}

#[test]
fn abort_before_start_cancels() {
    let rt = rt_threads(1);
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let ran = Arc::new(AtomicBool::new(false));
    rt.block_on(async {
        let blocker = spawn_blocking(move || release_rx.recv().unwrap());
        let queued = spawn_blocking({
            let ran = ran.clone();
            move || ran.store(true, Ordering::SeqCst)
        });
        queued.abort();
        release_tx.send(()).unwrap();
        blocker.await.unwrap();
        let err = queued.await.unwrap_err();
        assert!(err.is_cancelled());
    });
    assert!(!ran.load(Ordering::SeqCst));
}

#[test]
fn a_job_may_spawn_blocking_work() {
    let rt = rt_threads(2);
    let out = rt.block_on(async {
        spawn_blocking(|| {
            let inner = spawn_blocking(|| 20);
            // Joined from the blocking thread with any executor: here, a tickslab one.
            Runtime::new().unwrap().block_on(inner).unwrap() + 1
        })
        .await
        .unwrap()
    });
    assert_eq!(out, 21);
}

#[test]
fn a_dropped_handle_detaches() {
    let rt = Runtime::new().unwrap();
    let (tx, rx) = mpsc::channel();
    rt.block_on(async {
        drop(spawn_blocking(move || tx.send(5).unwrap()));
    });
    assert_eq!(rx.recv_timeout(GUARD).unwrap(), 5);
}

#[test]
fn awaiting_from_a_spawned_task() {
    let rt = Runtime::builder().slab_bounded::<512>(16).build();
    let out = rt.block_on(async {
        let h = tickslab_runtime::spawn_slab(async { spawn_blocking(|| 9).await.unwrap() + 1 });
        h.await.unwrap()
    });
    assert_eq!(out, 10);
}

/// Signals when dropped.
struct OnDrop(Option<mpsc::Sender<()>>);
impl Drop for OnDrop {
    fn drop(&mut self) {
        if let Some(tx) = self.0.take() {
            let _ = tx.send(());
        }
    }
}

#[test]
fn runtime_drop_cancels_queued_jobs_and_waits_for_running_ones() {
    let rt = rt_threads(1);
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let running_done = Arc::new(AtomicBool::new(false));
    let queued_ran = Arc::new(AtomicBool::new(false));
    let (started_tx, started_rx) = mpsc::channel::<()>();
    let (running, queued) = rt.block_on(async {
        let running = spawn_blocking({
            let done = running_done.clone();
            move || {
                started_tx.send(()).unwrap();
                // Ends only when the queued job's closure is dropped, i.e. cancelled by the
                // runtime's drop while this one is still running.
                release_rx.recv().unwrap();
                done.store(true, Ordering::SeqCst);
            }
        });
        let guard = OnDrop(Some(release_tx));
        let queued = spawn_blocking({
            let ran = queued_ran.clone();
            move || {
                let _guard = guard;
                ran.store(true, Ordering::SeqCst);
            }
        });
        (running, queued)
    });
    started_rx.recv_timeout(GUARD).unwrap();
    drop(rt);
    assert!(
        running_done.load(Ordering::SeqCst),
        "the drop returned before the running job finished"
    );
    assert!(
        !queued_ran.load(Ordering::SeqCst),
        "a queued job ran after shutdown"
    );
    // Both handles outlive the runtime and report what happened.
    let other = Runtime::new().unwrap();
    other.block_on(async {
        assert!(running.await.is_ok());
        assert!(queued.await.unwrap_err().is_cancelled());
    });
}

#[test]
fn shutdown_background_does_not_wait_for_running_jobs() {
    let rt = rt_threads(1);
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let (started_tx, started_rx) = mpsc::channel::<()>();
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let job = {
        let _enter = rt.enter();
        spawn_blocking(move || {
            started_tx.send(()).unwrap();
            release_rx.recv().unwrap();
            done_tx.send(()).unwrap();
        })
    };
    started_rx.recv_timeout(GUARD).unwrap();
    // Returns while the job is still blocked (it could not return otherwise: the job waits
    // for the release below).
    rt.shutdown_background();
    release_tx.send(()).unwrap();
    done_rx
        .recv_timeout(GUARD)
        .expect("the detached job still ran to its end");
    assert!(Runtime::new().unwrap().block_on(job).is_ok());
}

#[test]
fn no_thread_outlives_the_runtime() {
    let rt = rt_threads(4);
    let threads = Arc::new(AtomicUsize::new(0));
    rt.block_on(async {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let threads = threads.clone();
                spawn_blocking(move || {
                    // Counted down when the thread's locals are destroyed: at thread exit.
                    struct Exit(Arc<AtomicUsize>);
                    impl Drop for Exit {
                        fn drop(&mut self) {
                            self.0.fetch_sub(1, Ordering::SeqCst);
                        }
                    }
                    thread_local! {
                        static EXIT: std::cell::RefCell<Option<Exit>> = const { std::cell::RefCell::new(None) };
                    }
                    EXIT.with(|e| {
                        if e.borrow().is_none() {
                            threads.fetch_add(1, Ordering::SeqCst);
                            *e.borrow_mut() = Some(Exit(threads.clone()));
                        }
                    });
                })
            })
            .collect();
        for h in handles {
            h.await.unwrap();
        }
    });
    assert!(threads.load(Ordering::SeqCst) >= 1);
    drop(rt);
    assert_eq!(
        threads.load(Ordering::SeqCst),
        0,
        "a blocking thread was still alive after the runtime's drop returned"
    );
}

#[test]
fn spawning_after_shutdown_reports_cancelled() {
    let rt = Runtime::new().unwrap();
    let guard = rt.enter();
    // A forgotten enter guard keeps the dead runtime current after its drop.
    std::mem::forget(guard);
    drop(rt);
    let h = spawn_blocking(|| 1);
    let other = Runtime::new().unwrap();
    assert!(other.block_on(h).unwrap_err().is_cancelled());
}

#[test]
#[should_panic(expected = "outside a tickslab runtime")]
fn spawn_blocking_outside_a_runtime_panics() {
    drop(spawn_blocking(|| 1));
}

#[test]
fn stats_outside_and_inside() {
    let rt = Runtime::new().unwrap();
    rt.block_on(async {
        spawn_blocking(|| ()).await.unwrap();
        let s = RuntimeStats::current().unwrap();
        assert!(s.blocking_threads_started >= 1);
    });
}
