//! Files: tokio's `fs` (a [`File`], [`OpenOptions`], and the free functions [`read`],
//! [`write()`], [`read_dir`], ...), plus positional reads and writes into owned buffers with
//! no allocation once warm ([`File::read_at`], [`File::write_at`]).
//!
//! Two backends, chosen per runtime ([`Builder::fs_backend`](crate::Builder::fs_backend)):
//! - **io_uring** (Linux, when the kernel allows it): positional operations, `sync_all`
//!   and `sync_data` go through the ring; its completion eventfd sits in the runtime's
//!   epoll, so the runtime parks once for sockets, timers and files.
//! - **the blocking pool** otherwise (old kernels, seccomp profiles that refuse io_uring),
//!   or when asked: the same operations run on the threads of
//!   [`spawn_blocking`](crate::task::spawn_blocking).
//!
//! [`FsBackend::Auto`] (the default) tries io_uring on first use and falls back.
//! Opening a file goes through the ring on io_uring, else to the blocking pool; the other
//! free functions (`metadata`, `create_dir_all`, `rename`, ...) run on the blocking pool with
//! either backend, as tokio's do (they allocate: the path's copy and the job). [`read`] and
//! [`read_to_string`] open the file, then read it with positional reads on the backend,
//! their buffers bounded by the runtime's read budget
//! ([`Builder::fs_read_budget`](crate::Builder::fs_read_budget)).
//!
//! | file | what |
//! |---|---|
//! | `buf.rs` | [`IoBuf`] / [`IoBufMut`]: buffers taken by value, parked while in flight |
//! | `op.rs` | an operation in flight, who owns its buffer until the completion |
//! | `driver.rs` | the runtime's file driver: slots, backend choice, shutdown |
//! | `uring.rs` | the io_uring backend |
//! | `file.rs` | [`File`], [`OpenOptions`] |
//! | `dir.rs` | [`read_dir`], [`DirEntry`] |
//! | `cursor.rs` | `File`'s `AsyncRead` / `AsyncWrite` / `AsyncSeek` |
//!
//! Errors are `std::io::Error`s with the OS's kinds (`NotFound`, `PermissionDenied`,
//! `IsADirectory`, ...), never a panic.

mod buf;
mod cursor;
mod dir;
mod dir_builder;
mod driver;
mod file;
mod file_std;
#[cfg(all(test, loom))]
mod loom_tests;
mod op;
#[cfg(all(target_os = "linux", not(miri)))]
mod uring;

use std::io;
use std::path::{Path, PathBuf};

pub use buf::{IoBuf, IoBufMut, RawBuf};
pub use dir::{DirEntry, ReadDir, read_dir};
pub use dir_builder::DirBuilder;
pub(crate) use driver::FsDriver;
pub(crate) use driver::set_current;
pub use driver::{DEFAULT_FS_DEPTH, DEFAULT_FS_READ_BUDGET};
pub use file::{File, OpenOptions};
/// A file's access and modification times, for [`File::set_times`] (std's type, as
/// tokio re-exports it).
pub use std::fs::FileTimes;

/// Which machinery runs a runtime's file operations (see the [module docs](self)).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FsBackend {
    /// io_uring if the kernel allows it (tried on first use), else the blocking pool.
    #[default]
    Auto,
    /// io_uring, or building the runtime fails.
    IoUring,
    /// The blocking pool.
    ThreadPool,
}

/// The backend the current runtime's files use (starting it, for [`FsBackend::Auto`]):
/// [`FsBackend::IoUring`] or [`FsBackend::ThreadPool`].
///
/// # Errors
/// Outside a runtime, or once it has shut down.
pub fn backend() -> io::Result<FsBackend> {
    match driver::try_current() {
        Ok(d) => Ok(d.backend()),
        Err(Some(e)) => Err(e),
        Err(None) => Err(io::Error::other(
            "tickslab: fs::backend() outside a runtime",
        )),
    }
}

/// File operations in flight on the current runtime (0 outside one).
pub(crate) fn current_in_flight() -> usize {
    driver::try_current().map_or(0, |d| d.ops().len())
}

pub(crate) fn shut_down_error() -> io::Error {
    crate::io::shut_down_error("these files belong")
}

/// Runs `f` on the blocking pool and waits for it; a panic in `f` becomes an `io::Error`.
pub(crate) async fn asyncify<T: Send + 'static>(
    f: impl FnOnce() -> io::Result<T> + Send + 'static,
) -> io::Result<T> {
    // Outside a runtime, tokio's panic; after it, an error rather than `spawn_blocking`'s
    // panic.
    driver::current()?;
    match crate::blocking::spawn_blocking(f).await {
        Ok(res) => res,
        Err(e) => Err(e.into()),
    }
}

/// Reads a whole file (tokio's `fs::read`).
///
/// ```
/// # let mut rt = tickslab_runtime::Runtime::new().unwrap();
/// # let path = std::env::temp_dir().join(format!("tickslab-doc-read-{}", std::process::id()));
/// rt.block_on(async {
///     tickslab_runtime::fs::write(&path, b"level = 1").await?;
///     assert_eq!(tickslab_runtime::fs::read(&path).await?, b"level = 1");
///     tickslab_runtime::fs::remove_file(&path).await
/// }).unwrap();
/// ```
///
/// The file is opened (through the ring on io_uring, else one job on the blocking pool),
/// its size read with `fstat` on the open descriptor (no disk I/O), and its contents read
/// with positional reads into one buffer allocated once the size fits in the runtime's
/// [read budget](crate::Builder::fs_read_budget): a thousand files read at once keep a
/// few MiB of buffers in flight, whose memory is reused, instead of page-faulting fresh
/// memory for each. Allocations: the path's copy (and the open's job on the blocking pool)
/// and the contents.
///
/// # Errors
/// As `std::fs::read`: `NotFound`, `PermissionDenied`, `IsADirectory`, ...
pub async fn read(path: impl AsRef<Path>) -> io::Result<Vec<u8>> {
    let driver = driver::current()?;
    let file = OpenOptions::new().read(true).open(path).await?;
    let size = file.std_metadata_len()?;
    // The read budget (`Builder::fs_read_budget`): given back when this returns or is
    // dropped.
    let _budget = driver.read_budget(size).await?;
    read_all(&file, size).await
}

/// Reads `file` from its start to its end with positional reads: its size from `fstat`,
/// then reads until that many bytes or the end (a file that grows meanwhile is read up to
/// the size it had, plus what a final read finds). The first buffer is allocated once the
/// read has its operation slot (`op::run_with`), so tasks waiting for a slot hold no memory.
async fn read_all(file: &File, size: u64) -> io::Result<Vec<u8>> {
    let cap = usize::try_from(size)
        .unwrap_or(usize::MAX)
        .saturating_add(1)
        .max(64);
    let mut buf: Option<Vec<u8>> = None;
    loop {
        let prev = buf.take();
        let (res, back, spare) = file
            .read_into_spare_with(move || match prev {
                None => Vec::with_capacity(cap),
                Some(mut b) => {
                    if b.len() == b.capacity() {
                        b.reserve(b.capacity());
                    }
                    b
                }
            })
            .await;
        let len = back.len();
        buf = Some(back);
        match res {
            Ok(0) => return Ok(buf.unwrap_or_default()),
            // A short read once the size is reached: the end, without one more round trip
            // (not for a size of 0: `/proc` files and streams say 0 and read short).
            Ok(n) if size > 0 && n < spare && len as u64 >= size => {
                return Ok(buf.unwrap_or_default());
            }
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// Reads a whole file into a `String` (tokio's `fs::read_to_string`), as [`read`] does.
///
/// # Errors
/// As `std::fs::read_to_string` (`InvalidData` if it is not UTF-8).
pub async fn read_to_string(path: impl AsRef<Path>) -> io::Result<String> {
    let bytes = read(path).await?;
    String::from_utf8(bytes).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            "stream did not contain valid UTF-8",
        )
    })
}

/// Writes a whole file, creating or truncating it (tokio's `fs::write`).
///
/// # Errors
/// As `std::fs::write`.
pub async fn write(path: impl AsRef<Path>, contents: impl AsRef<[u8]>) -> io::Result<()> {
    if driver::current()?.uses_uring() {
        let file = File::create(path).await?;
        return file.write_all_at(contents.as_ref().to_vec(), 0).await.0;
    }
    let path = path.as_ref().to_owned();
    let contents = contents.as_ref().to_owned();
    asyncify(move || std::fs::write(path, contents)).await
}

/// A path's metadata, following symlinks (tokio's `fs::metadata`).
///
/// # Errors
/// As `std::fs::metadata`.
pub async fn metadata(path: impl AsRef<Path>) -> io::Result<std::fs::Metadata> {
    let path = path.as_ref().to_owned();
    asyncify(move || std::fs::metadata(path)).await
}

/// A path's metadata, not following a final symlink (tokio's `fs::symlink_metadata`).
///
/// # Errors
/// As `std::fs::symlink_metadata`.
pub async fn symlink_metadata(path: impl AsRef<Path>) -> io::Result<std::fs::Metadata> {
    let path = path.as_ref().to_owned();
    asyncify(move || std::fs::symlink_metadata(path)).await
}

/// Whether a path exists (tokio's `fs::try_exists`): `Ok(false)` only for "not found".
///
/// # Errors
/// As `std::fs::exists`.
pub async fn try_exists(path: impl AsRef<Path>) -> io::Result<bool> {
    let path = path.as_ref().to_owned();
    asyncify(move || std::fs::exists(path)).await
}

/// Creates a directory (tokio's `fs::create_dir`).
///
/// # Errors
/// As `std::fs::create_dir` (`AlreadyExists`, `NotFound` for a missing parent, ...).
pub async fn create_dir(path: impl AsRef<Path>) -> io::Result<()> {
    let path = path.as_ref().to_owned();
    asyncify(move || std::fs::create_dir(path)).await
}

/// Creates a directory and its missing parents (tokio's `fs::create_dir_all`).
///
/// # Errors
/// As `std::fs::create_dir_all`.
pub async fn create_dir_all(path: impl AsRef<Path>) -> io::Result<()> {
    let path = path.as_ref().to_owned();
    asyncify(move || std::fs::create_dir_all(path)).await
}

/// Removes a file (tokio's `fs::remove_file`).
///
/// # Errors
/// As `std::fs::remove_file` (`NotFound`, `IsADirectory`, ...).
pub async fn remove_file(path: impl AsRef<Path>) -> io::Result<()> {
    let path = path.as_ref().to_owned();
    asyncify(move || std::fs::remove_file(path)).await
}

/// Removes an empty directory (tokio's `fs::remove_dir`).
///
/// # Errors
/// As `std::fs::remove_dir` (`DirectoryNotEmpty`, ...).
pub async fn remove_dir(path: impl AsRef<Path>) -> io::Result<()> {
    let path = path.as_ref().to_owned();
    asyncify(move || std::fs::remove_dir(path)).await
}

/// Removes a directory and everything in it (tokio's `fs::remove_dir_all`).
///
/// # Errors
/// As `std::fs::remove_dir_all`.
pub async fn remove_dir_all(path: impl AsRef<Path>) -> io::Result<()> {
    let path = path.as_ref().to_owned();
    asyncify(move || std::fs::remove_dir_all(path)).await
}

/// Renames a file or directory, replacing `to` if it is a file (tokio's `fs::rename`).
///
/// # Errors
/// As `std::fs::rename`.
pub async fn rename(from: impl AsRef<Path>, to: impl AsRef<Path>) -> io::Result<()> {
    let (from, to) = (from.as_ref().to_owned(), to.as_ref().to_owned());
    asyncify(move || std::fs::rename(from, to)).await
}

/// Copies a file's contents and permissions; returns the bytes copied (tokio's `fs::copy`).
///
/// # Errors
/// As `std::fs::copy`.
pub async fn copy(from: impl AsRef<Path>, to: impl AsRef<Path>) -> io::Result<u64> {
    let (from, to) = (from.as_ref().to_owned(), to.as_ref().to_owned());
    asyncify(move || std::fs::copy(from, to)).await
}

/// Makes a hard link (tokio's `fs::hard_link`).
///
/// # Errors
/// As `std::fs::hard_link`.
pub async fn hard_link(original: impl AsRef<Path>, link: impl AsRef<Path>) -> io::Result<()> {
    let (original, link) = (original.as_ref().to_owned(), link.as_ref().to_owned());
    asyncify(move || std::fs::hard_link(original, link)).await
}

/// The canonical, absolute form of a path (tokio's `fs::canonicalize`).
///
/// # Errors
/// As `std::fs::canonicalize`.
pub async fn canonicalize(path: impl AsRef<Path>) -> io::Result<PathBuf> {
    let path = path.as_ref().to_owned();
    asyncify(move || std::fs::canonicalize(path)).await
}

/// Changes a path's permissions (tokio's `fs::set_permissions`).
///
/// # Errors
/// As `std::fs::set_permissions`.
pub async fn set_permissions(path: impl AsRef<Path>, perm: std::fs::Permissions) -> io::Result<()> {
    let path = path.as_ref().to_owned();
    asyncify(move || std::fs::set_permissions(path, perm)).await
}

/// The target of a symbolic link (tokio's `fs::read_link`).
///
/// # Errors
/// As `std::fs::read_link` (`InvalidInput` if `path` is not a link).
pub async fn read_link(path: impl AsRef<Path>) -> io::Result<PathBuf> {
    let path = path.as_ref().to_owned();
    asyncify(move || std::fs::read_link(path)).await
}

/// Makes a symbolic link at `link` pointing to `original` (tokio's `fs::symlink`, Unix).
///
/// # Errors
/// As `std::os::unix::fs::symlink` (`AlreadyExists` if `link` exists, ...).
#[cfg(unix)]
pub async fn symlink(original: impl AsRef<Path>, link: impl AsRef<Path>) -> io::Result<()> {
    let (original, link) = (original.as_ref().to_owned(), link.as_ref().to_owned());
    asyncify(move || std::os::unix::fs::symlink(original, link)).await
}
