//! Smoke test: the example from the issue.
use nexus_slab::byte::bounded::Slab;
use tickslab_runtime::*;

#[test]
fn issue_example() {
    let slab = unsafe { Slab::<256>::with_capacity(1024) };
    let mut rt = Runtime::builder().slab_bounded(slab).build();
    let out = rt.block_on(async {
        let h = spawn_slab(async { 40 + 2 });
        let claim = try_claim_slab().expect("room");
        let h2 = claim.spawn(async { 1 });
        let b = spawn(async { 100 });
        h.await.unwrap() + h2.await.unwrap() + b.await.unwrap()
    });
    assert_eq!(out, 143);
    let s = rt.stats();
    assert_eq!(s.slab_used, 0);
    assert_eq!(s.tasks_live, 0);
}
