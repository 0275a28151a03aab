//! `Handle::block_on`: on the runtime's own thread it drives the runtime as
//! `Runtime::block_on` does (tasks, timers, sockets, files, blocking jobs all make progress);
//! nested inside a runtime it panics with tokio's message; after the runtime has shut down
//! it runs the future, and what the future asks of the dead runtime fails as tokio's does.
//! Bad paths: the `Runtime` dropped by the future (or by one of its tasks) while the handle
//! drives it, panics in the future, forgotten enter guards, and a destructor that calls
//! `Handle::block_on` while the shutdown runs.

mod support;

use std::cell::{Cell, RefCell};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tickslab_runtime::io::{AsyncReadExt, AsyncWriteExt, is_rt_shutdown_err};
use tickslab_runtime::net::{TcpListener, TcpStream, UdpSocket};
use tickslab_runtime::task::spawn_blocking;
use tickslab_runtime::time::sleep;
use tickslab_runtime::*;

use support::{DropCounter, rt};

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "<non-string panic>".to_string()
    }
}

const TOKIO_NESTED: &str = "Cannot start a runtime from within a runtime. This happens because \
a function (like `block_on`) attempted to block the current thread while the thread is being \
used to drive asynchronous tasks. If you are in an async function, use `.await` on the future \
instead of blocking on it.";

// ---- on the runtime's own thread: it drives the runtime ---------------------------------------

#[test]
fn on_its_own_thread_it_drives_tasks_timers_and_blocking_jobs() {
    let rt = rt();
    let early = rt.spawn(async { 1 });
    let handle = rt.handle().clone();
    let out = handle.block_on(async {
        // A timer fires only if the runtime's timers are driven.
        sleep(Duration::from_millis(2)).await;
        let job = spawn_blocking(|| 20);
        let task = spawn(async {
            yield_now().await;
            300
        });
        early.await.unwrap() + job.await.unwrap() + task.await.unwrap()
    });
    assert_eq!(out, 321);
    // The runtime is as usable afterwards as after `Runtime::block_on`.
    assert_eq!(rt.block_on(async { spawn(async { 4 }).await.unwrap() }), 4);
}

#[test]
#[cfg_attr(miri, ignore = "Miri has no sockets")]
fn on_its_own_thread_it_drives_sockets_and_files() {
    let rt = rt();
    let _guard = rt.enter();
    let echoed = Handle::current().block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 5];
            s.read_exact(&mut buf).await.unwrap();
            s.write_all(&buf).await.unwrap();
        });
        let mut c = TcpStream::connect(addr).await.unwrap();
        c.write_all(b"hello").await.unwrap();
        let mut back = [0u8; 5];
        c.read_exact(&mut back).await.unwrap();
        server.await.unwrap();
        back
    });
    assert_eq!(&echoed, b"hello");
    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
    let text = Handle::current()
        .block_on(fs::read_to_string(manifest))
        .unwrap();
    assert!(text.contains("tickslab-runtime"));
}

#[test]
fn a_wake_from_another_thread_reaches_the_driven_runtime() {
    let rt = rt();
    let handle = rt.handle().clone();
    let (tx, rx) = sync::oneshot::channel::<u32>();
    let sender = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(5));
        tx.send(9).unwrap();
    });
    assert_eq!(handle.block_on(rx).unwrap(), 9);
    sender.join().unwrap();
}

// ---- nested: tokio's panic --------------------------------------------------------------------

#[test]
fn inside_block_on_it_panics_with_tokio_s_message() {
    let rt = rt();
    let handle = rt.handle().clone();
    let nested = catch_unwind(AssertUnwindSafe(|| {
        rt.block_on(async { Handle::current().block_on(async { 1 }) })
    }));
    let msg = panic_message(nested.expect_err("nested"));
    assert!(msg.starts_with(TOKIO_NESTED), "{msg}");
    assert!(msg.contains("Handle::block_on"), "{msg}");
    // Inside a task: the task's JoinError carries it; the runtime goes on.
    let in_task = rt.block_on(async move {
        let h = handle.clone();
        spawn(async move { h.block_on(async { 2 }) }).await
    });
    let msg = panic_message(in_task.unwrap_err().into_panic());
    assert!(msg.starts_with(TOKIO_NESTED), "{msg}");
    // Inside its own block_on, and inside another runtime's.
    let handle = rt.handle().clone();
    let twice = catch_unwind(AssertUnwindSafe(|| {
        handle.block_on(async { Handle::current().block_on(async { 3 }) })
    }));
    assert!(panic_message(twice.unwrap_err()).starts_with(TOKIO_NESTED));
    let other = support::rt();
    let across = catch_unwind(AssertUnwindSafe(|| {
        other.block_on(async { handle.block_on(async { 4 }) })
    }));
    assert!(panic_message(across.unwrap_err()).starts_with(TOKIO_NESTED));
    // Nothing was left claimed or borrowed.
    assert_eq!(handle.block_on(async { 5 }), 5);
    assert_eq!(other.block_on(async { 6 }), 6);
}

#[test]
fn runtime_block_on_nested_says_tokio_s_words_too() {
    let rt = rt();
    let nested = catch_unwind(AssertUnwindSafe(|| {
        rt.block_on(async { support::rt().block_on(async {}) })
    }));
    let msg = panic_message(nested.unwrap_err());
    assert!(msg.starts_with(TOKIO_NESTED), "{msg}");
    assert!(msg.contains("already running a tickslab runtime"), "{msg}");
}

#[test]
fn from_a_thread_that_drives_another_runtime_it_panics() {
    let rt = rt();
    let handle = rt.handle().clone();
    let other = std::thread::spawn(move || {
        let rt2 = support::rt();
        catch_unwind(AssertUnwindSafe(|| {
            rt2.block_on(async { handle.block_on(async { 1 }) })
        }))
        .map_err(panic_message)
    });
    let msg = other.join().unwrap().unwrap_err();
    assert!(msg.starts_with(TOKIO_NESTED), "{msg}");
    drop(rt);
}

// ---- the runtime dropped while the handle drives it -------------------------------------------

#[test]
fn a_runtime_dropped_by_the_future_shuts_down_when_block_on_returns() {
    let rt = rt();
    let handle = rt.handle().clone();
    let cancelled = Rc::new(Cell::new(0));
    let c = cancelled.clone();
    let out = handle.block_on(async move {
        let count = DropCounter(c);
        let _pending = spawn(async move {
            let _count = count;
            std::future::pending::<()>().await
        });
        let timed = spawn(async {
            sleep(Duration::from_millis(1)).await;
            5
        });
        drop(rt);
        // Still running: its timers fire and its tasks finish.
        assert!(!Handle::current().is_shutdown());
        timed.await.unwrap()
    });
    assert_eq!(out, 5);
    assert_eq!(
        cancelled.get(),
        1,
        "the pending task was cancelled at the end"
    );
    assert!(handle.is_shutdown());
    // The dead runtime's handle still runs a future here, without driving anything.
    assert_eq!(handle.block_on(async { 6 }), 6);
    assert!(
        Handle::try_current().unwrap_err().is_missing_context(),
        "the drive's context is gone"
    );
}

#[test]
fn a_runtime_dropped_by_one_of_its_tasks_while_the_handle_drives_it() {
    let cell: Rc<RefCell<Option<Runtime>>> = Rc::new(RefCell::new(Some(rt())));
    let handle = cell.borrow().as_ref().unwrap().handle().clone();
    let cancelled = Rc::new(Cell::new(0));
    let (c, cell2) = (cancelled.clone(), cell.clone());
    let out = handle.block_on(async move {
        let count = DropCounter(c);
        let _pending = spawn(async move {
            let _count = count;
            std::future::pending::<()>().await
        });
        let dropper = spawn(async move {
            drop(cell2.borrow_mut().take());
            7
        });
        let v = dropper.await.unwrap();
        yield_now().await;
        v
    });
    assert_eq!(out, 7);
    assert!(cell.borrow().is_none());
    assert_eq!(cancelled.get(), 1);
    assert!(handle.is_shutdown());
}

#[test]
fn a_panic_in_the_future_propagates_and_the_runtime_stays_usable() {
    let rt = rt();
    let handle = rt.handle().clone();
    let caught = catch_unwind(AssertUnwindSafe(|| {
        handle.block_on(async {
            yield_now().await;
            panic!("root says no")
        })
    }));
    assert_eq!(panic_message(caught.unwrap_err()), "root says no");
    assert_eq!(
        handle.block_on(async { spawn(async { 1 }).await.unwrap() }),
        1
    );
    assert_eq!(rt.block_on(async { 2 }), 2);
    assert!(Handle::try_current().unwrap_err().is_missing_context());
}

#[test]
fn a_panic_after_the_future_dropped_the_runtime_still_shuts_it_down() {
    let rt = rt();
    let handle = rt.handle().clone();
    let cancelled = Rc::new(Cell::new(0));
    let c = cancelled.clone();
    let caught = catch_unwind(AssertUnwindSafe(|| {
        handle.block_on(async move {
            let count = DropCounter(c);
            let _pending = spawn(async move {
                let _count = count;
                std::future::pending::<()>().await
            });
            drop(rt);
            panic!("after the drop")
        })
    }));
    assert_eq!(panic_message(caught.unwrap_err()), "after the drop");
    assert_eq!(cancelled.get(), 1);
    assert!(handle.is_shutdown());
}

#[test]
#[cfg_attr(miri, ignore = "leaks on purpose")]
fn a_guard_forgotten_inside_the_future_is_an_out_of_order_panic_never_ub() {
    let rt = rt();
    let handle = rt.handle().clone();
    let caught = catch_unwind(AssertUnwindSafe(|| {
        handle.block_on(async { std::mem::forget(rt.enter()) })
    }));
    assert!(panic_message(caught.unwrap_err()).contains("out of order"));
    // The forgotten guard keeps the runtime current; it still drives as usual.
    assert_eq!(
        handle.block_on(async { spawn(async { 3 }).await.unwrap() }),
        3
    );
    drop(rt);
    let current = Handle::current();
    assert!(current.is_shutdown());
    assert_eq!(current.block_on(async { 4 }), 4);
}

#[test]
fn a_destructor_run_by_the_shutdown_cannot_wait_on_the_runtime() {
    struct BlocksOnDrop(Handle, Rc<Cell<bool>>);
    impl Drop for BlocksOnDrop {
        fn drop(&mut self) {
            self.1.set(true);
            self.0.block_on(async {});
        }
    }
    let rt = rt();
    let ran = Rc::new(Cell::new(false));
    let guard = BlocksOnDrop(rt.handle().clone(), ran.clone());
    let other = rt.spawn(async {
        yield_now().await;
        1
    });
    let blocked = rt.spawn(async move {
        let _g = guard;
        std::future::pending::<()>().await
    });
    rt.block_on(async { yield_now().await });
    drop(rt);
    assert!(ran.get());
    // The destructor's panic is the cancelled task's (as a panic in any task's drop), and
    // the shutdown finished: the other task was cancelled too.
    let rt2 = support::rt();
    let msg = panic_message(rt2.block_on(blocked).unwrap_err().into_panic());
    assert!(msg.contains("shutting down"), "{msg}");
    assert!(rt2.block_on(other).unwrap_err().is_cancelled());
}

// ---- after the runtime has shut down, under a guard that outlived it (tokio's tests) --------

#[test]
fn after_shutdown_the_current_handle_runs_futures_and_reports_shutdown() {
    let rt = rt();
    let _guard = rt.enter();
    let id = rt.handle().id();
    rt.shutdown_timeout(Duration::from_secs(1000));
    let handle = Handle::current();
    assert_eq!(handle.id(), id);
    assert!(handle.is_shutdown());
    assert_eq!(handle.block_on(async { 1 }), 1);
    let (tx, mut rx) = sync::mpsc::channel(4);
    handle.block_on(tx.send(42)).unwrap();
    assert_eq!(handle.block_on(rx.recv()), Some(42));
    let job = handle.block_on(spawn_blocking(|| 42));
    assert!(job.unwrap_err().is_cancelled());
}

#[test]
#[cfg_attr(miri, ignore = "Miri has no sockets")]
fn after_shutdown_sockets_streams_and_files_fail_as_tokio_s() {
    let rt = rt();
    let _guard = rt.enter();
    let bind_before = TcpListener::bind("127.0.0.1:0");
    rt.shutdown_timeout(Duration::from_secs(1000));
    let handle = Handle::current();
    let err = handle.block_on(bind_before).unwrap_err();
    assert!(is_rt_shutdown_err(&err), "{err:?}");
    let err = handle
        .block_on(TcpListener::bind("127.0.0.1:0"))
        .unwrap_err();
    assert!(is_rt_shutdown_err(&err), "{err:?}");
    let err = handle.block_on(UdpSocket::bind("127.0.0.1:0")).unwrap_err();
    assert!(is_rt_shutdown_err(&err), "{err:?}");
    // A standard stream refuses to start its blocking write (tokio's error), nothing lost.
    let err = handle
        .block_on(async {
            io::stdout()
                .write_all(b"")
                .await
                .and(io::stdout().write_all(b"x").await)
        })
        .unwrap_err();
    assert!(is_rt_shutdown_err(&err), "{err:?}");
    let err = handle
        .block_on(async { io::stderr().write_all(b"x").await })
        .unwrap_err();
    assert!(is_rt_shutdown_err(&err), "{err:?}");
    // Files: tokio's words.
    let err = handle
        .block_on(fs::read_to_string("/nonexistent"))
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::Other);
    assert_eq!(err.get_ref().unwrap().to_string(), "background task failed");
    // Timers: tokio's panic.
    let slept = catch_unwind(AssertUnwindSafe(|| {
        handle.block_on(sleep(Duration::from_millis(1)))
    }));
    assert!(panic_message(slept.unwrap_err()).contains("being shutdown"));
}

#[test]
fn blocking_jobs_that_got_a_thread_before_the_shutdown_still_run() {
    // Each job starts a worker of its own; the shutdown comes before most of them have
    // looked at the queue. tokio runs such jobs; so does tickslab (a job only waiting for a
    // busy worker is cancelled: see `blocking.rs`).
    const JOBS: usize = 8;
    let rt = Runtime::builder()
        .slab_bounded::<256>(16)
        .max_blocking_threads(JOBS)
        .build();
    let _guard = rt.enter();
    let ran = Arc::new(AtomicUsize::new(0));
    let jobs: Vec<_> = (0..JOBS)
        .map(|i| {
            let ran = ran.clone();
            spawn_blocking(move || {
                ran.fetch_add(1, Ordering::SeqCst);
                i
            })
        })
        .collect();
    rt.shutdown_timeout(Duration::from_secs(1000));
    assert_eq!(ran.load(Ordering::SeqCst), JOBS);
    for (i, job) in jobs.into_iter().enumerate() {
        assert_eq!(Handle::current().block_on(job).unwrap(), i);
    }
}
