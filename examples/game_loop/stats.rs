//! What the game measures: frame times in a fixed histogram and the game-side counters, kept
//! per reporting window and for the whole run without allocating per frame.

use std::time::Duration;

/// Frame times in 50 µs buckets up to 100 ms: fixed memory, no allocation per frame.
pub struct FrameTimes {
    buckets: [u32; 2000],
    count: u64,
    max: Duration,
}

impl FrameTimes {
    const BUCKET_US: u64 = 50;

    pub fn new() -> Self {
        FrameTimes {
            buckets: [0; 2000],
            count: 0,
            max: Duration::ZERO,
        }
    }

    pub fn record(&mut self, d: Duration) {
        let i = (d.as_micros() as u64 / Self::BUCKET_US) as usize;
        self.buckets[i.min(self.buckets.len() - 1)] += 1;
        self.count += 1;
        self.max = self.max.max(d);
    }

    /// The `q` quantile in milliseconds (upper edge of its bucket, at most the max).
    pub fn quantile_ms(&self, q: f64) -> f64 {
        let rank = ((self.count as f64 * q).ceil() as u64).max(1);
        let mut seen = 0u64;
        for (i, &n) in self.buckets.iter().enumerate() {
            seen += u64::from(n);
            if seen >= rank {
                if i == self.buckets.len() - 1 {
                    return self.max_ms(); // the overflow bucket: no upper edge
                }
                let edge = ((i as u64 + 1) * Self::BUCKET_US) as f64 / 1e3;
                return edge.min(self.max_ms());
            }
        }
        self.max_ms()
    }

    pub fn max_ms(&self) -> f64 {
        self.max.as_secs_f64() * 1e3
    }
}

/// The game-side counters of one reporting window, or of the whole run.
#[derive(Clone, Copy, Default)]
pub struct GameCounts {
    pub frames: u64,
    pub inputs: u64,
    pub snapshots_sent: u64,
    pub snapshots_dropped: u64,
}

impl GameCounts {
    /// Adds a window's counts to these.
    pub fn add(&mut self, o: &GameCounts) {
        self.frames += o.frames;
        self.inputs += o.inputs;
        self.snapshots_sent += o.snapshots_sent;
        self.snapshots_dropped += o.snapshots_dropped;
    }
}
