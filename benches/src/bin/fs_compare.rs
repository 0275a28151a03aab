//! Files, side by side in one run: tickslab (io_uring, and the blocking-pool fallback) vs
//! tokio::fs vs std::fs, each on one runtime thread (see [`tickslab_benches::fs`]).
//!
//! ```text
//! cargo run --release -p tickslab-benches --bin fs_compare [-- --mib N] [--runs N] \
//!     [--only <workload>] [--contender <name>]
//! ```
//! `--mib`: the random-read file's size (default 256, or `TICKSLAB_FS_BENCH_MIB`);
//! `--only`/`--contender`: substrings of the workloads/contenders to run (the ratio
//! column needs tokio::fs among them).

use tickslab_benches::fs::{FsOpts, run};

fn main() {
    let mut opts = FsOpts::default();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| panic!("{a}: missing value"));
        match a.as_str() {
            "--mib" => opts.mib = value().parse().expect("--mib N"),
            "--runs" => opts.runs = value().parse().expect("--runs N"),
            "--only" => opts.only.push(value()),
            "--contender" => opts.contenders.push(value()),
            "--bench" => {}
            other => panic!("unknown argument {other}"),
        }
    }
    run(&opts);
}
