//! [`Child`]: a spawned process, as tokio's `process::Child`: its pid, its piped standard
//! streams, and `wait` / `try_wait` / `kill` / `wait_with_output`.
//!
//! Invariants: a `Child` is *running* (a [`Running`] guard owns the `std` child until it is
//! reaped) or *done* (the exit status, kept: `wait` and `try_wait` answer it again, as std's
//! do, and `id` is `None`). Only a reaping call moves it from running to done. Dropping the
//! guard before that hands the child to `orphan.rs` (killed first with `kill_on_drop`), so
//! that every path but `mem::forget` ends with the child reaped. A wait dropped mid-way
//! leaves the child running and its `Child` usable (the next `wait` starts over).

use std::future::Future;
use std::io;
use std::pin::{Pin, pin};
use std::process::{ExitStatus, Output};
use std::task::{Context, Poll};

use super::exit::{Exit, WaitKey};
use super::orphan;
use super::stdio::{ChildStderr, ChildStdin, ChildStdout};
use crate::io::{AsyncRead, AsyncReadExt};

/// A child process spawned by [`Command`](super::Command), as tokio's `process::Child`.
///
/// Dropping it does not wait for the process, nor (unless
/// [`kill_on_drop`](super::Command::kill_on_drop)) kill it: the process runs on, and
/// tickslab reaps it in the background when it exits (see the [module docs](super)).
///
/// `!Send`, unlike tokio's: its pipes and its exit watch are registered with the runtime of
/// this thread.
pub struct Child {
    child: FusedChild,
    /// The child's standard input, if [`Command::stdin`](super::Command::stdin) was
    /// `Stdio::piped()`. `wait` closes it first.
    pub stdin: Option<ChildStdin>,
    /// The child's standard output, if it was piped.
    pub stdout: Option<ChildStdout>,
    /// The child's standard error, if it was piped.
    pub stderr: Option<ChildStderr>,
}

enum FusedChild {
    Running(Running),
    Done(ExitStatus),
}

/// An unreaped child; dropped before it is reaped, it abandons the child to `orphan.rs`.
pub(super) struct Running {
    /// `Some` until this guard drops.
    exit: Option<Exit>,
    kill_on_drop: bool,
}

impl Running {
    pub(super) fn new(exit: Exit, kill_on_drop: bool) -> Running {
        Running {
            exit: Some(exit),
            kill_on_drop,
        }
    }

    fn exit(&mut self) -> &mut Exit {
        self.exit
            .as_mut()
            .expect("tickslab: a child is present until its guard drops")
    }

    fn id(&self) -> u32 {
        self.exit.as_ref().map_or(0, |e| e.std.id())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(exit) = self.exit.take() {
            orphan::abandon(exit, self.kill_on_drop);
        }
    }
}

impl Child {
    pub(super) fn new(
        running: Running,
        stdin: Option<ChildStdin>,
        stdout: Option<ChildStdout>,
        stderr: Option<ChildStderr>,
    ) -> Child {
        Child {
            child: FusedChild::Running(running),
            stdin,
            stdout,
            stderr,
        }
    }

    /// The process's id, or `None` once it has been reaped (by `wait`, `try_wait`, ...),
    /// after which the id may belong to another process.
    pub fn id(&self) -> Option<u32> {
        match &self.child {
            FusedChild::Running(r) => Some(r.id()),
            FusedChild::Done(_) => None,
        }
    }

    /// Sends `SIGKILL` without waiting for the exit; `Ok` too once the child is reaped.
    /// A child killed this way is no longer killed on drop (there is nothing left to do).
    ///
    /// # Errors
    /// As `kill(2)`.
    pub fn start_kill(&mut self) -> io::Result<()> {
        match &mut self.child {
            FusedChild::Running(r) => {
                r.exit().std.kill()?;
                r.kill_on_drop = false;
                Ok(())
            }
            FusedChild::Done(_) => Ok(()),
        }
    }

    /// Kills the child (`SIGKILL`) and waits for it to exit (reaping it).
    ///
    /// # Errors
    /// As [`start_kill`](Self::start_kill) and [`wait`](Self::wait).
    pub async fn kill(&mut self) -> io::Result<()> {
        self.start_kill()?;
        self.wait().await?;
        Ok(())
    }

    /// Waits for the child to exit and reaps it, closing its standard input first (so that
    /// a child reading it is not left waiting for the parent that waits for it). Answers
    /// the same status again once done. Cancel-safe: a wait dropped before the exit leaves
    /// the child running, and the next `wait` starts over.
    ///
    /// ```
    /// use tickslab_runtime::process::Command;
    /// # tickslab_runtime::Runtime::new().unwrap().block_on(async {
    /// let mut child = Command::new("sh").args(["-c", "exit 3"]).spawn()?;
    /// let status = child.wait().await?;
    /// assert_eq!(status.code(), Some(3));
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    ///
    /// # Errors
    /// As `waitpid(2)`, or registering the wait with the reactor.
    ///
    /// # Panics
    /// Polled where no runtime runs while the child is still running (nothing could wake
    /// it), as sockets panic outside a runtime.
    pub async fn wait(&mut self) -> io::Result<ExitStatus> {
        drop(self.stdin.take());
        let status = match &mut self.child {
            FusedChild::Done(status) => return Ok(*status),
            FusedChild::Running(running) => {
                WaitExit {
                    running,
                    key: WaitKey::default(),
                }
                .await?
            }
        };
        self.child = FusedChild::Done(status);
        orphan::reap_queued();
        Ok(status)
    }

    /// The exit status if the child has exited (reaping it), `None` if it still runs;
    /// never waits. Needs no runtime.
    ///
    /// # Errors
    /// As `waitpid(2)`.
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        match &mut self.child {
            FusedChild::Done(status) => Ok(Some(*status)),
            FusedChild::Running(running) => {
                let status = running.exit().std.try_wait()?;
                if let Some(status) = status {
                    self.child = FusedChild::Done(status);
                    orphan::reap_queued();
                }
                Ok(status)
            }
        }
    }

    /// Waits for the exit while reading all of stdout and stderr (those that were piped;
    /// the others come back empty), as tokio's: stdin is closed first.
    ///
    /// ```
    /// use std::process::Stdio;
    /// use tickslab_runtime::process::Command;
    /// # tickslab_runtime::Runtime::new().unwrap().block_on(async {
    /// let child = Command::new("echo").arg("hi").stdout(Stdio::piped()).spawn()?;
    /// let out = child.wait_with_output().await?;
    /// assert_eq!(out.stdout, b"hi\n");
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    ///
    /// # Errors
    /// The first error of the wait or of either read.
    pub async fn wait_with_output(mut self) -> io::Result<Output> {
        let mut stdout_pipe = self.stdout.take();
        let mut stderr_pipe = self.stderr.take();
        let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
        let status = {
            let mut wait = pin!(self.wait());
            let mut out = pin!(read_to_end(stdout_pipe.as_mut(), &mut stdout));
            let mut err = pin!(read_to_end(stderr_pipe.as_mut(), &mut stderr));
            let (mut status, mut out_done, mut err_done) = (None, false, false);
            std::future::poll_fn(|cx| {
                if status.is_none()
                    && let Poll::Ready(s) = wait.as_mut().poll(cx)
                {
                    status = Some(s?);
                }
                if !out_done && let Poll::Ready(r) = out.as_mut().poll(cx) {
                    r?;
                    out_done = true;
                }
                if !err_done && let Poll::Ready(r) = err.as_mut().poll(cx) {
                    r?;
                    err_done = true;
                }
                match status {
                    Some(s) if out_done && err_done => Poll::Ready(Ok::<_, io::Error>(s)),
                    _ => Poll::Pending,
                }
            })
            .await?
        };
        // The pipes close after all three finished (tokio#4309: not while one still runs).
        drop(stdout_pipe);
        drop(stderr_pipe);
        Ok(Output {
            status,
            stdout,
            stderr,
        })
    }
}

/// Reads `io` (if any) to its end into `buf`.
async fn read_to_end<R: AsyncRead + Unpin>(
    io: Option<&mut R>,
    buf: &mut Vec<u8>,
) -> io::Result<()> {
    if let Some(io) = io {
        io.read_to_end(buf).await?;
    }
    Ok(())
}

/// The future inside [`Child::wait`]: polls the exit, gives its waiter key back when
/// dropped (finished or not).
struct WaitExit<'a> {
    running: &'a mut Running,
    key: WaitKey,
}

impl Future for WaitExit<'_> {
    type Output = io::Result<ExitStatus>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        this.running.exit().poll_exit(cx, &mut this.key)
    }
}

impl Drop for WaitExit<'_> {
    fn drop(&mut self) {
        if let Some(exit) = self.running.exit.as_mut() {
            exit.end_wait(&mut self.key);
        }
    }
}

#[cfg(test)]
impl Child {
    /// What watches the exit (`exit.rs`), for the unit tests.
    pub(super) fn watch_kind(&self) -> &'static str {
        match &self.child {
            FusedChild::Running(r) => r.exit.as_ref().map_or("gone", Exit::watch_kind),
            FusedChild::Done(_) => "done",
        }
    }
}

impl std::fmt::Debug for Child {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("Child");
        match &self.child {
            FusedChild::Running(r) => d.field("pid", &r.id()),
            FusedChild::Done(status) => d.field("status", status),
        };
        d.field("stdin", &self.stdin)
            .field("stdout", &self.stdout)
            .field("stderr", &self.stderr)
            .finish()
    }
}
