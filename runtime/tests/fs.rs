//! `tickslab::fs` on both backends: every test runs once on the blocking pool and once on
//! io_uring (`mod pool`, `mod uring`). On a machine whose kernel refuses io_uring, the
//! io_uring half says so and passes, unless `TICKSLAB_REQUIRE_URING=1` (CI sets it), which
//! makes that a failure.
//!
//! What they prove: positional reads and writes give their buffers back with the right
//! bytes; short reads and end of file; tokio's error kinds for bad paths; the free
//! functions; backpressure at the in-flight depth; and the cancellation hazard: a read
//! dropped in flight keeps its buffer parked until the completion arrives (the memory freed
//! and reused around it stays intact, checked by canaries here and by AddressSanitizer in
//! `.ci/asan`), and a runtime dropped with reads in flight waits for them.

mod support;

use std::io::ErrorKind;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tickslab_runtime::fs::{self, File, FsBackend, OpenOptions};
use tickslab_runtime::{Runtime, time::timeout};

/// Only detects hangs.
const GUARD: Duration = Duration::from_secs(30);
/// Buffer size and rounds of the in-flight drop tests (smaller under Miri, which runs the
/// pool backend's ones in CI).
const BIG: usize = if cfg!(miri) { 8 << 10 } else { 1 << 20 };
const ROUNDS: usize = if cfg!(miri) { 3 } else { 30 };

/// A fresh directory under the system's temp dir, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "tickslab-fs-{}-{}-{}",
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

/// Bytes `0, 1, ..., 250, 0, 1, ...` (251 is prime: offsets show in the data).
fn pattern(len: usize, from: usize) -> Vec<u8> {
    (from..from + len).map(|i| (i % 251) as u8).collect()
}

fn uring_required() -> bool {
    std::env::var_os("TICKSLAB_REQUIRE_URING").is_some_and(|v| v == "1")
}

/// A runtime on `backend`, or `None` (the io_uring half on a kernel that refuses it).
fn runtime(backend: FsBackend, depth: usize) -> Option<Runtime> {
    match Runtime::builder()
        .slab_bounded::<1024>(256)
        .fs_backend(backend)
        .fs_depth(depth)
        .try_build()
    {
        Ok(rt) => Some(rt),
        Err(e) if backend == FsBackend::IoUring && !uring_required() => {
            eprintln!("io_uring refused here ({e}); set TICKSLAB_REQUIRE_URING=1 to fail instead");
            None
        }
        Err(e) => panic!("cannot build a runtime on {backend:?}: {e}"),
    }
}

macro_rules! both_backends {
    ($($(#[$m:meta])* fn $name:ident($rt:ident: &mut Runtime) $body:block)*) => {
        mod pool {
            use super::*;
            $( $(#[$m])* #[test] fn $name() {
                let Some(mut rt) = runtime(FsBackend::ThreadPool, 64) else { return };
                let $rt = &mut rt;
                $body
            } )*
        }
        mod uring {
            use super::*;
            $( $(#[$m])* #[test] fn $name() {
                let Some(mut rt) = runtime(FsBackend::IoUring, 64) else { return };
                let $rt = &mut rt;
                $body
            } )*
        }
    };
}

fn run<F: std::future::Future>(rt: &mut Runtime, f: F) -> F::Output {
    rt.block_on(async { timeout(GUARD, f).await.expect("the test hung (30 s guard)") })
}

both_backends! {
    fn cursor_read_write_seek(rt: &mut Runtime) {
        use std::io::SeekFrom;
        use tickslab_runtime::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt, BufReader, AsyncBufReadExt};
        let dir = TempDir::new("cursor");
        let path = dir.path("c.txt");
        run(rt, async {
            let mut f = OpenOptions::new().read(true).write(true).create(true).truncate(true).open(&path).await.unwrap();
            f.write_all(b"line one\nline two\n").await.unwrap();
            f.write_all(&pattern(100_000, 0)).await.unwrap();
            f.flush().await.unwrap();
            assert_eq!(f.stream_position().await.unwrap(), 18 + 100_000);
            assert_eq!(f.seek(SeekFrom::Start(5)).await.unwrap(), 5);
            let mut three = [0u8; 3];
            f.read_exact(&mut three).await.unwrap();
            assert_eq!(&three, b"one");
            assert_eq!(f.seek(SeekFrom::Current(1)).await.unwrap(), 9);
            let mut word = [0u8; 4];
            f.read_exact(&mut word).await.unwrap();
            assert_eq!(&word, b"line");
            assert_eq!(f.seek(SeekFrom::End(-100_000)).await.unwrap(), 18);
            let mut rest = Vec::new();
            f.read_to_end(&mut rest).await.unwrap();
            assert_eq!(rest, pattern(100_000, 0));
            assert_eq!(f.read(&mut word).await.unwrap(), 0, "end of file");
            assert_eq!(
                f.seek(SeekFrom::Current(-1_000_000)).await.unwrap_err().kind(),
                ErrorKind::InvalidInput
            );
            // Overwrite in the middle after reading (the read-ahead is dropped).
            f.seek(SeekFrom::Start(0)).await.unwrap();
            let mut l = [0u8; 1];
            f.read_exact(&mut l).await.unwrap();
            f.write_all(b"I").await.unwrap();
            f.seek(SeekFrom::Start(0)).await.unwrap();
            let mut lines = BufReader::new(f).lines();
            assert_eq!(lines.next_line().await.unwrap().as_deref(), Some("lIne one"));
            assert_eq!(lines.next_line().await.unwrap().as_deref(), Some("line two"));
        });
    }

    fn futures_io_traits(rt: &mut Runtime) {
        use futures_util::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};
        let dir = TempDir::new("fio");
        let path = dir.path("f.bin");
        run(rt, async {
            let mut f = OpenOptions::new().read(true).write(true).create(true).truncate(true).open(&path).await.unwrap();
            f.write_all(b"futures-io").await.unwrap();
            f.seek(std::io::SeekFrom::Start(8)).await.unwrap();
            let mut s = String::new();
            f.read_to_string(&mut s).await.unwrap();
            assert_eq!(s, "io");
        });
    }

    fn the_backend_is_the_one_asked_for(rt: &mut Runtime) {
        let asked = if module_path!().ends_with("uring") { FsBackend::IoUring } else { FsBackend::ThreadPool };
        let got = rt.block_on(async { fs::backend().unwrap() });
        assert_eq!(got, asked);
    }

    fn write_at_then_read_at_round_trip(rt: &mut Runtime) {
        let dir = TempDir::new("rt");
        let path = dir.path("a.bin");
        run(rt, async {
            let f = OpenOptions::new().read(true).write(true).create(true).truncate(true).open(&path).await.unwrap();
            // Short transfers are allowed (Miri makes some, to test that callers cope);
            // what was transferred must be right.
            let data = pattern(10_000, 0);
            let (res, back) = f.write_all_at(data.clone(), 100).await;
            res.unwrap();
            assert_eq!(back, data, "the write gave its buffer back unchanged");
            // A Vec with room but no length: its length grows to the bytes read.
            let (res, buf) = f.read_at(Vec::with_capacity(4096), 100).await;
            let n = res.unwrap();
            assert!(n > 0 && n <= 4096);
            assert_eq!(buf, pattern(n, 0));
            // A full Vec keeps its length; the bytes read are at its start.
            let (res, buf) = f.read_at(vec![0xEE; 50], 150).await;
            let n = res.unwrap();
            assert!(n > 0 && n <= 50);
            assert_eq!(buf[..n], pattern(n, 50)[..]);
            assert!(buf[n..].iter().all(|&b| b == 0xEE));
            assert_eq!(buf.len(), 50);
            // The hole before offset 100 reads as zeros.
            let (res, buf) = f.read_at(vec![1u8; 100].into_boxed_slice(), 0).await;
            let n = res.unwrap();
            assert!(n > 0 && n <= 100);
            assert!(buf[..n].iter().all(|&b| b == 0));
        });
    }

    fn reads_at_and_past_the_end(rt: &mut Runtime) {
        let dir = TempDir::new("eof");
        let path = dir.path("short.bin");
        std::fs::write(&path, pattern(10, 0)).unwrap();
        run(rt, async {
            let f = File::open(&path).await.unwrap();
            let (res, buf) = f.read_at(Vec::with_capacity(64), 4).await;
            assert_eq!(res.unwrap(), 6, "a short read at the end");
            assert_eq!(buf, pattern(6, 4));
            let (res, buf) = f.read_at(Vec::with_capacity(64), 10).await;
            assert_eq!(res.unwrap(), 0);
            assert!(buf.is_empty());
            let (res, _) = f.read_at(Vec::with_capacity(64), 1 << 40).await;
            assert_eq!(res.unwrap(), 0);
            let (res, buf) = f.read_exact_at(Vec::with_capacity(64), 0).await;
            assert_eq!(res.unwrap_err().kind(), ErrorKind::UnexpectedEof);
            assert_eq!(buf, pattern(10, 0), "what was read before the end is kept");
            let (res, buf) = f.read_exact_at(Vec::with_capacity(8), 2).await;
            res.unwrap();
            assert_eq!(buf, pattern(8, 2));
        });
    }

    fn write_all_at_and_static_buffers(rt: &mut Runtime) {
        let dir = TempDir::new("static");
        let path = dir.path("s.txt");
        run(rt, async {
            let f = File::create(&path).await.unwrap();
            let (res, s) = f.write_all_at("hello, ", 0).await;
            res.unwrap();
            assert_eq!(s, "hello, ");
            let (res, _) = f.write_all_at(&b"world"[..], 7).await;
            res.unwrap();
            f.sync_all().await.unwrap();
            f.sync_data().await.unwrap();
        });
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "hello, world");
    }

    fn errors_have_tokios_kinds(rt: &mut Runtime) {
        let dir = TempDir::new("err");
        run(rt, async {
            let missing = dir.path("missing.bin");
            assert_eq!(File::open(&missing).await.unwrap_err().kind(), ErrorKind::NotFound);
            assert_eq!(fs::read(&missing).await.unwrap_err().kind(), ErrorKind::NotFound);
            assert_eq!(fs::metadata(&missing).await.unwrap_err().kind(), ErrorKind::NotFound);
            assert_eq!(fs::remove_file(&missing).await.unwrap_err().kind(), ErrorKind::NotFound);
            assert_eq!(
                File::create(dir.path("no/such/dir/x")).await.unwrap_err().kind(),
                ErrorKind::NotFound
            );
            // A directory opens, but reading it fails with "is a directory".
            let d = File::open(&dir.0).await.unwrap();
            let (res, buf) = d.read_at(Vec::with_capacity(16), 0).await;
            assert_eq!(res.unwrap_err().kind(), ErrorKind::IsADirectory);
            assert_eq!(buf.capacity(), 16, "the buffer comes back on errors too");
            assert_eq!(fs::read(&dir.0).await.unwrap_err().kind(), ErrorKind::IsADirectory);
            // Writing through a read-only handle: EBADF, an error, not a panic.
            let path = dir.path("ro.bin");
            std::fs::write(&path, b"x").unwrap();
            let ro = File::open(&path).await.unwrap();
            let (res, _) = ro.write_at(vec![1u8; 4], 0).await;
            assert!(res.is_err());
            // create_new on an existing file.
            assert_eq!(File::create_new(&path).await.unwrap_err().kind(), ErrorKind::AlreadyExists);
            std::fs::write(dir.path("bad.txt"), [0xFF, 0xFE]).unwrap();
            assert_eq!(
                fs::read_to_string(dir.path("bad.txt")).await.unwrap_err().kind(),
                ErrorKind::InvalidData
            );
            assert_eq!(
                fs::remove_dir(&dir.0).await.unwrap_err().kind(),
                ErrorKind::DirectoryNotEmpty
            );
        });
    }

    fn open_options_are_checked_like_std(rt: &mut Runtime) {
        let dir = TempDir::new("opts");
        let path = dir.path("o.txt");
        run(rt, async {
            let invalid = OpenOptions::new().open(&path).await.unwrap_err();
            assert_eq!(invalid.kind(), ErrorKind::InvalidInput);
            let invalid = OpenOptions::new().read(true).create(true).open(&path).await.unwrap_err();
            assert_eq!(invalid.kind(), ErrorKind::InvalidInput);
            let nul = File::open(dir.path("a\0b")).await.unwrap_err();
            assert_eq!(nul.kind(), ErrorKind::InvalidInput);
            let f = OpenOptions::new().append(true).create(true).mode(0o600).open(&path).await.unwrap();
            let (res, _) = f.write_at(b"one ".to_vec(), 0).await;
            res.unwrap();
            let (res, _) = f.write_at(b"two".to_vec(), 0).await;
            res.unwrap();
            drop(f);
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(fs::metadata(&path).await.unwrap().permissions().mode() & 0o777, 0o600);
            // O_APPEND: positional writes append on Linux.
            assert_eq!(fs::read_to_string(&path).await.unwrap(), "one two");
            let f = OpenOptions::new().write(true).truncate(true).open(&path).await.unwrap();
            drop(f);
            assert_eq!(fs::read(&path).await.unwrap(), b"");
        });
    }

    fn reads_of_every_size(rt: &mut Runtime) {
        let dir = TempDir::new("sizes");
        run(rt, async {
            for &len in &[0usize, 1, 63, 64, 65, 4095, 4096, 4097, 100_000, 1 << 20] {
                let path = dir.path(&format!("s{len}"));
                fs::write(&path, pattern(len, 3)).await.unwrap();
                assert_eq!(fs::read(&path).await.unwrap(), pattern(len, 3), "{len} bytes");
            }
        });
    }

    fn a_dropped_open_leaks_no_descriptor(rt: &mut Runtime) {
        let dir = TempDir::new("opendrop");
        let path = dir.path("x");
        std::fs::write(&path, b"x").unwrap();
        let fds = || std::fs::read_dir("/proc/self/fd").unwrap().count();
        // Warm: the runtime's own descriptors exist (ring, eventfd, threads' none).
        rt.block_on(async { drop(File::open(&path).await.unwrap()) });
        let before = fds();
        for _ in 0..50 {
            rt.block_on(async {
                let mut open = std::pin::pin!(File::open(&path));
                let waker = std::task::Waker::noop();
                drop(open.as_mut().poll(&mut std::task::Context::from_waker(waker)));
            });
            while rt.stats().fs_ops_in_flight > 0 {
                rt.tick();
                std::thread::yield_now();
            }
        }
        // The pool backend's opens are jobs: wait until they all finished too.
        let start = std::time::Instant::now();
        while fds() > before {
            assert!(start.elapsed() < GUARD, "descriptors leaked: {} > {before}", fds());
            rt.tick();
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    fn file_metadata_and_set_len(rt: &mut Runtime) {
        let dir = TempDir::new("meta");
        let path = dir.path("m.bin");
        run(rt, async {
            let f = OpenOptions::new().read(true).write(true).create(true).truncate(true).open(&path).await.unwrap();
            f.set_len(12_345).await.unwrap();
            assert_eq!(f.metadata().await.unwrap().len(), 12_345);
            assert!(f.metadata().await.unwrap().is_file());
            f.set_len(10).await.unwrap();
            assert_eq!(fs::metadata(&path).await.unwrap().len(), 10);
            let g = f.try_clone().await.unwrap();
            assert_eq!(g.metadata().await.unwrap().len(), 10);
        });
    }

    fn free_functions(rt: &mut Runtime) {
        let dir = TempDir::new("free");
        run(rt, async {
            let nested = dir.path("a/b/c");
            fs::create_dir_all(&nested).await.unwrap();
            fs::create_dir_all(&nested).await.unwrap(); // already there: fine
            let file = nested.join("cfg.toml");
            fs::write(&file, "level = 1\n").await.unwrap();
            assert_eq!(fs::read(&file).await.unwrap(), b"level = 1\n");
            assert_eq!(fs::read_to_string(&file).await.unwrap(), "level = 1\n");
            assert!(fs::try_exists(&file).await.unwrap());
            let copy = dir.path("a/copy.toml");
            assert_eq!(fs::copy(&file, &copy).await.unwrap(), 10);
            let moved = dir.path("a/moved.toml");
            fs::rename(&copy, &moved).await.unwrap();
            assert!(!fs::try_exists(&copy).await.unwrap());
            assert_eq!(fs::metadata(&moved).await.unwrap().len(), 10);
            let mut names = Vec::new();
            let mut entries = fs::read_dir(dir.path("a")).await.unwrap();
            while let Some(e) = entries.next_entry().await.unwrap() {
                names.push((e.file_name().into_string().unwrap(), e.file_type().await.unwrap().is_dir()));
            }
            names.sort();
            assert_eq!(names, [("b".to_string(), true), ("moved.toml".to_string(), false)]);
            assert!(entries.next_entry().await.unwrap().is_none(), "stays at the end");
            fs::remove_file(&moved).await.unwrap();
            fs::remove_dir_all(dir.path("a")).await.unwrap();
            assert!(!fs::try_exists(dir.path("a")).await.unwrap());
        });
    }

    fn read_dir_of_many_entries(rt: &mut Runtime) {
        let dir = TempDir::new("many");
        for i in 0..100 {
            std::fs::write(dir.path(&format!("f{i:03}")), [i as u8]).unwrap();
        }
        let n = run(rt, async {
            let mut entries = fs::read_dir(&dir.0).await.unwrap();
            let mut n = 0;
            while let Some(e) = entries.next_entry().await.unwrap() {
                assert_eq!(e.metadata().await.unwrap().len(), 1);
                assert_eq!(e.path().parent().unwrap(), dir.0);
                n += 1;
            }
            n
        });
        assert_eq!(n, 100);
    }

    fn many_concurrent_reads_beyond_the_depth(rt: &mut Runtime) {
        // The runtime's depth is 64; 300 reads from 300 tasks wait for slots, all finish.
        let dir = TempDir::new("depth");
        let path = dir.path("big.bin");
        std::fs::write(&path, pattern(300 * 512, 0)).unwrap();
        let file = std::rc::Rc::new(rt.block_on(File::open(&path)).unwrap());
        let handles: Vec<_> = (0..300)
            .map(|i| {
                let f = file.clone();
                rt.spawn(async move {
                    let (res, buf) = f.read_at(Vec::with_capacity(512), i * 512).await;
                    assert_eq!(res.unwrap(), 512);
                    assert_eq!(buf, pattern(512, i as usize * 512));
                })
            })
            .collect();
        let peak = run(rt, async move {
            let mut peak = 0;
            for h in handles {
                peak = peak.max(tickslab_runtime::RuntimeStats::current().unwrap().fs_ops_in_flight);
                h.await.unwrap();
            }
            peak
        });
        assert!(peak <= 64, "more operations in flight than the depth: {peak}");
        // A pool worker lets go of its operation just after it reports completion: the last
        // slot may come back a moment after the last task finished.
        let start = std::time::Instant::now();
        while rt.stats().fs_ops_in_flight != 0 {
            assert!(
                start.elapsed() < std::time::Duration::from_secs(20),
                "an operation slot was never returned: {} in flight",
                rt.stats().fs_ops_in_flight
            );
            rt.block_on(tickslab_runtime::yield_now());
        }
    }

    fn a_read_dropped_in_flight_keeps_its_buffer_until_completion(rt: &mut Runtime) {
        let dir = TempDir::new("drop");
        let path = dir.path("d.bin");
        std::fs::write(&path, pattern(BIG, 0)).unwrap();
        let file = rt.block_on(File::open(&path)).unwrap();
        for round in 0..ROUNDS {
            // Poll a big read once, then drop it: in flight (queued or submitted).
            rt.block_on(async {
                let mut read = std::pin::pin!(file.read_at(Vec::with_capacity(BIG), 0));
                let waker = std::task::Waker::noop();
                let poll = read.as_mut().poll(&mut std::task::Context::from_waker(waker));
                if let std::task::Poll::Ready((res, _)) = poll {
                    res.unwrap();
                }
            });
            // Memory freed now would be handed out again here: fill it with canaries.
            let canaries: Vec<Vec<u8>> = (0..4).map(|_| vec![0xA5u8; BIG]).collect();
            // Drive the runtime until the dropped read completed.
            while rt.stats().fs_ops_in_flight > 0 {
                rt.tick();
                std::thread::yield_now();
            }
            for c in &canaries {
                assert!(c.iter().all(|&b| b == 0xA5), "round {round}: a read landed in reused memory");
            }
        }
    }

    fn a_runtime_dropped_with_reads_in_flight_finishes_them(rt: &mut Runtime) {
        let dir = TempDir::new("rtdrop");
        let path = dir.path("r.bin");
        std::fs::write(&path, pattern(1 << 20, 0)).unwrap();
        let file = std::rc::Rc::new(rt.block_on(File::open(&path)).unwrap());
        for _ in 0..32 {
            let f = file.clone();
            drop(rt.spawn(async move {
                let (res, _) = f.read_at(Vec::with_capacity(1 << 20), 0).await;
                res.unwrap();
            }));
        }
        rt.tick(); // the tasks submit their reads
        // The test's `rt` is dropped by the harness after this body, with the reads in
        // flight: the drop waits for them (and LeakSanitizer sees every buffer freed).
    }

    fn a_future_outliving_its_runtime_still_completes(rt: &mut Runtime) {
        let dir = TempDir::new("outlive");
        let path = dir.path("o.bin");
        std::fs::write(&path, pattern(4096, 0)).unwrap();
        let _ = rt;
        let rt2 = runtime(if module_path!().ends_with("uring") { FsBackend::IoUring } else { FsBackend::ThreadPool }, 8).unwrap();
        let file = rt2.block_on(File::open(&path)).unwrap();
        let mut read = Box::pin(file.read_at(Vec::with_capacity(4096), 0));
        let first = rt2.block_on(async {
            let waker = std::task::Waker::noop();
            read.as_mut().poll(&mut std::task::Context::from_waker(waker))
        });
        drop(rt2); // waits for the read in flight
        let other = Runtime::new().unwrap();
        let (res, buf) = match first {
            std::task::Poll::Ready(out) => out,
            std::task::Poll::Pending => other.block_on(read),
        };
        // Done before the drop finished (the data), or refused for the shutdown: never lost.
        match res {
            Ok(n) => assert_eq!(&buf[..n], &pattern(n, 0)[..]),
            Err(e) => assert!(e.to_string().contains("shut down"), "{e}"),
        }
        // New operations on a dead runtime's file are errors, not panics.
        let (res, _) = other.block_on(file.read_at(Vec::with_capacity(8), 0));
        assert!(res.unwrap_err().to_string().contains("shut down"));
    }

    fn depth_one_serialises_but_works(rt: &mut Runtime) {
        let _ = rt;
        let backend = if module_path!().ends_with("uring") { FsBackend::IoUring } else { FsBackend::ThreadPool };
        let mut rt = runtime(backend, 1).unwrap();
        let dir = TempDir::new("d1");
        let path = dir.path("x.bin");
        std::fs::write(&path, pattern(8192, 0)).unwrap();
        let file = std::rc::Rc::new(rt.block_on(File::open(&path)).unwrap());
        let handles: Vec<_> = (0..16u64)
            .map(|i| {
                let f = file.clone();
                rt.spawn(async move { f.read_at(Vec::with_capacity(512), i * 512).await.0.unwrap() })
            })
            .collect();
        let total: usize = run(&mut rt, async move {
            let mut t = 0;
            for h in handles {
                t += h.await.unwrap();
            }
            t
        });
        assert_eq!(total, 8192);
    }
}

/// The io_uring half of the cancellation hazard, with a read the kernel really holds: a
/// read from an empty FIFO stays in flight until data arrives. The future is dropped, the
/// memory around is reused, then the data comes: the kernel writes into the parked buffer
/// (still alive), never into the canaries. Under AddressSanitizer (`.ci/asan`) a freed
/// buffer would also show as a use after free when the completion drops it.
#[test]
fn uring_read_dropped_while_the_kernel_holds_it() {
    use std::io::Write;
    let Some(mut rt) = runtime(FsBackend::IoUring, 8) else {
        return;
    };
    let dir = TempDir::new("fifo");
    let path = dir.path("pipe");
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    assert_eq!(unsafe_free_mkfifo(&c), 0);
    let reader = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags_nonblock()
        .open(&path)
        .unwrap();
    let mut writer = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    let _enter = rt.enter();
    let file = File::from_std(reader);
    for round in 0..20u8 {
        rt.block_on(async {
            let mut read = std::pin::pin!(file.read_at(vec![0u8; 64 << 10], 0));
            let waker = std::task::Waker::noop();
            let poll = read
                .as_mut()
                .poll(&mut std::task::Context::from_waker(waker));
            assert!(poll.is_pending(), "an empty FIFO has nothing to read yet");
        });
        rt.tick(); // submitted to the kernel, which waits for data
        assert_eq!(rt.stats().fs_ops_in_flight, 1);
        let canaries: Vec<Vec<u8>> = (0..8).map(|_| vec![0x5Au8; 64 << 10]).collect();
        writer.write_all(&[round; 4096]).unwrap();
        let start = std::time::Instant::now();
        while rt.stats().fs_ops_in_flight > 0 {
            assert!(start.elapsed() < GUARD, "the completion never came");
            rt.tick();
            std::thread::yield_now();
        }
        for c in &canaries {
            assert!(
                c.iter().all(|&b| b == 0x5A),
                "round {round}: the kernel wrote into reused memory"
            );
        }
    }
}

/// A runtime dropped while the kernel holds a read no writer will ever feed (a FIFO) does
/// not wait forever: its shutdown cancels what is in flight, and the buffer is freed only
/// after the cancellation's completion.
#[test]
fn uring_drop_cancels_a_read_that_would_never_complete() {
    let Some(mut rt) = runtime(FsBackend::IoUring, 8) else {
        return;
    };
    let dir = TempDir::new("fifo-cancel");
    let path = dir.path("pipe");
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    assert_eq!(unsafe_free_mkfifo(&c), 0);
    let reader = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags_nonblock()
        .open(&path)
        .unwrap();
    // A writer that stays open and silent: the read can only end by cancellation.
    let _writer = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    let file = {
        let _enter = rt.enter();
        std::rc::Rc::new(File::from_std(reader))
    };
    let f = file.clone();
    let reader = rt.spawn(async move { f.read_at(vec![0u8; 4096], 0).await.0 });
    rt.tick();
    rt.tick();
    assert_eq!(rt.stats().fs_ops_in_flight, 1);
    drop(reader);
    drop(rt); // must return
}

/// `mkfifo` without `unsafe` in the test: through the `mkfifo` command.
fn unsafe_free_mkfifo(path: &std::ffi::CStr) -> i32 {
    let status = std::process::Command::new("mkfifo")
        .arg(path.to_str().unwrap())
        .status()
        .unwrap();
    if status.success() { 0 } else { -1 }
}

trait NonBlock {
    fn custom_flags_nonblock(&mut self) -> &mut Self;
}
impl NonBlock for std::fs::OpenOptions {
    fn custom_flags_nonblock(&mut self) -> &mut Self {
        use std::os::unix::fs::OpenOptionsExt;
        // Opening a FIFO's read end does not wait for a writer with O_NONBLOCK.
        self.custom_flags(0o4000)
    }
}

/// The blocking pool's half: a read queued behind a busy worker is dropped; the memory
/// around is reused; when the worker gets to it, `pread` fills the parked buffer.
#[test]
fn pool_read_dropped_while_queued() {
    let rt = Runtime::builder()
        .fs_backend(FsBackend::ThreadPool)
        .max_blocking_threads(1)
        .build();
    let dir = TempDir::new("queued");
    let path = dir.path("q.bin");
    std::fs::write(&path, pattern(BIG, 0)).unwrap();
    let file = rt.block_on(File::open(&path)).unwrap();
    for round in 0..ROUNDS {
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        rt.block_on(async {
            // The only worker is busy until released.
            drop(tickslab_runtime::task::spawn_blocking(move || {
                release_rx.recv().unwrap()
            }));
            let mut read = std::pin::pin!(file.read_at(Vec::with_capacity(BIG), 0));
            let waker = std::task::Waker::noop();
            assert!(
                read.as_mut()
                    .poll(&mut std::task::Context::from_waker(waker))
                    .is_pending()
            );
        });
        assert_eq!(
            rt.stats().fs_ops_in_flight,
            1,
            "the dropped read is still parked"
        );
        let canaries: Vec<Vec<u8>> = (0..4).map(|_| vec![0xC3u8; BIG]).collect();
        release_tx.send(()).unwrap();
        let start = std::time::Instant::now();
        while rt.stats().fs_ops_in_flight > 0 {
            assert!(start.elapsed() < GUARD, "the queued read never ran");
            std::thread::yield_now();
        }
        for c in &canaries {
            assert!(
                c.iter().all(|&b| b == 0xC3),
                "round {round}: pread wrote into reused memory"
            );
        }
    }
}

/// A runtime that used files (its ring, eventfd, pool threads, open files in flight)
/// leaves no descriptor behind when dropped.
#[test]
fn a_dropped_runtime_leaves_no_descriptor() {
    let fds = || std::fs::read_dir("/proc/self/fd").unwrap().count();
    let dir = TempDir::new("fds");
    let path = dir.path("x.bin");
    std::fs::write(&path, pattern(1 << 16, 0)).unwrap();
    for backend in [FsBackend::ThreadPool, FsBackend::IoUring] {
        // Other tests of this binary open files meanwhile: retry a few times for a quiet
        // moment rather than compare against a count they change.
        let mut last = None;
        for _ in 0..20 {
            let before = fds();
            let Some(mut rt) = runtime(backend, 8) else {
                return;
            };
            let file = std::rc::Rc::new(rt.block_on(File::open(&path)).unwrap());
            for i in 0..8u64 {
                let f = file.clone();
                drop(rt.spawn(async move {
                    let _ = f.read_at(Vec::with_capacity(4096), i * 4096).await;
                }));
            }
            rt.tick();
            drop(file);
            drop(rt);
            let after = fds();
            if after <= before {
                last = None;
                break;
            }
            last = Some((before, after));
        }
        assert_eq!(last, None, "{backend:?}: descriptors before and after");
    }
}

#[test]
#[should_panic(
    expected = "there is no reactor running, must be called from the context of a Tokio 1.x runtime"
)]
fn outside_a_runtime_a_file_operation_panics_with_tokio_s_message() {
    // Futures built and polled with no tickslab runtime entered (tokio's `no_rt` test).
    let _ = futures_lite_block_on(fs::read("/nonexistent"));
}

#[test]
fn after_its_runtime_is_gone_a_file_operation_is_an_error_and_backend_never_panics() {
    assert!(fs::backend().is_err(), "no runtime: an error, no panic");
    let rt = Runtime::new().unwrap();
    // A forgotten guard keeps the dead runtime current: its files report the shutdown.
    std::mem::forget(rt.enter());
    drop(rt);
    let err = futures_lite_block_on(fs::read("/nonexistent")).unwrap_err();
    assert!(tickslab_runtime::io::is_rt_shutdown_err(&err), "{err:?}");
    assert!(fs::backend().is_err());
}

/// Polls a future to completion on this thread with no runtime entered.
fn futures_lite_block_on<F: std::future::Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    let waker = std::task::Waker::noop();
    loop {
        if let std::task::Poll::Ready(v) =
            f.as_mut().poll(&mut std::task::Context::from_waker(waker))
        {
            return v;
        }
        std::thread::yield_now();
    }
}

#[test]
fn auto_picks_a_backend() {
    let rt = Runtime::new().unwrap();
    let b = rt.block_on(async { fs::backend().unwrap() });
    assert!(matches!(b, FsBackend::IoUring | FsBackend::ThreadPool));
    if uring_required() {
        assert_eq!(b, FsBackend::IoUring);
    }
}

#[test]
fn a_file_s_debug_names_tickslab_in_tokio_s_shape() {
    let dir = TempDir::new("debug");
    let path = dir.path("f");
    std::fs::write(&path, b"xyz").unwrap();
    let rt = Runtime::new().unwrap();
    let file = rt.block_on(File::open(&path)).unwrap();
    let shown = format!("{file:?}");
    // tokio's reads `tokio::fs::File { std: File { fd: ..`; a tickslab log names tickslab.
    assert!(
        shown.starts_with("tickslab::fs::File { std: File { fd:"),
        "{shown}"
    );
    assert!(shown.ends_with("pos: 0 }"), "{shown}");
}
