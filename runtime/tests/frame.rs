//! Frames: frame data and frame tasks, the wait at the frame's end, the reset, panics,
//! limits, and zero allocations per frame once warm.

mod support;

use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::Rc;
use std::time::Duration;

use tickslab_alloc::counting::{AllocStats, CountingAlloc};
use tickslab_runtime::frame::{ArenaConfig, scratch};
use tickslab_runtime::*;

use support::rt_bounded;

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc::system();

fn rt() -> Runtime {
    rt_bounded::<256>(1024)
}

#[test]
fn frame_tasks_borrow_frame_data_and_locals_across_timer_waits() {
    let mut rt = rt();
    let mut results = [0u64; 8];
    let seen_after_sleep = Cell::new(0);
    rt.frame(|f| {
        let inputs = f.alloc_slice_fill_with(8, |i| (i as u64 + 1) * 100);
        let label = f.alloc_str("frame-data");
        let (results, seen) = (&mut results, &seen_after_sleep);
        drop(f.spawn(async move {
            // At least one real suspension, whatever the clock does (under Miri, interpreted
            // code is slow enough that a 1 ms sleep may be due before its first poll).
            yield_now().await;
            for (i, (r, x)) in results.iter_mut().zip(inputs.iter()).enumerate() {
                sleep(Duration::from_millis(1 + (i as u64 % 3))).await;
                *r = *x + i as u64;
            }
            // Frame data is intact after real waits.
            assert_eq!(label, "frame-data");
            assert_eq!(inputs[7], 800);
            seen.set(seen.get() + 1);
        }));
    });
    assert_eq!(results, [100, 201, 302, 403, 504, 605, 706, 807]);
    assert_eq!(seen_after_sleep.get(), 1);
    let stats = rt.last_frame();
    assert_eq!((stats.number, stats.tasks_spawned), (1, 1));
    assert!(
        stats.end_wait_passes > 1,
        "the frame's end waited: {stats:?}"
    );
    assert!(stats.bytes_used > 0);
}

#[test]
fn the_reset_waits_for_every_frame_task_including_nested_ones() {
    let mut rt = rt();
    let done = Cell::new(0);
    rt.frame(|f| {
        let done = &done;
        for i in 0..10u64 {
            let slot = f.alloc(i);
            drop(f.spawn(async move {
                sleep(Duration::from_millis(*slot % 4)).await;
                // Frame tasks may spawn more frame tasks.
                drop(f.spawn(async move {
                    yield_now().await;
                    done.set(done.get() + 1);
                }));
                done.set(done.get() + 1);
            }));
        }
    });
    assert_eq!(done.get(), 20);
    assert_eq!(rt.last_frame().tasks_spawned, 20);
    assert_eq!(rt.stats().tasks_live, 0);
}

#[test]
fn frame_join_handles_give_outputs_and_ordinary_tasks_keep_running() {
    let mut rt = rt();
    let background = rt.spawn(async {
        for _ in 0..3 {
            sleep(Duration::from_millis(1)).await;
        }
        "background"
    });
    let sum = Cell::new(0);
    rt.frame(|f| {
        let sum = &sum;
        let a = f.spawn(async { 20 });
        let b = f.spawn(async { 22 });
        drop(f.spawn(async move { sum.set(a.await.unwrap() + b.await.unwrap()) }));
    });
    assert_eq!(sum.get(), 42);
    assert_eq!(rt.block_on(background).unwrap(), "background");
}

#[test]
fn a_panicking_frame_task_is_reported_and_the_arena_still_resets() {
    let mut rt = rt();
    let report = Cell::new(String::new());
    rt.frame(|f| {
        let report = &report;
        let bad = f.spawn(async { panic!("frame task bug") });
        drop(f.spawn(async move {
            let err = bad.await.unwrap_err();
            report.set(format!("{err}"));
        }));
        f.alloc_slice_copy(&[0u8; 1000]);
    });
    assert!(report.take().contains("frame task bug"));
    let first = rt.last_frame();
    assert!(first.bytes_used >= 1000);
    rt.frame(|f| {
        f.alloc(1u8);
    });
    let second = rt.last_frame();
    assert!(second.bytes_used < 100, "the arena was reset: {second:?}");
}

#[test]
fn a_panicking_frame_closure_cancels_its_tasks_first() {
    let mut rt = rt();
    struct Flag<'a>(&'a Cell<u32>);
    impl Drop for Flag<'_> {
        fn drop(&mut self) {
            self.0.set(self.0.get() + 1);
        }
    }
    let dropped = Cell::new(0);
    let r = catch_unwind(AssertUnwindSafe(|| {
        rt.frame(|f| {
            let flag = Flag(&dropped);
            drop(f.spawn(async move {
                let _flag = flag;
                std::future::pending::<()>().await
            }));
            panic!("frame closure bug");
        })
    }));
    assert!(r.is_err());
    assert_eq!(
        dropped.get(),
        1,
        "the frame task was dropped before the panic left frame()"
    );
    // The runtime and the next frame work.
    let ok = Cell::new(false);
    rt.frame(|f| drop(f.spawn(async { ok.set(true) })));
    assert!(ok.get());
    assert_eq!(rt.stats().tasks_live, 0);
}

#[test]
fn arena_limit_is_a_clear_error() {
    let mut rt = Runtime::builder()
        .slab_bounded::<256>(16)
        .frame_arena(ArenaConfig {
            chunk_size: 1024,
            byte_limit: Some(2048),
        })
        .build();
    rt.frame(|f| {
        assert!(f.try_alloc([0u8; 1500]).is_ok());
        let err = f.try_alloc([0u8; 1500]).unwrap_err();
        assert!(err.to_string().contains("2048"), "{err}");
        let big = [1u8; 4000];
        let (err, fut) = f.try_spawn(async move { big[0] }).unwrap_err();
        assert!(err.to_string().contains("2048"), "{err}");
        drop(fut);
        let msg = catch_unwind(AssertUnwindSafe(|| f.alloc([0u8; 3000]))).unwrap_err();
        let msg = msg.downcast_ref::<String>().cloned().unwrap_or_default();
        assert!(msg.contains("2048"), "{msg}");
    });
}

#[test]
fn ten_thousand_frames_allocate_nothing_after_the_first() {
    let mut rt = rt();
    let counter = Rc::new(Cell::new(0u64));
    let frame = |rt: &mut Runtime, n: u64| {
        let counter = &counter;
        rt.frame(|f| {
            let data: &[u64] = f.alloc_slice_fill_with(64, |i| i as u64 * n);
            let mut v = f.vec::<u32>();
            v.extend_from_slice(&[1, 2, 3, 4]);
            let v: &[u32] = v.into_slice();
            for k in 0..4u64 {
                drop(f.spawn(async move {
                    yield_now().await;
                    counter.set(counter.get() + data[k as usize] + u64::from(v[k as usize]));
                }));
            }
        });
    };
    frame(&mut rt, 1); // warm-up: arena chunks, task list, slab slots
    frame(&mut rt, 1);
    let before = AllocStats::current_thread();
    let frames = if cfg!(miri) { 20 } else { 10_000 };
    for n in 0..frames {
        frame(&mut rt, n);
    }
    let stats = AllocStats::current_thread().since(&before);
    println!("10,000 frames with 4 frame tasks each: {stats}");
    assert_eq!(stats.allocs + stats.reallocs, 0, "{stats}");
    assert_eq!(rt.last_frame().number, frames + 2);
}

#[test]
fn scratch_scopes_nest_reset_and_allocate_nothing_once_warm() {
    let sum = |n: u64| {
        scratch(|s| {
            let a = s.alloc_slice_fill_with(256, |i| i as u64 * n);
            let inner = scratch(|s2| s2.alloc_slice_copy(&a[..4]).iter().sum::<u64>());
            a.iter().sum::<u64>() + inner
        })
    };
    assert_eq!(sum(1), 32640 + 6);
    let before = AllocStats::current_thread();
    for n in 0..(if cfg!(miri) { 5 } else { 1000 }) {
        assert_eq!(sum(n), (32640 + 6) * n);
    }
    assert_eq!(AllocStats::current_thread().since(&before).allocs, 0);
}

#[test]
#[cfg_attr(miri, ignore = "Miri has no sockets")]
fn frame_tasks_waiting_on_a_socket_see_their_data_intact() {
    let mut rt = rt();
    let (server, client) = rt.block_on(async {
        let server = net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let client = net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        client.connect(server.local_addr().unwrap()).await.unwrap();
        (server, client)
    });
    let got = Cell::new(0usize);
    rt.frame(|f| {
        let expected: &[u8] = f.alloc_slice_copy(b"frame-packet");
        let buf = f.alloc([0u8; 64]);
        let (server, client, got) = (&server, &client, &got);
        drop(f.spawn(async move {
            let (n, _) = server.recv_from(buf).await.unwrap(); // waits on the socket
            assert_eq!(&buf[..n], expected); // frame data intact
            got.set(n);
        }));
        drop(f.spawn(async move {
            sleep(Duration::from_millis(2)).await; // waits on a timer
            client.send(expected).await.unwrap();
        }));
    });
    assert_eq!(got.get(), 12);
}
