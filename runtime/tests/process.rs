//! `process` as tokio's: output through pipes, a stdin round trip, exit codes and signals,
//! kill, `try_wait`, `wait_with_output` (more than a pipe holds, on both streams), many
//! children at once, `kill_on_drop`, dropped children reaped (checked in `/proc`), waits
//! dropped mid-way, children outliving their runtime or moved to another, `mem::forget`.
//! Miri cannot spawn processes: this file runs natively (and under ASan) only.
#![cfg(all(target_os = "linux", not(miri)))]

mod support;

use std::future::Future;
use std::os::unix::process::ExitStatusExt;
use std::pin::pin;
use std::process::Stdio;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use support::rt;
use tickslab_runtime::io::{AsyncReadExt, AsyncWriteExt};
use tickslab_runtime::net::unix::pipe;
use tickslab_runtime::process::{Child, Command};
use tickslab_runtime::{Runtime, spawn, time};

/// `pid`'s state letter and parent, while `/proc` lists it.
fn stat(pid: u32) -> Option<(char, u32)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let mut rest = stat.rsplit_once(')')?.1.split_whitespace();
    let state = rest.next()?.chars().next()?;
    let ppid = rest.next()?.parse().ok()?;
    Some((state, ppid))
}

/// Whether `pid` is no longer a child of this process (reaped; or its number reused).
fn reaped(pid: u32) -> bool {
    stat(pid).is_none_or(|(_, ppid)| ppid != std::process::id())
}

/// Whether `pid` is a running (not zombie) child of this process.
fn running(pid: u32) -> bool {
    stat(pid).is_some_and(|(state, ppid)| state != 'Z' && ppid == std::process::id())
}

/// Drives the current runtime until `pid` is reaped (panics after ~10 s: a hang, not a
/// timing assertion).
async fn until_reaped(pid: u32) {
    for _ in 0..10_000 {
        if reaped(pid) {
            return;
        }
        time::sleep(Duration::from_millis(1)).await;
    }
    panic!("child {pid} was not reaped");
}

#[test]
fn echo_through_stdout() {
    rt().block_on(async {
        let mut child = Command::new("echo")
            .arg("hello from echo")
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut out = String::new();
        let mut stdout = child.stdout.take().unwrap();
        stdout.read_to_string(&mut out).await.unwrap();
        assert_eq!(out, "hello from echo\n");
        assert!(child.wait().await.unwrap().success());
    });
}

#[test]
fn stdin_round_trip_through_cat() {
    rt().block_on(async {
        let mut child = Command::new("cat")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let mut stdout = child.stdout.take().unwrap();
        let mut line = [0u8; 6];
        for word in [b"first\n", b"again\n"] {
            stdin.write_all(word).await.unwrap();
            stdout.read_exact(&mut line).await.unwrap();
            assert_eq!(&line, word);
        }
        drop(stdin);
        assert_eq!(stdout.read(&mut line).await.unwrap(), 0, "end of stream");
        assert!(child.wait().await.unwrap().success());
    });
}

#[test]
fn exit_codes_and_signals() {
    rt().block_on(async {
        for code in [0, 1, 2, 42, 255] {
            let status = Command::new("sh")
                .arg("-c")
                .arg(format!("exit {code}"))
                .status()
                .await
                .unwrap();
            assert_eq!(status.code(), Some(code));
            assert_eq!(status.success(), code == 0);
        }
        let status = Command::new("sh")
            .args(["-c", "kill -TERM $$"])
            .status()
            .await
            .unwrap();
        assert_eq!(
            (status.code(), status.signal()),
            (None, Some(libc::SIGTERM))
        );
        let missing = Command::new("/nonexistent/tickslab-no-such-program").spawn();
        assert_eq!(missing.unwrap_err().kind(), std::io::ErrorKind::NotFound);
    });
}

#[test]
fn kill_then_wait() {
    rt().block_on(async {
        let mut child = Command::new("sleep").arg("1000").spawn().unwrap();
        let pid = child.id().unwrap();
        assert!(running(pid));
        child.kill().await.unwrap();
        assert!(reaped(pid));
        assert_eq!(child.id(), None);
        let status = child.wait().await.unwrap();
        assert_eq!(status.signal(), Some(libc::SIGKILL));
        // Killing a reaped child is fine, as tokio's.
        child.start_kill().unwrap();
        child.kill().await.unwrap();
    });
}

#[test]
fn try_wait_before_and_after_exit() {
    rt().block_on(async {
        let mut child = Command::new("sh")
            .args(["-c", "read line; exit 4"])
            .stdin(Stdio::piped())
            .spawn()
            .unwrap();
        assert_eq!(child.try_wait().unwrap(), None);
        assert!(child.id().is_some());
        child
            .stdin
            .take()
            .unwrap()
            .write_all(b"go\n")
            .await
            .unwrap();
        let mut status = None;
        for _ in 0..10_000 {
            status = child.try_wait().unwrap();
            if status.is_some() {
                break;
            }
            time::sleep(Duration::from_millis(1)).await;
        }
        assert_eq!(status.and_then(|s| s.code()), Some(4));
        assert_eq!(child.id(), None);
        assert_eq!(child.try_wait().unwrap(), status);
        assert_eq!(child.wait().await.unwrap().code(), Some(4));
    });
}

#[test]
fn wait_with_output_reads_both_streams_past_a_pipe_s_capacity() {
    rt().block_on(async {
        // 1 MiB on each stream: a parent that read them one after the other, or only after
        // the exit, would deadlock with the child blocked on a full pipe.
        let script = "head -c 1048576 /dev/zero; head -c 1048576 /dev/zero >&2; exit 3";
        let out = Command::new("sh")
            .args(["-c", script])
            .output()
            .await
            .unwrap();
        assert_eq!(out.status.code(), Some(3));
        assert_eq!((out.stdout.len(), out.stderr.len()), (1 << 20, 1 << 20));
        // Streams not piped come back empty.
        let child = Command::new("true").stdout(Stdio::null()).spawn().unwrap();
        let out = child.wait_with_output().await.unwrap();
        assert!(out.status.success() && out.stdout.is_empty() && out.stderr.is_empty());
    });
}

#[test]
fn many_children_at_once() {
    rt().block_on(async {
        let handles: Vec<_> = (0..64)
            .map(|i| {
                let mut child = Command::new("sh")
                    .arg("-c")
                    .arg(format!("echo {i}; exit {}", i % 7))
                    .stdout(Stdio::piped())
                    .kill_on_drop(true)
                    .spawn()
                    .unwrap();
                spawn(async move {
                    let mut out = String::new();
                    child
                        .stdout
                        .take()
                        .unwrap()
                        .read_to_string(&mut out)
                        .await?;
                    let status = child.wait().await?;
                    Ok::<_, std::io::Error>((out, status.code()))
                })
            })
            .collect();
        for (i, handle) in handles.into_iter().enumerate() {
            let (out, code) = handle.await.unwrap().unwrap();
            assert_eq!((out, code), (format!("{i}\n"), Some(i as i32 % 7)));
        }
    });
}

#[test]
fn kill_on_drop_kills_and_the_child_is_reaped() {
    rt().block_on(async {
        let child = Command::new("sleep")
            .arg("1000")
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let pid = child.id().unwrap();
        assert!(running(pid));
        drop(child);
        until_reaped(pid).await;
    });
}

#[test]
fn a_dropped_child_runs_on_and_leaves_no_zombie() {
    rt().block_on(async {
        let mut child = Command::new("cat").stdin(Stdio::piped()).spawn().unwrap();
        let stdin = child.stdin.take().unwrap();
        let pid = child.id().unwrap();
        drop(child);
        // Not killed: cat still waits for its input.
        time::sleep(Duration::from_millis(20)).await;
        assert!(running(pid));
        drop(stdin); // cat exits; the runtime reaps it
        until_reaped(pid).await;
    });
}

#[test]
fn a_wait_dropped_mid_way_then_waited_again() {
    rt().block_on(async {
        let mut child = Command::new("cat")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        {
            let mut wait = pin!(child.wait());
            let mut cx = Context::from_waker(Waker::noop());
            assert!(wait.as_mut().poll(&mut cx).is_pending());
        }
        // In a `timeout` too: abandoned after its waker was stored.
        assert!(
            time::timeout(Duration::from_millis(5), child.wait())
                .await
                .is_err()
        );
        assert_eq!(child.try_wait().unwrap(), None);
        assert!(child.id().is_some());
        // `wait` closed the stdin it held; ours was taken before: cat still reads it.
        stdin.write_all(b"x").await.unwrap();
        drop(stdin);
        assert!(child.wait().await.unwrap().success());
    });
}

#[test]
fn a_child_waited_in_another_runtime() {
    // tokio's process_change_of_runtime: spawned in one runtime, waited in the next.
    let mut child = Runtime::new()
        .unwrap()
        .block_on(async { Command::new("sh").args(["-c", "exit 5"]).spawn().unwrap() });
    let status = Runtime::new().unwrap().block_on(child.wait()).unwrap();
    assert_eq!(status.code(), Some(5));
    // Started waiting in one runtime (pending), finished in another that is still alive.
    let rt_a = Runtime::new().unwrap();
    let rt_b = Runtime::new().unwrap();
    let (mut child, mut stdin) = rt_a.block_on(async {
        let mut child = Command::new("cat")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        {
            let mut wait = pin!(child.wait());
            let mut cx = Context::from_waker(Waker::noop());
            assert!(wait.as_mut().poll(&mut cx).is_pending());
        }
        (child, stdin)
    });
    rt_a.block_on(async { stdin.write_all(b"bye").await.unwrap() });
    drop(stdin);
    assert!(rt_b.block_on(child.wait()).unwrap().success());
}

#[test]
#[should_panic(
    expected = "there is no reactor running, must be called from the context of a Tokio 1.x runtime"
)]
fn spawn_outside_a_runtime_panics_as_tokio_s() {
    let _ = Command::new("true").spawn();
}

#[test]
fn runtime_dropped_with_children_running() {
    let (killed, waiting, detached);
    {
        let rt = rt();
        (killed, waiting, detached) = rt.block_on(async {
            // A task holding a kill_on_drop child, one blocked in `wait`, and a detached child.
            let k = Command::new("sleep")
                .arg("1000")
                .kill_on_drop(true)
                .spawn()
                .unwrap();
            let killed = k.id().unwrap();
            spawn(async move {
                let _k = k;
                std::future::pending::<()>().await;
            });
            let mut w = Command::new("sleep")
                .arg("1000")
                .kill_on_drop(true)
                .spawn()
                .unwrap();
            let waiting = w.id().unwrap();
            spawn(async move { w.wait().await });
            let d = Command::new("sleep").arg("1000").spawn().unwrap();
            let detached = d.id().unwrap();
            spawn(async move {
                let _d = d;
                std::future::pending::<()>().await;
            });
            tickslab_runtime::yield_now().await;
            (killed, waiting, detached)
        });
        // Dropping the runtime returns at once: nothing waits for the children.
    }
    assert!(running(detached), "not killed on drop: runs on");
    // The killed ones are queued and reaped by the next spawn or wait of any child.
    Runtime::new().unwrap().block_on(async {
        for _ in 0..10_000 {
            Command::new("true").status().await.unwrap();
            if reaped(killed) && reaped(waiting) {
                break;
            }
            time::sleep(Duration::from_millis(1)).await;
        }
        assert!(reaped(killed) && reaped(waiting));
        // Clean up the detached one: killed by pid, then reaped by a later spawn.
        let kill = Command::new("kill")
            .arg("-9")
            .arg(detached.to_string())
            .status();
        assert!(kill.await.unwrap().success());
        for _ in 0..10_000 {
            Command::new("true").status().await.unwrap();
            if reaped(detached) {
                return;
            }
            time::sleep(Duration::from_millis(1)).await;
        }
        panic!("the detached child was not reaped after it was killed");
    });
}

#[test]
fn a_forgotten_child_leaks_but_breaks_nothing() {
    let rt = rt();
    let pid = rt.block_on(async {
        let mut child = Command::new("sleep")
            .arg("1000")
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let pid = child.id().unwrap();
        // Waited once (its pidfd is registered), then forgotten.
        let _ = time::timeout(Duration::from_millis(1), child.wait()).await;
        std::mem::forget(child);
        pid
    });
    drop(rt);
    assert!(running(pid), "forgotten: not killed, not reaped");
    // The documented leak: killed from outside, it stays a zombie of this process.
    let status = std::process::Command::new("kill")
        .arg("-9")
        .arg(pid.to_string())
        .status()
        .unwrap();
    assert!(status.success());
    for _ in 0..10_000 {
        if stat(pid).is_some_and(|(state, _)| state == 'Z') {
            return;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    panic!("the forgotten child did not become a zombie");
}

#[test]
fn stdio_from_a_pipe_and_from_another_child() {
    rt().block_on(async {
        // tokio's anon_pipe_spawn_echo: a pipe's end as the child's stdout.
        let (tx, mut rx) = pipe::pipe().unwrap();
        let status = Command::new("echo")
            .arg("-n")
            .arg("into the pipe")
            .stdout(tx.into_blocking_fd().unwrap())
            .status();
        let mut buf = vec![0; 13];
        rx.read_exact(&mut buf).await.unwrap();
        assert_eq!(buf, b"into the pipe");
        assert!(status.await.unwrap().success());
        assert_eq!(
            rx.try_read(&mut buf).unwrap(),
            0,
            "the parent's copy was closed"
        );

        // One child's stdout as the next one's stdin.
        let mut first = Command::new("echo")
            .arg("piped along")
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdio = Stdio::try_from(first.stdout.take().unwrap()).unwrap();
        let out = Command::new("cat").stdin(stdio).output().await.unwrap();
        assert_eq!(out.stdout, b"piped along\n");
        assert!(first.wait().await.unwrap().success());
    });
}

#[test]
fn command_settings_reach_the_child() {
    rt().block_on(async {
        let dir = std::env::temp_dir();
        let mut cmd = Command::new("sh");
        cmd.arg0("renamed")
            .args(["-c", "echo $0 $FOO ${HOME:-unset}; pwd"])
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap())
            .env("FOO", "bar")
            .current_dir(&dir);
        assert_eq!(cmd.get_program(), "sh");
        assert_eq!(cmd.get_args().count(), 2);
        assert_eq!(cmd.get_current_dir(), Some(dir.as_path()));
        let out = cmd.output().await.unwrap();
        let dir = dir.canonicalize().unwrap();
        let expected = format!("renamed bar unset\n{}\n", dir.display());
        assert_eq!(String::from_utf8(out.stdout).unwrap(), expected);

        // A new process group led by the child.
        let mut child = Command::new("sleep")
            .arg("1000")
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let pid = child.id().unwrap();
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        let pgrp: u32 = stat
            .rsplit_once(')')
            .unwrap()
            .1
            .split_whitespace()
            .nth(2)
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(pgrp, pid);
        child.kill().await.unwrap();

        // From std's builder, and back.
        let mut std_cmd = std::process::Command::new("sh");
        std_cmd.args(["-c", "exit 9"]);
        let mut cmd = Command::from(std_cmd);
        assert!(!cmd.get_kill_on_drop());
        assert_eq!(cmd.status().await.unwrap().code(), Some(9));
        assert_eq!(cmd.into_std().get_program(), "sh");
    });
}

#[test]
fn futures_io_reads_a_child_s_output() {
    rt().block_on(async {
        let mut child: Child = Command::new("echo")
            .arg("futures")
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdout = child.stdout.take().unwrap();
        let mut out = String::new();
        futures_util::AsyncReadExt::read_to_string(&mut stdout, &mut out)
            .await
            .unwrap();
        assert_eq!(out, "futures\n");
        child.wait().await.unwrap();
    });
}

#[test]
fn waits_outside_a_runtime_report_an_exit_or_panic_as_sockets_do() {
    let rt = rt();
    let (mut exited, mut running_child) = rt.block_on(async {
        let exited = Command::new("true").spawn().unwrap();
        let pid = exited.id().unwrap();
        let cat = Command::new("cat")
            .stdin(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        // Let `true` finish (it is not reaped: only a wait or try_wait reaps).
        while stat(pid).is_none_or(|(state, _)| state != 'Z') {
            time::sleep(Duration::from_millis(1)).await;
        }
        (exited, cat)
    });
    drop(rt);
    let mut cx = Context::from_waker(Waker::noop());
    // No runtime: an exited child is still reported.
    let status = pin!(exited.wait()).poll(&mut cx);
    assert!(matches!(status, Poll::Ready(Ok(s)) if s.success()));
    // A running one cannot be waited for here: the panic says why.
    let panic = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _ = pin!(running_child.wait()).poll(&mut cx);
    }))
    .unwrap_err();
    let msg = panic.downcast_ref::<&str>().copied().unwrap_or_default();
    assert!(msg.contains("there is no reactor running"), "{msg}");
    // Still usable: killed and waited for in a new runtime.
    Runtime::new().unwrap().block_on(async {
        running_child.kill().await.unwrap();
    });
}

#[test]
fn a_child_dropped_outside_any_runtime_is_reaped_by_a_later_spawn() {
    let child = rt().block_on(async {
        Command::new("sleep")
            .arg("1000")
            .kill_on_drop(true)
            .spawn()
            .unwrap()
    });
    let pid = child.id().unwrap();
    drop(child); // killed; no runtime to reap it: queued
    Runtime::new().unwrap().block_on(async {
        for _ in 0..10_000 {
            Command::new("true").status().await.unwrap();
            if reaped(pid) {
                return;
            }
            time::sleep(Duration::from_millis(1)).await;
        }
        panic!("the queued child was not reaped");
    });
}

#[test]
fn a_failing_pre_exec_fails_the_spawn() {
    rt().block_on(async {
        let mut cmd = Command::new("true");
        // SAFETY: the closure only builds an error from an errno: no allocation, no lock.
        unsafe {
            cmd.pre_exec(|| Err(std::io::Error::from_raw_os_error(libc::EACCES)));
        }
        let err = cmd.spawn().unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EACCES));
    });
}
