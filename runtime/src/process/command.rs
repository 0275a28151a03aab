//! [`Command`]: a process builder, as tokio's `process::Command`: std's builder plus
//! `kill_on_drop`, with `spawn`, `status` and `output` that wait on the runtime.
//!
//! Invariants: every setter forwards to the wrapped `std::process::Command` unchanged;
//! `spawn` checks for a runtime *before* it starts the process (so a refused spawn leaves
//! no process behind), and from the moment the process exists, any later failure (a pipe
//! that cannot be registered) drops a guard that kills (with `kill_on_drop`) and reaps it.

use std::ffi::OsStr;
use std::future::Future;
use std::io;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command as StdCommand, CommandArgs, CommandEnvs, ExitStatus, Output, Stdio};

use super::child::{Child, Running};
use super::exit::Exit;
use super::orphan;
use super::stdio::{ChildStderr, ChildStdin, ChildStdout};
use crate::io::reactor;

/// Builds and spawns a child process, as tokio's `process::Command` (a
/// `std::process::Command` and a `kill_on_drop` flag).
///
/// ```
/// use std::process::Stdio;
/// use tickslab_runtime::io::{AsyncReadExt, AsyncWriteExt};
/// use tickslab_runtime::process::Command;
/// # tickslab_runtime::Runtime::new().unwrap().block_on(async {
/// let mut child = Command::new("cat")
///     .stdin(Stdio::piped())
///     .stdout(Stdio::piped())
///     .spawn()?;
/// let mut stdin = child.stdin.take().unwrap();
/// stdin.write_all(b"ping").await?;
/// drop(stdin); // end of input: cat exits
/// let mut out = String::new();
/// child.stdout.take().unwrap().read_to_string(&mut out).await?;
/// assert_eq!(out, "ping");
/// assert!(child.wait().await?.success());
/// # Ok::<(), std::io::Error>(())
/// # }).unwrap();
/// ```
#[derive(Debug)]
pub struct Command {
    std: StdCommand,
    kill_on_drop: bool,
}

impl Command {
    /// A command that runs `program` (looked up in `PATH` unless it is a path), with no
    /// arguments, the parent's environment and working directory, and its standard
    /// streams inherited (piped for [`output`](Self::output)).
    pub fn new<S: AsRef<OsStr>>(program: S) -> Command {
        Command::from(StdCommand::new(program))
    }

    /// The wrapped std builder.
    pub fn as_std(&self) -> &StdCommand {
        &self.std
    }

    /// The wrapped std builder, to set what this type does not forward.
    pub fn as_std_mut(&mut self) -> &mut StdCommand {
        &mut self.std
    }

    /// The wrapped std builder (`kill_on_drop` is lost).
    pub fn into_std(self) -> StdCommand {
        self.std
    }

    /// Adds an argument.
    pub fn arg<S: AsRef<OsStr>>(&mut self, arg: S) -> &mut Command {
        self.std.arg(arg);
        self
    }

    /// Adds arguments.
    pub fn args<I, S>(&mut self, args: I) -> &mut Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.std.args(args);
        self
    }

    /// Sets an environment variable for the child.
    pub fn env<K, V>(&mut self, key: K, val: V) -> &mut Command
    where
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        self.std.env(key, val);
        self
    }

    /// Sets environment variables for the child.
    pub fn envs<I, K, V>(&mut self, vars: I) -> &mut Command
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        self.std.envs(vars);
        self
    }

    /// Removes an environment variable from the child's environment.
    pub fn env_remove<K: AsRef<OsStr>>(&mut self, key: K) -> &mut Command {
        self.std.env_remove(key);
        self
    }

    /// Starts the child with an empty environment (plus what `env` adds after this).
    pub fn env_clear(&mut self) -> &mut Command {
        self.std.env_clear();
        self
    }

    /// Sets the child's working directory.
    pub fn current_dir<P: AsRef<Path>>(&mut self, dir: P) -> &mut Command {
        self.std.current_dir(dir);
        self
    }

    /// The child's standard input: `Stdio::piped()` (then [`Child::stdin`]),
    /// `Stdio::null()`, `Stdio::inherit()`, or any descriptor (`OwnedFd`, `File`, a pipe's
    /// `into_blocking_fd()`, another child's stream through `Stdio::try_from`).
    pub fn stdin<T: Into<Stdio>>(&mut self, cfg: T) -> &mut Command {
        self.std.stdin(cfg);
        self
    }

    /// The child's standard output, as [`stdin`](Self::stdin).
    pub fn stdout<T: Into<Stdio>>(&mut self, cfg: T) -> &mut Command {
        self.std.stdout(cfg);
        self
    }

    /// The child's standard error, as [`stdin`](Self::stdin).
    pub fn stderr<T: Into<Stdio>>(&mut self, cfg: T) -> &mut Command {
        self.std.stderr(cfg);
        self
    }

    /// Whether a [`Child`] dropped before its exit was seen sends it `SIGKILL` (default
    /// `false`: the child runs on, and is reaped in the background when it exits).
    pub fn kill_on_drop(&mut self, kill_on_drop: bool) -> &mut Command {
        self.kill_on_drop = kill_on_drop;
        self
    }

    /// The `kill_on_drop` setting.
    pub fn get_kill_on_drop(&self) -> bool {
        self.kill_on_drop
    }

    /// The program, as given to [`new`](Self::new).
    pub fn get_program(&self) -> &OsStr {
        self.std.get_program()
    }

    /// The arguments added so far (not the program).
    pub fn get_args(&self) -> CommandArgs<'_> {
        self.std.get_args()
    }

    /// The environment changes made so far (`None` values are removals).
    pub fn get_envs(&self) -> CommandEnvs<'_> {
        self.std.get_envs()
    }

    /// The working directory, if set.
    pub fn get_current_dir(&self) -> Option<&Path> {
        self.std.get_current_dir()
    }

    /// Runs the child as user `id` (`setuid`).
    pub fn uid(&mut self, id: u32) -> &mut Command {
        self.std.uid(id);
        self
    }

    /// Runs the child as group `id` (`setgid`).
    pub fn gid(&mut self, id: u32) -> &mut Command {
        self.std.gid(id);
        self
    }

    /// The child's `argv[0]` (by default the program).
    pub fn arg0<S: AsRef<OsStr>>(&mut self, arg: S) -> &mut Command {
        self.std.arg0(arg);
        self
    }

    /// Puts the child in process group `pgroup` (0: a new group led by the child).
    pub fn process_group(&mut self, pgroup: i32) -> &mut Command {
        self.std.process_group(pgroup);
        self
    }

    /// Runs `f` in the child after `fork` and before `exec`, as std's `pre_exec`.
    ///
    /// # Safety
    /// std's `CommandExt::pre_exec` contract: `f` runs in a forked copy of a possibly
    /// multi-threaded process, so it may only do what is async-signal-safe (no allocation,
    /// no locks another thread may hold), and must not break the invariants of the
    /// descriptors and memory it shares with the parent.
    pub unsafe fn pre_exec<F>(&mut self, f: F) -> &mut Command
    where
        F: FnMut() -> io::Result<()> + Send + Sync + 'static,
    {
        // SAFETY: this function's contract is `CommandExt::pre_exec`'s; the caller keeps it.
        unsafe { self.std.pre_exec(f) };
        self
    }

    /// Starts the child. Its piped streams are registered with the current runtime; its
    /// exit is watched from the first `wait` (see the [module docs](super)).
    ///
    /// # Errors
    /// As `std::process::Command::spawn` (`NotFound` for a missing program, ...), or
    /// registering a pipe; the shut-down error in a runtime that has shut down.
    ///
    /// # Panics
    /// Outside a runtime (before any process is started), with tokio's message.
    #[track_caller]
    pub fn spawn(&mut self) -> io::Result<Child> {
        reactor::check_can_register()?;
        orphan::reap_queued();
        let mut std = self.std.spawn()?;
        let (stdin, stdout, stderr) = (std.stdin.take(), std.stdout.take(), std.stderr.take());
        // From here, an error drops `running`: the child is killed (with `kill_on_drop`)
        // and reaped, as any dropped child.
        let running = Running::new(Exit::new(std), self.kill_on_drop);
        let stdin = stdin.map(ChildStdin::from_std).transpose()?;
        let stdout = stdout.map(ChildStdout::from_std).transpose()?;
        let stderr = stderr.map(ChildStderr::from_std).transpose()?;
        Ok(Child::new(running, stdin, stdout, stderr))
    }

    /// Spawns the child now, with its streams as configured (inherited by default), and
    /// returns a future of its exit status; the parent's ends of any pipes are closed first,
    /// so the child cannot wait on them.
    ///
    /// # Panics
    /// Outside a runtime, as [`spawn`](Self::spawn) (at this call, not at the first poll).
    #[track_caller]
    pub fn status(&mut self) -> impl Future<Output = io::Result<ExitStatus>> + use<> {
        let child = self.spawn();
        async move {
            let mut child = child?;
            drop(child.stdin.take());
            drop(child.stdout.take());
            drop(child.stderr.take());
            child.wait().await
        }
    }

    /// Spawns the child now with stdout and stderr piped (this builder keeps that setting,
    /// as tokio's does), and returns a future of its status and everything it wrote.
    ///
    /// # Panics
    /// Outside a runtime, as [`spawn`](Self::spawn) (at this call, not at the first poll).
    #[track_caller]
    pub fn output(&mut self) -> impl Future<Output = io::Result<Output>> + use<> {
        self.std.stdout(Stdio::piped());
        self.std.stderr(Stdio::piped());
        let child = self.spawn();
        async move { child?.wait_with_output().await }
    }
}

impl From<StdCommand> for Command {
    fn from(std: StdCommand) -> Command {
        Command {
            std,
            kill_on_drop: false,
        }
    }
}
