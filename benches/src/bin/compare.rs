//! Quick comparison: a short run of every workload on every contender that supports it;
//! prints ns/op, CPU ns/op, heap allocations per op (measuring thread and whole process)
//! and tickslab's ratios, in one table (`n/a` for a runtime that lacks the workload's API); the latency workloads (`remote_wake/latency`,
//! `timers/sleep_precision_*`, `flood/interval_p99`) in a second one (p50, p99, max); the
//! file workloads (`fs`) in a third one, with ratios against tokio::fs from the same run.
//!
//! ```text
//! cargo run --release -p tickslab-benches --bin compare
//! cargo run --release -p tickslab-benches --bin compare -- --only dispatch
//! cargo run --release -p tickslab-benches --bin compare -- --only fs   # the file table
//! cargo run --release -p tickslab-benches --bin compare -- --only dispatch \
//!     --contender tickslab_slab --iters 100000      # one run, for callgrind
//! ```
//!
//! Each cell (workload × contender) runs in a child process, this binary again with
//! `--child --only <id> --contender <name>`, under a watchdog: a cell without a result
//! after `--timeout` seconds (a runtime that lost a wake and parks forever) is killed and
//! shown as `timeout`, and the table goes on. Hence nexus-async-rt runs the cross-thread
//! workloads here (it hangs in them; see `tickslab_benches::nexus::cross_enabled`).
//!
//! Options:
//! - `--only <text>[,<text>...]`: only workloads whose id contains `<text>` (e.g.
//!   `spawn_join/1`, `timers`, `net/tcp`); an exact id match wins over substrings. `fs`
//!   selects the file table, which is printed last ([`tickslab_benches::fs`]: tickslab's
//!   io_uring and thread-pool backends vs tokio::fs vs std::fs, medians of `--runs`
//!   alternating runs; `TICKSLAB_FS_BENCH_MIB` sizes its random-read file, 256 by default).
//! - `--contender <name>`: only that contender (e.g. `tickslab_slab`, `tokio_localset`,
//!   `nexus_slab`); repeatable.
//! - `--runs <n>`: measured runs per cell (default 5, each sized to about 25 ms; the
//!   fastest is reported). A latency workload has one warm-up run (a tenth of the
//!   events) and one measured run instead.
//! - `--timeout <secs>`: the watchdog's deadline per cell (default 20). `0`: no child
//!   processes, every cell in this process, one contender instance for all its
//!   workloads (a hang then stalls the table; nexus skips the cross-thread workloads
//!   unless `TICKSLAB_BENCH_NEXUS_CROSS=1`).
//! - `--iters <n>`: callgrind mode, always in this process: after one untimed warm-up
//!   run, exactly one run of `<n>` iterations through [`callgrind_measured`] (a named
//!   `#[inline(never)]` function for `valgrind --tool=callgrind
//!   --toggle-collect=*callgrind_measured*`), announced by a `callgrind-run` line.
//! - `--child`: internal (what the watchdog runs): in this process, no progress, and
//!   one machine-readable `cell` line per cell instead of the table.
//!
//! Progress lines go to stderr only when it is a terminal.
//!
//! An "op" is one task (`spawn_join/*`, `frame/tasks_100`, `timers/sleep_10k`), one
//! poll (`dispatch*`), one round trip (`remote_wake`, `net/*_64`, `cross/*`), one
//! timeout, one datagram received (`net/udp_batch32_*`), one allocation
//! (`frame/alloc_1000`) or one allocation + drop (`pool/*`). An "event" of a latency
//! workload is one wake, one sleep or one interval tick.

use std::hint::black_box;
use std::io::{IsTerminal, Read};
use std::process::{Command, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

use tickslab::alloc::counting::CountingAlloc;
use tickslab_benches::workload::{
    SLOW_AFTER, STALL_AFTER, TIMEOUT, WAKE_GAP, slow, stalls, timeouts_fired,
};
use tickslab_benches::{Bench, Contender, Family, Latency, Sample, Workload, nexus};

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc::system();

/// Most iterations per measured run (one iteration = `Workload::elements` ops); fewer
/// when the warm-up shows a run would take longer than [`RUN_TARGET`]. For a latency
/// workload: the events of its measured run.
fn default_iters(workload: Workload) -> u64 {
    match workload {
        Workload::SpawnJoin { batch: 1 } => 100_000,
        Workload::SpawnJoin { batch } => (100_000 / batch as u64).max(1),
        Workload::Dispatch | Workload::DispatchTimers { .. } => 1_000_000,
        Workload::RemoteWake => 5_000,
        Workload::RemoteWakeLatency => 2_000,
        Workload::SleepBatch => 3,
        Workload::TimeoutReady => 500_000,
        Workload::TimeoutArmed => 200_000,
        Workload::SleepPrecision { .. } => 500,
        Workload::TcpEcho | Workload::TcpEchoBuffered | Workload::UdpPingPong => 5_000,
        Workload::UdpBatchSingle | Workload::UdpBatchBatched => 2_000,
        Workload::ArenaAlloc => 1_000,
        Workload::FrameTasks => 1_000,
        Workload::CrossRoundTrip => 5_000,
        Workload::FloodInterval => 1_000,
        Workload::PoolAllocDrop => 2_000_000,
        Workload::PoolBatch | Workload::PoolSyncReturn => 2_000,
    }
}

/// The watchdog's default deadline per cell.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(20);

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
    /// Iterations of the reported run.
    iters: u64,
    sample: Sample,
    /// Stalls counted while measuring (see `tickslab_benches::workload::STALL_AFTER`).
    stalls: u64,
    /// Timeouts that fired although their future was ready.
    fired: u64,
    /// Cross-thread answers slower than `SLOW_AFTER`.
    slow: u64,
}

impl Cell {
    fn ops(&self) -> f64 {
        (self.iters * self.workload.elements()) as f64
    }
    fn ns_per_op(&self) -> f64 {
        self.sample.wall.as_nanos() as f64 / self.ops()
    }
    fn cpu_ns_per_op(&self) -> f64 {
        self.sample.cpu.as_nanos() as f64 / self.ops()
    }
    /// The number ratios are computed from (CPU time for `timers/sleep_10k`).
    fn headline(&self) -> f64 {
        if self.workload.cpu_metric() {
            self.cpu_ns_per_op()
        } else {
            self.ns_per_op()
        }
    }
    fn latency(&self) -> Latency {
        self.sample.latency.unwrap_or_default()
    }

    /// The line a `--child` prints, read back by [`Cell::parse`].
    fn result_line(&self) -> String {
        let s = &self.sample;
        let mut line = format!(
            "cell {} {} iters={} wall={} cpu={} at={} ap={} stalls={} fired={} slow={}",
            self.workload.id(),
            self.contender.name(),
            self.iters,
            s.wall.as_nanos(),
            s.cpu.as_nanos(),
            s.allocs_thread,
            s.allocs_process,
            self.stalls,
            self.fired,
            self.slow
        );
        if let Some(l) = s.latency {
            line += &format!(
                " lat={},{},{},{},{},{},{}",
                l.events,
                l.p50.as_nanos(),
                l.p99.as_nanos(),
                l.max.as_nanos(),
                l.early,
                l.received,
                l.sent
            );
        }
        line
    }

    /// Reads a [`result_line`](Cell::result_line) line; `None` for any other line.
    fn parse(line: &str) -> Option<Cell> {
        let mut words = line.strip_prefix("cell ")?.split_whitespace();
        let mut cell = Cell {
            workload: Workload::from_id(words.next()?)?,
            contender: Contender::from_name(words.next()?)?,
            iters: 0,
            sample: Sample::default(),
            stalls: 0,
            fired: 0,
            slow: 0,
        };
        for word in words {
            let (key, value) = word.split_once('=')?;
            let numbers: Vec<u64> = value
                .split(',')
                .map(str::parse)
                .collect::<Result<_, _>>()
                .ok()?;
            let ns = Duration::from_nanos;
            match (key, numbers.as_slice()) {
                ("iters", &[v]) => cell.iters = v,
                ("wall", &[v]) => cell.sample.wall = ns(v),
                ("cpu", &[v]) => cell.sample.cpu = ns(v),
                ("at", &[v]) => cell.sample.allocs_thread = v,
                ("ap", &[v]) => cell.sample.allocs_process = v,
                ("stalls", &[v]) => cell.stalls = v,
                ("fired", &[v]) => cell.fired = v,
                ("slow", &[v]) => cell.slow = v,
                ("lat", &[events, p50, p99, max, early, received, sent]) => {
                    cell.sample.latency = Some(Latency {
                        events,
                        p50: ns(p50),
                        p99: ns(p99),
                        max: ns(max),
                        early,
                        received,
                        sent,
                    });
                }
                _ => return None,
            }
        }
        Some(cell)
    }
}

/// A cell without a result.
#[derive(Debug)]
struct Missing {
    workload: Workload,
    contender: Contender,
    /// Killed by the watchdog (rather than failed).
    timed_out: bool,
    /// Not run: the runtime lacks the API ([`Contender::lacks`]).
    not_applicable: bool,
    /// What happened, for the notes under the table.
    why: String,
}

/// Target duration of one measured run: iterations are scaled down from
/// [`default_iters`] for contenders that are slow on a workload.
const RUN_TARGET: Duration = Duration::from_millis(25);

/// Warm-up run (a tenth of the iterations, also used to size the runs to
/// [`RUN_TARGET`]), then `runs` measured runs; keeps the fastest wall and CPU times and
/// the fewest allocations (each over the runs). Returns the iterations per run too.
///
/// A latency workload: the warm-up, then one run of `iters` events (its percentiles come
/// from one run, not from the best of several).
fn measure(bench: &mut dyn Bench, workload: Workload, iters: u64, runs: usize) -> (u64, Sample) {
    let warm = (iters / 10).max(1);
    let warm_time = bench.run(workload, warm).wall;
    if workload.is_latency() {
        return (iters, bench.run(workload, iters));
    }
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
                latency: None,
            },
        });
    }
    (iters, best.expect("at least one run"))
}

/// Measures one cell in this process, on `bench` (callgrind mode with `--iters`).
fn run_cell(bench: &mut dyn Bench, workload: Workload, contender: Contender, args: &Args) -> Cell {
    let (stalls_before, fired_before, slow_before) = (stalls(), timeouts_fired(), slow());
    let (iters, sample) = match args.iters {
        Some(iters) => {
            bench.run(workload, (iters / 10).max(1));
            let sample = callgrind_measured(bench, workload, iters);
            // Machine-readable, for benches/callgrind.sh.
            println!(
                "callgrind-run workload={} contender={} iters={iters} ops={}",
                workload.id(),
                contender.name(),
                iters * workload.elements()
            );
            (iters, sample)
        }
        None => measure(bench, workload, default_iters(workload), args.runs),
    };
    Cell {
        workload,
        contender,
        iters,
        sample,
        stalls: stalls() - stalls_before,
        fired: timeouts_fired() - fired_before,
        slow: slow() - slow_before,
    }
}

/// Measures one cell in a child process (this binary with `--child`) under a watchdog:
/// a thread reads the child's output to its end (the child's exit) while this thread
/// waits for it at most `args.timeout`, then kills the child. A thread stuck in a
/// runtime cannot be stopped from inside its process; a process can be killed.
fn run_child(workload: Workload, contender: Contender, args: &Args) -> Result<Cell, Missing> {
    let missing = |timed_out, why: String| Missing {
        workload,
        contender,
        timed_out,
        not_applicable: false,
        why,
    };
    let exe = std::env::current_exe().map_err(|e| missing(false, format!("current_exe: {e}")))?;
    let mut child = Command::new(exe)
        .args(["--child", "--only", &workload.id(), "--contender"])
        .args([contender.name(), "--runs", &args.runs.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| missing(false, format!("could not start the child: {e}")))?;
    let mut stdout = child.stdout.take().expect("stdout is piped");
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut out = String::new();
        let read = stdout.read_to_string(&mut out).map(|_| out);
        let _ = tx.send(read);
    });
    let output = rx.recv_timeout(args.timeout);
    if output.is_err() {
        // Still running (or its output lost): kill it. It is not reaped yet, so its pid
        // is still ours; its end of the pipe closes, and the reader returns.
        let _ = child.kill();
    }
    let status = child.wait();
    reader.join().expect("reader thread panicked");
    let out = match output {
        Err(RecvTimeoutError::Timeout) => {
            let why = format!("no result within {} s, killed", args.timeout.as_secs_f64());
            return Err(missing(true, why));
        }
        Err(RecvTimeoutError::Disconnected) => {
            return Err(missing(false, "its output was lost".to_owned()));
        }
        Ok(Err(e)) => return Err(missing(false, format!("reading its output: {e}"))),
        Ok(Ok(out)) => out,
    };
    match status {
        Ok(status) if status.success() => {}
        Ok(status) => return Err(missing(false, format!("the child failed ({status})"))),
        Err(e) => return Err(missing(false, format!("waiting for the child: {e}"))),
    }
    out.lines()
        .find_map(Cell::parse)
        .ok_or_else(|| missing(false, "the child printed no result".to_owned()))
}

struct Args {
    only: Option<String>,
    contenders: Vec<Contender>,
    iters: Option<u64>,
    runs: usize,
    /// Zero: every cell in this process.
    timeout: Duration,
    child: bool,
}

fn parse_args() -> Args {
    let mut args = Args {
        only: None,
        contenders: Vec::new(),
        iters: None,
        runs: 5,
        timeout: DEFAULT_TIMEOUT,
        child: false,
    };
    let mut it = std::env::args().skip(1);
    let usage = "usage: compare [--only <workload>] [--contender <name>]... [--iters <n>] \
                 [--runs <n>] [--timeout <secs>]";
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
            "--timeout" => {
                let secs: f64 = value().parse().expect("--timeout: a number of seconds");
                args.timeout = Duration::from_secs_f64(secs);
            }
            "--child" => args.child = true,
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
    // Every cell in this process: callgrind mode, `--timeout 0`, and the child itself.
    let in_process = args.child || args.iters.is_some() || args.timeout.is_zero();
    if args.child || !in_process {
        // A hang is killed by the watchdog: let nexus try the cross-thread workloads.
        nexus::try_cross();
    }
    // `fs` (the file workloads' table, `tickslab_benches::fs`) is not a `Workload`: it
    // compares tickslab's two file backends with tokio::fs and std::fs in its own table.
    let (files, only) = split_files(args.only.as_deref());
    let files = files && !args.child && args.iters.is_none();
    let workloads = match only.as_deref() {
        Some("") => Vec::new(),
        only => selected_workloads(only),
    };
    let contenders: Vec<Contender> = if args.contenders.is_empty() {
        Contender::ALL.to_vec()
    } else {
        args.contenders.clone()
    };
    let progress = !args.child && std::io::stderr().is_terminal();

    let mut cells = Vec::new();
    let mut missing = Vec::new();
    for &contender in &contenders {
        if !args.child {
            for &workload in &workloads {
                if let Some(why) = contender.lacks(workload) {
                    missing.push(Missing {
                        workload,
                        contender,
                        timed_out: false,
                        not_applicable: true,
                        why: why.to_owned(),
                    });
                }
            }
        }
        let todo: Vec<Workload> = workloads
            .iter()
            .copied()
            .filter(|&w| contender.supports(w))
            .collect();
        if todo.is_empty() {
            continue;
        }
        // In this process: one instance per contender, dropped before the next
        // (nexus-async-rt allows one live runtime per thread).
        let mut bench = in_process.then(|| contender.build());
        for workload in todo {
            if progress {
                let what = format!("{} on {}", workload.id(), contender.name());
                eprint!("\r{what:<60}");
            }
            match bench.as_mut() {
                Some(bench) => cells.push(run_cell(bench.as_mut(), workload, contender, &args)),
                None => match run_child(workload, contender, &args) {
                    Ok(cell) => cells.push(cell),
                    Err(m) => missing.push(m),
                },
            }
        }
    }
    if progress {
        eprint!("\r{:<60}\r", "");
    }
    if args.child {
        for cell in &cells {
            println!("{}", cell.result_line());
        }
        return;
    }
    if !workloads.is_empty() {
        print_table(&workloads, &cells, &missing);
    }
    if files {
        println!();
        tickslab_benches::fs::run(&tickslab_benches::fs::FsOpts {
            runs: args.runs,
            ..Default::default()
        });
    }
}

/// Whether `--only` asks for the file table (no `--only`, or a pattern `fs`), and the
/// other patterns (`Some("")`: none).
fn split_files(only: Option<&str>) -> (bool, Option<String>) {
    let Some(only) = only else {
        return (true, None);
    };
    let (files, rest): (Vec<&str>, Vec<&str>) = only.split(',').partition(|p| *p == "fs");
    (!files.is_empty(), Some(rest.join(",")))
}

fn find(cells: &[Cell], w: Workload, c: Contender) -> Option<&Cell> {
    cells.iter().find(|x| x.workload == w && x.contender == c)
}

/// A row of a table: a result, or why there is none.
enum Row<'a> {
    Done(&'a Cell),
    Missing(&'a Missing),
}

/// The rows of workload `w`, in contender order.
fn rows<'a>(w: Workload, cells: &'a [Cell], missing: &'a [Missing]) -> Vec<Row<'a>> {
    let mut out = Vec::new();
    for &c in Contender::ALL {
        if let Some(cell) = find(cells, w, c) {
            out.push(Row::Done(cell));
        } else if let Some(m) = missing.iter().find(|m| m.workload == w && m.contender == c) {
            out.push(Row::Missing(m));
        }
    }
    out
}

/// `n/a`, `timeout` or `failed`, for the table.
fn missing_word(m: &Missing) -> &'static str {
    if m.not_applicable {
        "n/a"
    } else if m.timed_out {
        "timeout"
    } else {
        "failed"
    }
}

/// `a ÷ b`, or `-` when `b` is zero.
fn ratio(a: f64, b: f64) -> String {
    if b > 0.0 {
        format!("{:.2}", a / b)
    } else {
        "-".to_owned()
    }
}

fn micros(d: Duration) -> f64 {
    d.as_nanos() as f64 / 1e3
}

fn print_table(workloads: &[Workload], cells: &[Cell], missing: &[Missing]) {
    let (latency, throughput): (Vec<Workload>, Vec<Workload>) =
        workloads.iter().partition(|w| w.is_latency());
    if !throughput.is_empty() {
        print_throughput(&throughput, cells, missing);
    }
    if !latency.is_empty() {
        print_latency(&latency, cells, missing);
    }
    print_notes(workloads, cells, missing);
    print_summary(workloads, cells);
}

fn print_throughput(workloads: &[Workload], cells: &[Cell], missing: &[Missing]) {
    println!(
        "{:<24} {:<15} {:>10} {:>10} {:>9} {:>9} {:>8}",
        "workload", "contender", "ns/op", "cpu ns/op", "alloc/op", "alloc/op", "tickslab"
    );
    println!(
        "{:<24} {:<15} {:>10} {:>10} {:>9} {:>9} {:>8}",
        "", "", "", "", "(thread)", "(all)", "÷ this"
    );
    for &w in workloads {
        let tick = find(cells, w, Contender::tickslab_for(w));
        let rows = rows(w, cells, missing);
        for row in &rows {
            let cell = match row {
                Row::Done(cell) => cell,
                Row::Missing(m) => {
                    let word = missing_word(m);
                    println!("{:<24} {:<15} {word:>10}", w.id(), m.contender.name());
                    continue;
                }
            };
            let ratio = tick.map_or("-".to_owned(), |t| ratio(t.headline(), cell.headline()));
            let cpu_mark = if w.cpu_metric() { "*" } else { " " };
            println!(
                "{:<24} {:<15} {:>10.1} {:>9.1}{cpu_mark} {:>9.3} {:>9.3} {:>8}",
                w.id(),
                cell.contender.name(),
                cell.ns_per_op(),
                cell.cpu_ns_per_op(),
                cell.sample.allocs_thread as f64 / cell.ops(),
                cell.sample.allocs_process as f64 / cell.ops(),
                ratio
            );
        }
        if !rows.is_empty() {
            println!();
        }
    }
    if workloads.iter().any(|w| w.cpu_metric()) {
        println!("* ratios use CPU time (the wall time includes the 1 ms sleep itself)");
        println!();
    }
}

fn print_latency(workloads: &[Workload], cells: &[Cell], missing: &[Missing]) {
    println!(
        "latency per event, wall time: wake → task polled (remote_wake), time past the \
         deadline (sleeps, interval ticks)"
    );
    println!(
        "{:<28} {:<15} {:>9} {:>9} {:>9} {:>5} {:>6} {:>8} {:>6} {:>6}  notes",
        "workload",
        "contender",
        "p50 µs",
        "p99 µs",
        "max µs",
        "early",
        "events",
        "alloc/ev",
        "tickslab ÷ this",
        ""
    );
    println!(
        "{:<28} {:<15} {:>9} {:>9} {:>9} {:>5} {:>6} {:>8} {:>6} {:>6}",
        "", "", "", "", "", "", "", "(all)", "p50", "p99"
    );
    for &w in workloads {
        let tick = find(cells, w, Contender::tickslab_for(w)).map(Cell::latency);
        let rows = rows(w, cells, missing);
        for row in &rows {
            let cell = match row {
                Row::Done(cell) => cell,
                Row::Missing(m) => {
                    let word = missing_word(m);
                    println!("{:<28} {:<15} {word:>9}", w.id(), m.contender.name());
                    continue;
                }
            };
            let l = cell.latency();
            let (r50, r99) = tick.map_or(("-".to_owned(), "-".to_owned()), |t| {
                (
                    ratio(micros(t.p50), micros(l.p50)),
                    ratio(micros(t.p99), micros(l.p99)),
                )
            });
            let notes = match w {
                Workload::SleepPrecision { micros: d } => format!(
                    "elapsed p50 {:.3} ms",
                    (Duration::from_micros(d.into()) + l.p50).as_secs_f64() * 1e3
                ),
                Workload::FloodInterval => {
                    format!("drained {} of {} datagrams sent", l.received, l.sent)
                }
                Workload::RemoteWakeLatency => format!("each after {WAKE_GAP:?} idle"),
                _ => String::new(),
            };
            println!(
                "{:<28} {:<15} {:>9.1} {:>9.1} {:>9.1} {:>5} {:>6} {:>8.3} {:>6} {:>6}  {notes}",
                w.id(),
                cell.contender.name(),
                micros(l.p50),
                micros(l.p99),
                micros(l.max),
                l.early,
                l.events,
                cell.sample.allocs_process as f64 / l.events.max(1) as f64,
                r50,
                r99
            );
        }
        if !rows.is_empty() {
            println!();
        }
    }
}

fn print_notes(workloads: &[Workload], cells: &[Cell], missing: &[Missing]) {
    let mut any = false;
    let mut println = |line: String| {
        println!("{line}");
        any = true;
    };
    for m in missing {
        // `!` marks a problem; a runtime without the API is none.
        let mark = if m.not_applicable { "" } else { "! " };
        println(format!(
            "{mark}{} on {}: {}: {}",
            m.workload.id(),
            m.contender.name(),
            missing_word(m),
            m.why
        ));
    }
    for cell in cells.iter().filter(|c| c.stalls > 0) {
        println(format!(
            "! {} on {}: {} stall(s): no answer within {STALL_AFTER:?} to a cross-thread \
             wake, nudged again (a lost wake, or a thread not scheduled that long)",
            cell.workload.id(),
            cell.contender.name(),
            cell.stalls
        ));
    }
    for cell in cells.iter().filter(|c| c.slow > 0) {
        println(format!(
            "! {} on {}: {} answer(s) slower than {SLOW_AFTER:?} (of {} ops + warm-up)",
            cell.workload.id(),
            cell.contender.name(),
            cell.slow,
            cell.ops()
        ));
    }
    for cell in cells.iter().filter(|c| c.fired > 0) {
        println(format!(
            "! {} on {}: {} timeout(s) of {TIMEOUT:?} fired although the future was ready",
            cell.workload.id(),
            cell.contender.name(),
            cell.fired
        ));
    }
    for cell in cells.iter().filter(|c| c.latency().early > 0) {
        println(format!(
            "! {} on {}: {} event(s) early (before the deadline)",
            cell.workload.id(),
            cell.contender.name(),
            cell.latency().early
        ));
    }
    if !nexus::cross_enabled()
        && workloads.iter().any(|w| {
            matches!(
                w,
                Workload::RemoteWake | Workload::RemoteWakeLatency | Workload::CrossRoundTrip
            )
        })
    {
        println(
            "nexus_slab skips remote_wake* and cross/round_trip: nexus-async-rt 0.7 loses \
             cross-thread wakes and parks forever (see nexus::cross_enabled; run with a \
             --timeout, the default, or TICKSLAB_BENCH_NEXUS_CROSS=1 to try)"
                .to_owned(),
        );
    }
    if any {
        println!();
    }
}

/// The workload's tickslab contender against each family's main contender: ns/op (CPU
/// time for `timers/sleep_10k`), and p50 and p99 rows for the latency workloads.
fn print_summary(workloads: &[Workload], cells: &[Cell]) {
    let columns: &[(Contender, &str)] = &[
        (Contender::TokioLocalSet, "/tokio_ls"),
        (Contender::TokioLocalRuntime, "/tokio_lrt"),
        (Contender::NexusSlab, "/nexus_slab"),
        (Contender::StdBox, "/box"),
        (Contender::Bumpalo, "/bumpalo"),
        (Contender::Fastalloc, "/fastalloc"),
    ];
    println!(
        "tickslab ÷ other: ns/op, or latency in the p50/p99 rows (< 1: tickslab faster; \
         x = other ÷ tickslab)"
    );
    let mut header = format!("{:<32} {:<15}", "workload", "tickslab");
    for (_, name) in columns {
        header += &format!(" {name:>17}");
    }
    println!("{header}");
    type Metric = fn(&Cell) -> f64;
    let throughput: &[(&str, Metric)] = &[("", Cell::headline)];
    let latency: &[(&str, Metric)] = &[
        (" p50", |c| micros(c.latency().p50)),
        (" p99", |c| micros(c.latency().p99)),
    ];
    for &w in workloads {
        let tc = Contender::tickslab_for(w);
        let Some(tick) = find(cells, w, tc) else {
            continue;
        };
        let metrics = if w.is_latency() { latency } else { throughput };
        for &(suffix, metric) in metrics {
            let mut line = format!("{:<32} {:<15}", format!("{}{suffix}", w.id()), tc.name());
            for &(other, _) in columns {
                let text = match find(cells, w, other) {
                    Some(o) if o.contender.family() != Family::Tickslab && metric(o) > 0.0 => {
                        let r = metric(tick) / metric(o);
                        if r > 10.0 {
                            format!("{r:.0} (1/{r:.0}x)")
                        } else {
                            format!("{r:.2} ({:.1}x)", 1.0 / r)
                        }
                    }
                    _ => "-".to_owned(),
                };
                line += &format!(" {text:>17}");
            }
            println!("{line}");
        }
    }
}
