//! An asset loader on the I/O thread: a generated tree of "assets" in a temp dir, loaded
//! with `tickslab::fs`, with a progress line, MB/s, and the heap allocations per read.
//!
//! `cargo run --release --example asset_loader [-- --backend uring|pool] [--mib N]`
//!
//! - **Generate**: `levels/level{0..3}/` with textures (64 KiB..1 MiB), meshes and audio
//!   banks, plus one pack file (`assets.pak`, N MiB, default 64) holding 4 KiB records.
//! - **Walk and load**: `fs::read_dir` down the tree, `fs::read` of every file, 64 at a
//!   time (each a slab task), hashing each asset on the blocking pool with
//!   `task::spawn_blocking` (what a game does to decompress or verify).
//! - **Stream the pack**: 20,000 random 4 KiB records with `File::read_at` into 32 reused
//!   buffers: once warm, 0 heap allocations per read (counted process-wide).

use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Instant;

use tickslab::alloc::counting::{AllocStats, CountingAlloc};
use tickslab::fs::{self, File, FsBackend};
use tickslab::task::spawn_blocking;
use tickslab::{Runtime, spawn_slab};

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc::system();

/// Records read from the pack.
const RECORDS: usize = 20_000;
/// Bytes per record.
const RECORD: usize = 4096;
/// Readers streaming the pack at once.
const READERS: usize = 32;
/// Files loaded at once.
const LOADERS: usize = 64;

fn main() -> std::io::Result<()> {
    let mut backend = FsBackend::Auto;
    let mut pack_mib = 64usize;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--backend" => {
                backend = match args.next().as_deref() {
                    Some("uring") => FsBackend::IoUring,
                    Some("pool") => FsBackend::ThreadPool,
                    _ => FsBackend::Auto,
                }
            }
            "--mib" => pack_mib = args.next().and_then(|v| v.parse().ok()).unwrap_or(64),
            other => eprintln!("ignored argument {other}"),
        }
    }
    let root = std::env::temp_dir().join(format!("tickslab-assets-{}", std::process::id()));
    let rt = Runtime::builder()
        .slab_bounded::<1024>(256)
        .fs_backend(backend)
        .try_build()?;
    let result = rt.block_on(run(&root, pack_mib));
    std::fs::remove_dir_all(&root)?;
    result
}

async fn run(root: &Path, pack_mib: usize) -> std::io::Result<()> {
    println!("backend: {:?}", fs::backend()?);
    let (files, bytes) = generate(root, pack_mib).await?;
    println!(
        "generated {files} assets ({:.1} MiB) and a {pack_mib} MiB pack in {}",
        bytes as f64 / (1 << 20) as f64,
        root.display()
    );

    // Walk the tree.
    let mut paths = Vec::new();
    let mut dirs = vec![root.join("levels")];
    while let Some(dir) = dirs.pop() {
        let mut entries = fs::read_dir(&dir).await?;
        while let Some(e) = entries.next_entry().await? {
            if e.file_type().await?.is_dir() {
                dirs.push(e.path());
            } else {
                paths.push(e.path());
            }
        }
    }

    // Load and hash every asset, LOADERS at a time.
    let start = Instant::now();
    let paths = Rc::new(paths);
    let next = Rc::new(std::cell::Cell::new(0usize));
    let loaded = Rc::new(std::cell::Cell::new(0u64));
    let total = paths.len();
    let mut workers = Vec::new();
    for _ in 0..LOADERS {
        let (paths, next, loaded) = (paths.clone(), next.clone(), loaded.clone());
        workers.push(spawn_slab(async move {
            let mut hash = 0u64;
            loop {
                let i = next.get();
                if i >= paths.len() {
                    return Ok::<_, std::io::Error>(hash);
                }
                next.set(i + 1);
                let bytes = fs::read(&paths[i]).await?;
                loaded.set(loaded.get() + bytes.len() as u64);
                hash ^= spawn_blocking(move || checksum(&bytes)).await?;
            }
        }));
    }
    let mut hash = 0;
    let mut last = 0;
    for w in workers {
        hash ^= w.await??;
        let done = next.get().min(total);
        if done != last {
            progress(done, total, loaded.get(), start);
            last = done;
        }
    }
    progress(total, total, loaded.get(), start);
    println!("\nloaded {total} assets, checksum {hash:016x}");

    // Stream random records of the pack.
    let pack = Rc::new(File::open(root.join("assets.pak")).await?);
    let records = (pack_mib << 20) / RECORD;
    let start = Instant::now();
    let mut readers = Vec::new();
    for r in 0..READERS {
        let pack = pack.clone();
        let mut buf = Vec::with_capacity(RECORD);
        readers.push(spawn_slab(async move {
            let mut seed = 0x9E37_79B9_7F4A_7C15u64 ^ r as u64;
            for _ in 0..RECORDS / READERS {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let record = (seed >> 33) as usize % records;
                let (res, back) = pack.read_at(buf, (record * RECORD) as u64).await;
                buf = back;
                assert_eq!(res?, RECORD);
                assert_eq!(buf[0], (record % 251) as u8, "record {record}");
            }
            Ok::<_, std::io::Error>(())
        }));
    }
    // Readers and buffers exist (slab tasks: no allocation to spawn them): count from here.
    let allocs = AllocStats::process();
    for r in readers {
        r.await??;
    }
    let elapsed = start.elapsed();
    let stats = AllocStats::process().since(&allocs);
    println!(
        "pack: {RECORDS} random {RECORD}-byte reads in {elapsed:.2?}: {:.0} MB/s, {:.0} reads/s, \
         {:.4} allocations per read ({stats})",
        (RECORDS * RECORD) as f64 / elapsed.as_secs_f64() / 1e6,
        RECORDS as f64 / elapsed.as_secs_f64(),
        (stats.allocs + stats.reallocs) as f64 / RECORDS as f64,
    );
    Ok(())
}

fn progress(done: usize, total: usize, bytes: u64, start: Instant) {
    let secs = start.elapsed().as_secs_f64().max(1e-9);
    print!(
        "\rloading {done:>5}/{total} assets, {:>7.1} MiB, {:>7.1} MB/s",
        bytes as f64 / (1 << 20) as f64,
        bytes as f64 / secs / 1e6
    );
    use std::io::Write;
    let _ = std::io::stdout().flush();
}

/// FNV-1a: stands in for decompression or verification.
fn checksum(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Writes the tree; returns (files, bytes).
async fn generate(root: &Path, pack_mib: usize) -> std::io::Result<(usize, u64)> {
    let mut files = 0;
    let mut bytes = 0u64;
    let kinds: [(&str, usize, usize); 3] = [
        ("tex", 64 << 10, 1 << 20),
        ("mesh", 16 << 10, 256 << 10),
        ("bank", 4 << 10, 512 << 10),
    ];
    let mut seed = 42u64;
    for level in 0..4 {
        let dir: PathBuf = root.join(format!("levels/level{level}"));
        fs::create_dir_all(&dir).await?;
        for (kind, min, max) in kinds {
            for i in 0..25 {
                seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
                let len = min + (seed >> 33) as usize % (max - min);
                fs::write(
                    dir.join(format!("{kind}{i:02}.bin")),
                    vec![(i % 251) as u8; len],
                )
                .await?;
                files += 1;
                bytes += len as u64;
            }
        }
    }
    // The pack: record k is filled with k % 251.
    let pack = File::create(root.join("assets.pak")).await?;
    let mut chunk = Vec::with_capacity(1 << 20);
    for c in 0..pack_mib {
        chunk.clear();
        for r in 0..(1 << 20) / RECORD {
            let record = c * ((1 << 20) / RECORD) + r;
            chunk.resize(chunk.len() + RECORD, (record % 251) as u8);
        }
        let (res, back) = pack.write_all_at(chunk, (c << 20) as u64).await;
        res?;
        chunk = back;
    }
    Ok((files, bytes))
}
