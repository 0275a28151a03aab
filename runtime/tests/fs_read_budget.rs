//! The read budget (`Builder::fs_read_budget`), on both backends: whole-file reads
//! (`fs::read`) take their file's size from it (all of it for a larger file) before their
//! buffer is allocated, and give it back when they return or are dropped.
//!
//! What they prove: files larger than the budget still read whole and right, many at once
//! (no deadlock when every read wants more than there is); a read that holds the budget
//! keeps the next one waiting (while reads that need no budget go on), and gives it back
//! both when it completes and when its future is dropped mid-read. On a kernel that
//! refuses io_uring the io_uring halves say so and pass, unless `TICKSLAB_REQUIRE_URING=1`.

use std::path::PathBuf;
use std::rc::Rc;
use std::time::Duration;

use tickslab_runtime::fs::{self, File, FsBackend};
use tickslab_runtime::{Runtime, time::timeout};

/// Only detects hangs.
const GUARD: Duration = Duration::from_secs(30);

fn runtime(backend: FsBackend, budget: usize) -> Option<Runtime> {
    match Runtime::builder()
        .slab_bounded::<2048>(256)
        .fs_backend(backend)
        .fs_read_budget(budget)
        .try_build()
    {
        Ok(rt) => Some(rt),
        Err(e)
            if backend == FsBackend::IoUring
                && std::env::var_os("TICKSLAB_REQUIRE_URING").is_none_or(|v| v != "1") =>
        {
            eprintln!("io_uring refused here ({e}); set TICKSLAB_REQUIRE_URING=1 to fail instead");
            None
        }
        Err(e) => panic!("cannot build a runtime on {backend:?}: {e}"),
    }
}

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let dir =
            std::env::temp_dir().join(format!("tickslab-fs-budget-{}-{tag}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn pattern(len: usize, seed: usize) -> Vec<u8> {
    (0..len).map(|i| ((i + seed) % 251) as u8).collect()
}

/// Each test once per backend.
macro_rules! both_backends {
    ($($name:ident),*) => {
        mod pool {
            $( #[test] fn $name() { super::$name(super::FsBackend::ThreadPool, "pool") } )*
        }
        mod uring {
            $( #[test] fn $name() { super::$name(super::FsBackend::IoUring, "uring") } )*
        }
    };
}

both_backends!(
    files_larger_than_the_budget_read_whole_many_at_once,
    a_read_holding_the_budget_keeps_the_next_waiting_until_it_completes,
    a_dropped_read_gives_its_budget_back
);

fn files_larger_than_the_budget_read_whole_many_at_once(backend: FsBackend, tag: &str) {
    let Some(rt) = runtime(backend, 4096) else {
        return;
    };
    let dir = TempDir::new(&format!("large-{tag}"));
    let sizes = [0usize, 1, 4095, 4096, 4097, 100_000, 1 << 20, 3 << 20];
    let paths: Vec<PathBuf> = sizes
        .iter()
        .enumerate()
        .map(|(i, &len)| {
            let p = dir.0.join(format!("f{i}"));
            std::fs::write(&p, pattern(len, i)).unwrap();
            p
        })
        .collect();
    rt.block_on(async {
        timeout(GUARD, async {
            // Every file three times, all at once: 24 reads, most of them wanting more
            // than the whole budget.
            let handles: Vec<_> = (0..3)
                .flat_map(|_| paths.iter().cloned().enumerate())
                .map(|(i, p)| tickslab_runtime::spawn(async move { (i, fs::read(p).await) }))
                .collect();
            for h in handles {
                let (i, bytes) = h.await.unwrap();
                assert_eq!(bytes.unwrap(), pattern(sizes[i], i), "file {i}");
            }
        })
        .await
        .expect("the reads hung (30 s guard)");
    });
}

/// A FIFO with a writer held open: `fs::read` of it opens at once, finds the size 0 (so
/// it takes 1 byte of the budget) and then waits in the kernel until data is written, and
/// ends when the writer closes.
fn fifo(dir: &TempDir) -> (PathBuf, std::fs::File) {
    let path = dir.0.join("pipe");
    let status = std::process::Command::new("mkfifo")
        .arg(&path)
        .status()
        .unwrap();
    assert!(status.success());
    // Read-write: never blocks on Linux, and keeps a writer present.
    let writer = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .unwrap();
    (path, writer)
}

/// Ticks `rt` until `other` (work that needs no budget) is done, a few times over: long
/// enough for an unblocked `fs::read` of a small cached file to have finished too.
fn settle(rt: &mut Runtime, file: &Rc<File>) {
    for _ in 0..20 {
        let f = file.clone();
        let h = rt.spawn(async move { f.read_at(Vec::with_capacity(16), 0).await.0 });
        while !h.is_finished() {
            rt.tick();
            std::thread::yield_now();
        }
        assert_eq!(rt.block_on(h).unwrap().unwrap(), 16);
    }
}

fn a_read_holding_the_budget_keeps_the_next_waiting_until_it_completes(
    backend: FsBackend,
    tag: &str,
) {
    use std::io::Write;
    let Some(mut rt) = runtime(backend, 1) else {
        return;
    };
    let dir = TempDir::new(&format!("complete-{tag}"));
    let (pipe, mut writer) = fifo(&dir);
    let plain = dir.0.join("plain");
    std::fs::write(&plain, pattern(64, 0)).unwrap();
    let file = Rc::new(rt.block_on(File::open(&plain)).unwrap());

    let first = rt.spawn(fs::read(pipe));
    settle(&mut rt, &file);
    let second = rt.spawn(fs::read(plain.clone()));
    settle(&mut rt, &file);
    assert!(!first.is_finished(), "the FIFO has no data yet");
    assert!(!second.is_finished(), "a read ran beyond the budget");

    // Data in two pieces, then the end (the only writer closes): a file that reports no
    // size is read to its end, not to its first short read.
    writer.write_all(b"x").unwrap();
    settle(&mut rt, &file);
    assert!(!second.is_finished(), "a read ran beyond the budget");
    writer.write_all(b"yz").unwrap();
    drop(writer);
    let (a, b) = rt.block_on(async {
        timeout(GUARD, async { (first.await, second.await) })
            .await
            .expect("hung")
    });
    assert_eq!(a.unwrap().unwrap(), b"xyz");
    assert_eq!(b.unwrap().unwrap(), pattern(64, 0));
}

fn a_dropped_read_gives_its_budget_back(backend: FsBackend, tag: &str) {
    use std::io::Write;
    let Some(mut rt) = runtime(backend, 1) else {
        return;
    };
    let dir = TempDir::new(&format!("dropped-{tag}"));
    let (pipe, mut writer) = fifo(&dir);
    let plain = dir.0.join("plain");
    std::fs::write(&plain, pattern(64, 0)).unwrap();
    let file = Rc::new(rt.block_on(File::open(&plain)).unwrap());

    let first = rt.spawn(fs::read(pipe));
    settle(&mut rt, &file);
    let second = rt.spawn(fs::read(plain.clone()));
    settle(&mut rt, &file);
    assert!(!second.is_finished(), "a read ran beyond the budget");

    // Dropping the FIFO read (its read stays in flight, its buffer parked) gives the
    // budget back: the waiting read goes on.
    first.abort();
    let b = rt.block_on(async { timeout(GUARD, second).await.expect("hung") });
    assert_eq!(b.unwrap().unwrap(), pattern(64, 0));
    // Feed the abandoned read (a blocking-pool thread waits in `pread`; the runtime's drop
    // waits for it, while io_uring's would cancel it).
    writer.write_all(b"x").unwrap();
}
