//! Exact heap-allocation counts for file I/O and blocking work, with a counting global
//! allocator, counted **process-wide** (the blocking pool's threads included).
//!
//! - Positional reads and writes into a caller's buffer (`read_at`, `write_at`,
//!   `sync_data`), once warm: 0 allocations, on both backends.
//! - `spawn_blocking`, once warm: exactly 1 allocation per call (the job's shared cell),
//!   freed once.
//!
//! "Warm" includes the pool having started the threads this workload makes it start (a
//! thread start allocates): the runtimes here allow 2 blocking threads, and the warm-up is
//! long enough for both to exist.
//!
//! One `#[test]` runs the cases one after another: process-wide counts would see the
//! allocations of tests running in parallel. A file of its own because a test binary has
//! exactly one `#[global_allocator]`.

use std::path::PathBuf;

use tickslab_alloc::counting::{AllocStats, CountingAlloc};
use tickslab_runtime::Runtime;
use tickslab_runtime::fs::{File, FsBackend, OpenOptions};
use tickslab_runtime::task::spawn_blocking;

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc::system();

const WARMUP: usize = 2_000;
const OPS: usize = 2_000;

fn temp_file(tag: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("tickslab-fs-alloc-{}-{tag}", std::process::id()));
    std::fs::write(&path, vec![7u8; 1 << 20]).unwrap();
    path
}

fn positional_io_allocates_nothing(backend: FsBackend) {
    let rt = match Runtime::builder()
        .fs_backend(backend)
        .max_blocking_threads(2)
        .build_checked()
    {
        Some(rt) => rt,
        None => return,
    };
    let path = temp_file(&format!("{backend:?}"));
    let stats = rt.block_on(async {
        let f = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .await
            .unwrap();
        let mut buf = Vec::with_capacity(4096);
        let mut out = vec![3u8; 4096];
        let round = async |f: &File, i: usize, buf: Vec<u8>, out: Vec<u8>| {
            let offset = ((i * 7919) % 255) as u64 * 4096;
            let (res, buf) = f.read_at(buf, offset).await;
            assert_eq!(res.unwrap(), 4096);
            let (res, out) = f.write_at(out, offset).await;
            assert_eq!(res.unwrap(), 4096);
            if i.is_multiple_of(100) {
                f.sync_data().await.unwrap();
            }
            (buf, out)
        };
        for i in 0..WARMUP {
            (buf, out) = round(&f, i, buf, out).await;
        }
        start_every_blocking_thread(2).await;
        let before = AllocStats::process();
        for i in 0..OPS {
            (buf, out) = round(&f, i, buf, out).await;
        }
        AllocStats::process().since(&before)
    });
    println!(
        "{backend:?}: {OPS} x (read_at + write_at of 4 KiB) + {} sync_data: {stats}",
        OPS / 100
    );
    assert_eq!(
        stats.allocs + stats.reallocs + stats.deallocs,
        0,
        "{backend:?}: positional I/O allocated once warm: {stats}"
    );
    drop(rt);
    std::fs::remove_file(&path).unwrap();
}

fn spawn_blocking_allocates_exactly_once() {
    let rt = Runtime::builder().max_blocking_threads(2).build();
    let stats = rt.block_on(async {
        for i in 0..WARMUP {
            assert_eq!(spawn_blocking(move || i).await.unwrap(), i);
        }
        start_every_blocking_thread(2).await;
        let before = AllocStats::process();
        for i in 0..OPS {
            assert_eq!(spawn_blocking(move || i * 2).await.unwrap(), i * 2);
        }
        wait_until_idle();
        AllocStats::process().since(&before)
    });
    println!("spawn_blocking: {OPS} calls: {stats}");
    assert_eq!(stats.allocs, OPS as u64, "one allocation per call: {stats}");
    assert_eq!(stats.deallocs, OPS as u64, "each freed once: {stats}");
    assert_eq!(stats.reallocs, 0, "{stats}");
}

/// A worker drops its reference to a job after waking the job's handle: waits until every
/// worker is idle again (it drops the job before it takes the pool's lock to go idle), so
/// that no job of before (or of the measured loop) is freed on the wrong side of a count.
/// Starts all `threads` of the blocking pool (jobs that wait for each other need one thread
/// each), then waits until they are idle. The pool starts threads lazily, when a job finds
/// every started one busy: on a slow or loaded machine that can first happen inside the
/// measured window, and a thread's start allocates.
async fn start_every_blocking_thread(threads: usize) {
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(threads));
    let jobs: Vec<_> = (0..threads)
        .map(|_| {
            let barrier = barrier.clone();
            spawn_blocking(move || {
                barrier.wait();
            })
        })
        .collect();
    for job in jobs {
        job.await.unwrap();
    }
    wait_until_idle();
}

fn wait_until_idle() {
    let start = std::time::Instant::now();
    loop {
        let s = tickslab_runtime::RuntimeStats::current().unwrap();
        if s.blocking_idle == s.blocking_threads {
            return;
        }
        assert!(
            start.elapsed() < std::time::Duration::from_secs(30),
            "a worker never went idle"
        );
        std::thread::yield_now();
    }
}

trait BuildChecked {
    fn build_checked(self) -> Option<Runtime>;
}

impl BuildChecked for tickslab_runtime::Builder {
    /// `None` for io_uring on a kernel that refuses it (unless CI requires it).
    fn build_checked(self) -> Option<Runtime> {
        match self.try_build() {
            Ok(rt) => Some(rt),
            Err(e) if std::env::var_os("TICKSLAB_REQUIRE_URING").is_none_or(|v| v != "1") => {
                eprintln!("io_uring refused here ({e}): its half is skipped");
                None
            }
            Err(e) => panic!("{e}"),
        }
    }
}

#[test]
fn allocation_counts() {
    positional_io_allocates_nothing(FsBackend::ThreadPool);
    positional_io_allocates_nothing(FsBackend::IoUring);
    spawn_blocking_allocates_exactly_once();
}
