//! The game thread's frame loop: 60 Hz, and it never waits on the network. Each frame takes
//! the inputs that arrived, applies them to the world, publishes the world, and prints the
//! I/O thread's report lines as they come in.

use std::thread;
use std::time::{Duration, Instant};

use tickslab::sync::cross;

use crate::io_thread::IoReport;
use crate::protocol::{Input, PLAYERS, PlayerState, Snapshot};
use crate::report;
use crate::stats::{FrameTimes, GameCounts};

/// One frame at 60 Hz.
const FRAME: Duration = Duration::from_nanos(16_666_667);

/// What the frame loop did over the whole run.
pub struct GameRun {
    pub elapsed: Duration,
    pub total: GameCounts,
    pub times: FrameTimes,
}

/// Runs frames until the I/O thread's `secs`-th report line is printed (or, should reports
/// stop, for `secs + 3` seconds).
pub fn run(
    secs: u32,
    inputs: &mut cross::Receiver<Input>,
    snapshots: &cross::Sender<Snapshot>,
    reports: &mut cross::Receiver<IoReport>,
) -> GameRun {
    let mut world = [PlayerState::default(); PLAYERS];
    let (mut window, mut total) = (GameCounts::default(), GameCounts::default());
    let (mut window_times, mut all_times) = (FrameTimes::new(), FrameTimes::new());
    let mut last_tasks = 0u64;
    let mut lines = 0u32;
    let start = Instant::now();
    // Normally the loop ends after `secs` report lines; this bounds it if reports stop.
    let give_up = start + Duration::from_secs(u64::from(secs) + 3);
    let mut frame_start = start;
    let mut next_frame = start;
    let mut tick = 0u32;
    while lines < secs && Instant::now() < give_up {
        // Sleep to the next frame boundary; a late frame starts at once (no catch-up burst).
        next_frame += FRAME;
        let now = Instant::now();
        match next_frame.checked_duration_since(now) {
            Some(wait) => thread::sleep(wait),
            None => next_frame = now,
        }
        let now = Instant::now();
        let frame_time = now - frame_start; // start to start: what a player sees
        frame_start = now;
        if tick > 0 {
            window_times.record(frame_time);
            all_times.record(frame_time);
        }
        tick += 1;
        window.frames += 1;

        // 1. Inputs that arrived since the last frame; never waits.
        for input in inputs.drain() {
            let p = &mut world[usize::from(input.player)];
            p.x = p.x.saturating_add(i16::from(input.dx));
            p.y = p.y.saturating_add(i16::from(input.dy));
            p.last_seq = p.last_seq.max(input.seq);
            window.inputs += 1;
        }

        // 2. (The game would simulate and render here.)

        // 3. Publish the world; if the I/O thread is behind, skip this one.
        match snapshots.try_send(Snapshot {
            tick,
            players: world,
        }) {
            Ok(()) => window.snapshots_sent += 1,
            Err(_) => window.snapshots_dropped += 1,
        }

        // 4. One line per second of the I/O thread.
        for r in reports.drain() {
            report::second(&r, &window, &window_times, last_tasks);
            last_tasks = r.rt.tasks_spawned;
            total.add(&window);
            window = GameCounts::default();
            window_times = FrameTimes::new();
            lines += 1;
        }
    }
    let elapsed = start.elapsed();
    total.add(&window);
    GameRun {
        elapsed,
        total,
        times: all_times,
    }
}
