//! The paused clock as tokio's: `time::Instant` follows it, and it jumps to the next timer
//! when the runtime has nothing else to do (auto-advance), unless the builder turns that
//! off. Plus `Sleep::reset`/`deadline` and `Interval::reset*`.

use std::cell::Cell;
use std::rc::Rc;
use std::sync::mpsc as std_mpsc;
use std::time::Duration;

use tickslab::time::{self, Instant, sleep};

const HOUR: Duration = Duration::from_secs(3600);

#[tickslab::test(start_paused = true)]
async fn instant_follows_the_paused_clock() {
    let t0 = Instant::now();
    assert_eq!(Instant::now(), t0, "a paused clock stands still");
    time::advance(Duration::from_millis(250)).await;
    assert_eq!(Instant::now() - t0, Duration::from_millis(250));
    assert_eq!(t0.elapsed(), Duration::from_millis(250));
    let std: std::time::Instant = t0.into();
    assert_eq!(Instant::from_std(std), t0);
    assert_eq!(t0.checked_duration_since(Instant::now()), None);
}

#[tickslab::test(start_paused = true)]
async fn a_paused_clock_jumps_to_the_next_timer() {
    let t0 = Instant::now();
    sleep(HOUR).await;
    assert_eq!(
        Instant::now() - t0,
        HOUR,
        "exactly at the deadline, no real wait"
    );
    let r = time::timeout(Duration::from_secs(5), std::future::pending::<()>()).await;
    assert!(r.is_err());
    assert_eq!(Instant::now() - t0, HOUR + Duration::from_secs(5));
}

#[tickslab::test(start_paused = true)]
async fn the_clock_jumps_only_when_no_task_is_ready() {
    let count = Rc::new(Cell::new(0));
    let c = count.clone();
    let busy = tickslab::spawn(async move {
        for _ in 0..100 {
            c.set(c.get() + 1);
            tickslab::task::yield_now().await;
        }
    });
    sleep(Duration::from_millis(1)).await;
    assert_eq!(
        count.get(),
        100,
        "time moved only once the busy task was done"
    );
    busy.await.unwrap();
}

#[tickslab::test(start_paused = true)]
async fn timers_fire_in_deadline_order_when_jumping() {
    let order = Rc::new(std::cell::RefCell::new(Vec::new()));
    let mut set = tickslab::task::JoinSet::new();
    for ms in [30u64, 10, 20] {
        let o = order.clone();
        set.spawn(async move {
            sleep(Duration::from_millis(ms)).await;
            o.borrow_mut().push(ms);
        });
    }
    while set.join_next().await.is_some() {}
    assert_eq!(*order.borrow(), [10, 20, 30]);
}

#[test]
fn auto_advance_off_leaves_a_paused_clock_alone() {
    // The other thread sends only once the runtime is about to sleep: with auto-advance off,
    // a paused runtime with an hour-long sleep must sleep, not jump.
    let (parked_tx, parked_rx) = std_mpsc::channel::<()>();
    let rt = tickslab::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .auto_advance(false)
        .on_thread_park(move || {
            let _ = parked_tx.send(());
        })
        .build()
        .unwrap();
    let (tx, mut rx) = tickslab::sync::cross::channel::<u8>(1);
    let sender = std::thread::spawn(move || {
        parked_rx.recv().unwrap();
        tx.try_send(1).unwrap();
    });
    let (winner, elapsed) = rt.block_on(async {
        let t0 = Instant::now();
        let w = tickslab::select! {
            biased;
            Some(v) = rx.recv() => v,
            _ = sleep(HOUR) => 0,
        };
        (w, t0.elapsed())
    });
    sender.join().unwrap();
    assert_eq!((winner, elapsed), (1, Duration::ZERO));
}

#[tickslab::test(start_paused = true)]
async fn sleep_reset_and_deadline() {
    let t0 = Instant::now();
    let s = sleep(HOUR);
    tickslab::pin!(s);
    assert_eq!(s.deadline(), t0 + HOUR);
    s.as_mut().reset(t0 + Duration::from_secs(2));
    assert_eq!(s.deadline(), t0 + Duration::from_secs(2));
    (&mut s).await;
    assert_eq!(t0.elapsed(), Duration::from_secs(2));
    assert!(s.is_elapsed());
    // Reset after completion: it waits again.
    s.as_mut().reset(Instant::now() + Duration::from_secs(1));
    assert!(!s.is_elapsed());
    s.await;
    assert_eq!(t0.elapsed(), Duration::from_secs(3));
}

#[tickslab::test(start_paused = true)]
async fn interval_resets() {
    let t0 = Instant::now();
    let mut iv = time::interval(Duration::from_secs(10));
    assert_eq!(iv.tick().await, t0, "the first tick is at once");
    iv.reset_immediately();
    iv.tick().await;
    assert_eq!(t0.elapsed(), Duration::ZERO);
    iv.reset_after(Duration::from_secs(3));
    iv.tick().await;
    assert_eq!(t0.elapsed(), Duration::from_secs(3));
    iv.reset_at(t0 + Duration::from_secs(4));
    assert_eq!(iv.tick().await, t0 + Duration::from_secs(4));
    iv.reset();
    iv.tick().await;
    assert_eq!(t0.elapsed(), Duration::from_secs(14));
    assert_eq!(
        iv.tick().await,
        t0 + Duration::from_secs(24),
        "then every period"
    );
}
