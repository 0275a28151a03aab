//! The `SIGCHLD` fallback, forced on a kernel that has pidfds (`pidfd::FORCE_FALLBACK`, a
//! test-only switch of this thread): the same behaviour as the pidfd path.

use std::future::Future;
use std::process::Stdio;

use super::{Child, Command};
use crate::Runtime;
use crate::io::{AsyncReadExt, AsyncWriteExt};

/// Runs `f` on a fresh runtime with pidfds switched off on this thread.
fn fallback<T>(f: impl Future<Output = T>) -> T {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    super::pidfd::FORCE_FALLBACK.with(|c| c.set(true));
    Runtime::new().unwrap().block_on(f)
}

fn is_zombie_or_gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit(')')
            .next()
            .is_some_and(|s| s.trim_start().starts_with('Z')),
    }
}

/// Polls `child.wait()` once, so that its watch is made.
fn poll_wait_once(child: &mut Child) {
    let mut wait = std::pin::pin!(child.wait());
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    assert!(wait.as_mut().poll(&mut cx).is_pending());
}

#[test]
fn pidfd_where_available_sigchld_when_forced() {
    Runtime::new().unwrap().block_on(async {
        let mut child = Command::new("sleep")
            .arg("1000")
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        assert_eq!(child.watch_kind(), "none", "made by the first wait");
        poll_wait_once(&mut child);
        // Kernels before 5.3 (or a seccomp filter) fall back: say which one ran.
        let kind = child.watch_kind();
        assert!(kind == "pidfd" || kind == "SIGCHLD");
        eprintln!("exit watch on this kernel: {kind}");
        child.kill().await.unwrap();
        assert_eq!(child.watch_kind(), "done");
    });
    fallback(async {
        let mut child = Command::new("sleep")
            .arg("1000")
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        poll_wait_once(&mut child);
        assert_eq!(child.watch_kind(), "SIGCHLD");
        child.kill().await.unwrap();
    });
}

#[test]
fn wait_reports_exit_codes() {
    fallback(async {
        let mut child = Command::new("sh").args(["-c", "exit 7"]).spawn().unwrap();
        assert_eq!(child.wait().await.unwrap().code(), Some(7));
        assert_eq!(child.id(), None);
        assert_eq!(child.wait().await.unwrap().code(), Some(7));
    });
}

#[test]
fn stdin_round_trip_and_output() {
    fallback(async {
        let mut child = Command::new("cat")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(b"through cat").await.unwrap();
        drop(stdin);
        let mut out = String::new();
        child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut out)
            .await
            .unwrap();
        assert_eq!(out, "through cat");
        assert!(child.wait().await.unwrap().success());
        let out = Command::new("sh")
            .args(["-c", "echo err >&2; echo out"])
            .output()
            .await;
        let out = out.unwrap();
        assert_eq!(
            (&out.stdout[..], &out.stderr[..]),
            (&b"out\n"[..], &b"err\n"[..])
        );
    });
}

#[test]
fn kill_then_wait_and_many_children() {
    fallback(async {
        let mut sleeper = Command::new("sleep").arg("1000").spawn().unwrap();
        assert!(sleeper.try_wait().unwrap().is_none());
        sleeper.kill().await.unwrap();
        assert!(sleeper.try_wait().unwrap().is_some());
        let mut children: Vec<Child> = (0..20)
            .map(|i| {
                Command::new("sh")
                    .arg("-c")
                    .arg(format!("exit {i}"))
                    .spawn()
                    .unwrap()
            })
            .collect();
        for (i, child) in children.iter_mut().enumerate().rev() {
            assert_eq!(child.wait().await.unwrap().code(), Some(i as i32));
        }
    });
}

#[test]
fn a_dropped_child_is_reaped_in_the_background() {
    fallback(async {
        let mut child = Command::new("cat").stdin(Stdio::piped()).spawn().unwrap();
        let stdin = child.stdin.take().unwrap();
        let pid = child.id().unwrap();
        drop(child);
        assert!(!is_zombie_or_gone(pid), "cat waits for its input");
        drop(stdin); // cat exits now; the reaper task reaps it
        for _ in 0..10_000 {
            if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
                return;
            }
            crate::time::sleep(std::time::Duration::from_millis(1)).await;
        }
        panic!("child {pid} was not reaped");
    });
}

#[test]
fn a_wait_dropped_mid_way_can_start_over() {
    fallback(async {
        let mut child = Command::new("cat").stdin(Stdio::piped()).spawn().unwrap();
        let stdin = child.stdin.take().unwrap();
        let timed_out =
            crate::time::timeout(std::time::Duration::from_millis(5), child.wait()).await;
        assert!(timed_out.is_err());
        drop(stdin);
        assert!(child.wait().await.unwrap().success());
    });
}
