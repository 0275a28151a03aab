//! Differential tests: the same scenarios, written once, run on tokio (current_thread +
//! LocalSet) and on tickslab through tokio's own paths (`tickslab::task`,
//! `tickslab::runtime`): same names, same results.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

/// Expands `$body` twice: once with `task` = `tokio::task` on a tokio current-thread
/// runtime with a `LocalSet`, once with `task` = `tickslab::task` on tickslab.
macro_rules! on_both {
    ($name:ident, $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[test]
            fn tokio() {
                #[allow(unused_imports)]
                use tokio as krate;
                #[allow(unused_imports)]
                use tokio::task;
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                tokio::task::LocalSet::new().block_on(&rt, async { $body });
            }

            #[test]
            fn tickslab() {
                #[allow(unused_imports)]
                use tickslab as krate;
                #[allow(unused_imports)]
                use tickslab::task;
                let rt = tickslab::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                tickslab::task::LocalSet::new().block_on(&rt, async { $body });
            }
        }
    };
}

on_both!(join_returns_the_output, {
    let h = task::spawn_local(async { 6 * 7 });
    assert_eq!(h.await.unwrap(), 42);
});

on_both!(panic_becomes_a_join_error_with_payload, {
    let h = task::spawn_local(async {
        task::yield_now().await;
        panic!("kaboom");
    });
    let err = h.await.unwrap_err();
    assert!(err.is_panic());
    assert!(!err.is_cancelled());
    let payload = err.into_panic();
    assert_eq!(*payload.downcast_ref::<&str>().unwrap(), "kaboom");
    // The runtime keeps going.
    assert_eq!(task::spawn_local(async { 1 }).await.unwrap(), 1);
});

on_both!(abort_cancels_a_pending_task_and_drops_it, {
    struct Flag(Rc<Cell<bool>>);
    impl Drop for Flag {
        fn drop(&mut self) {
            self.0.set(true);
        }
    }
    let dropped = Rc::new(Cell::new(false));
    let f = Flag(dropped.clone());
    let h = task::spawn_local(async move {
        let _f = f;
        std::future::pending::<()>().await
    });
    task::yield_now().await;
    h.abort();
    let err = h.await.unwrap_err();
    assert!(err.is_cancelled());
    assert!(dropped.get());
});

on_both!(abort_after_completion_keeps_the_output, {
    let h = task::spawn_local(async { "done" });
    while !h.is_finished() {
        task::yield_now().await;
    }
    h.abort();
    assert_eq!(h.await.unwrap(), "done");
});

on_both!(dropping_the_handle_detaches, {
    let ran = Rc::new(Cell::new(false));
    let r = ran.clone();
    drop(task::spawn_local(async move {
        task::yield_now().await;
        r.set(true);
    }));
    for _ in 0..5 {
        task::yield_now().await;
    }
    assert!(ran.get());
});

on_both!(yield_now_round_robins_tasks, {
    let log = Rc::new(RefCell::new(Vec::new()));
    let mk = |name: &'static str, log: Rc<RefCell<Vec<&'static str>>>| async move {
        for _ in 0..3 {
            log.borrow_mut().push(name);
            task::yield_now().await;
        }
    };
    let a = task::spawn_local(mk("a", log.clone()));
    let b = task::spawn_local(mk("b", log.clone()));
    a.await.unwrap();
    b.await.unwrap();
    // Both interleave (exact order differs: tokio defers yielded tasks to the end of its
    // tick; tickslab is strictly round-robin, tested in the runtime's own tests).
    let log = log.borrow();
    assert_eq!(log.iter().filter(|&&n| n == "a").count(), 3);
    assert_eq!(log.iter().filter(|&&n| n == "b").count(), 3);
    assert_eq!(
        &log[..2],
        ["a", "b"],
        "the first yield let the other task run"
    );
    assert_ne!(&log[..3], ["a", "a", "a"]);
});

on_both!(nested_spawns_and_joins, {
    let outer = task::spawn_local(async {
        let inner = task::spawn_local(async { 20 });
        inner.await.unwrap() + 1
    });
    assert_eq!(outer.await.unwrap(), 21);
});

on_both!(join_error_display_names_the_cause, {
    let h = task::spawn_local(async { panic!("with a message") });
    let msg = h.await.unwrap_err().to_string();
    assert!(msg.contains("panicked"), "{msg}");
    let h = task::spawn_local(std::future::pending::<()>());
    h.abort();
    let msg = h.await.unwrap_err().to_string();
    assert!(msg.contains("cancelled"), "{msg}");
});

on_both!(join_set_returns_results_in_finish_order, {
    let mut set = task::JoinSet::new();
    for i in 0..4u32 {
        set.spawn_local(async move {
            for _ in 0..(4 - i) {
                task::yield_now().await;
            }
            i
        });
    }
    let mut order = Vec::new();
    while let Some(res) = set.join_next().await {
        order.push(res.unwrap());
    }
    assert_eq!(order, [3, 2, 1, 0]);
    assert!(set.try_join_next().is_none());
});

on_both!(join_set_abort_all_then_shutdown, {
    let mut set = task::JoinSet::new();
    let abort = set.spawn_local(std::future::pending::<()>());
    set.spawn_local(async {});
    task::yield_now().await;
    assert!(!abort.is_finished());
    assert!(
        set.try_join_next().unwrap().is_ok(),
        "the finished one is there"
    );
    set.abort_all();
    let err = set.join_next().await.unwrap().unwrap_err();
    assert!(err.is_cancelled());
    assert!(abort.is_finished());
    set.shutdown().await;
    assert!(set.is_empty());
});

on_both!(abort_handle_cancels_a_detached_task, {
    let h = task::spawn_local(std::future::pending::<()>());
    let abort = h.abort_handle();
    assert_eq!(abort.id(), h.id());
    drop(h);
    abort.abort();
    task::yield_now().await;
    assert!(abort.is_finished());
});

on_both!(task_ids_inside_tasks, {
    assert!(task::try_id().is_none(), "the root future is not a task");
    let h = task::spawn_local(async { task::id() });
    let id = h.id();
    assert_eq!(h.await.unwrap(), id);
});

on_both!(select_biased_patterns_and_else, {
    let v = krate::select! {
        biased;
        Some(x) = async { None::<u8> } => x,
        x = async { 2u8 } => x,
        _ = async { 3u8 } => unreachable!(),
    };
    assert_eq!(v, 2);
    let w = krate::select! {
        _ = async {}, if false => 0,
        Some(x) = async { None::<u8> } => x,
        else => 9,
    };
    assert_eq!(w, 9);
});

on_both!(join_and_try_join, {
    let (a, b) = krate::join!(async { 1 }, async {
        task::yield_now().await;
        2
    });
    assert_eq!(a + b, 3);
    let r: Result<(u8, u8), &str> = krate::try_join!(async { Ok(1) }, async { Err("e") });
    assert_eq!(r, Err("e"));
});

on_both!(task_local_scopes, {
    krate::task_local! {
        static NUMBER: u32;
    }
    let v = NUMBER
        .scope(5, async {
            task::yield_now().await;
            NUMBER.get()
        })
        .await;
    assert_eq!(v, 5);
    assert!(NUMBER.try_with(|_| ()).is_err());
    assert_eq!(NUMBER.sync_scope(6, || NUMBER.get()), 6);
});

mod spawn_traits {
    use futures_task::{LocalFutureObj, LocalSpawn, Spawn};
    use std::cell::Cell;
    use std::rc::Rc;
    use tickslab::compat::LocalSpawner;

    #[test]
    fn local_spawn_and_spawn_run_on_the_current_runtime() {
        let rt = tickslab::Runtime::builder().slab_bounded::<128>(1).build();
        let count = Rc::new(Cell::new(0));
        let c = count.clone();
        rt.block_on(async move {
            let sp = LocalSpawner::new();
            for _ in 0..3 {
                // One goes in the slab, the rest overflow into boxed tasks.
                let c = c.clone();
                sp.spawn_local_obj(LocalFutureObj::new(Box::new(
                    async move { c.set(c.get() + 1) },
                )))
                .unwrap();
            }
            sp.spawn_obj(futures_task::FutureObj::new(Box::new(async {})))
                .unwrap();
            sp.status_local().unwrap();
            for _ in 0..3 {
                tickslab::yield_now().await;
            }
        });
        assert_eq!(count.get(), 3);
    }

    #[test]
    fn spawning_outside_a_runtime_is_a_shutdown_error() {
        let sp = LocalSpawner::new();
        let err = sp
            .spawn_local_obj(futures_task::LocalFutureObj::new(Box::new(async {})))
            .unwrap_err();
        assert!(err.is_shutdown());
    }
}
