//! A scripted `Stream`: [`StreamMock`] yields the items and waits a [`StreamMockBuilder`]
//! lists, in order (tokio-test's `stream_mock`).
//!
//! Waits are tickslab timers (they need a runtime, and follow a paused clock). Dropping the
//! mock with items not yet yielded panics (unless the thread is already panicking).
//!
//! ```
//! use std::time::Duration;
//! use futures_util::StreamExt;
//! use tickslab::time::Instant;
//! use tickslab_test::stream_mock::StreamMockBuilder;
//!
//! tickslab_test::block_on(async {
//!     tickslab::time::pause();
//!     let mut s = StreamMockBuilder::new()
//!         .next(1)
//!         .wait(Duration::from_millis(300))
//!         .next(2)
//!         .build();
//!     let start = Instant::now();
//!     assert_eq!(s.next().await, Some(1));
//!     assert_eq!(s.next().await, Some(2));
//!     assert!(start.elapsed() >= Duration::from_millis(300));
//!     assert_eq!(s.next().await, None);
//! });
//! ```

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use futures_core::Stream;
use tickslab_runtime::time::{Sleep, sleep};

/// One step of a stream's script.
#[derive(Clone)]
enum Step<T> {
    Next(T),
    Wait(Duration),
}

/// Writes the script of a [`StreamMock`].
#[derive(Clone)]
pub struct StreamMockBuilder<T: Unpin> {
    steps: VecDeque<Step<T>>,
}

impl<T: Unpin> StreamMockBuilder<T> {
    /// An empty script: the stream ends at once.
    pub fn new() -> Self {
        StreamMockBuilder {
            steps: VecDeque::new(),
        }
    }

    /// Next, the stream yields `value`.
    pub fn next(mut self, value: T) -> Self {
        self.steps.push_back(Step::Next(value));
        self
    }

    /// Next, the stream waits for `duration` on the runtime's clock.
    pub fn wait(mut self, duration: Duration) -> Self {
        self.steps.push_back(Step::Wait(duration));
        self
    }

    /// Builds the stream.
    pub fn build(self) -> StreamMock<T> {
        StreamMock {
            steps: self.steps,
            sleep: None,
        }
    }
}

impl<T: Unpin> Default for StreamMockBuilder<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Unpin> fmt::Debug for StreamMockBuilder<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamMockBuilder")
            .field("steps", &self.steps.len())
            .finish()
    }
}

/// A stream that follows its script; made by [`StreamMockBuilder`].
pub struct StreamMock<T: Unpin> {
    steps: VecDeque<Step<T>>,
    sleep: Option<Sleep>,
}

impl<T: Unpin> Stream for StreamMock<T> {
    type Item = T;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let this = self.get_mut();
        loop {
            if let Some(s) = &mut this.sleep {
                ready!(Pin::new(s).poll(cx));
                this.sleep = None;
            }
            match this.steps.pop_front() {
                Some(Step::Next(item)) => return Poll::Ready(Some(item)),
                Some(Step::Wait(duration)) => this.sleep = Some(sleep(duration)),
                None => return Poll::Ready(None),
            }
        }
    }
}

impl<T: Unpin> Drop for StreamMock<T> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            return;
        }
        let left = self
            .steps
            .iter()
            .filter(|s| matches!(s, Step::Next(_)))
            .count();
        assert!(
            left == 0,
            "StreamMock was dropped before all actions were consumed, {left} actions were not \
             consumed"
        );
    }
}

impl<T: Unpin> fmt::Debug for StreamMock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamMock")
            .field("steps", &self.steps.len())
            .field("waiting", &self.sleep.is_some())
            .finish()
    }
}
