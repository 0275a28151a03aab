//! Quick comparison: a short run of every workload on every contender that supports it;
//! prints ns/op, CPU ns/op, heap allocations per op (measuring thread and whole process)
//! and tickslab's ratios, in one table.
//!
//! ```text
//! cargo run --release -p tickslab-benches --bin compare
//! cargo run --release -p tickslab-benches --bin compare -- --only dispatch
//! cargo run --release -p tickslab-benches --bin compare -- --only dispatch \
//!     --contender tickslab_slab --iters 100000      # one run, for callgrind
//! ```
//!
//! Options:
//! - `--only <text>[,<text>...]`: only workloads whose id contains `<text>` (e.g.
//!   `spawn_join/1`, `timers`, `net/tcp`); an exact id match wins over substrings.
//! - `--contender <name>`: only that contender (e.g. `tickslab_slab`, `tokio_localset`,
//!   `nexus_slab`); repeatable.
//! - `--iters <n>`: callgrind mode: after one untimed warm-up run, exactly one run of
//!   `<n>` iterations through [`callgrind_measured`] (a named `#[inline(never)]` function
//!   for `valgrind --tool=callgrind --toggle-collect=*callgrind_measured*`).
//! - `--runs <n>`: measured runs per cell (default 5, each sized to about 25 ms; the
//!   fastest is reported).
//!
//! An "op" is one task (`spawn_join/*`, `frame/tasks_100`, `timers/sleep_10k`), one
//! poll (`dispatch`), one round trip (`remote_wake`, `net/*`, `cross/*`), one timeout,
//! one allocation (`frame/alloc_1000`) or one allocation + drop (`pool/*`).

use std::hint::black_box;
use std::time::Duration;

use tickslab::alloc::counting::CountingAlloc;
use tickslab_benches::workload::{SLOW_AFTER, STALL_AFTER, TIMEOUT, slow, stalls, timeouts_fired};
use tickslab_benches::{Bench, Contender, Family, Sample, Workload};

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc::system();

/// Most iterations per measured run (one iteration = `Workload::elements` ops); fewer
/// when the warm-up shows a run would take longer than [`RUN_TARGET`].
fn default_iters(workload: Workload) -> u64 {
    match workload {
        Workload::SpawnJoin { batch: 1 } => 100_000,
        Workload::SpawnJoin { batch } => (100_000 / batch as u64).max(1),
        Workload::Dispatch => 1_000_000,
        Workload::RemoteWake => 5_000,
        Workload::SleepBatch => 3,
        Workload::TimeoutReady => 500_000,
        Workload::TimeoutArmed => 200_000,
        Workload::TcpEcho | Workload::UdpPingPong => 5_000,
        Workload::ArenaAlloc => 1_000,
        Workload::FrameTasks => 1_000,
        Workload::CrossRoundTrip => 5_000,
        Workload::PoolAllocDrop => 2_000_000,
        Workload::PoolBatch | Workload::PoolSyncReturn => 2_000,
    }
}

/// The measured call, named for callgrind's `--toggle-collect`: instructions are counted
/// only while this function is on the stack (the workload's run, including `block_on`
/// entry and the run's setup; take the difference of two iteration counts to cancel those).
#[inline(never)]
fn callgrind_measured(bench: &mut dyn Bench, workload: Workload, iters: u64) -> Sample {
    black_box(bench.run(black_box(workload), black_box(iters)))
}

/// One cell of the table.
#[derive(Clone, Copy, Debug)]
struct Cell {
    workload: Workload,
    contender: Contender,
    ops: f64,
    sample: Sample,
    /// Stalls counted while measuring (see `tickslab_benches::workload::STALL_AFTER`).
    stalls: u64,
    /// Timeouts that fired although their future was ready.
    fired: u64,
    /// Cross-thread answers slower than `SLOW_AFTER`.
    slow: u64,
}

impl Cell {
    fn ns_per_op(&self) -> f64 {
        self.sample.wall.as_nanos() as f64 / self.ops
    }
    fn cpu_ns_per_op(&self) -> f64 {
        self.sample.cpu.as_nanos() as f64 / self.ops
    }
    /// The number ratios are computed from (CPU time for `timers/sleep_10k`).
    fn headline(&self) -> f64 {
        if self.workload.cpu_metric() {
            self.cpu_ns_per_op()
        } else {
            self.ns_per_op()
        }
    }
}

/// Target duration of one measured run: iterations are scaled down from
/// [`default_iters`] for contenders that are slow on a workload.
const RUN_TARGET: Duration = Duration::from_millis(25);

/// Warm-up run (a tenth of the iterations, also used to size the runs to
/// [`RUN_TARGET`]), then `runs` measured runs; keeps the fastest wall and CPU times and
/// the fewest allocations (each over the runs). Returns the iterations per run too.
fn measure(bench: &mut dyn Bench, workload: Workload, iters: u64, runs: usize) -> (u64, Sample) {
    let warm = (iters / 10).max(1);
    let warm_time = bench.run(workload, warm).wall;
    let per_iter = warm_time.as_secs_f64() / warm as f64;
    let iters = ((RUN_TARGET.as_secs_f64() / per_iter) as u64).clamp(1, iters);
    let mut best: Option<Sample> = None;
    for _ in 0..runs {
        let s = bench.run(workload, iters);
        best = Some(match best {
            None => s,
            Some(b) => Sample {
                wall: b.wall.min(s.wall),
                cpu: b.cpu.min(s.cpu),
                allocs_thread: b.allocs_thread.min(s.allocs_thread),
                allocs_process: b.allocs_process.min(s.allocs_process),
            },
        });
    }
    (iters, best.expect("at least one run"))
}

struct Args {
    only: Option<String>,
    contenders: Vec<Contender>,
    iters: Option<u64>,
    runs: usize,
}

fn parse_args() -> Args {
    let mut args = Args {
        only: None,
        contenders: Vec::new(),
        iters: None,
        runs: 5,
    };
    let mut it = std::env::args().skip(1);
    let usage = "usage: compare [--only <workload>] [--contender <name>]... [--iters <n>] \
                 [--runs <n>]";
    while let Some(a) = it.next() {
        let mut value = || {
            it.next()
                .unwrap_or_else(|| panic!("{a}: missing value\n{usage}"))
        };
        match a.as_str() {
            "--only" => args.only = Some(value()),
            "--contender" => {
                let name = value();
                let c = Contender::from_name(&name).unwrap_or_else(|| {
                    let names: Vec<_> = Contender::ALL.iter().map(|c| c.name()).collect();
                    panic!("unknown contender {name}; one of {names:?}")
                });
                args.contenders.push(c);
            }
            "--iters" => args.iters = Some(value().parse().expect("--iters: a number")),
            "--runs" => args.runs = value().parse().expect("--runs: a number"),
            "--bench" => {} // passed by `cargo bench`
            "-h" | "--help" => {
                println!("{usage}");
                std::process::exit(0);
            }
            other => panic!("unknown argument {other}\n{usage}"),
        }
    }
    args
}

fn selected_workloads(only: Option<&str>) -> Vec<Workload> {
    let Some(only) = only else {
        return Workload::ALL.to_vec();
    };
    let mut out = Vec::new();
    for pattern in only.split(',') {
        let exact: Vec<_> = Workload::ALL
            .iter()
            .copied()
            .filter(|w| w.id() == pattern)
            .collect();
        let matched = if exact.is_empty() {
            Workload::ALL
                .iter()
                .copied()
                .filter(|w| w.id().contains(pattern))
                .collect()
        } else {
            exact
        };
        if matched.is_empty() {
            let ids: Vec<_> = Workload::ALL.iter().map(|w| w.id()).collect();
            panic!("no workload matches {pattern:?}; ids: {ids:?}");
        }
        for w in matched {
            if !out.contains(&w) {
                out.push(w);
            }
        }
    }
    out
}

fn main() {
    let args = parse_args();
    let workloads = selected_workloads(args.only.as_deref());
    let contenders: Vec<Contender> = if args.contenders.is_empty() {
        Contender::ALL.to_vec()
    } else {
        args.contenders.clone()
    };

    let mut cells = Vec::new();
    for &contender in &contenders {
        let todo: Vec<Workload> = workloads
            .iter()
            .copied()
            .filter(|&w| contender.supports(w))
            .collect();
        if todo.is_empty() {
            continue;
        }
        // One instance per contender, dropped before the next (nexus-async-rt allows one
        // live runtime per thread).
        let mut bench = contender.build();
        for workload in todo {
            eprint!(
                "\r{:<60}",
                format!("{} on {}", workload.id(), contender.name())
            );
            let (stalls_before, fired_before, slow_before) = (stalls(), timeouts_fired(), slow());
            let (iters, sample) = match args.iters {
                Some(iters) => {
                    bench.run(workload, (iters / 10).max(1));
                    let sample = callgrind_measured(bench.as_mut(), workload, iters);
                    // Machine-readable, for benches/callgrind.sh.
                    println!(
                        "callgrind-run workload={} contender={} iters={iters} ops={}",
                        workload.id(),
                        contender.name(),
                        iters * workload.elements()
                    );
                    (iters, sample)
                }
                None => measure(bench.as_mut(), workload, default_iters(workload), args.runs),
            };
            cells.push(Cell {
                workload,
                contender,
                ops: (iters * workload.elements()) as f64,
                sample,
                stalls: stalls() - stalls_before,
                fired: timeouts_fired() - fired_before,
                slow: slow() - slow_before,
            });
        }
    }
    eprint!("\r{:<60}\r", "");
    print_table(&workloads, &cells);
}

fn find(cells: &[Cell], w: Workload, c: Contender) -> Option<&Cell> {
    cells.iter().find(|x| x.workload == w && x.contender == c)
}

fn print_table(workloads: &[Workload], cells: &[Cell]) {
    println!(
        "{:<22} {:<15} {:>10} {:>10} {:>9} {:>9} {:>8}",
        "workload", "contender", "ns/op", "cpu ns/op", "alloc/op", "alloc/op", "tickslab"
    );
    println!(
        "{:<22} {:<15} {:>10} {:>10} {:>9} {:>9} {:>8}",
        "", "", "", "", "(thread)", "(all)", "÷ this"
    );
    for &w in workloads {
        let tick = find(cells, w, Contender::tickslab_for(w));
        let mut any = false;
        for cell in cells.iter().filter(|c| c.workload == w) {
            any = true;
            let ratio = tick.map_or("-".to_owned(), |t| {
                format!("{:.2}", t.headline() / cell.headline())
            });
            let cpu_mark = if w.cpu_metric() { "*" } else { " " };
            println!(
                "{:<22} {:<15} {:>10.1} {:>9.1}{cpu_mark} {:>9.3} {:>9.3} {:>8}",
                w.id(),
                cell.contender.name(),
                cell.ns_per_op(),
                cell.cpu_ns_per_op(),
                cell.sample.allocs_thread as f64 / cell.ops,
                cell.sample.allocs_process as f64 / cell.ops,
                ratio
            );
        }
        if any {
            println!();
        }
    }
    for cell in cells.iter().filter(|c| c.stalls > 0) {
        println!(
            "! {} on {}: {} stall(s): no answer within {STALL_AFTER:?} to a cross-thread \
             wake, nudged again (a lost wake, or a thread not scheduled that long)",
            cell.workload.id(),
            cell.contender.name(),
            cell.stalls
        );
    }
    for cell in cells.iter().filter(|c| c.slow > 0) {
        println!(
            "! {} on {}: {} answer(s) slower than {SLOW_AFTER:?} (of {} ops + warm-up)",
            cell.workload.id(),
            cell.contender.name(),
            cell.slow,
            cell.ops
        );
    }
    for cell in cells.iter().filter(|c| c.fired > 0) {
        println!(
            "! {} on {}: {} timeout(s) of {TIMEOUT:?} fired although the future was ready",
            cell.workload.id(),
            cell.contender.name(),
            cell.fired
        );
    }
    if !tickslab_benches::nexus::cross_enabled()
        && workloads
            .iter()
            .any(|w| matches!(w, Workload::RemoteWake | Workload::CrossRoundTrip))
    {
        println!(
            "nexus_slab skips remote_wake and cross/round_trip: nexus-async-rt 0.7 loses \
             cross-thread wakes and parks forever (see nexus::cross_enabled; \
             TICKSLAB_BENCH_NEXUS_CROSS=1 to try)"
        );
    }
    if workloads.iter().any(|w| w.cpu_metric()) {
        println!("* ratios use CPU time (the wall time includes the 1 ms sleep itself)");
        println!();
    }

    // Summary: the workload's tickslab contender against each family's main contender.
    let columns: &[(Contender, &str)] = &[
        (Contender::TokioLocalSet, "/tokio_ls"),
        (Contender::TokioLocalRuntime, "/tokio_lrt"),
        (Contender::NexusSlab, "/nexus_slab"),
        (Contender::StdBox, "/box"),
        (Contender::Bumpalo, "/bumpalo"),
        (Contender::Fastalloc, "/fastalloc"),
    ];
    println!("tickslab ns/op ÷ other ns/op (< 1: tickslab faster; x = other ÷ tickslab)");
    let mut header = format!("{:<22} {:<15}", "workload", "tickslab");
    for (_, name) in columns {
        header += &format!(" {name:>17}");
    }
    println!("{header}");
    for &w in workloads {
        let tc = Contender::tickslab_for(w);
        let Some(tick) = find(cells, w, tc) else {
            continue;
        };
        let mut line = format!("{:<22} {:<15}", w.id(), tc.name());
        for &(other, _) in columns {
            let text = match find(cells, w, other) {
                Some(o) if o.contender.family() != Family::Tickslab => {
                    let r = tick.headline() / o.headline();
                    format!("{r:.2} ({:.1}x)", 1.0 / r)
                }
                _ => "-".to_owned(),
            };
            line += &format!(" {text:>17}");
        }
        println!("{line}");
    }
}
