//! Loopback socket benches, tickslab vs tokio vs nexus-async-rt in one run, client and
//! server tasks in the same runtime:
//! - `net/tcp_echo_64`: a 64-byte TCP echo round trip;
//! - `net/udp_ping_pong_64`: a 64-byte UDP ping-pong round trip;
//! - `net/udp_batch32_single`: 32 datagrams waiting, received one `recv_from` at a time
//!   (per datagram; the sends are outside the measured windows);
//! - `net/udp_batch32_batched`: the same, received with tickslab's `recv_many` (one
//!   `recvmmsg`); tokio and nexus-async-rt have no batched receive and are left out.

use criterion::{Criterion, criterion_group, criterion_main};
use tickslab_benches::{Workload, crit};

fn net(c: &mut Criterion) {
    crit::bench_workloads(c, Workload::NET);
}

criterion_group!(benches, net);
criterion_main!(benches);
