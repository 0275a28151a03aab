//! `io::Mock` against its script: reads, writes, errors, waits on a paused clock, the
//! handle, two tasks sharing a mock, and the panics (unexpected or mismatched writes,
//! script left over at drop).

use std::io;
use std::time::Duration;

use tickslab::io::{AsyncReadExt, AsyncWriteExt};
use tickslab::time::Instant;
use tickslab_test::io::Builder;
use tickslab_test::{assert_pending, assert_ready, assert_ready_ok, task};

#[tickslab::test]
async fn reads_follow_the_script_one_action_at_a_time() {
    let mut mock = Builder::new().read(b"hello ").read(b"world!").build();
    let mut buf = [0; 32];
    assert_eq!(mock.read(&mut buf).await.unwrap(), 6);
    assert_eq!(&buf[..6], b"hello ");
    assert_eq!(mock.read(&mut buf).await.unwrap(), 6);
    assert_eq!(&buf[..6], b"world!");
    assert_eq!(
        mock.read(&mut buf).await.unwrap(),
        0,
        "an empty script is the end"
    );
}

#[tickslab::test]
async fn a_small_buffer_takes_a_read_in_pieces() {
    let mut mock = Builder::new().read(b"abcdef").build();
    let mut buf = [0; 4];
    assert_eq!(mock.read(&mut buf).await.unwrap(), 4);
    assert_eq!(&buf, b"abcd");
    assert_eq!(mock.read(&mut buf).await.unwrap(), 2);
    assert_eq!(&buf[..2], b"ef");
}

#[tickslab::test]
async fn writes_may_span_actions_and_be_split() {
    let mut mock = Builder::new().write(b"ab").write(b"cd").build();
    assert_eq!(mock.write(b"abc").await.unwrap(), 3);
    assert_eq!(mock.write(b"d").await.unwrap(), 1);
    assert_eq!(mock.write(b"").await.unwrap(), 0);
}

#[tickslab::test]
async fn errors_are_returned_where_scripted_then_the_script_goes_on() {
    let mut mock = Builder::new()
        .read(b"a")
        .read_error(io::Error::other("cruel"))
        .read(b"b")
        .write_error(io::Error::new(io::ErrorKind::BrokenPipe, "gone"))
        .write(b"c")
        .build();
    let mut buf = [0; 8];
    assert_eq!(mock.read(&mut buf).await.unwrap(), 1);
    let e = mock.read(&mut buf).await.unwrap_err();
    assert_eq!(
        (e.kind(), e.to_string()),
        (io::ErrorKind::Other, "cruel".into())
    );
    assert_eq!(mock.read(&mut buf).await.unwrap(), 1);
    let e = mock.write(b"c").await.unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::BrokenPipe);
    mock.write_all(b"c").await.unwrap();
}

#[test]
fn a_builder_kept_alive_builds_mocks_that_each_return_the_error() {
    let mut builder = Builder::new();
    builder.read_error(io::Error::from_raw_os_error(OS_ERROR));
    for _ in 0..2 {
        let mut mock = task::spawn(builder.build());
        let mut buf = [0; 4];
        let e = tickslab_test::block_on(mock.read(&mut buf)).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(OS_ERROR));
    }
}

/// Any OS error code: the mock must hand the same code back (104 is ECONNRESET on Linux).
const OS_ERROR: i32 = 104;

#[tickslab::test]
async fn writes_pass_over_reads_still_to_come() {
    // A connection's directions are independent: the code may write first.
    let mut mock = Builder::new().read(b"in").write(b"out").build();
    mock.write_all(b"out").await.unwrap();
    let mut buf = [0; 2];
    mock.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"in");
}

#[tickslab::test(start_paused = true)]
async fn waits_are_tickslab_timers_on_the_paused_clock() {
    let mut mock = Builder::new()
        .read(b"a")
        .wait(Duration::from_secs(30))
        .read(b"b")
        .wait(Duration::from_secs(10))
        .write(b"c")
        .build();
    let start = Instant::now();
    let mut buf = [0; 1];
    mock.read_exact(&mut buf).await.unwrap();
    assert_eq!(start.elapsed(), Duration::ZERO);
    mock.read_exact(&mut buf).await.unwrap();
    assert_eq!(start.elapsed(), Duration::from_secs(30));
    mock.write_all(b"c").await.unwrap();
    assert_eq!(start.elapsed(), Duration::from_secs(40));
}

#[tickslab::test(start_paused = true)]
async fn a_read_waiting_on_the_timer_is_pending_until_the_clock_moves() {
    let mut mock = task::spawn(
        Builder::new()
            .wait(Duration::from_secs(1))
            .read(b"x")
            .build(),
    );
    let mut buf = [0; 1];
    assert_pending!(mock.enter(|cx, m| {
        let mut rb = tickslab::io::ReadBuf::new(&mut buf);
        tickslab::io::AsyncRead::poll_read(m, cx, &mut rb)
    }));
    tickslab::time::advance(Duration::from_secs(1)).await;
    assert!(mock.is_woken(), "the timer woke the task");
    let mut rb = tickslab::io::ReadBuf::new(&mut buf);
    assert_ready_ok!(mock.enter(|cx, m| tickslab::io::AsyncRead::poll_read(m, cx, &mut rb)));
    assert_eq!(rb.filled(), b"x");
}

#[tickslab::test]
async fn a_handle_scripts_more_while_the_mock_runs() {
    let (mut mock, mut handle) = Builder::new().read(b"one").build_with_handle();
    let mut buf = [0; 8];
    assert_eq!(mock.read(&mut buf).await.unwrap(), 3);

    // The script is empty but a handle lives: the read waits instead of ending.
    let mut read = task::spawn(async move {
        let n = mock.read(&mut buf).await.unwrap();
        (mock, buf, n)
    });
    assert_pending!(read.poll());
    handle.read(b"two").write(b"three");
    assert!(read.is_woken(), "the handle's action woke the reader");
    let (mut mock, buf, n) = assert_ready!(read.poll());
    assert_eq!(&buf[..n], b"two");
    mock.write_all(b"three").await.unwrap();

    drop(handle);
    assert_eq!(
        mock.read(&mut [0; 4]).await.unwrap(),
        0,
        "no handle: the end"
    );
}

#[tickslab::test(start_paused = true)]
async fn a_reader_and_a_writer_task_share_a_mock() {
    // The reader waits while a write is in front; the writer's progress wakes it. (A lost
    // wake-up would leave only the timeout's timer: the paused clock jumps to it.)
    let mock = Builder::new().write(b"req").read(b"resp").build();
    let (mut rd, mut wr) = tickslab::io::split(mock);
    let reader = tickslab::spawn(async move {
        let mut buf = [0; 4];
        rd.read_exact(&mut buf).await.unwrap();
        (rd, buf)
    });
    tickslab::task::yield_now().await;
    wr.write_all(b"req").await.unwrap();
    let (rd, buf) = tickslab::time::timeout(Duration::from_secs(3600), reader)
        .await
        .expect("the writer's progress wakes the reader")
        .unwrap();
    assert_eq!(&buf, b"resp");
    drop(rd.unsplit(wr));
}

#[tickslab::test]
#[should_panic(
    expected = "does not match the script (name server, 1 actions remain): action #0 expects b\"hello\", the code wrote b\"help!\""
)]
async fn a_mismatched_write_panics_naming_both() {
    let mut mock = Builder::new().name("server").write(b"hello").build();
    let _ = mock.write(b"help!").await;
}

#[tickslab::test]
#[should_panic(
    expected = "unexpected write of b\"surprise\": the mock's script holds no more writes (0 actions remain)"
)]
async fn a_write_with_no_script_left_panics() {
    let mut mock = Builder::new().build();
    let _ = mock.write(b"surprise").await;
}

#[tickslab::test]
#[should_panic(expected = "unexpected write of b\"x\"")]
async fn a_write_when_only_reads_remain_panics_instead_of_hanging() {
    let mut mock = Builder::new().read(b"only a read").build();
    let _ = mock.write(b"x").await;
}

#[test]
#[should_panic(
    expected = "There is still data left to read: 5 scripted bytes were never read (name client, 1 actions remain)"
)]
fn dropping_a_mock_with_unread_script_panics() {
    let mock = Builder::new().name("client").read(b"hello").build();
    drop(mock);
}

#[test]
#[should_panic(expected = "There is still data left to write: 2 scripted bytes were never written")]
fn dropping_a_mock_with_unwritten_script_panics() {
    let mut mock = Builder::new().write(b"abcd").build();
    tickslab_test::block_on(mock.write_all(b"ab")).unwrap();
    drop(mock);
}

#[test]
fn errors_and_waits_left_at_drop_are_allowed_and_no_double_panic() {
    drop(
        Builder::new()
            .read_error(io::Error::other("x"))
            .wait(Duration::from_secs(1))
            .build(),
    );
    // Unwinding through a mock with script left does not panic again (that would abort).
    let r = std::panic::catch_unwind(|| {
        let _mock = Builder::new().read(b"left").build();
        panic!("user panic");
    });
    let msg = r.unwrap_err();
    assert_eq!(msg.downcast_ref::<&str>(), Some(&"user panic"));
}

#[test]
#[should_panic(expected = "the mock this handle scripts was dropped")]
fn a_handle_of_a_dropped_mock_panics() {
    let (mock, mut handle) = Builder::new().build_with_handle();
    drop(mock);
    handle.read(b"late");
}

#[test]
fn a_handle_and_a_builder_go_to_other_threads_as_tokio_tests() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<tickslab_test::io::Handle>();
    send_sync::<Builder>();
    let (mock, mut handle) = Builder::new().build_with_handle();
    std::thread::spawn(move || {
        handle.read(b"from afar");
    })
    .join()
    .unwrap();
    let mut mock = mock;
    let mut buf = [0; 9];
    tickslab_test::block_on(mock.read_exact(&mut buf)).unwrap();
    assert_eq!(&buf, b"from afar");
}
