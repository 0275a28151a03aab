//! Signals: a listener sees a signal raised before it waits (not lost), coalesces several
//! into one, survives a dropped wait, refuses what cannot be handled, and `ctrl_c` resolves
//! on SIGINT. Each test uses its own signal: handlers are process-wide and tests run in
//! parallel.
#![cfg(unix)]

mod support;

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use signal_hook::low_level::raise;
use tickslab_runtime::signal::unix::{SignalKind, signal};
use tickslab_runtime::*;

use support::rt;

#[test]
fn a_signal_raised_before_the_wait_is_not_lost_and_several_count_as_one() {
    let rt = rt();
    rt.block_on(async {
        let mut usr1 = signal(SignalKind::user_defined1()).unwrap();
        assert_eq!(usr1.kind(), SignalKind::user_defined1());
        raise(libc::SIGUSR1).unwrap();
        raise(libc::SIGUSR1).unwrap();
        assert_eq!(usr1.recv().await, Some(()));
        // Both arrivals were taken by that one wait.
        let pending = std::future::poll_fn(|cx| Poll::Ready(usr1.poll_recv(cx))).await;
        assert_eq!(pending, Poll::Pending);
        raise(libc::SIGUSR1).unwrap();
        assert_eq!(usr1.recv().await, Some(()));
    });
}

#[test]
fn a_dropped_wait_loses_nothing() {
    let rt = rt();
    rt.block_on(async {
        let mut usr2 = signal(SignalKind::user_defined2()).unwrap();
        {
            let mut wait = pin!(usr2.recv());
            let mut cx = Context::from_waker(Waker::noop());
            assert!(wait.as_mut().poll(&mut cx).is_pending());
        }
        raise(libc::SIGUSR2).unwrap();
        assert_eq!(usr2.recv().await, Some(()));
    });
}

#[test]
fn a_sleeping_runtime_wakes_for_a_signal() {
    let rt = rt();
    rt.block_on(async {
        let mut winch = signal(SignalKind::window_change()).unwrap();
        let raiser = std::thread::spawn(|| raise(libc::SIGWINCH).unwrap());
        assert_eq!(winch.recv().await, Some(()));
        raiser.join().unwrap();
    });
}

#[test]
fn ctrl_c_resolves_on_sigint() {
    let rt = rt();
    rt.block_on(async {
        let h = spawn(signal::ctrl_c());
        // One poll installs the handler; only then is SIGINT safe to raise.
        yield_now().await;
        assert!(!h.is_finished());
        raise(libc::SIGINT).unwrap();
        h.await.unwrap().unwrap();
    });
}

#[test]
fn signals_that_cannot_be_handled_are_refused() {
    let rt = rt();
    rt.block_on(async {
        for sig in [libc::SIGKILL, libc::SIGSTOP, libc::SIGSEGV] {
            assert!(signal(SignalKind::from_raw(sig)).is_err(), "signal {sig}");
        }
    });
}

#[test]
fn outside_a_runtime_is_an_error_and_installs_nothing() {
    assert!(signal(SignalKind::hangup()).is_err());
}
