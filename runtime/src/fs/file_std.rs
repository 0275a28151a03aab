//! [`File`]'s conversions to and from std and raw descriptors, its times, and the size of
//! its cursor's operations: the rest of tokio's `fs::File` API.
//!
//! Invariant (from `file.rs`): the `std::fs::File` is shared (`Arc`) with the operations in
//! flight, including ones whose future was dropped (they own their buffer until the kernel
//! is done). So giving the std file back waits for the cursor's operation, and if an
//! abandoned positional operation still holds the file, hands back a duplicate descriptor
//! of the same open file rather than waiting for the kernel.

use std::future::poll_fn;
use std::io;
use std::sync::Arc;
use std::time::SystemTime;

use super::File;
use super::asyncify;

impl File {
    /// Waits for the cursor's operation in flight (a write started by `AsyncWrite`), then
    /// gives the `std::fs::File` back with its OS cursor where this file's reads and writes
    /// got to, as tokio's `into_std`. If an abandoned positional
    /// operation still holds the file, the std file is a duplicate descriptor (`dup`) of the
    /// same open file. A failed write in flight is lost here, as in tokio (flush first to
    /// see it).
    ///
    /// # Panics
    /// If the descriptor cannot be duplicated in that last case (out of descriptors).
    pub async fn into_std(mut self) -> std::fs::File {
        let _ = poll_fn(|cx| self.poll_flush_priv(cx)).await;
        match self.try_into_std() {
            Ok(std) => std,
            Err(file) => {
                let std = file
                    .std()
                    .try_clone()
                    .expect("tickslab: File::into_std: dup of a file still in use failed");
                super::file::set_os_cursor(&std, file.cursor.pos);
                std
            }
        }
    }

    /// Sets the most one `AsyncRead` / `AsyncWrite` operation of this file moves (2 MiB by
    /// default, as tokio's): a read returns at most this many bytes, a write takes at most
    /// this many.
    ///
    /// # Panics
    /// If `max_buf_size` is 0 (tokio's message), at the caller.
    #[track_caller]
    pub fn set_max_buf_size(&mut self, max_buf_size: usize) {
        assert!(max_buf_size > 0, "`max_buf_size` must be greater than 0");
        self.cursor.max_buf = max_buf_size;
    }

    /// The most one `AsyncRead` / `AsyncWrite` operation moves (see
    /// [`set_max_buf_size`](Self::set_max_buf_size)).
    pub fn max_buf_size(&self) -> usize {
        self.cursor.max_buf()
    }

    /// Sets the file's access and modification times (on the blocking pool), as
    /// `std::fs::File::set_times`.
    pub async fn set_times(&self, times: std::fs::FileTimes) -> io::Result<()> {
        let std = Arc::clone(self.std());
        asyncify(move || std.set_times(times)).await
    }

    /// Sets the file's modification time (on the blocking pool), as
    /// `std::fs::File::set_modified`.
    pub async fn set_modified(&self, time: SystemTime) -> io::Result<()> {
        let std = Arc::clone(self.std());
        asyncify(move || std.set_modified(time)).await
    }
}

/// As [`File::from_std`].
///
/// # Panics
/// Outside a runtime.
impl From<std::fs::File> for File {
    fn from(std: std::fs::File) -> File {
        File::from_std(std)
    }
}

#[cfg(unix)]
impl std::os::fd::FromRawFd for File {
    /// Takes ownership of `fd` as a file of the current runtime (tokio's `FromRawFd`).
    ///
    /// # Safety
    /// As `std::fs::File::from_raw_fd`: `fd` is an open descriptor that nothing else owns.
    ///
    /// # Panics
    /// Outside a runtime.
    unsafe fn from_raw_fd(fd: std::os::fd::RawFd) -> File {
        // SAFETY: the caller hands over an open descriptor it owns (this fn's contract,
        // which is std's).
        File::from_std(unsafe { std::fs::File::from_raw_fd(fd) })
    }
}

#[cfg(unix)]
impl std::os::fd::AsFd for File {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.std().as_fd()
    }
}
