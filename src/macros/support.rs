//! What the code that `select!`, `join!` and `try_join!` write needs at run time. Not an
//! API: reached only through `$crate::__private`.
//!
//! Invariants: nothing here allocates; `MaybeDone` drops its future as soon as it completes
//! (the output takes its place) and hands its output out once.

use std::cell::Cell;
use std::future::Future;
use std::hash::{BuildHasher, RandomState};
use std::pin::Pin;
use std::task::{Context, Poll};

pub use pin_project_lite::pin_project;
pub use std::future::poll_fn;
pub use tickslab_runtime::coop::has_budget_remaining;

thread_local! {
    /// xorshift64* state; 0 until first used on this thread.
    static RNG: Cell<u64> = const { Cell::new(0) };
}

/// The branch a non-`biased` `select!` polls first: uniform enough in `0..n`, one
/// thread-local read and a few arithmetic operations, no allocation.
#[inline]
pub fn select_start(n: usize) -> usize {
    RNG.with(|rng| {
        let mut x = rng.get();
        if x == 0 {
            // Seeded once per thread from the process's random hashing keys.
            x = RandomState::new().hash_one(std::thread::current().id()) | 1;
        }
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        rng.set(x);
        let r = x.wrapping_mul(0x2545_F491_4F6C_DD1D);
        // Multiply-shift onto 0..n (n <= 64).
        (((r >> 32) * n as u64) >> 32) as usize
    })
}

pin_project_lite::pin_project! {
    /// A future for `join!`: polled until done, then holding its output (in the same
    /// space: the future is dropped when it completes).
    #[project = MaybeDoneProj]
    #[project_replace = MaybeDoneProjReplace]
    pub enum MaybeDone<F: Future> {
        /// Not done yet.
        Future { #[pin] future: F },
        /// Done: the output, not taken yet.
        Done { output: F::Output },
        /// The output was taken.
        Gone,
    }
}

impl<F: Future> MaybeDone<F> {
    /// Wraps `future`.
    pub fn new(future: F) -> Self {
        MaybeDone::Future { future }
    }

    /// Polls the future if it is not done yet; `true` once it is (the future is dropped
    /// then, its output kept).
    pub fn poll_done(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> bool {
        let output = match self.as_mut().project() {
            MaybeDoneProj::Future { future } => match future.poll(cx) {
                Poll::Ready(output) => output,
                Poll::Pending => return false,
            },
            MaybeDoneProj::Done { .. } | MaybeDoneProj::Gone => return true,
        };
        self.set(MaybeDone::Done { output });
        true
    }

    /// The output.
    ///
    /// # Panics
    /// If the future is not done or the output was taken (the macros never do either).
    pub fn take_output(self: Pin<&mut Self>) -> F::Output {
        match self.project_replace(MaybeDone::Gone) {
            MaybeDoneProjReplace::Done { output } => output,
            _ => panic!("join!: output taken before completion"),
        }
    }
}

impl<F, T, E> MaybeDone<F>
where
    F: Future<Output = Result<T, E>>,
{
    /// Whether the output is an `Err`.
    pub fn is_err(self: Pin<&mut Self>) -> bool {
        matches!(self.project(), MaybeDoneProj::Done { output: Err(_) })
    }

    /// The `Err` of the output.
    ///
    /// # Panics
    /// If the output is not an `Err`.
    pub fn take_err(self: Pin<&mut Self>) -> E {
        match self.take_output() {
            Err(e) => e,
            Ok(_) => panic!("try_join!: take_err on an Ok"),
        }
    }

    /// The `Ok` of the output.
    ///
    /// # Panics
    /// If the output is not an `Ok`.
    pub fn take_ok(self: Pin<&mut Self>) -> T {
        match self.take_output() {
            Ok(v) => v,
            Err(_) => panic!("try_join!: take_ok on an Err"),
        }
    }
}
