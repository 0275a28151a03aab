//! What the demo prints: a banner, one line per second of the I/O thread (with the game's
//! numbers for the same second), and a summary once both runtimes are stopped and joined.

use std::net::SocketAddr;

use crate::bots::BotCounts;
use crate::game::GameRun;
use crate::io_thread::{IO_SLOT, IO_SLOTS, IoReport, IoSummary};
use crate::protocol::PLAYERS;
use crate::stats::{FrameTimes, GameCounts};

/// The two lines before the first frame: the setup, then a legend for the per-second lines.
pub fn banner(udp_addr: SocketAddr, tcp_addr: SocketAddr, secs: u32) {
    println!(
        "game_loop: 60 Hz game thread, tickslab I/O thread (UDP {udp_addr}, TCP assets {tcp_addr}, \
         slab {IO_SLOTS} x {IO_SLOT} B), {PLAYERS} UDP bots + 1 asset bot on a third thread; {secs} s"
    );
    println!(
        "each second: frames, p99 frame time | game: inputs in, snapshots out | I/O thread: UDP \
         datagrams in/out, assets served, tasks spawned, slab slots used/capacity (peak), heap \
         allocations"
    );
}

/// One line: the I/O thread's report `r` and the game's `window` for the same second.
/// `last_tasks` is the runtime's spawn count at the previous line.
pub fn second(r: &IoReport, window: &GameCounts, window_times: &FrameTimes, last_tasks: u64) {
    let c = &r.counts;
    let warm = if r.second == 1 { " (warm-up)" } else { "" };
    println!(
        "[{:>3}s] {:>3} frames p99 {:>5.2} ms | game in {:>4} out {:>3} | udp {:>4}/{:>4} \
         | assets {:>3} | tasks +{:<3} | slab {}/{} (peak {}) | io allocs {} (accept {}){warm}",
        r.second,
        window.frames,
        window_times.quantile_ms(0.99),
        window.inputs,
        window.snapshots_sent,
        c.udp_in,
        c.udp_out,
        c.assets_served,
        r.rt.tasks_spawned - last_tasks,
        r.rt.slab_used,
        r.rt.slab_capacity.unwrap_or(0),
        r.rt.slab_peak,
        r.allocs.allocs + r.allocs.reallocs,
        c.accept_allocs,
    );
}

/// The closing lines: the game, the server, its allocations after warm-up, the bots.
pub fn summary(game: &GameRun, server: &IoSummary, bot: &BotCounts) {
    let GameRun {
        elapsed,
        total,
        times: all_times,
    } = game;
    let s = &server.counts;
    println!("--- {elapsed:.2?}, threads joined ---");
    println!(
        "game: {} frames, frame time p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; {} inputs in, \
         {} snapshots out ({} dropped: channel full)",
        total.frames,
        all_times.quantile_ms(0.50),
        all_times.quantile_ms(0.99),
        all_times.max_ms(),
        total.inputs,
        total.snapshots_sent,
        total.snapshots_dropped,
    );
    println!(
        "I/O thread: {} datagrams in, {} out, {} inputs dropped; {} assets served ({} KiB); \
         {} tasks spawned, slab peak {}/{} slots",
        s.udp_in,
        s.udp_out,
        s.inputs_dropped,
        s.assets_served,
        s.asset_bytes / 1024,
        server.rt.tasks_spawned,
        server.rt.slab_peak,
        server.rt.slab_capacity.unwrap_or(0),
    );
    match server.after_warmup {
        Some((a, c)) => println!(
            "I/O thread heap allocations after warm-up: {} ({} in TcpListener::accept for {} \
             connections; {} elsewhere)",
            a.allocs + a.reallocs,
            c.accept_allocs,
            c.assets_served,
            (a.allocs + a.reallocs).saturating_sub(c.accept_allocs),
        ),
        None => println!("I/O thread: ran less than the warm-up second"),
    }
    println!(
        "bots: {} inputs sent, {} world states received, input→world round trip mean {:.1} ms \
         max {:.1} ms; {} assets fetched ({} KiB, {} corrupt, {} failed)",
        bot.inputs_sent,
        bot.worlds_received,
        bot.ack_us_sum as f64 / bot.acks.max(1) as f64 / 1e3,
        bot.ack_us_max as f64 / 1e3,
        bot.assets_fetched,
        bot.asset_bytes / 1024,
        bot.assets_bad,
        bot.fetches_failed,
    );
}
