//! The `cross/round_trip` workload: a game thread talks to a runtime on its own thread
//! through two bounded cross-thread channels, game → runtime → game.
//!
//! The game thread (the caller, which measures) sends with `try_send` and spins on
//! `try_recv`; the runtime thread runs one task that receives with `recv().await` and
//! sends back with `send().await`, sleeping in epoll between messages. The channels come
//! from each runtime's [`Flavor`]; only the runtime construction differs per contender.

use std::hint::black_box;
use std::sync::mpsc::sync_channel;

use crate::meter::{Meter, Sample};
use crate::workload::{NET_WARMUP, note_stall, spin_until, spin_until_or_stall};
use crate::{Driver, Flavor};

/// One round trip from the game thread: send `i`, spin until it comes back. After a
/// stall ([`STALL_AFTER`](crate::workload::STALL_AFTER) without an answer) the stall is
/// counted and `i` sent again; the extra echo is skipped in a later round.
#[inline]
fn round_trip<F: Flavor>(tx: &F::GameTx, rx: &mut F::GameRx, i: u64) {
    spin_until(|| F::game_try_send(tx, i));
    loop {
        let mut got = None;
        let answered = spin_until_or_stall(|| {
            got = F::game_try_recv(rx);
            got.is_some()
        });
        match got {
            Some(v) if v == i => return,
            Some(v) if v < i => {} // the echo of a nudge
            Some(v) => panic!("cross round trip: got {v}, expected {i}"),
            None => {
                debug_assert!(!answered);
                note_stall();
                let _ = F::game_try_send(tx, i);
            }
        }
    }
}

/// Builds a runtime with `make` on a new thread, runs the echo task on it, and measures
/// `iters` round trips from the calling thread. Runtime start and [`NET_WARMUP`] warm-up
/// round trips are outside the window; so are shutting the channel and joining.
pub fn cross_round_trip<D: Driver + 'static>(make: fn() -> D, iters: u64) -> Sample {
    let (ends_tx, ends_rx) = sync_channel(1);
    let runtime_thread = std::thread::spawn(move || {
        let mut driver = make();
        driver.run_in_task(D::Flavor::cross_serve(ends_tx));
    });
    let (tx, mut rx) = ends_rx.recv().expect("runtime thread did not start");
    for i in 0..NET_WARMUP {
        round_trip::<D::Flavor>(&tx, &mut rx, i);
    }
    let meter = Meter::start();
    for i in NET_WARMUP..NET_WARMUP + iters {
        round_trip::<D::Flavor>(&tx, &mut rx, black_box(i));
    }
    let sample = meter.stop();
    drop(tx);
    drop(rx);
    runtime_thread.join().expect("runtime thread panicked");
    sample
}
