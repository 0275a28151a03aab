//! The cooperative budget: a task whose resources are always ready yields after
//! `coop::BUDGET` completed operations, so the other tasks (a heartbeat, the game channel)
//! get their turn; `unconstrained` lifts it.

mod support;

use std::cell::Cell;
use std::rc::Rc;

use support::rt_bounded;
use tickslab_runtime::net::UdpSocket;
use tickslab_runtime::sync::mpsc;
use tickslab_runtime::task::coop;
use tickslab_runtime::*;

/// Spawns a task that records how far `progress` had got when it first ran.
fn observer(progress: &Rc<Cell<u32>>) -> JoinHandle<u32> {
    let progress = progress.clone();
    spawn_slab(async move { progress.get() })
}

#[test]
fn a_task_draining_a_full_channel_yields_to_others() {
    let mut rt = rt_bounded::<256>(16);
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

#[test]
fn a_flooded_socket_cannot_starve_the_other_tasks() {
    let mut rt = rt_bounded::<512>(16);
    rt.block_on(async {
        let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = sock.local_addr().unwrap();
        let sender = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        for _ in 0..600 {
            sender.send_to(&[7u8; 32], addr).await.unwrap();
        }
        let received = Rc::new(Cell::new(0));
        let r = received.clone();
        let flood = spawn_slab(async move {
            let mut b = [0u8; 64];
            while r.get() < 600 {
                sock.recv(&mut b).await.unwrap();
                r.set(r.get() + 1);
            }
        });
        let seen_at = observer(&received);
        flood.await.unwrap();
        assert!(seen_at.await.unwrap() <= u32::from(coop::BUDGET));
    });
}

#[test]
fn unconstrained_code_does_not_yield_for_budget() {
    let mut rt = rt_bounded::<256>(16);
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
    let mut rt = rt_bounded::<256>(16);
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
