//! Waiting from a plain thread: the `blocking_*` methods (`Mutex::blocking_lock`,
//! `mpsc::Receiver::blocking_recv`, ...) poll their future on the calling thread and park
//! it between polls.
//!
//! The waker unparks this thread. It is made once per thread (one `Arc`, on the first
//! blocking call) and reused, so a blocking wait allocates nothing after that.
//!
//! Like tokio's, these must not be called from inside an async task: parking would stall
//! every task of that runtime. (tokio panics there; `sync/` sits below the executor and
//! cannot tell, so here it is the caller's contract.)

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
pub(crate) fn block_on<F: Future>(future: F) -> F::Output {
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
