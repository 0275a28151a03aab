//! `stream_mock`: items in order, waits on the paused clock, the drop check.

use std::time::Duration;

use futures_util::StreamExt;
use tickslab::time::Instant;
use tickslab_test::stream_mock::StreamMockBuilder;

#[tickslab::test(start_paused = true)]
async fn yields_items_and_waits_on_the_runtime_clock() {
    let mut s = StreamMockBuilder::new()
        .next("a")
        .wait(Duration::from_secs(2))
        .next("b")
        .build();
    let start = Instant::now();
    assert_eq!(s.next().await, Some("a"));
    assert_eq!(start.elapsed(), Duration::ZERO);
    assert_eq!(s.next().await, Some("b"));
    assert_eq!(start.elapsed(), Duration::from_secs(2));
    assert_eq!(s.next().await, None);
}

#[test]
#[should_panic(
    expected = "StreamMock was dropped before all actions were consumed, 2 actions were not consumed"
)]
fn dropping_with_items_left_panics() {
    drop(StreamMockBuilder::new().next(1).next(2).build());
}

#[test]
fn waits_left_at_drop_are_allowed() {
    drop(
        StreamMockBuilder::<u8>::new()
            .wait(Duration::from_secs(1))
            .build(),
    );
}
