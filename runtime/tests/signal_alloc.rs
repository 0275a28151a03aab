//! Exact allocation counts for signals: after warm-up (handler installed, the runtime's pipe
//! driver registered, the listener's waiter place taken), a raise → drain → broadcast → wake
//! → `recv` cycle allocates nothing, with two listeners in two tasks.
//!
//! A file of its own: a test binary has one `#[global_allocator]`, and handlers are
//! process-wide.

mod support;

use std::time::Duration;

use signal_hook::low_level::raise;
use tickslab_alloc::counting::{AllocStats, CountingAlloc};
use tickslab_runtime::signal::unix::{SignalKind, signal};
use tickslab_runtime::sync::mpsc;
use tickslab_runtime::time::timeout;
use tickslab_runtime::*;

use support::rt_bounded;

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc::system();

#[test]
fn a_signal_round_trip_allocates_nothing_after_warmup() {
    const WARMUP: usize = 50;
    const ROUNDS: usize = 2_000;
    let kind = SignalKind::user_defined1();
    let stats = rt_bounded::<512>(16).block_on(async {
        timeout(Duration::from_secs(30), async {
            let mut mine = signal(kind).unwrap();
            let mut other = signal(kind).unwrap();
            // The other listener acknowledges each delivery over a channel.
            let (ack, mut acks) = mpsc::channel::<()>(4);
            let helper = spawn(async move {
                while other.recv().await.is_some() {
                    if ack.send(()).await.is_err() {
                        break;
                    }
                }
            });
            let mut before = AllocStats::current_thread();
            for round in 0..WARMUP + ROUNDS {
                if round == WARMUP {
                    before = AllocStats::current_thread();
                }
                raise(kind.as_raw_value()).unwrap();
                assert_eq!(mine.recv().await, Some(()));
                acks.recv().await.unwrap();
            }
            let stats = AllocStats::current_thread().since(&before);
            helper.abort();
            stats
        })
        .await
        .expect("the test hung (30 s guard)")
    });
    println!("{ROUNDS} signal round trips: {stats}");
    assert_eq!(stats.allocs + stats.reallocs + stats.deallocs, 0, "{stats}");
}
