//! The cooperative budget: a task whose resources are always ready yields after
//! `coop::BUDGET` completed operations, so the other tasks (a heartbeat, the game channel)
//! get their turn; `unconstrained` lifts it.

mod support;

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use support::rt_bounded;
use tickslab_runtime::net::UdpSocket;
use tickslab_runtime::sync::local::mpsc;
use tickslab_runtime::task::coop;
use tickslab_runtime::*;

/// Spawns a task that records how far `progress` had got when it first ran.
fn observer(progress: &Rc<Cell<u32>>) -> JoinHandle<u32> {
    let progress = progress.clone();
    spawn_slab(async move { progress.get() })
}

#[test]
fn a_task_draining_a_full_channel_yields_to_others() {
    let rt = rt_bounded::<256>(16);
    rt.block_on(async {
        let (tx, mut rx) = mpsc::channel::<u32>(4096);
        for i in 0..2_000 {
            tx.try_send(i).unwrap();
        }
        let received = Rc::new(Cell::new(0));
        let r = received.clone();
        let drain = spawn_slab(async move {
            while rx.recv().await.is_some() {
                r.set(r.get() + 1);
                if r.get() == 2_000 {
                    break;
                }
            }
        });
        let seen_at = observer(&received);
        drain.await.unwrap();
        let seen_at = seen_at.await.unwrap();
        assert!(
            seen_at <= u32::from(coop::BUDGET),
            "the other task ran after {seen_at} receives, not after the whole channel"
        );
    });
}

/// A loopback UDP socket whose receive buffer holds a few hundred small datagrams.
fn roomy_udp_socket() -> std::net::UdpSocket {
    use std::os::fd::AsRawFd;
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let bytes: libc::c_int = 4 << 20; // capped by net.core.rmem_max; enough either way
    // SAFETY: a valid socket descriptor and a pointer to a live `c_int` of the given size.
    let r = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            std::ptr::from_ref(&bytes).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    assert_eq!(r, 0, "setsockopt(SO_RCVBUF)");
    sock
}

#[test]
fn a_flooded_socket_cannot_starve_the_other_tasks() {
    let rt = rt_bounded::<1024>(16);
    rt.block_on(async {
        let sock = UdpSocket::from_std(roomy_udp_socket()).unwrap();
        let addr = sock.local_addr().unwrap();
        let sender = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        for _ in 0..300 {
            sender.send_to(&[7u8; 32], addr).await.unwrap();
        }
        let received = Rc::new(Cell::new(0));
        let r = received.clone();
        let flood = spawn_slab(async move {
            // Every datagram is already queued: each receive is ready at once. (The loop ends
            // when the socket runs dry, so a datagram the kernel dropped cannot hang it.)
            let mut b = [0u8; 64];
            let dry = Duration::from_millis(200);
            while time::timeout(dry, sock.recv(&mut b)).await.is_ok() {
                r.set(r.get() + 1);
            }
        });
        let seen_at = observer(&received);
        flood.await.unwrap();
        let total = received.get();
        assert!(
            total > 2 * u32::from(coop::BUDGET),
            "only {total} datagrams queued"
        );
        assert!(seen_at.await.unwrap() <= u32::from(coop::BUDGET));
    });
}

#[test]
fn unconstrained_code_does_not_yield_for_budget() {
    let rt = rt_bounded::<256>(16);
    rt.block_on(async {
        let (tx, mut rx) = mpsc::channel::<u32>(1024);
        for i in 0..1_000 {
            tx.try_send(i).unwrap();
        }
        let received = Rc::new(Cell::new(0));
        let r = received.clone();
        let drain = spawn_slab(coop::unconstrained(async move {
            while r.get() < 1_000 {
                rx.recv().await.unwrap();
                r.set(r.get() + 1);
            }
        }));
        let seen_at = observer(&received);
        drain.await.unwrap();
        assert_eq!(seen_at.await.unwrap(), 1_000, "never yielded");
    });
}

#[test]
fn consume_budget_yields_once_spent_and_the_budget_is_fresh_each_poll() {
    let rt = rt_bounded::<256>(16);
    rt.block_on(async {
        assert!(coop::has_budget_remaining());
        let spins = Rc::new(Cell::new(0u32));
        let s = spins.clone();
        let busy = spawn_slab(async move {
            for _ in 0..1_000 {
                coop::consume_budget().await;
                s.set(s.get() + 1);
            }
        });
        let seen_at = observer(&spins);
        busy.await.unwrap();
        assert!(seen_at.await.unwrap() <= u32::from(coop::BUDGET));
    });
    // Outside any poll the budget is unconstrained.
    assert!(coop::has_budget_remaining());
}
