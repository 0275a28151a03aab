//! `#[tickslab::main]` / `#[tickslab::test]`: after tokio's `tests/macros_test.rs` (written
//! anew): return types, `?`, the arguments, and the slab option.

use std::time::Duration;

#[tickslab::test]
async fn runs_inside_a_runtime() {
    assert!(tickslab::runtime::Handle::try_current().is_ok());
    assert_eq!(tickslab::spawn(async { 5 }).await.unwrap(), 5);
}

#[tickslab::test]
async fn returns_a_result() -> Result<(), std::io::Error> {
    let v: u8 = "7".parse().map_err(std::io::Error::other)?;
    assert_eq!(v, 7);
    Ok(())
}

#[tickslab::test]
#[should_panic(expected = "inside the test")]
async fn a_panic_fails_the_test() {
    panic!("inside the test");
}

#[tickslab::test(flavor = "current_thread")]
async fn current_thread_flavor() {
    tickslab::task::yield_now().await;
}

#[tickslab::test(flavor = "local")]
async fn local_flavor() {
    let rc = std::rc::Rc::new(1);
    assert_eq!(
        tickslab::task::spawn_local(async move { *rc })
            .await
            .unwrap(),
        1
    );
}

#[tickslab::test(start_paused = true)]
async fn start_paused_pauses_the_clock() {
    let t0 = tickslab::time::now();
    tickslab::time::advance(Duration::from_secs(5)).await;
    assert_eq!(tickslab::time::now() - t0, Duration::from_secs(5));
}

#[tickslab::test(slab = 16)]
async fn slab_gives_a_bounded_slab() {
    let stats = tickslab::RuntimeStats::current().unwrap();
    assert_eq!(stats.slab_capacity, Some(16));
    assert_eq!(tickslab::spawn_slab(async { 3 }).await.unwrap(), 3);
}

#[tickslab::test(slab(slots = 8, size = 512))]
async fn slab_with_a_slot_size() {
    let big = [1u8; 300]; // needs more than 256 bytes
    let h = tickslab::spawn_slab(async move { big.iter().map(|&b| b as u32).sum::<u32>() });
    assert_eq!(h.await.unwrap(), 300);
    assert_eq!(
        tickslab::RuntimeStats::current().unwrap().slab_capacity,
        Some(8)
    );
}

#[tickslab::test(crate = "tickslab")]
async fn crate_path_argument() {}

mod renamed {
    // What a `tokio = { package = "tickslab" }` line gives: the crate under another name.
    extern crate tickslab as tokio;

    #[tokio::test(crate = "tokio")]
    async fn select_and_join_through_another_name() {
        let (a, b) = tokio::join!(async { 1 }, async { 2 });
        let c = tokio::select! { v = async { 3 } => v };
        assert_eq!(a + b + c, 6);
    }
}

// A multi-thread test compiles (so the other tests of its file still run) and fails, saying
// why and what to use; `#[main]` with the same argument is a compile error (tests/ui).
#[tickslab::test(flavor = "multi_thread", worker_threads = 2)]
#[should_panic(expected = "tickslab runs on one thread and has no multi-thread runtime")]
async fn a_multi_thread_test_fails_saying_why() {
    unreachable!("the body of a refused test never runs");
}

#[tickslab::test(worker_threads = 4)]
#[should_panic(expected = "has no worker threads")]
async fn worker_threads_on_a_test_fails_saying_why() {}
