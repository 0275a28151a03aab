//! Model checks of a file operation's cross-thread protocol (`op.rs`) with loom: the
//! executor (a blocking-pool worker, or the ring's reaper) completes an operation on one
//! thread while its future polls it, or is dropped, on another. Loom runs every
//! interleaving of the cell's atomics (`refs`, `done`, `result`, `taken`), of its waker slot
//! (`sync/atomic_waker.rs`) and of the pool slot's return (`pool/shared`), up to
//! `LOOM_MAX_PREEMPTIONS` preemptions, with loom's `UnsafeCell` for the buffer and the
//! cell's own box. Each must end with:
//! - the buffer freed exactly once, and **never before the executor is done with it** (the
//!   executor checks, where the kernel or `pread` would write, that it is not freed yet:
//!   `op.rs` invariant 1, the io_uring cancellation hazard);
//! - the result delivered with the buffer when the future sees the completion, and no lost
//!   wake-up (a `Pending` poll is always followed by a wake);
//! - the slot back in the pool (the cell dropped once, by the last of the two references).
//!
//! Run: `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 cargo test -p tickslab-runtime --lib
//! --release fs::loom_tests`.

use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::{Context, Poll, Wake, Waker};

use super::buf::RawBuf;
use super::op::{self, OpCell, OpKind};
use crate::pool::SyncPool;

/// Stands for a buffer's memory: counts its frees, and the executor's writes.
#[derive(Default)]
struct Probe {
    freed: AtomicUsize,
    written: AtomicUsize,
}

/// The `RawBuf` rebuild of a probe: records the free (the probe's memory is the test's).
///
/// # Safety
/// `ptr` points to a live `Probe`.
unsafe fn record_free(ptr: NonNull<u8>, _len: usize, _cap: usize) {
    // SAFETY: the caller's contract; the test keeps the probe alive.
    let probe = unsafe { ptr.cast::<Probe>().as_ref() };
    probe.freed.fetch_add(1, Ordering::SeqCst);
}

struct Flag(AtomicBool);

impl Wake for Flag {
    fn wake(self: std::sync::Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// The executor's reference, moved to its thread.
struct Executor(NonNull<OpCell>, NonNull<Probe>);

// SAFETY: the cell is `Send + Sync` (op.rs); the probe is atomics, alive for the model.
unsafe impl Send for Executor {}

impl Executor {
    /// What a backend does: writes the buffer (here: checks it is alive and counts), then
    /// completes the operation, giving back its reference.
    fn run(self) {
        // SAFETY: the probe outlives the model's threads.
        let probe = unsafe { self.1.as_ref() };
        assert_eq!(
            probe.freed.load(Ordering::SeqCst),
            0,
            "the buffer was freed while the executor still held the operation"
        );
        probe.written.fetch_add(1, Ordering::SeqCst);
        // SAFETY: the executor's reference, given back once.
        unsafe { op::complete(self.0, 7) };
    }
}

/// A submitted read on a probe buffer: the executor's half and the future's half.
fn submitted(pool: &SyncPool<OpCell>, probe: &std::sync::Arc<Probe>) -> (Executor, op::InFlight) {
    let ptr = NonNull::from(&**probe);
    // SAFETY: `record_free` only counts, on the probe that the test keeps alive.
    let buf = unsafe { RawBuf::from_parts(ptr.cast(), 0, 64, record_free) };
    let boxed = pool
        .try_alloc(OpCell::raw(OpKind::Read, Some(buf), 0))
        .unwrap_or_else(|_| panic!("a free slot"));
    let (cell, in_flight) = op::share(boxed);
    (Executor(cell, ptr), in_flight)
}

#[test]
fn a_completion_racing_the_poll_is_seen_once_with_its_buffer() {
    loom::model(|| {
        let pool = SyncPool::bounded(1);
        let probe = std::sync::Arc::new(Probe::default());
        let (executor, mut in_flight) = submitted(&pool, &probe);
        let remote = loom::thread::spawn(move || executor.run());

        let flag = std::sync::Arc::new(Flag(AtomicBool::new(false)));
        let waker = Waker::from(flag.clone());
        let mut cx = Context::from_waker(&waker);
        let first = in_flight.poll(&mut cx);
        remote.join().unwrap();
        let (res, buf) = match first {
            Poll::Ready(out) => out,
            Poll::Pending => {
                assert!(
                    flag.0.load(Ordering::SeqCst),
                    "a Pending poll was never woken"
                );
                match in_flight.poll(&mut cx) {
                    Poll::Ready(out) => out,
                    Poll::Pending => panic!("completed, yet still Pending"),
                }
            }
        };
        assert_eq!(res.unwrap(), 7);
        assert_eq!(probe.written.load(Ordering::SeqCst), 1);
        assert_eq!(
            probe.freed.load(Ordering::SeqCst),
            0,
            "freed under the future"
        );
        drop(buf);
        drop(in_flight);
        assert_eq!(probe.freed.load(Ordering::SeqCst), 1, "freed once");
        assert_eq!(pool.len(), 0, "the slot went back to the pool");
    });
}

#[test]
fn a_future_dropped_mid_flight_leaves_the_buffer_to_the_completion() {
    loom::model(|| {
        let pool = SyncPool::bounded(1);
        let probe = std::sync::Arc::new(Probe::default());
        let (executor, mut in_flight) = submitted(&pool, &probe);
        let remote = loom::thread::spawn(move || executor.run());

        // Polled once (registering a waker the completion may race), then dropped: the
        // cancellation of an in-flight read.
        let mut cx = Context::from_waker(Waker::noop());
        // (A `Ready` result, if the completion came first, is dropped with its buffer.)
        drop(in_flight.poll(&mut cx));
        drop(in_flight);
        remote.join().unwrap();
        assert_eq!(probe.written.load(Ordering::SeqCst), 1);
        assert_eq!(probe.freed.load(Ordering::SeqCst), 1, "freed once");
        assert_eq!(pool.len(), 0, "the slot went back to the pool");
    });
}

#[test]
fn a_future_dropped_unpolled_while_the_executor_runs() {
    loom::model(|| {
        let pool = SyncPool::bounded(1);
        let probe = std::sync::Arc::new(Probe::default());
        let (executor, in_flight) = submitted(&pool, &probe);
        let remote = loom::thread::spawn(move || executor.run());
        drop(in_flight);
        remote.join().unwrap();
        assert_eq!(probe.freed.load(Ordering::SeqCst), 1, "freed once");
        assert_eq!(pool.len(), 0, "the slot went back to the pool");
    });
}
