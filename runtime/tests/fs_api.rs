//! The rest of tokio's `fs` API: `File::{set_max_buf_size, into_std, set_times,
//! set_modified}`, `File` from std and from a raw descriptor, `DirBuilder`, `read_link`,
//! `symlink`, and their error paths.
#![cfg(unix)]

mod support;

use std::io::{ErrorKind, Read, Write};
use std::os::fd::{FromRawFd, IntoRawFd};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use support::rt;
use tickslab_runtime::fs::{self, DirBuilder, File, FileTimes};
use tickslab_runtime::io::{AsyncReadExt, AsyncWriteExt};

/// A fresh directory under the system's temp dir, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "tickslab-fsapi-{}-{}-{}",
            std::process::id(),
            tag,
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn max_buf_size_limits_each_cursor_operation_and_survives_try_clone() {
    let dir = TempDir::new("maxbuf");
    rt().block_on(async {
        let path = dir.path("f");
        std::fs::write(&path, b"hello world").unwrap();
        let mut f = File::open(&path).await.unwrap();
        assert_eq!(f.max_buf_size(), 2 * 1024 * 1024);
        f.set_max_buf_size(3);
        let mut buf = [0u8; 64];
        assert_eq!(f.read(&mut buf).await.unwrap(), 3);
        assert_eq!(&buf[..3], b"hel");
        let clone = f.try_clone().await.unwrap();
        assert_eq!(clone.max_buf_size(), 3);

        let mut w = File::create(dir.path("w")).await.unwrap();
        w.set_max_buf_size(1);
        assert_eq!(w.write(b"xyz").await.unwrap(), 1);
        w.write_all(b"yz").await.unwrap();
        w.flush().await.unwrap();
        assert_eq!(std::fs::read(dir.path("w")).unwrap(), b"xyz");
    });
}

#[test]
#[should_panic(expected = "`max_buf_size` must be greater than 0")]
fn a_zero_max_buf_size_panics() {
    let dir = TempDir::new("maxbuf0");
    rt().block_on(async {
        let mut f = File::create(dir.path("f")).await.unwrap();
        f.set_max_buf_size(0);
    });
}

#[test]
fn into_std_waits_for_the_write_in_flight_and_conversions_round_trip() {
    let dir = TempDir::new("intostd");
    rt().block_on(async {
        let mut f = File::create(dir.path("f")).await.unwrap();
        f.write_all(b"async part").await.unwrap();
        let mut std_file = f.into_std().await;
        std_file.write_all(b", std part").unwrap();
        drop(std_file);
        assert_eq!(
            std::fs::read(dir.path("f")).unwrap(),
            b"async part, std part"
        );

        // std -> File (From) -> raw fd -> File (FromRawFd) -> std.
        let f = File::from(std::fs::File::open(dir.path("f")).unwrap());
        let fd = f.into_std().await.into_raw_fd();
        // SAFETY: `fd` was just released by `into_raw_fd`: nothing else owns it.
        let mut f = unsafe { File::from_raw_fd(fd) };
        let mut s = String::new();
        f.read_to_string(&mut s).await.unwrap();
        assert_eq!(s, "async part, std part");
        let mut std_file = f.try_into_std().unwrap();
        assert_eq!(
            std_file.read(&mut [0; 4]).unwrap(),
            0,
            "the cursor moved with it"
        );

        // A std file's OS cursor is where the async one starts.
        let mut std_file = std::fs::File::open(dir.path("f")).unwrap();
        std::io::Seek::seek(&mut std_file, std::io::SeekFrom::Start(6)).unwrap();
        let mut f = File::from_std(std_file);
        let mut rest = String::new();
        f.read_to_string(&mut rest).await.unwrap();
        assert_eq!(rest, "part, std part");
    });
}

#[test]
fn set_times_and_set_modified_reach_the_file() {
    let dir = TempDir::new("times");
    rt().block_on(async {
        let f = File::create(dir.path("f")).await.unwrap();
        let then = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
        f.set_times(FileTimes::new().set_modified(then).set_accessed(then))
            .await
            .unwrap();
        let meta = f.metadata().await.unwrap();
        assert_eq!(meta.modified().unwrap(), then);
        assert_eq!(meta.accessed().unwrap(), then);
        let later = then + Duration::from_secs(60);
        f.set_modified(later).await.unwrap();
        assert_eq!(f.metadata().await.unwrap().modified().unwrap(), later);
    });
}

#[test]
fn dir_builder_creates_with_options_and_reports_errors() {
    let dir = TempDir::new("dirb");
    rt().block_on(async {
        let deep = dir.path("a/b/c");
        let e = DirBuilder::new().create(&deep).await.unwrap_err();
        assert_eq!(
            e.kind(),
            ErrorKind::NotFound,
            "no parents without recursive"
        );
        DirBuilder::new()
            .recursive(true)
            .create(&deep)
            .await
            .unwrap();
        assert!(deep.is_dir());
        // Recursive: an existing directory is fine; not recursive: AlreadyExists.
        DirBuilder::new()
            .recursive(true)
            .create(&deep)
            .await
            .unwrap();
        let e = DirBuilder::new().create(&deep).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::AlreadyExists);
        let ro = dir.path("ro");
        DirBuilder::new().mode(0o555).create(&ro).await.unwrap();
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(&ro).await.unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o555);
    });
}

#[test]
fn symlinks_are_made_read_and_told_apart() {
    let dir = TempDir::new("links");
    rt().block_on(async {
        let (src, dst) = (dir.path("src"), dir.path("dst"));
        fs::write(&src, b"data").await.unwrap();
        fs::symlink(&src, &dst).await.unwrap();
        assert_eq!(fs::read_link(&dst).await.unwrap(), src);
        assert!(
            fs::symlink_metadata(&dst)
                .await
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(fs::read(&dst).await.unwrap(), b"data");
        // Errors: a file that is no link; a link over an existing path.
        let e = fs::read_link(&src).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        let e = fs::symlink(&src, &dst).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::AlreadyExists);
        fs::hard_link(&src, dir.path("hard")).await.unwrap();
        assert_eq!(fs::read(dir.path("hard")).await.unwrap(), b"data");
    });
}

#[test]
fn vectored_writes_gather_into_one_write_up_to_max_buf_size() {
    let dir = TempDir::new("vectored");
    rt().block_on(async {
        let mut f = File::create(dir.path("f")).await.unwrap();
        assert!(tickslab_runtime::io::AsyncWrite::is_write_vectored(&f));
        let bufs = [
            std::io::IoSlice::new(b"abc"),
            std::io::IoSlice::new(b""),
            std::io::IoSlice::new(b"defg"),
        ];
        assert_eq!(f.write_vectored(&bufs).await.unwrap(), 7);
        f.set_max_buf_size(5);
        assert_eq!(
            f.write_vectored(&bufs).await.unwrap(),
            5,
            "stops at max_buf_size"
        );
        assert_eq!(
            f.write_vectored(&[std::io::IoSlice::new(b"")])
                .await
                .unwrap(),
            0
        );
        f.shutdown().await.unwrap();
        assert_eq!(std::fs::read(dir.path("f")).unwrap(), b"abcdefgabcde");
    });
}
