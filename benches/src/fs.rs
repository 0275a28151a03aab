//! The file workloads, side by side in one run: tickslab (io_uring, and the blocking-pool
//! fallback) vs tokio::fs vs std::fs, each on one runtime thread. Run by the `fs_compare`
//! binary and at the end of `compare`'s table.
//!
//! Workloads (the data is generated first, in a temp dir, and is **in the page cache** when
//! measured: this measures the runtimes' work around cached reads, not the disk):
//! - `small_files`: read 1,000 files of 4 KiB to 1 MiB (log-uniform sizes, ~170 MiB in
//!   all): all at once (one task per file), and by 16 loader tasks (what an asset loader
//!   does); std reads them one after another. tickslab: `fs::read`; tokio:
//!   `tokio::fs::read`; std: `std::fs::read`.
//! - `random_4k`: 20,000 random 4 KiB positional reads of one file of [`FsOpts::mib`] MiB
//!   (256 by default, as the issue asks; `--mib` or `TICKSLAB_FS_BENCH_MIB` for a smaller
//!   run), by 32 concurrent readers. tickslab: `File::read_at` into reused buffers; tokio
//!   (no positional read in `tokio::fs`): what `tokio::fs` does for each operation,
//!   `spawn_blocking` of `FileExt::read_exact_at`; std: `read_exact_at` in a loop.
//!
//! Each run times every contender once, in an order that rotates from run to run (so that
//! a burst of load on the shared machine does not always land on the same one); a cell is
//! the **median** of [`FsOpts::runs`] runs, and its ratio is tokio's median over the
//! contender's (above 1: faster than tokio::fs).

use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tickslab::fs::{File, FsBackend};

const FILES: usize = 1_000;
const READS: usize = 20_000;
const READERS: usize = 32;
const BLOCK: usize = 4096;

/// What to run.
#[derive(Clone, Debug)]
pub struct FsOpts {
    /// Size of the random-read file, MiB (default 256, or `TICKSLAB_FS_BENCH_MIB`).
    pub mib: usize,
    /// Measured runs per contender (the median is shown).
    pub runs: usize,
    /// Only workloads whose name contains one of these (all if empty).
    pub only: Vec<String>,
    /// Only contenders whose name contains one of these (all if empty; the ratio column
    /// needs tokio::fs among them).
    pub contenders: Vec<String>,
}

impl Default for FsOpts {
    fn default() -> Self {
        let mib = std::env::var("TICKSLAB_FS_BENCH_MIB")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(256);
        FsOpts {
            mib,
            runs: 5,
            only: Vec::new(),
            contenders: Vec::new(),
        }
    }
}

type Run<'a> = Box<dyn Fn() -> Duration + 'a>;
/// The contenders of one workload: a name and a timed run.
type Cells<'a> = Vec<(&'static str, Run<'a>)>;

/// Generates the data, runs the workloads, prints one markdown table, removes the data.
pub fn run(opts: &FsOpts) {
    let dir = std::env::temp_dir().join(format!("tickslab-fs-compare-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (paths, total) = generate_small(&dir);
    let big = dir.join("big.bin");
    generate_big(&big, opts.mib);
    let offsets = offsets(opts.mib);
    println!(
        "files: small_files: {FILES} files, {:.1} MiB; random_4k: {READS} reads of {BLOCK} B \
         in a {} MiB file, {READERS} readers; data in the page cache; median of {} runs, \
         contenders alternating",
        total as f64 / (1 << 20) as f64,
        opts.mib,
        opts.runs,
    );
    let uring_ok = tickslab::Runtime::builder()
        .fs_backend(FsBackend::IoUring)
        .try_build()
        .is_ok();
    let paths = &paths;
    let small = |loaders: usize| -> Cells {
        vec![
            (
                "tokio::fs",
                Box::new(move || tokio_small(paths, total, loaders)),
            ),
            (
                "tickslab io_uring",
                Box::new(move || tickslab_small(paths, total, FsBackend::IoUring, loaders)),
            ),
            (
                "tickslab pool",
                Box::new(move || tickslab_small(paths, total, FsBackend::ThreadPool, loaders)),
            ),
            ("std::fs", Box::new(move || std_small(paths, total))),
        ]
    };
    let random = || -> Cells {
        vec![
            ("tokio::fs", Box::new(|| tokio_random(&big, &offsets))),
            (
                "tickslab io_uring",
                Box::new(|| tickslab_random(&big, &offsets, FsBackend::IoUring)),
            ),
            (
                "tickslab pool",
                Box::new(|| tickslab_random(&big, &offsets, FsBackend::ThreadPool)),
            ),
            ("std::fs", Box::new(|| std_random(&big, &offsets))),
        ]
    };
    let workloads: Vec<(&str, Cells, u64)> = vec![
        ("small_files (all at once)", small(FILES), total),
        ("small_files (16 loaders)", small(16), total),
        ("random_4k", random(), (READS * BLOCK) as u64),
    ];
    let wanted = |name: &str, filter: &[String]| {
        filter.is_empty() || filter.iter().any(|f| name.contains(f.as_str()))
    };
    println!("\n| workload | contender | median | min..max | throughput | vs tokio::fs |");
    println!("|---|---|---:|---:|---:|---:|");
    for (name, cells, bytes) in &workloads {
        if !wanted(name, &opts.only) {
            continue;
        }
        let cells: Vec<&(&str, Run)> = cells
            .iter()
            .filter(|(who, _)| {
                (!who.contains("io_uring") || uring_ok) && wanted(who, &opts.contenders)
            })
            .collect();
        let mut times: Vec<Vec<Duration>> = vec![Vec::new(); cells.len()];
        for r in 0..opts.runs.max(1) {
            for k in 0..cells.len() {
                let i = (k + r) % cells.len();
                times[i].push((cells[i].1)());
            }
        }
        let median = |t: &mut Vec<Duration>| {
            t.sort();
            t[t.len() / 2]
        };
        let tokio = match cells.first() {
            Some((who, _)) if *who == "tokio::fs" => Some(median(&mut times[0])),
            _ => None,
        };
        for (cell, t) in cells.iter().zip(times.iter_mut()) {
            let m = median(t);
            let ratio = tokio.map_or("-".to_owned(), |tokio| {
                format!("{:.2}x", tokio.as_secs_f64() / m.as_secs_f64())
            });
            println!(
                "| {name} | {} | {:.2} ms | {:.1}..{:.1} ms | {:.0} MB/s | {ratio} |",
                cell.0,
                m.as_secs_f64() * 1e3,
                t[0].as_secs_f64() * 1e3,
                t[t.len() - 1].as_secs_f64() * 1e3,
                *bytes as f64 / m.as_secs_f64() / 1e6,
            );
        }
        if !uring_ok {
            println!("| {name} | tickslab io_uring | n/a (io_uring refused here) | | | |");
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
/// 1,000 files, log-uniform sizes from 4 KiB to 1 MiB (deterministic).
fn generate_small(dir: &Path) -> (Vec<PathBuf>, u64) {
    let mut seed = 7u64;
    let mut total = 0;
    let paths = (0..FILES)
        .map(|i| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let unit = (seed >> 11) as f64 / (1u64 << 53) as f64;
            let len = (4096.0 * 256f64.powf(unit)) as usize;
            let path = dir.join(format!("asset{i:04}.bin"));
            std::fs::write(&path, vec![(i % 251) as u8; len]).unwrap();
            total += len as u64;
            path
        })
        .collect();
    (paths, total)
}

fn generate_big(path: &Path, mib: usize) {
    let f = std::fs::File::create(path).unwrap();
    for c in 0..mib {
        let chunk: Vec<u8> = (0..1 << 20)
            .map(|i: usize| (((c << 20) + i) / BLOCK % 251) as u8)
            .collect();
        f.write_all_at(&chunk, (c << 20) as u64).unwrap();
    }
}

fn offsets(mib: usize) -> Vec<u64> {
    let blocks = (mib << 20) / BLOCK;
    let mut seed = 11u64;
    (0..READS)
        .map(|_| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((seed >> 33) as usize % blocks * BLOCK) as u64
        })
        .collect()
}

fn tickslab_rt(backend: FsBackend) -> tickslab::Runtime {
    tickslab::Runtime::builder()
        .slab_bounded::<1024>(2048)
        .fs_backend(backend)
        .build()
}

fn tickslab_small(paths: &[PathBuf], total: u64, backend: FsBackend, loaders: usize) -> Duration {
    let rt = tickslab_rt(backend);
    rt.block_on(async {
        // Warm the runtime (ring, threads) outside the measurement.
        tickslab::fs::read(&paths[0]).await.unwrap();
        let paths: Rc<[PathBuf]> = paths.into();
        let start = Instant::now();
        let handles: Vec<_> = (0..loaders)
            .map(|l| {
                let paths = paths.clone();
                tickslab::spawn_slab(async move {
                    let mut n = 0;
                    for p in paths.iter().skip(l).step_by(loaders) {
                        n += tickslab::fs::read(p).await.unwrap().len() as u64;
                    }
                    n
                })
            })
            .collect();
        let mut sum = 0;
        for h in handles {
            sum += h.await.unwrap();
        }
        assert_eq!(sum, total);
        start.elapsed()
    })
}

fn tokio_rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn tokio_small(paths: &[PathBuf], total: u64, loaders: usize) -> Duration {
    let rt = tokio_rt();
    rt.block_on(async {
        tokio::fs::read(&paths[0]).await.unwrap();
        let paths: Arc<[PathBuf]> = paths.into();
        let start = Instant::now();
        let handles: Vec<_> = (0..loaders)
            .map(|l| {
                let paths = paths.clone();
                tokio::spawn(async move {
                    let mut n = 0;
                    for p in paths.iter().skip(l).step_by(loaders) {
                        n += tokio::fs::read(p).await.unwrap().len() as u64;
                    }
                    n
                })
            })
            .collect();
        let mut sum = 0;
        for h in handles {
            sum += h.await.unwrap();
        }
        assert_eq!(sum, total);
        start.elapsed()
    })
}

fn std_small(paths: &[PathBuf], total: u64) -> Duration {
    let start = Instant::now();
    let sum: u64 = paths
        .iter()
        .map(|p| std::fs::read(p).unwrap().len() as u64)
        .sum();
    assert_eq!(sum, total);
    start.elapsed()
}

fn check(buf: &[u8], offset: u64) {
    assert_eq!(buf[0], (offset as usize / BLOCK % 251) as u8);
}

fn tickslab_random(big: &Path, offsets: &[u64], backend: FsBackend) -> Duration {
    let rt = tickslab_rt(backend);
    rt.block_on(async {
        let file = Rc::new(File::open(big).await.unwrap());
        let offsets: Rc<[u64]> = offsets.into();
        let (res, _) = file.read_at(Vec::with_capacity(BLOCK), 0).await;
        res.unwrap();
        let start = Instant::now();
        let handles: Vec<_> = (0..READERS)
            .map(|r| {
                let (file, offsets) = (file.clone(), offsets.clone());
                let mut buf = Vec::with_capacity(BLOCK);
                tickslab::spawn_slab(async move {
                    for &off in offsets.iter().skip(r).step_by(READERS) {
                        let (res, back) = file.read_at(buf, off).await;
                        buf = back;
                        assert_eq!(res.unwrap(), BLOCK);
                        check(&buf, off);
                    }
                })
            })
            .collect();
        for h in handles {
            h.await.unwrap();
        }
        start.elapsed()
    })
}

fn tokio_random(big: &Path, offsets: &[u64]) -> Duration {
    let rt = tokio_rt();
    rt.block_on(async {
        let file = Arc::new(std::fs::File::open(big).unwrap());
        let offsets: Arc<[u64]> = offsets.into();
        let start = Instant::now();
        let handles: Vec<_> = (0..READERS)
            .map(|r| {
                let (file, offsets) = (file.clone(), offsets.clone());
                tokio::spawn(async move {
                    let mut buf = vec![0u8; BLOCK];
                    for &off in offsets.iter().skip(r).step_by(READERS) {
                        let f = file.clone();
                        buf = tokio::task::spawn_blocking(move || {
                            f.read_exact_at(&mut buf, off).unwrap();
                            buf
                        })
                        .await
                        .unwrap();
                        check(&buf, off);
                    }
                })
            })
            .collect();
        for h in handles {
            h.await.unwrap();
        }
        start.elapsed()
    })
}

fn std_random(big: &Path, offsets: &[u64]) -> Duration {
    let file = std::fs::File::open(big).unwrap();
    let mut buf = vec![0u8; BLOCK];
    let start = Instant::now();
    for &off in offsets {
        file.read_exact_at(&mut buf, off).unwrap();
        check(&buf, off);
    }
    start.elapsed()
}
