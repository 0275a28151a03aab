//! [`read_dir`]: a directory's entries, read on the blocking pool a batch at a time.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::asyncify;

/// Entries fetched per trip to the blocking pool (tokio's batch size).
const BATCH: usize = 32;

/// Starts reading the entries of a directory (tokio's `fs::read_dir`).
///
/// ```
/// # let mut rt = tickslab_runtime::Runtime::new().unwrap();
/// # let dir = std::env::temp_dir().join(format!("tickslab-doc-dir-{}", std::process::id()));
/// use tickslab_runtime::fs;
/// rt.block_on(async {
///     fs::create_dir_all(dir.join("textures")).await?;
///     let mut entries = fs::read_dir(&dir).await?;
///     while let Some(entry) = entries.next_entry().await? {
///         assert_eq!(entry.file_name(), "textures");
///         assert!(entry.file_type().await?.is_dir());
///     }
///     fs::remove_dir_all(&dir).await
/// }).unwrap();
/// ```
///
/// # Errors
/// As `std::fs::read_dir` (`NotFound`, `NotADirectory`, ...).
pub async fn read_dir(path: impl AsRef<Path>) -> io::Result<ReadDir> {
    let path = path.as_ref().to_owned();
    let std = asyncify(move || std::fs::read_dir(path)).await?;
    Ok(ReadDir {
        std: Some(std),
        ready: VecDeque::new(),
    })
}

/// A directory being read: [`next_entry`](Self::next_entry) until `None`.
#[derive(Debug)]
pub struct ReadDir {
    /// `None` once the end was reached.
    std: Option<std::fs::ReadDir>,
    ready: VecDeque<io::Result<DirEntry>>,
}

impl ReadDir {
    /// The next entry, `None` at the end (tokio's `ReadDir::next_entry`). Not cancel-safe
    /// across a batch fetch: dropping the future while it fetches loses that batch.
    ///
    /// # Errors
    /// An entry the OS failed to read.
    pub async fn next_entry(&mut self) -> io::Result<Option<DirEntry>> {
        if self.ready.is_empty() {
            let Some(mut std) = self.std.take() else {
                return Ok(None);
            };
            let (std, batch) = asyncify(move || {
                let mut batch = VecDeque::with_capacity(BATCH);
                let mut end = false;
                while batch.len() < BATCH {
                    match std.next() {
                        Some(entry) => batch.push_back(entry.map(|e| DirEntry(Arc::new(e)))),
                        None => {
                            end = true;
                            break;
                        }
                    }
                }
                Ok(((!end).then_some(std), batch))
            })
            .await?;
            self.std = std;
            self.ready = batch;
        }
        self.ready.pop_front().transpose()
    }
}

/// An entry of a [`ReadDir`] (tokio's `fs::DirEntry`).
#[derive(Debug, Clone)]
pub struct DirEntry(Arc<std::fs::DirEntry>);

impl DirEntry {
    /// The entry's full path (the directory's path joined with its name).
    pub fn path(&self) -> PathBuf {
        self.0.path()
    }

    /// The entry's name, without its directory.
    pub fn file_name(&self) -> OsString {
        self.0.file_name()
    }

    /// The entry's metadata, not following a final symlink (on the blocking pool).
    ///
    /// # Errors
    /// As `std::fs::DirEntry::metadata`.
    pub async fn metadata(&self) -> io::Result<std::fs::Metadata> {
        let e = Arc::clone(&self.0);
        asyncify(move || e.metadata()).await
    }

    /// The entry's file type (usually without a system call; on the blocking pool when
    /// one is needed).
    ///
    /// # Errors
    /// As `std::fs::DirEntry::file_type`.
    pub async fn file_type(&self) -> io::Result<std::fs::FileType> {
        let e = Arc::clone(&self.0);
        asyncify(move || e.file_type()).await
    }
}
