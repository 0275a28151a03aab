//! [`DirBuilder`]: tokio's `fs::DirBuilder`, std's builder run on the blocking pool.

use std::io;
use std::path::Path;

use super::asyncify;

/// Creates directories with options (recursive, Unix mode), as tokio's `fs::DirBuilder`.
///
/// ```
/// use tickslab_runtime::{Runtime, fs::DirBuilder};
///
/// let dir = std::env::temp_dir().join(format!("tickslab-doc-dirb-{}", std::process::id()));
/// let rt = Runtime::new().unwrap();
/// rt.block_on(async {
///     DirBuilder::new().recursive(true).create(dir.join("a/b")).await
/// })
/// .unwrap();
/// assert!(dir.join("a/b").is_dir());
/// std::fs::remove_dir_all(&dir).unwrap();
/// ```
#[derive(Debug, Default)]
pub struct DirBuilder {
    recursive: bool,
    #[cfg(unix)]
    mode: Option<u32>,
}

impl DirBuilder {
    /// A builder that creates one directory (not its parents), with the default mode.
    pub fn new() -> Self {
        DirBuilder::default()
    }

    /// Whether missing parents are created too (and an existing directory is no error).
    pub fn recursive(&mut self, recursive: bool) -> &mut Self {
        self.recursive = recursive;
        self
    }

    /// The permission bits of the directories created (Unix; before the umask).
    #[cfg(unix)]
    pub fn mode(&mut self, mode: u32) -> &mut Self {
        self.mode = Some(mode);
        self
    }

    /// Creates `path` (on the blocking pool).
    ///
    /// # Errors
    /// As `std::fs::DirBuilder::create` (`AlreadyExists` unless recursive, `NotFound` for a
    /// missing parent unless recursive, `PermissionDenied`, ...).
    pub async fn create(&self, path: impl AsRef<Path>) -> io::Result<()> {
        let mut std = std::fs::DirBuilder::new();
        std.recursive(self.recursive);
        #[cfg(unix)]
        if let Some(mode) = self.mode {
            std::os::unix::fs::DirBuilderExt::mode(&mut std, mode);
        }
        let path = path.as_ref().to_owned();
        asyncify(move || std.create(path)).await
    }
}
