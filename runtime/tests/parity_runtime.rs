//! tokio's runtime and task behaviour that tokio's own tests check, on tickslab: unwind
//! safety, runtime ids, shut-down errors, `spawn_blocking` from a `Handle` or into a
//! `JoinSet`, task ids outside a poll (output destructors, blocking closures), a paused clock
//! that waits for blocking jobs, a park hook that spawns, dropping a runtime inside another,
//! `JoinSet::spawn_local` into the `LocalSet` being run (and tokio's panic outside a runtime),
//! `JoinError`'s `Debug` naming the task as tokio's.
//! Bad paths: panicking output destructors and blocking closures, jobs after shutdown.

mod support;

use std::panic::{AssertUnwindSafe, RefUnwindSafe, UnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tickslab_runtime::sync::{Notify, oneshot};
use tickslab_runtime::task::{self, JoinSet, LocalSet};
use tickslab_runtime::*;

use support::rt;

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    match payload.downcast::<String>() {
        Ok(s) => *s,
        Err(p) => p.downcast_ref::<&str>().copied().unwrap_or("?").to_string(),
    }
}

fn paused() -> Runtime {
    Runtime::builder().start_paused(true).build()
}

// ---- unwind safety ---------------------------------------------------------------------------

#[test]
fn a_runtime_survives_a_caught_panic_of_its_root_future() {
    fn unwind_safe<T: UnwindSafe + RefUnwindSafe>(_: &T) {}
    let rt = rt();
    unwind_safe(&rt);
    // No `AssertUnwindSafe`: `&Runtime` crosses `catch_unwind` as in tokio.
    let caught = catch_unwind(|| rt.block_on(async { panic!("root") }));
    assert_eq!(panic_message(caught.unwrap_err()), "root");
    let h = rt.spawn(async { 7 });
    assert_eq!(rt.block_on(h).unwrap(), 7, "usable after the panic");
}

// ---- runtime ids and shut-down errors -------------------------------------------------------

#[test]
fn handle_ids_name_one_runtime() {
    let (a, b) = (rt(), rt());
    assert_eq!(a.handle().id(), a.handle().clone().id());
    assert_ne!(a.handle().id(), b.handle().id());
    let inside = a.block_on(async { Handle::current().id() });
    assert_eq!(inside, a.handle().id());
}

#[test]
fn a_socket_after_its_runtime_reports_a_shutdown_error() {
    let rt1 = rt();
    let listener = rt1.block_on(net::TcpListener::bind("127.0.0.1:0")).unwrap();
    drop(rt1);
    let rt2 = rt();
    let err = rt2.block_on(listener.accept()).unwrap_err();
    assert!(io::is_rt_shutdown_err(&err), "{err}");
    // The same text in another error is not the runtime's.
    assert!(!io::is_rt_shutdown_err(&std::io::Error::other(
        err.to_string()
    )));
    assert!(!io::is_rt_shutdown_err(
        &std::io::ErrorKind::TimedOut.into()
    ));
}

// ---- spawn_blocking from a handle, into a JoinSet --------------------------------------------

#[test]
fn handle_spawn_blocking_runs_from_another_thread() {
    let rt = rt();
    let handle = rt.handle().clone();
    let job = std::thread::spawn(move || handle.spawn_blocking(|| 6 * 7))
        .join()
        .unwrap();
    assert_eq!(rt.block_on(job).unwrap(), 42);
}

#[test]
fn handle_spawn_blocking_after_shutdown_is_cancelled() {
    let rt = rt();
    let handle = rt.handle().clone();
    drop(rt);
    let ran = Arc::new(AtomicBool::new(false));
    let ran2 = ran.clone();
    let job = handle.spawn_blocking(move || ran2.store(true, Ordering::SeqCst));
    let rt2 = support::rt();
    assert!(rt2.block_on(job).unwrap_err().is_cancelled());
    assert!(!ran.load(Ordering::SeqCst));
}

#[test]
fn join_set_spawn_blocking_reports_values_and_panics() {
    let rt = rt();
    rt.block_on(async {
        let mut set = JoinSet::new();
        set.spawn_blocking(|| 1);
        set.spawn_blocking(|| -> i32 { panic!("in the job") });
        let mut ok = 0;
        let mut panics = Vec::new();
        while let Some(r) = set.join_next().await {
            match r {
                Ok(v) => ok += v,
                Err(e) => panics.push(panic_message(e.into_panic())),
            }
        }
        assert_eq!((ok, panics), (1, vec!["in the job".to_string()]));
    });
}

// ---- task ids outside a poll ----------------------------------------------------------------

#[test]
fn spawn_blocking_closures_have_a_task_id() {
    let rt = rt();
    let (a, b) = rt.block_on(async {
        // Both jobs exist at once (ids are unique among what exists, as tokio's).
        let (ha, hb) = (
            task::spawn_blocking(task::id),
            task::spawn_blocking(task::try_id),
        );
        (ha.await.unwrap(), hb.await.unwrap())
    });
    assert_ne!(Some(a), b, "two jobs, two ids");
    assert!(
        task::try_id().is_none(),
        "the id does not leak out of the job"
    );
}

/// Sends `task::id()` from its destructor.
struct SendsId(Option<oneshot::Sender<task::Id>>);

impl Drop for SendsId {
    fn drop(&mut self) {
        let _ = self.0.take().unwrap().send(task::id());
    }
}

#[test]
fn an_output_destructor_runs_under_its_tasks_id() {
    let rt = rt();
    rt.block_on(async {
        // Detached before completion: the output is dropped when the task completes.
        let (tx, rx) = oneshot::channel();
        let h = spawn(async move { SendsId(Some(tx)) });
        let id = h.id();
        drop(h);
        assert_eq!(rx.await.unwrap(), id);
        // Dropped with the handle after completion (from `block_on`'s future, no task).
        let (tx, rx) = oneshot::channel();
        let h = spawn(async move { SendsId(Some(tx)) });
        let id = h.id();
        yield_now().await;
        assert!(h.is_finished());
        drop(h);
        assert_eq!(rx.await.unwrap(), id);
        assert!(task::try_id().is_none());
    });
}

#[test]
fn dropping_a_handle_does_not_raise_its_outputs_panic() {
    struct PanicsOnDrop;
    impl Drop for PanicsOnDrop {
        fn drop(&mut self) {
            panic!("output destructor");
        }
    }
    let rt = rt();
    rt.block_on(async {
        let h = spawn(async { PanicsOnDrop });
        yield_now().await;
        assert!(h.is_finished());
        drop(h); // tokio: no panic here
        assert_eq!(spawn(async { 3 }).await.unwrap(), 3);
    });
}

// ---- a paused clock and blocking jobs --------------------------------------------------------

#[test]
fn a_paused_clock_waits_for_a_blocking_job() {
    let rt = paused();
    rt.block_on(async {
        // The job takes 50 ms of real time; a 1 ms timeout on the paused clock must not
        // fire meanwhile (tokio's `blocking_when_paused`).
        let job = task::spawn_blocking(|| std::thread::sleep(Duration::from_millis(50)));
        time::timeout(Duration::from_millis(1), job)
            .await
            .expect("the paused clock did not jump past a running job")
            .unwrap();
        // A panicking job ends the wait too.
        let job = task::spawn_blocking(|| panic!("job"));
        let res = time::timeout(Duration::from_secs(15), job).await.unwrap();
        assert!(res.unwrap_err().is_panic());
    });
}

#[test]
fn an_unawaited_blocking_job_lets_the_clock_advance_when_it_ends() {
    let rt = paused();
    rt.block_on(async {
        let start = time::Instant::now();
        let job = task::spawn_blocking(|| std::thread::sleep(Duration::from_millis(1)));
        // Nobody awaits the job: its end must wake the runtime so the clock can jump.
        time::sleep(Duration::from_secs(3600)).await;
        assert!(start.elapsed() >= Duration::from_secs(3600));
        job.await.unwrap();
    });
}

// ---- the park hook, the local set's guard, runtimes inside runtimes -------------------------

#[test]
fn a_park_hook_that_spawns_keeps_the_runtime_awake() {
    let notify = Arc::new(Notify::new());
    let notify2 = notify.clone();
    let fired = Arc::new(AtomicBool::new(false));
    let fired2 = fired.clone();
    let rt = Runtime::builder()
        .on_thread_park(move || {
            if !fired2.swap(true, Ordering::SeqCst) {
                let n = notify2.clone();
                spawn(async move { n.notify_one() });
            }
        })
        .build();
    rt.block_on(notify.notified()); // would sleep forever if the runtime parked
    assert!(fired.load(Ordering::SeqCst));
}

#[test]
fn local_set_enter_makes_spawn_local_join_the_set() {
    let rt = rt();
    let local = LocalSet::new();
    let _rt = rt.enter();
    let guard = local.enter();
    let h = task::spawn_local(async { 5 });
    assert_eq!(local.len(), 1);
    drop(guard);
    let outside = task::spawn_local(async { 1 });
    assert_eq!(local.len(), 1, "after the guard, spawns are the runtime's");
    assert_eq!(local.block_on(&rt, h).unwrap(), 5);
    assert_eq!(rt.block_on(outside).unwrap(), 1);
    assert!(local.is_empty());
}

#[test]
fn spawn_local_outside_a_runtime_panics_with_tokios_message() {
    let caught = catch_unwind(|| drop(task::spawn_local(async {})));
    let msg = panic_message(caught.unwrap_err());
    assert!(
        msg.contains("`spawn_local` called from outside of a `task::LocalSet`"),
        "{msg}"
    );
}

#[test]
fn runtime_spawn_local_runs_non_send_futures() {
    let rt = rt();
    let value = std::rc::Rc::new(9);
    let v = value.clone();
    let h = rt.spawn_local(async move { *v });
    assert_eq!(rt.block_on(h).unwrap(), 9);
}

#[test]
fn dropping_a_runtime_inside_block_on_panics_after_shutting_it_down() {
    let outer = rt();
    let caught = catch_unwind(AssertUnwindSafe(|| {
        outer.block_on(async {
            let inner = rt();
            let h = inner.spawn(std::future::pending::<()>());
            let dropped = catch_unwind(AssertUnwindSafe(|| drop(inner)));
            // Its task was cancelled all the same.
            assert!(h.is_finished());
            std::panic::resume_unwind(dropped.unwrap_err());
        })
    }));
    let payload = caught.unwrap_err();
    let msg = payload.downcast_ref::<&'static str>().copied();
    assert!(
        msg.is_some_and(|m| m.contains("Cannot drop a runtime")),
        "tokio's message, as a &'static str: {msg:?}"
    );
    // Dropping it outside is fine.
    drop(rt());
}

/// tokio's `task_join_set::spawn_local::panic_outside_any_runtime`, and where
/// `JoinSet::spawn_local` puts its task inside a runtime: in the `LocalSet` being run.
#[test]
fn join_set_spawn_local_joins_the_local_set_and_panics_outside_a_runtime() {
    let outside = catch_unwind(|| JoinSet::<()>::new().spawn_local(async {})).unwrap_err();
    assert!(
        panic_message(outside).contains(
            "`spawn_local` called from outside of a `task::LocalSet` or `runtime::LocalRuntime`"
        ),
        "tokio's message"
    );
    let rt = rt();
    let local = LocalSet::new();
    let mut set = JoinSet::new();
    local.block_on(&rt, async {
        set.spawn_local(async { 7 });
    });
    assert_eq!(
        local.len(),
        1,
        "the member is a task of the LocalSet being run"
    );
    let out = local.block_on(&rt, set.join_next());
    assert_eq!(out.unwrap().unwrap(), 7);
    assert_eq!(local.len(), 0);
}

/// tokio's `task_abort::test_join_error_debug`: `JoinError`'s `Debug` names the task's id,
/// then the panic message (or `...` for a payload that is not a string).
#[test]
fn join_error_debug_names_the_task_as_tokios() {
    rt().block_on(async {
        let h = spawn(async {
            let value = 1234;
            panic!("Format-args payload: {value}")
        });
        let id = h.id();
        let e = h.await.unwrap_err();
        assert_eq!(
            format!("{e:?}"),
            format!("JoinError::Panic({id:?}, \"Format-args payload: 1234\", ...)")
        );
        let h = spawn(async { std::panic::panic_any(1234i32) });
        let id = h.id();
        assert_eq!(
            format!("{:?}", h.await.unwrap_err()),
            format!("JoinError::Panic({id:?}, ...)")
        );
        let h = spawn(std::future::pending::<()>());
        let id = h.id();
        h.abort();
        assert_eq!(
            format!("{:?}", h.await.unwrap_err()),
            format!("JoinError::Cancelled({id:?})")
        );
        let e = task::spawn_blocking(|| panic!("in a blocking job"))
            .await
            .unwrap_err();
        let text = format!("{e:?}");
        assert!(
            text.starts_with("JoinError::Panic(Id(")
                && text.ends_with("), \"in a blocking job\", ...)"),
            "{text}"
        );
    });
}
