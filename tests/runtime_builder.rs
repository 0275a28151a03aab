//! tokio's `runtime::Builder` rules on tickslab's facade: timers exist only after
//! `enable_time` / `enable_all` (a `sleep` or `timeout` on a runtime without them panics with
//! tokio's message, at the caller's line), and `global_queue_interval` is accepted (0 is
//! refused, as tokio refuses it).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Duration;

use tickslab::runtime::Builder;

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    match payload.downcast::<String>() {
        Ok(s) => *s,
        Err(p) => p.downcast_ref::<&str>().copied().unwrap_or("?").to_string(),
    }
}

#[test]
fn a_runtime_without_enable_time_refuses_timers() {
    let rt = Builder::new_current_thread().build().unwrap();
    let caught = catch_unwind(AssertUnwindSafe(|| {
        rt.block_on(async {
            let pending = std::future::pending::<()>();
            drop(tickslab::time::timeout(Duration::from_millis(5), pending));
        })
    }));
    let msg = panic_message(caught.unwrap_err());
    assert!(
        msg.contains("timers are disabled. Call `enable_time`"),
        "{msg}"
    );
    // Everything else works on it.
    assert_eq!(
        rt.block_on(async { tickslab::spawn(async { 2 }).await.unwrap() }),
        2
    );
}

#[test]
fn enable_time_and_enable_all_turn_timers_on() {
    for rt in [
        Builder::new_current_thread().enable_time().build().unwrap(),
        Builder::new_current_thread().enable_all().build().unwrap(),
    ] {
        rt.block_on(tickslab::time::sleep(Duration::from_millis(1)));
    }
    // tickslab's own builder has them on.
    tickslab::Runtime::new()
        .unwrap()
        .block_on(tickslab::time::sleep(Duration::from_millis(1)));
}

#[test]
fn global_queue_interval_is_accepted_and_zero_refused() {
    let rt = Builder::new_current_thread()
        .global_queue_interval(31)
        .build()
        .unwrap();
    assert_eq!(rt.block_on(async { 1 }), 1);
    let zero = catch_unwind(|| {
        let _ = Builder::new_current_thread().global_queue_interval(0);
    });
    assert!(panic_message(zero.unwrap_err()).contains("global_queue_interval"));
}
