//! Unix signals, raised on this test process (`raise` delivers to the calling thread,
//! synchronously: the handler has run when it returns).
//!
//! Handlers are process-wide, so each test owns its own signal number; and every runtime
//! reads the process's one signal pipe and wakes the listeners of every runtime, so the
//! tests run one at a time (`serial`): a test's hostile waker must not run on another
//! test's thread. `SIGINT` is listened for before it is raised, so the test process never
//! meets its default action. A file of its own: the handlers stay installed for the life of
//! the process, which should not change what other test binaries see.

mod support;

use std::cell::Cell;
use std::future::{Future, poll_fn};
use std::pin::pin;
use std::rc::Rc;
use std::task::Poll;
use std::time::Duration;

use signal_hook::low_level::raise;
use tickslab_runtime::signal::ctrl_c;
use tickslab_runtime::signal::unix::{SignalKind, signal};
use tickslab_runtime::time::timeout;
use tickslab_runtime::*;

use support::{rt, rt_bounded};

/// One test at a time (see the module docs); a test that panics does not stop the others.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

const GUARD: Duration = Duration::from_secs(30);

fn run<F: Future>(f: F) -> F::Output {
    rt().block_on(async { timeout(GUARD, f).await.expect("the test hung (30 s guard)") })
}

/// Polls `f` once with the task's waker: `Some` if it completed.
async fn poll_once<F: Future>(f: F) -> Option<F::Output> {
    let mut f = pin!(f);
    poll_fn(|cx| {
        Poll::Ready(match f.as_mut().poll(cx) {
            Poll::Ready(v) => Some(v),
            Poll::Pending => None,
        })
    })
    .await
}

#[test]
fn every_listener_of_a_signal_is_woken() {
    let _serial = serial();
    run(async {
        let kind = SignalKind::user_defined1();
        let mut first = signal(kind).unwrap();
        assert_eq!(first.kind(), kind);
        let handles: Vec<_> = (0..3)
            .map(|_| {
                let mut s = signal(kind).unwrap();
                spawn(async move { s.recv().await })
            })
            .collect();
        // Each task is parked on its listener before the signal comes.
        yield_now().await;
        raise(libc_sigusr1()).unwrap();
        assert_eq!(first.recv().await, Some(()));
        for h in handles {
            assert_eq!(h.await.unwrap(), Some(()));
        }
        // Nothing more came: the next receive waits.
        assert_eq!(poll_once(first.recv()).await, None);
        raise(libc_sigusr1()).unwrap();
        assert_eq!(first.recv().await, Some(()));
    });
}

fn libc_sigusr1() -> i32 {
    SignalKind::user_defined1().as_raw_value()
}

#[test]
fn deliveries_before_a_look_count_as_one() {
    let _serial = serial();
    run(async {
        let kind = SignalKind::user_defined2();
        let mut s = signal(kind).unwrap();
        for _ in 0..3 {
            raise(kind.as_raw_value()).unwrap();
        }
        assert_eq!(s.recv().await, Some(()));
        assert_eq!(
            poll_once(s.recv()).await,
            None,
            "three deliveries, one wake"
        );
        // A listener made after a delivery does not see it.
        let mut late = signal(kind).unwrap();
        assert_eq!(poll_once(late.recv()).await, None);
    });
}

#[test]
fn ctrl_c_completes_on_sigint() {
    let _serial = serial();
    run(async {
        // The handler is installed by the first poll of `ctrl_c`, before the raise.
        let mut wait = pin!(ctrl_c());
        assert!(poll_once(wait.as_mut()).await.is_none());
        raise(SignalKind::interrupt().as_raw_value()).unwrap();
        wait.await.unwrap();
    });
}

#[test]
fn one_delivery_reaches_listeners_in_two_runtimes() {
    let _serial = serial();
    let kind = SignalKind::hangup();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let other = std::thread::spawn(move || {
        run(async move {
            let mut s = signal(kind).unwrap();
            ready_tx.send(()).unwrap();
            s.recv().await
        })
    });
    run(async {
        let mut s = signal(kind).unwrap();
        ready_rx.recv().unwrap();
        raise(kind.as_raw_value()).unwrap();
        assert_eq!(s.recv().await, Some(()));
    });
    assert_eq!(other.join().unwrap(), Some(()));
}

#[test]
fn a_listener_outlives_its_runtime_and_serves_the_next() {
    let _serial = serial();
    let kind = SignalKind::window_change();
    let mut s = run(async move {
        let mut s = signal(kind).unwrap();
        raise(kind.as_raw_value()).unwrap();
        assert_eq!(s.recv().await, Some(()));
        s
    });
    // Outside any runtime it cannot be woken: it says so instead of hanging.
    assert_eq!(
        futures_poll_outside(&mut s),
        Poll::Ready(None),
        "polled outside a runtime"
    );
    run(async {
        assert_eq!(poll_once(s.recv()).await, None);
        raise(kind.as_raw_value()).unwrap();
        assert_eq!(s.recv().await, Some(()));
    });
}

fn futures_poll_outside(s: &mut tickslab_runtime::signal::unix::Signal) -> Poll<Option<()>> {
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    s.poll_recv(&mut cx)
}

#[test]
fn signals_that_cannot_be_caught_are_refused() {
    let _serial = serial();
    run(async {
        for raw in [9, 19, 11, 0, -1, 65, 1000] {
            let err = signal(SignalKind::from_raw(raw)).unwrap_err();
            assert!(err.to_string().contains(&raw.to_string()), "{err}");
        }
    });
}

/// As tokio's: a listener made outside a runtime could never be woken, so that is a panic
/// that says where to call it (tokio's `signal_no_rt`).
#[test]
#[should_panic(expected = "inside a running tickslab runtime")]
fn no_runtime_panics_creating_signals() {
    let _serial = serial();
    let _ = signal(SignalKind::quit());
}

/// A runtime that is gone: its listeners' `recv` ends with `None` instead of hanging.
#[test]
fn a_runtime_dropped_under_a_listener_ends_its_receives() {
    let _serial = serial();
    let rt = rt();
    let mut s = rt.block_on(async { signal(SignalKind::quit()).unwrap() });
    drop(rt);
    assert_eq!(futures_poll_outside(&mut s), Poll::Ready(None));
}

/// A `recv` abandoned by a timeout takes its waker with it: the listener outlives 60 tasks
/// that each waited on it once, on a 4-slot slab.
#[test]
fn abandoned_receives_free_their_task_slots() {
    let _serial = serial();
    let rt = rt_bounded::<512>(4);
    rt.block_on(async {
        timeout(Duration::from_secs(20), async {
            // Each task takes the listener, waits on it once, and puts it back.
            let s = Rc::new(Cell::new(Some(signal(SignalKind::alarm()).unwrap())));
            for _ in 0..60 {
                let s = s.clone();
                claim_slab()
                    .await
                    .spawn(async move {
                        let mut sig = s.take().unwrap();
                        let r = timeout(Duration::from_micros(200), sig.recv()).await;
                        assert!(r.is_err(), "nobody raises SIGALRM");
                        s.set(Some(sig));
                    })
                    .await
                    .unwrap();
            }
            // Every task is done, the listener lives on: no task's waker may be left in it.
            assert_eq!(RuntimeStats::current().unwrap().slab_used, 0);
            drop(s);
        })
        .await
        .expect("an abandoned receive pinned its task's slot");
    });
    assert_eq!(rt.stats().slab_used, 0);
}

/// A listener's waker that panics does not stop the broadcast: the other listener is still
/// woken, then the panic goes on (out of the runtime that dispatched the pipe's event).
#[test]
fn a_panicking_waker_does_not_starve_the_other_listeners() {
    let _serial = serial();
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::{Context, Wake, Waker};

    struct Panics;
    impl Wake for Panics {
        fn wake(self: Arc<Self>) {
            panic!("a hostile waker");
        }
    }
    struct Counts(AtomicUsize);
    impl Wake for Counts {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    let kind = SignalKind::terminate();
    let rt = rt();
    let counts = Arc::new(Counts(AtomicUsize::new(0)));
    let (a, b) = rt.block_on(async {
        let (mut a, mut b) = (signal(kind).unwrap(), signal(kind).unwrap());
        let panics = Waker::from(Arc::new(Panics));
        let counting = Waker::from(counts.clone());
        assert!(a.poll_recv(&mut Context::from_waker(&panics)).is_pending());
        assert!(
            b.poll_recv(&mut Context::from_waker(&counting))
                .is_pending()
        );
        (a, b)
    });
    raise(kind.as_raw_value()).unwrap();
    let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        rt.block_on(tickslab_runtime::time::sleep(Duration::from_millis(50)))
    }));
    assert!(run.is_err(), "the hostile waker's panic goes on");
    assert_eq!(
        counts.0.load(Ordering::SeqCst),
        1,
        "the other listener was woken"
    );
    drop((a, b));
}

/// tokio's `signal_drop_rt`, on two runtimes driven in turn on one thread: the first
/// drains the pipe and is dropped; the second still gets the next delivery.
#[test]
fn dropping_a_runtime_does_not_starve_the_others() {
    let _serial = serial();
    let kind = SignalKind::io();
    let (first_rt, second_rt) = (rt(), rt());
    let mut first = first_rt.block_on(async { signal(kind).unwrap() });
    let mut second = second_rt.block_on(async { signal(kind).unwrap() });
    raise(kind.as_raw_value()).unwrap();
    assert_eq!(first_rt.block_on(first.recv()), Some(()));
    drop(first_rt);
    drop(first);
    // The first delivery is still unseen by the second listener; then one more.
    assert_eq!(second_rt.block_on(second.recv()), Some(()));
    raise(kind.as_raw_value()).unwrap();
    assert_eq!(
        second_rt.block_on(async { timeout(GUARD, second.recv()).await }),
        Ok(Some(()))
    );
}

/// A wait dropped before the signal comes loses nothing: the next `recv` sees it.
#[test]
fn a_dropped_wait_loses_nothing() {
    let _serial = serial();
    run(async {
        let kind = SignalKind::child();
        let mut s = signal(kind).unwrap();
        {
            let mut wait = pin!(s.recv());
            let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
            assert!(wait.as_mut().poll(&mut cx).is_pending());
        }
        raise(kind.as_raw_value()).unwrap();
        assert_eq!(s.recv().await, Some(()));
    });
}

/// Raised on another thread while the runtime sleeps in epoll: the pipe wakes it.
#[test]
fn a_sleeping_runtime_wakes_for_a_signal_raised_elsewhere() {
    let _serial = serial();
    run(async {
        let kind = SignalKind::pipe();
        let mut s = signal(kind).unwrap();
        let raiser = std::thread::spawn(move || raise(kind.as_raw_value()).unwrap());
        assert_eq!(s.recv().await, Some(()));
        raiser.join().unwrap();
    });
}

/// `Signal` is `Send` and `Sync`, as tokio's: it can move to another thread's runtime.
#[test]
fn a_listener_moves_to_another_thread() {
    let _serial = serial();
    fn send_sync<T: Send + Sync>(_: &T) {}
    let s = run(async { signal(SignalKind::user_defined2()).unwrap() });
    send_sync(&s);
    std::thread::spawn(move || drop(s)).join().unwrap();
}
