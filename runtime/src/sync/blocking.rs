//! Waiting from a plain thread: the `blocking_*` methods (`Mutex::blocking_lock`,
//! `mpsc::Receiver::blocking_recv`, ...) poll their future on the calling thread and park
//! it between polls.
//!
//! The waker unparks this thread. It is made once per thread (one `Arc`, on the first
//! blocking call) and reused, so a blocking wait allocates nothing after that.
//!
//! Like tokio's, they panic when called from inside a task of a tickslab runtime (parking
//! would stall every task of that runtime): the cooperative budget's thread-local says
//! whether a task poll is running. Inside `coop::unconstrained` it cannot tell.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};

struct Unparker(Thread);

impl Wake for Unparker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

thread_local! {
    static WAKER: Waker = Waker::from(Arc::new(Unparker(thread::current())));
}

/// Runs `future` to completion on this thread, parking between polls.
///
/// # Panics
/// When called from inside a task poll of a tickslab runtime.
#[track_caller]
pub(crate) fn block_on<F: Future>(future: F) -> F::Output {
    assert!(
        !crate::coop::in_task_poll(),
        "Cannot block the current thread from within a runtime: a `blocking_*` call was made \
         from a task, whose thread drives other tasks. Use the async method (`.await`) there, \
         and `blocking_*` from plain threads such as the game thread."
    );
    let mut future = pin!(future);
    let waker = WAKER.with(Waker::clone);
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
        // A wake that came before this park leaves the thread's token set: no lost wakeup.
        thread::park();
    }
}
