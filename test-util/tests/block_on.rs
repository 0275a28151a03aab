//! `block_on` runs a future on a fresh tickslab runtime: timers, spawning, sockets.

use std::time::Duration;

#[test]
fn runs_timers_and_spawned_tasks() {
    let out = tickslab_test::block_on(async {
        let h = tickslab::spawn(async {
            tickslab::time::sleep(Duration::from_millis(1)).await;
            2
        });
        h.await.unwrap() * 21
    });
    assert_eq!(out, 42);
}

#[test]
fn sockets_work_inside() {
    let addr = tickslab_test::block_on(async {
        let l = tickslab::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap();
        l.local_addr().unwrap()
    });
    assert_eq!(addr.ip().to_string(), "127.0.0.1");
}

#[test]
#[should_panic(expected = "boom")]
fn a_panic_in_the_future_reaches_the_caller() {
    tickslab_test::block_on(async { panic!("boom") });
}
