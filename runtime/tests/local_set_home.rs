//! A `LocalSet` spawned on while no runtime is entered: its tasks go to the last runtime
//! built on this thread that is alive (tokio's `let rt = ..; set.spawn_local(..);
//! set.block_on(&rt, ..)`), a set driven elsewhere panics, and with no runtime alive the
//! spawn panics as before.

mod support;

use std::panic::{AssertUnwindSafe, catch_unwind};

use support::rt;

fn panic_message(err: Box<dyn std::any::Any + Send>) -> String {
    err.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| err.downcast_ref::<String>().cloned())
        .unwrap_or_default()
}

#[test]
fn a_local_set_spawned_on_before_any_runtime_is_entered_uses_the_one_built_here() {
    // tokio's pattern (task_local_set::local_tasks_wake_join_all): build, spawn on the set
    // outside the runtime, then drive the set on it.
    let rt = rt();
    let set = tickslab_runtime::task::LocalSet::new();
    let handles: Vec<_> = (0..4)
        .map(|i| {
            set.spawn_local(async move {
                tickslab_runtime::task::spawn_local(async move { i })
                    .await
                    .unwrap()
            })
        })
        .collect();
    let out = set.block_on(&rt, async move {
        let mut out = Vec::new();
        for h in handles {
            out.push(h.await.unwrap());
        }
        out
    });
    assert_eq!(out, [0, 1, 2, 3]);
}

#[test]
fn dropping_such_a_set_and_its_runtime_drops_the_tasks() {
    let rt = rt();
    let rc = std::rc::Rc::new(());
    let held = rc.clone();
    let set = tickslab_runtime::task::LocalSet::new();
    set.spawn_local(async move {
        let _held = held;
        std::future::pending::<()>().await;
    });
    set.block_on(&rt, tickslab_runtime::yield_now());
    drop(set);
    drop(rt);
    assert_eq!(std::rc::Rc::strong_count(&rc), 1);
}

#[test]
fn such_a_set_driven_on_another_runtime_panics_instead_of_starving_its_tasks() {
    let home = rt();
    let set = tickslab_runtime::task::LocalSet::new();
    let h = set.spawn_local(async { 7 }); // on `home`, the last runtime built here
    let other = rt();
    let err = catch_unwind(AssertUnwindSafe(|| set.block_on(&other, async {}))).unwrap_err();
    assert!(panic_message(err).contains("driven on another"));
    assert_eq!(set.block_on(&home, h).unwrap(), 7);
}

#[test]
fn with_no_runtime_alive_a_local_set_spawn_still_panics() {
    drop(rt());
    let set = tickslab_runtime::task::LocalSet::new();
    let err = catch_unwind(AssertUnwindSafe(|| drop(set.spawn_local(async {})))).unwrap_err();
    assert!(panic_message(err).contains("no tickslab runtime"));
    assert_eq!(set.len(), 0, "the refused spawn left no count behind");
}
