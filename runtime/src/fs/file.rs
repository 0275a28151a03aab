//! [`File`] and [`OpenOptions`]: tokio's `fs::File`, plus positional reads and writes into
//! owned buffers that allocate nothing once warm.
//!
//! Opening, `metadata` and `set_len` run on the blocking pool (one job each: they allocate,
//! the path's copy included). Positional reads and writes, `sync_all` and `sync_data` run
//! on the runtime's file backend (io_uring, or the blocking pool) through the operation
//! slots of `op.rs`: no allocation per call once warm.

use std::fmt;
use std::io;
use std::path::Path;
use std::rc::Rc;
use std::sync::Arc;

use super::asyncify;
use super::buf::{IoBuf, IoBufMut};
use super::driver::{self, FsDriver};
use super::op::{self, OpCell, OpKind};

/// An open file on the runtime's file backend. Like tokio's `File`, plus
/// [`read_at`](Self::read_at) / [`write_at`](Self::write_at), which take the buffer by value
/// and give it back with the result: `(io::Result<usize>, B)`.
///
/// ```
/// use tickslab_runtime::{Runtime, fs::File};
///
/// let dir = std::env::temp_dir().join(format!("tickslab-doc-file-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let path = dir.join("level1.pak");
/// let rt = Runtime::new().unwrap();
/// rt.block_on(async {
///     // Read and write (`File::create` opens for writing only, as tokio's and std's).
///     let f = File::options().read(true).write(true).create(true).open(&path).await?;
///     let (res, _) = f.write_at(b"header:payload".to_vec(), 0).await;
///     assert_eq!(res?, 14);
///     let buf = Vec::with_capacity(64);                  // reused across reads
///     let (res, buf) = f.read_at(buf, 7).await;          // the buffer comes back
///     assert_eq!(&buf[..res?], b"payload");
///     Ok::<_, std::io::Error>(())
/// }).unwrap();
/// std::fs::remove_dir_all(&dir).unwrap();
/// ```
///
/// A `File` belongs to the runtime's thread (`!Send`), like tickslab's sockets.
pub struct File {
    std: Arc<std::fs::File>,
    driver: Rc<FsDriver>,
    /// The cursor of `AsyncRead` / `AsyncWrite` / `AsyncSeek` (`cursor.rs`).
    pub(super) cursor: super::cursor::Cursor,
}

impl File {
    /// Opens a file for reading (`std::fs::File::open` on the blocking pool).
    ///
    /// # Errors
    /// As `std::fs::File::open` (`NotFound`, `PermissionDenied`, ...), or an error once the
    /// runtime has shut down.
    ///
    /// # Panics
    /// Outside a runtime, with tokio's message.
    pub async fn open(path: impl AsRef<Path>) -> io::Result<File> {
        OpenOptions::new().read(true).open(path).await
    }

    /// Creates (or truncates) a file for writing (`std::fs::File::create`).
    ///
    /// # Errors
    /// As `std::fs::File::create`.
    pub async fn create(path: impl AsRef<Path>) -> io::Result<File> {
        OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
            .await
    }

    /// Creates a new file, failing with `AlreadyExists` if there is one.
    ///
    /// # Errors
    /// As `std::fs::File::create_new`.
    pub async fn create_new(path: impl AsRef<Path>) -> io::Result<File> {
        OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(path)
            .await
    }

    /// An [`OpenOptions`] builder, as `std::fs::File::options`.
    pub fn options() -> OpenOptions {
        OpenOptions::new()
    }

    /// Wraps an open `std::fs::File`; reading and writing go on from its OS cursor (as
    /// tokio's).
    ///
    /// # Panics
    /// Outside a runtime.
    pub fn from_std(std: std::fs::File) -> File {
        let driver = driver::current().unwrap_or_else(|e| panic!("tickslab: File::from_std: {e}"));
        // A file that cannot seek (a pipe, a terminal) has no position: start at 0.
        let pos = io::Seek::stream_position(&mut &std).unwrap_or(0);
        let mut file = File::new(std, driver);
        file.cursor.pos = pos;
        file
    }

    pub(super) fn new(std: std::fs::File, driver: Rc<FsDriver>) -> File {
        File {
            std: Arc::new(std),
            driver,
            cursor: super::cursor::Cursor::default(),
        }
    }

    /// The `std::fs::File` inside, once no operation uses it any more (else the file
    /// back), its OS cursor set to where this file's reads and writes got to (as tokio's).
    pub fn try_into_std(self) -> Result<std::fs::File, File> {
        let File {
            std,
            driver,
            cursor,
        } = self;
        let pos = cursor.pos;
        let std = Arc::try_unwrap(std).map_err(|std| File {
            std,
            driver,
            cursor,
        })?;
        set_os_cursor(&std, pos);
        Ok(std)
    }

    /// Reads up to `buf`'s capacity ([`IoBuf::bytes_total`]) from `offset` into the start of
    /// `buf`, and gives `buf` back with the number of bytes read (0 at end of file). A
    /// `Vec`'s length grows to the bytes read if it was shorter.
    ///
    /// No allocation once warm. At most [`Builder::fs_depth`](crate::Builder::fs_depth)
    /// operations are in flight per runtime; beyond that, this waits for a free slot.
    /// Dropping the future mid-flight is safe: the buffer stays with the operation until it
    /// completes, then is dropped.
    pub async fn read_at<B: IoBufMut>(&self, buf: B, offset: u64) -> (io::Result<usize>, B) {
        let cell = OpCell::new(OpKind::Read, &self.std, Some(buf.into_raw()), offset);
        let (res, raw) = op::run(&self.driver, cell).await;
        let mut raw = raw.expect("a read gives its buffer back");
        if let Ok(n) = res {
            raw.set_init(n);
        }
        // SAFETY: `raw` came from `B::into_raw` above; a read only raised its length to bytes
        // the kernel (or `pread`) wrote.
        (res, unsafe { B::from_raw(raw) })
    }

    /// Reads exactly `buf`'s capacity from `offset`, looping over short reads;
    /// `UnexpectedEof` if the file ends first.
    pub async fn read_exact_at<B: IoBufMut>(&self, buf: B, offset: u64) -> (io::Result<()>, B) {
        let total = buf.bytes_total();
        let mut raw = buf.into_raw();
        let mut done = 0;
        while done < total {
            // The part still to read, as a raw view into the same buffer.
            let cell = OpCell::new_at(OpKind::Read, &self.std, raw, done, offset + done as u64);
            let (res, back) = op::run(&self.driver, cell).await;
            raw = back.expect("a read gives its buffer back");
            match res {
                Ok(0) => {
                    // SAFETY: from `B::into_raw` above, `len` raised only over written bytes.
                    let buf = unsafe { B::from_raw(raw) };
                    return (Err(io::ErrorKind::UnexpectedEof.into()), buf);
                }
                Ok(n) => {
                    done += n;
                    raw.set_init(done);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    // SAFETY: as above.
                    return (Err(e), unsafe { B::from_raw(raw) });
                }
            }
        }
        // SAFETY: as above.
        (Ok(()), unsafe { B::from_raw(raw) })
    }

    /// Writes `buf`'s initialised bytes at `offset`; gives `buf` back with the number of
    /// bytes written. No allocation once warm; see [`read_at`](Self::read_at).
    pub async fn write_at<B: IoBuf>(&self, buf: B, offset: u64) -> (io::Result<usize>, B) {
        let cell = OpCell::new(OpKind::Write, &self.std, Some(buf.into_raw()), offset);
        let (res, raw) = op::run(&self.driver, cell).await;
        // SAFETY: `raw` came from `B::into_raw` above, unchanged by a write.
        (res, unsafe {
            B::from_raw(raw.expect("a write gives its buffer back"))
        })
    }

    /// Writes all of `buf`'s initialised bytes at `offset`, looping over short writes.
    pub async fn write_all_at<B: IoBuf>(&self, buf: B, offset: u64) -> (io::Result<()>, B) {
        let total = buf.bytes_init();
        let mut raw = buf.into_raw();
        let mut done = 0;
        while done < total {
            let cell = OpCell::new_at(OpKind::Write, &self.std, raw, done, offset + done as u64);
            let (res, back) = op::run(&self.driver, cell).await;
            raw = back.expect("a write gives its buffer back");
            match res {
                Ok(0) => {
                    // SAFETY: from `B::into_raw` above, unchanged by a write.
                    let buf = unsafe { B::from_raw(raw) };
                    return (Err(io::ErrorKind::WriteZero.into()), buf);
                }
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // SAFETY: as above.
                Err(e) => return (Err(e), unsafe { B::from_raw(raw) }),
            }
        }
        // SAFETY: as above.
        (Ok(()), unsafe { B::from_raw(raw) })
    }

    /// Reads from the file's offset `buf.len()` into `buf`'s spare capacity, growing its
    /// length by the bytes read (`fs::read`'s loop). `make` gives the buffer once the
    /// operation has its slot (`op::run_with`); returns the result, the buffer and the spare
    /// capacity the read was offered.
    pub(super) async fn read_into_spare_with(
        &self,
        make: impl FnOnce() -> Vec<u8>,
    ) -> (io::Result<usize>, Vec<u8>, usize) {
        let mut start = 0;
        let mut spare = 0;
        let (res, raw) = op::run_with(&self.driver, || {
            let buf = make();
            start = buf.len();
            spare = buf.capacity() - start;
            OpCell::new_at(OpKind::Read, &self.std, buf.into_raw(), start, start as u64)
        })
        .await;
        let mut raw = raw.expect("a read gives its buffer back");
        if let Ok(n) = res {
            raw.set_init(start + n);
        }
        // SAFETY: `raw` came from `Vec::into_raw` above; its length only grew over bytes the
        // read wrote.
        (res, unsafe { Vec::from_raw(raw) }, spare)
    }

    /// The file's size by `fstat` on this thread (no disk I/O: the inode is in memory once
    /// the file is open).
    pub(super) fn std_metadata_len(&self) -> io::Result<u64> {
        Ok(self.std.metadata()?.len())
    }

    /// Flushes data and metadata to the device (`fsync`), as tokio's `sync_all`.
    pub async fn sync_all(&self) -> io::Result<()> {
        let cell = OpCell::new(OpKind::SyncAll, &self.std, None, 0);
        op::run(&self.driver, cell).await.0.map(drop)
    }

    /// Flushes data (not all metadata) to the device (`fdatasync`), as tokio's `sync_data`.
    pub async fn sync_data(&self) -> io::Result<()> {
        let cell = OpCell::new(OpKind::SyncData, &self.std, None, 0);
        op::run(&self.driver, cell).await.0.map(drop)
    }

    /// The file's metadata (on the blocking pool).
    pub async fn metadata(&self) -> io::Result<std::fs::Metadata> {
        let std = Arc::clone(&self.std);
        asyncify(move || std.metadata()).await
    }

    /// Truncates or extends the file to `size` bytes (on the blocking pool).
    pub async fn set_len(&self, size: u64) -> io::Result<()> {
        let std = Arc::clone(&self.std);
        asyncify(move || std.set_len(size)).await
    }

    /// Changes the file's permissions (on the blocking pool).
    pub async fn set_permissions(&self, perm: std::fs::Permissions) -> io::Result<()> {
        let std = Arc::clone(&self.std);
        asyncify(move || std.set_permissions(perm)).await
    }

    /// A second handle to the same open file (`dup`; they share the OS cursor, not the
    /// async cursor; the clone keeps [`max_buf_size`](Self::max_buf_size)).
    pub async fn try_clone(&self) -> io::Result<File> {
        let std = Arc::clone(&self.std);
        let clone = asyncify(move || std.try_clone()).await?;
        let mut file = File::new(clone, Rc::clone(&self.driver));
        file.cursor.max_buf = self.cursor.max_buf;
        Ok(file)
    }

    pub(super) fn driver(&self) -> &Rc<FsDriver> {
        &self.driver
    }

    pub(super) fn std(&self) -> &Arc<std::fs::File> {
        &self.std
    }
}

/// Moves `std`'s OS cursor to `pos` (ignored for files that cannot seek).
pub(super) fn set_os_cursor(std: &std::fs::File, pos: u64) {
    let _ = io::Seek::seek(&mut &*std, io::SeekFrom::Start(pos));
}

/// tokio's shape, `tokio::fs::File { std: File { fd: .. } }`, under tickslab's own path (a
/// log line should not claim tokio), plus the cursor's position.
impl fmt::Debug for File {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("tickslab::fs::File")
            .field("std", &self.std)
            .field("pos", &self.cursor.pos)
            .finish()
    }
}

impl std::os::fd::AsRawFd for File {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.std.as_raw_fd()
    }
}

/// Options for opening a file: `std::fs::OpenOptions`'s (tokio's `fs::OpenOptions`). On the
/// io_uring backend the file is opened through the ring (`IORING_OP_OPENAT`), else on the
/// blocking pool.
#[derive(Clone, Debug)]
pub struct OpenOptions {
    std: std::fs::OpenOptions,
    read: bool,
    write: bool,
    append: bool,
    truncate: bool,
    create: bool,
    create_new: bool,
    mode: u32,
    custom_flags: i32,
}

impl Default for OpenOptions {
    fn default() -> Self {
        Self::new()
    }
}

impl OpenOptions {
    /// All options off.
    pub fn new() -> OpenOptions {
        OpenOptions {
            std: std::fs::OpenOptions::new(),
            read: false,
            write: false,
            append: false,
            truncate: false,
            create: false,
            create_new: false,
            mode: 0o666,
            custom_flags: 0,
        }
    }

    /// `open(2)`'s flags for these options, with std's validation (`InvalidInput`).
    fn flags(&self) -> io::Result<i32> {
        let invalid = |msg| io::Error::new(io::ErrorKind::InvalidInput, msg);
        let access = match (self.read, self.write, self.append) {
            (true, false, false) => libc::O_RDONLY,
            (false, true, false) => libc::O_WRONLY,
            (true, true, false) => libc::O_RDWR,
            (false, _, true) => libc::O_WRONLY | libc::O_APPEND,
            (true, _, true) => libc::O_RDWR | libc::O_APPEND,
            (false, false, false) => return Err(invalid("no access mode set")),
        };
        let writable = self.write || self.append;
        let creation = match (self.create, self.truncate, self.create_new) {
            (false, false, false) => 0,
            _ if !writable => return Err(invalid("creating or truncating needs write access")),
            (_, _, true) => libc::O_CREAT | libc::O_EXCL,
            (true, true, false) => libc::O_CREAT | libc::O_TRUNC,
            (true, false, false) => libc::O_CREAT,
            (false, true, false) if self.append => {
                return Err(invalid("truncate and append are exclusive"));
            }
            (false, true, false) => libc::O_TRUNC,
        };
        Ok(access | creation | libc::O_CLOEXEC | (self.custom_flags & !libc::O_ACCMODE))
    }

    /// Read access.
    pub fn read(&mut self, read: bool) -> &mut Self {
        self.std.read(read);
        self.read = read;
        self
    }

    /// Write access.
    pub fn write(&mut self, write: bool) -> &mut Self {
        self.std.write(write);
        self.write = write;
        self
    }

    /// Append mode (positional writes still write at their offset on Linux only without
    /// `O_APPEND`; with it, `write_at` appends, as `pwrite` does).
    pub fn append(&mut self, append: bool) -> &mut Self {
        self.std.append(append);
        self.append = append;
        self
    }

    /// Truncate to 0 bytes when opened.
    pub fn truncate(&mut self, truncate: bool) -> &mut Self {
        self.std.truncate(truncate);
        self.truncate = truncate;
        self
    }

    /// Create the file if missing.
    pub fn create(&mut self, create: bool) -> &mut Self {
        self.std.create(create);
        self.create = create;
        self
    }

    /// Create the file, failing with `AlreadyExists` if it exists.
    pub fn create_new(&mut self, create_new: bool) -> &mut Self {
        self.std.create_new(create_new);
        self.create_new = create_new;
        self
    }

    /// Unix permission bits for a created file.
    pub fn mode(&mut self, mode: u32) -> &mut Self {
        std::os::unix::fs::OpenOptionsExt::mode(&mut self.std, mode);
        self.mode = mode;
        self
    }

    /// Extra `open(2)` flags (`O_DIRECT`, `O_NOATIME`, ...).
    pub fn custom_flags(&mut self, flags: i32) -> &mut Self {
        std::os::unix::fs::OpenOptionsExt::custom_flags(&mut self.std, flags);
        self.custom_flags = flags;
        self
    }

    /// Opens `path` with these options: through the ring on the io_uring backend (the
    /// path's C string is the one allocation, parked with the operation), else on the
    /// blocking pool (the path's copy and the job). A dropped open never leaks the
    /// descriptor it may have produced.
    ///
    /// # Errors
    /// As `std::fs::OpenOptions::open` (`NotFound`, `PermissionDenied`, `AlreadyExists`,
    /// `InvalidInput` for contradictory options, ...), or once the runtime has shut down.
    ///
    /// # Panics
    /// Outside a runtime, with tokio's message.
    pub async fn open(&self, path: impl AsRef<Path>) -> io::Result<File> {
        let driver = driver::current()?;
        if !driver.uses_uring() {
            let path = path.as_ref().to_owned();
            let options = self.std.clone();
            let std = asyncify(move || options.open(path)).await?;
            return Ok(File::new(std, driver));
        }
        let flags = self.flags()?;
        let mut c_path = path.as_ref().as_os_str().as_encoded_bytes().to_vec();
        if c_path.contains(&0) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "file name contained an unexpected NUL byte",
            ));
        }
        c_path.push(0);
        let cell = OpCell::open_at(c_path.into_raw(), flags, self.mode);
        let fd = op::run(&driver, cell).await.0?;
        let fd = std::os::fd::RawFd::try_from(fd).map_err(io::Error::other)?;
        // SAFETY: the kernel just opened this descriptor for us, and nothing else owns it.
        let std = unsafe { <std::fs::File as std::os::fd::FromRawFd>::from_raw_fd(fd) };
        Ok(File::new(std, driver))
    }
}
