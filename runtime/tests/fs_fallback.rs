//! Detection: when the kernel refuses io_uring (here a seccomp filter makes
//! `io_uring_setup` fail with `EPERM`, as container profiles do), `FsBackend::Auto` falls
//! back to the blocking pool and files work; a forced `FsBackend::IoUring` fails to build,
//! with the OS's error.
//!
//! The filter cannot be removed once installed, so it goes into a child process: the
//! `refused_io_uring_falls_back` test runs this binary again for the ignored
//! `child_under_seccomp` test, with an environment variable that makes it install the
//! filter first.

#![cfg(all(target_os = "linux", target_arch = "x86_64"))]

use std::process::Command;

use tickslab_runtime::Runtime;
use tickslab_runtime::fs::{self, FsBackend};

const CHILD: &str = "TICKSLAB_SECCOMP_CHILD";

#[test]
fn refused_io_uring_falls_back() {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--ignored", "--exact", "child_under_seccomp", "--nocapture"])
        .env(CHILD, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the child failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("1 passed"),
        "the child test did not run:\n{stdout}"
    );
}

/// `io_uring_setup` (425 on every architecture since Linux 5.1) fails with `EPERM` for this
/// thread and the threads it starts.
fn refuse_io_uring() {
    const IO_URING_SETUP: u32 = 425;
    let filter = [
        // A = seccomp_data.nr
        libc::sock_filter {
            code: 0x20,
            jt: 0,
            jf: 0,
            k: 0,
        },
        // if A == io_uring_setup: next, else skip one
        libc::sock_filter {
            code: 0x15,
            jt: 0,
            jf: 1,
            k: IO_URING_SETUP,
        },
        // return ERRNO(EPERM)
        libc::sock_filter {
            code: 0x06,
            jt: 0,
            jf: 0,
            k: 0x0005_0000 | libc::EPERM as u32,
        },
        // return ALLOW
        libc::sock_filter {
            code: 0x06,
            jt: 0,
            jf: 0,
            k: 0x7fff_0000,
        },
    ];
    let prog = libc::sock_fprog {
        len: filter.len() as u16,
        filter: filter.as_ptr().cast_mut(),
    };
    // SAFETY: plain prctl calls; `prog` points to a valid filter that outlives the call
    // (the kernel copies it).
    unsafe {
        assert_eq!(libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), 0);
        assert_eq!(
            libc::prctl(
                libc::PR_SET_SECCOMP,
                libc::SECCOMP_MODE_FILTER,
                &raw const prog as libc::c_ulong,
                0,
                0
            ),
            0,
            "seccomp: {}",
            std::io::Error::last_os_error()
        );
    }
}

#[test]
#[ignore = "run by refused_io_uring_falls_back in a child process"]
fn child_under_seccomp() {
    assert_eq!(
        std::env::var(CHILD).as_deref(),
        Ok("1"),
        "run through the parent test"
    );
    refuse_io_uring();
    let err = Runtime::builder()
        .fs_backend(FsBackend::IoUring)
        .try_build()
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::PermissionDenied, "{err}");

    let rt = Runtime::new().unwrap(); // Auto
    let dir = std::env::temp_dir().join(format!("tickslab-fallback-{}", std::process::id()));
    rt.block_on(async {
        assert_eq!(fs::backend().unwrap(), FsBackend::ThreadPool);
        fs::create_dir_all(&dir).await.unwrap();
        let path = dir.join("f.bin");
        fs::write(&path, b"still works").await.unwrap();
        let f = fs::File::open(&path).await.unwrap();
        let (res, buf) = f.read_at(Vec::with_capacity(64), 6).await;
        assert_eq!(&buf[..res.unwrap()], b"works");
        fs::remove_dir_all(&dir).await.unwrap();
    });
}
