//! A scripted I/O object: [`Mock`] implements tickslab's [`AsyncRead`] and [`AsyncWrite`]
//! and follows the script a [`Builder`] wrote, panicking on what it does not expect
//! (tokio-test's `io`).
//!
//! ```
//! use std::time::Duration;
//! use tickslab::io::{AsyncReadExt, AsyncWriteExt};
//! use tickslab_test::io::Builder;
//!
//! tickslab_test::block_on(async {
//!     tickslab::time::pause();
//!     let mut mock = Builder::new()
//!         .read(b"hello\n")
//!         .wait(Duration::from_secs(5)) // a tickslab timer: the paused clock jumps
//!         .write(b"hi\n")
//!         .build();
//!     let mut line = [0; 6];
//!     mock.read_exact(&mut line).await.unwrap();
//!     mock.write_all(b"hi\n").await.unwrap();
//! });
//! ```
//!
//! The rules (in `script.rs`): reads are served by the front of the script; writes are
//! matched against the scripted writes ahead, passing over reads still to come (the two
//! directions of a connection are independent); a wait pauses both directions; an empty
//! script reads as the end of the stream. It panics:
//! - on a write whose bytes differ from the script's (naming both);
//! - on a write when the script holds no more writes ("unexpected write");
//! - when dropped with bytes left to read or to write (unless the thread is already
//!   panicking).
//!
//! A [`Handle`] (from [`Builder::build_with_handle`]) appends to the script while the mock
//! runs; while one lives, an empty script means "wait for more" instead of the end.
//!
//! Invariants: each direction's waker is kept while that direction waits for the other and
//! woken whenever the other consumes script, so two tasks (a reader and a writer) can share
//! a mock; each direction sleeps on its own timer.

mod script;

use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker, ready};
use std::time::Duration;

use tickslab_runtime::io::{AsyncRead, AsyncWrite, ReadBuf};
use tickslab_runtime::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use tickslab_runtime::time::{Sleep, sleep_until};

use script::{Action, Chunk, ReadStep, Script, WriteStep};

/// Writes the script of a [`Mock`]: each call appends one action.
#[derive(Clone, Default)]
pub struct Builder {
    actions: std::collections::VecDeque<Action>,
    name: String,
}

impl Builder {
    /// An empty script (a mock built from it reads as at the end of the stream and panics
    /// on any write).
    pub fn new() -> Builder {
        Builder::default()
    }

    /// Next, a read returns `buf` (over several reads if the reader's buffer is smaller;
    /// never joined with the next action's bytes).
    pub fn read(&mut self, buf: &[u8]) -> &mut Builder {
        self.actions.push_back(Action::Read(Chunk::new(buf)));
        self
    }

    /// Next, a read returns `error`.
    pub fn read_error(&mut self, error: io::Error) -> &mut Builder {
        self.actions
            .push_back(Action::ReadError(Some(Arc::new(error))));
        self
    }

    /// Next, the code writes `buf` (in one write or several); other bytes panic.
    pub fn write(&mut self, buf: &[u8]) -> &mut Builder {
        self.actions.push_back(Action::Write(Chunk::new(buf)));
        self
    }

    /// Next, a write returns `error`.
    pub fn write_error(&mut self, error: io::Error) -> &mut Builder {
        self.actions
            .push_back(Action::WriteError(Some(Arc::new(error))));
        self
    }

    /// Next, reads and writes wait for `duration` (at least 1 ms, as tokio-test), on the
    /// runtime's clock: a paused clock jumps over it. Waiting needs a tickslab runtime.
    pub fn wait(&mut self, duration: Duration) -> &mut Builder {
        let duration = duration.max(Duration::from_millis(1));
        self.actions.push_back(Action::Wait(duration));
        self
    }

    /// Names the mock in its panic messages and its `Debug` output.
    pub fn name(&mut self, name: impl Into<String>) -> &mut Builder {
        self.name = name.into();
        self
    }

    /// Builds a mock that follows the script (the builder keeps it: it can build more).
    pub fn build(&mut self) -> Mock {
        self.build_with_handle().0
    }

    /// Builds a mock and a [`Handle`] that appends to its script while it runs.
    pub fn build_with_handle(&mut self) -> (Mock, Handle) {
        let (tx, rx) = unbounded_channel();
        let mock = Mock {
            script: Script::new(self.actions.clone(), self.name.clone()),
            more: Some(rx),
            read_sleep: None,
            write_sleep: None,
            read_waker: None,
            write_waker: None,
        };
        (mock, Handle { tx })
    }
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("name", &self.name)
            .field("actions", &self.actions.len())
            .finish()
    }
}

/// Appends actions to a running [`Mock`]'s script, from any thread. While a handle lives,
/// the mock waits for more script where it would otherwise end; dropping it ends the script.
pub struct Handle {
    tx: UnboundedSender<Action>,
}

impl Handle {
    /// Appends a read returning `buf`, as [`Builder::read`].
    pub fn read(&mut self, buf: &[u8]) -> &mut Handle {
        self.send(Action::Read(Chunk::new(buf)))
    }

    /// Appends a read error, as [`Builder::read_error`].
    pub fn read_error(&mut self, error: io::Error) -> &mut Handle {
        self.send(Action::ReadError(Some(Arc::new(error))))
    }

    /// Appends an expected write, as [`Builder::write`].
    pub fn write(&mut self, buf: &[u8]) -> &mut Handle {
        self.send(Action::Write(Chunk::new(buf)))
    }

    /// Appends a write error, as [`Builder::write_error`].
    pub fn write_error(&mut self, error: io::Error) -> &mut Handle {
        self.send(Action::WriteError(Some(Arc::new(error))))
    }

    /// # Panics
    /// If the mock was dropped (tokio-test's handle panics the same way).
    fn send(&mut self, action: Action) -> &mut Handle {
        if self.tx.send(action).is_err() {
            panic!("tickslab_test::io::Handle: the mock this handle scripts was dropped");
        }
        self
    }
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handle").finish_non_exhaustive()
    }
}

/// An I/O object that follows a script; made by [`Builder`]. See the [module docs](self).
pub struct Mock {
    script: Script,
    /// Actions a [`Handle`] sends; `None` once every handle is gone and all were taken.
    more: Option<UnboundedReceiver<Action>>,
    read_sleep: Option<Sleep>,
    write_sleep: Option<Sleep>,
    /// The reader, waiting for the writer to consume a write in front.
    read_waker: Option<Waker>,
    /// The writer, waiting for the reader to consume reads before the next write.
    write_waker: Option<Waker>,
}

impl Mock {
    /// Appends what the handles sent; registers `cx` for more while a handle lives.
    fn take_handle_actions(&mut self, cx: &mut Context<'_>) {
        while let Some(rx) = &mut self.more {
            match rx.poll_recv(cx) {
                Poll::Ready(Some(action)) => self.script.push(action),
                Poll::Ready(None) => self.more = None,
                Poll::Pending => break,
            }
        }
    }

    fn wake(waker: &mut Option<Waker>) {
        if let Some(w) = waker.take() {
            w.wake();
        }
    }
}

/// Polls a direction's sleep, if it has one; `Ready` once it fired (and is gone).
fn poll_sleep(sleep: &mut Option<Sleep>, cx: &mut Context<'_>) -> Poll<()> {
    if let Some(s) = sleep {
        ready!(Pin::new(s).poll(cx));
        *sleep = None;
    }
    Poll::Ready(())
}

impl AsyncRead for Mock {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        loop {
            ready!(poll_sleep(&mut this.read_sleep, cx));
            this.take_handle_actions(cx);
            match this.script.read(buf) {
                ReadStep::Done(result) => {
                    Mock::wake(&mut this.write_waker);
                    return Poll::Ready(result);
                }
                ReadStep::Sleep(until) => this.read_sleep = Some(sleep_until(until)),
                ReadStep::Blocked => {
                    this.read_waker = Some(cx.waker().clone());
                    return Poll::Pending;
                }
                // The end of the stream, or (a handle lives) wait: `take_handle_actions`
                // registered the waker.
                ReadStep::Empty if this.more.is_none() => return Poll::Ready(Ok(())),
                ReadStep::Empty => return Poll::Pending,
            }
        }
    }
}

impl AsyncWrite for Mock {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        loop {
            ready!(poll_sleep(&mut this.write_sleep, cx));
            this.take_handle_actions(cx);
            match this.script.write(buf) {
                WriteStep::Done(result) => {
                    Mock::wake(&mut this.read_waker);
                    return Poll::Ready(result);
                }
                WriteStep::Sleep(until) => this.write_sleep = Some(sleep_until(until)),
                WriteStep::Blocked => {
                    this.write_waker = Some(cx.waker().clone());
                    return Poll::Pending;
                }
                WriteStep::NoWrite if this.more.is_none() => panic!(
                    "unexpected write of b\"{}\": the mock's script holds no more writes {}",
                    buf[..buf.len().min(64)].escape_ascii(),
                    this.script.remaining()
                ),
                // A handle may still script it: `take_handle_actions` registered the waker.
                WriteStep::NoWrite => {
                    this.write_waker = Some(cx.waker().clone());
                    return Poll::Pending;
                }
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// Checks that the script was played to its end (reads and writes; errors and waits left
/// over are allowed, as in tokio-test).
impl Drop for Mock {
    fn drop(&mut self) {
        // A second panic while unwinding would abort and hide the first.
        if std::thread::panicking() {
            return;
        }
        let (read, write) = self.script.unfinished();
        if read > 0 {
            panic!(
                "There is still data left to read: {read} scripted bytes were never read {}",
                self.script.remaining()
            );
        }
        if write > 0 {
            panic!(
                "There is still data left to write: {write} scripted bytes were never written {}",
                self.script.remaining()
            );
        }
    }
}

impl fmt::Debug for Mock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Mock");
        if !self.script.name().is_empty() {
            d.field("name", &self.script.name());
        }
        d.finish_non_exhaustive()
    }
}
