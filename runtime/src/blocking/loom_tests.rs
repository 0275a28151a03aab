//! Model checks of `spawn_blocking`'s job cell (`job.rs`) with loom: a worker thread runs
//! the job while its handle polls it on the runtime's thread, and an `abort` (or the pool's
//! shutdown, which cancels the same way) races the worker's start. Loom runs every
//! interleaving of the state word and the waker slot (`sync/atomic_waker.rs`), up to
//! `LOOM_MAX_PREEMPTIONS` preemptions, with loom's `UnsafeCell` for the closure and the
//! output. Each must end with:
//! - the output handed to the handle once, and no lost wake-up (a `Pending` poll is always
//!   followed by a wake);
//! - the closure run or cancelled, never both: the handle reports `Ok` exactly when it ran,
//!   and its captures are dropped exactly once either way.
//!
//! Run: `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 cargo test -p tickslab-runtime --lib
//! --release blocking::loom_tests`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::{Context, Poll, Wake, Waker};

use super::job::{JobCell, Output};
use super::pool::Job;

struct Flag(AtomicBool);

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// Counts its drops (the closure's captures).
struct Counted(Arc<AtomicUsize>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn a_job_run_elsewhere_hands_its_output_over_with_no_lost_wakeup() {
    loom::model(|| {
        let cell = Arc::new(JobCell::new(|| 5u32));
        let worker = {
            let cell = cell.clone();
            loom::thread::spawn(move || cell.run())
        };
        let flag = Arc::new(Flag(AtomicBool::new(false)));
        let waker = Waker::from(flag.clone());
        let mut cx = Context::from_waker(&waker);
        let first = cell.poll_output(&mut cx);
        worker.join().unwrap();
        let out = match first {
            Poll::Ready(out) => out,
            Poll::Pending => {
                assert!(
                    flag.0.load(Ordering::SeqCst),
                    "a Pending poll was never woken"
                );
                match cell.poll_output(&mut cx) {
                    Poll::Ready(out) => out,
                    Poll::Pending => panic!("done, yet still Pending"),
                }
            }
        };
        assert_eq!(out.unwrap(), 5);
    });
}

#[test]
fn an_abort_racing_the_worker_either_runs_or_cancels_once() {
    loom::model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let ran = Arc::new(AtomicUsize::new(0));
        let captured = Counted(drops.clone());
        let r = ran.clone();
        let cell = Arc::new(JobCell::new(move || {
            let _captured = captured;
            r.fetch_add(1, Ordering::SeqCst);
            7u32
        }));
        let worker = {
            let cell = cell.clone();
            loom::thread::spawn(move || cell.run())
        };
        cell.cancel();
        worker.join().unwrap();
        let out = match cell.poll_output(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(out) => out,
            Poll::Pending => panic!("run or cancelled, yet Pending"),
        };
        match out {
            Ok(v) => {
                assert_eq!(v, 7);
                assert_eq!(ran.load(Ordering::SeqCst), 1);
            }
            Err(e) => {
                assert!(e.is_cancelled(), "{e:?}");
                assert_eq!(ran.load(Ordering::SeqCst), 0, "cancelled after it ran");
            }
        }
        assert_eq!(drops.load(Ordering::SeqCst), 1, "the captures dropped once");
    });
}
