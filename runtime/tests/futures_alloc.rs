//! Exact heap-allocation counts for the futures-util interop: a channel used as a `Sink`
//! and a `Stream` between two tasks, and `select!` over a receive and a sleep, allocate
//! nothing per message once warm (the sink holds its `send` future inline).
//!
//! Why a file of its own: a test binary has exactly one `#[global_allocator]`.

mod support;

use std::pin::pin;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt, select};
use tickslab_alloc::counting::CountingAlloc;
use tickslab_runtime::spawn_slab;
use tickslab_runtime::sync::local::mpsc;
use tickslab_runtime::time::{sleep, timeout};

use support::{allocs_during, rt_bounded};

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc::system();

const N: u64 = 1_000;

#[test]
fn sink_stream_and_select_allocate_nothing_per_message() {
    let rt = rt_bounded::<512>(16);
    rt.block_on(async {
        timeout(Duration::from_secs(30), async {
            let (tx, mut rx) = mpsc::channel::<u64>(4);
            let producer = spawn_slab(async move {
                let mut sink = pin!(tx.into_sink());
                for i in 0..2 * N {
                    sink.send(i).await.unwrap();
                }
            });
            // Warm-up: the first half.
            for i in 0..N {
                assert_eq!(rx.next().await, Some(i));
            }
            let (sum, stats) = allocs_during(async {
                let mut sum = 0;
                let mut long = pin!(sleep(Duration::from_secs(3600)));
                for _ in 0..N {
                    select! {
                        v = rx.recv() => sum += v.unwrap(),
                        () = long => unreachable!(),
                    }
                }
                sum
            })
            .await;
            assert_eq!(sum, (N..2 * N).sum::<u64>());
            println!("sink -> select!(recv, sleep), {N} messages: {stats}");
            assert_eq!(stats.allocs + stats.reallocs, 0, "{stats}");
            producer.await.unwrap();
            assert_eq!(rx.next().await, None);
        })
        .await
        .expect("the test hung (30 s guard)");
    });
}
