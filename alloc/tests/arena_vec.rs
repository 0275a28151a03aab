//! [`FrameVec`](tickslab_alloc::arena::FrameVec): growth (moving or in place) and spare
//! capacity.

use tickslab_alloc::arena::FrameArena;

mod support;
use support::small;

#[test]
fn frame_vec_grows_and_keeps_contents() {
    let arena = small(256);
    let other = arena.alloc(0xAAu8);
    let mut v = arena.vec::<u32>();
    for i in 0..1000 {
        v.push(i);
        // Interleave allocations so growth sometimes cannot happen in place.
        if i % 100 == 0 {
            arena.alloc(i as u8);
        }
    }
    assert_eq!(v.len(), 1000);
    assert!(v.iter().copied().eq(0..1000));
    assert_eq!(v.pop(), Some(999));
    v.truncate(10);
    v.extend_from_slice(&[7, 8]);
    v.extend([9u32, 10].iter());
    assert_eq!(&v[8..], &[8, 9, 7, 8, 9, 10]);
    let s = v.into_slice();
    s[0] = 42;
    assert_eq!(s.len(), 14);
    assert_eq!(*other, 0xAA);
}

#[test]
fn frame_vec_grows_in_place_when_last() {
    let arena = small(1024);
    let mut v = arena.vec_with_capacity::<u64>(4);
    let p = v.as_ptr();
    for i in 0..64 {
        v.push(i);
    }
    assert_eq!(v.as_ptr(), p, "grew in place");
    assert_eq!(arena.stats().bytes_used, 64 * 8);
    let blocker = arena.alloc(1u8);
    v.push(64);
    assert_ne!(v.as_ptr(), p, "moved once something was allocated after it");
    assert!(v.iter().copied().eq(0..65));
    assert_eq!(*blocker, 1);
}

#[test]
fn frame_vec_spare_capacity() {
    let arena = FrameArena::new();
    let mut v = arena.vec_with_capacity::<u8>(8);
    for (i, slot) in v.spare_capacity_mut().iter_mut().take(3).enumerate() {
        slot.write(i as u8);
    }
    // SAFETY: the first three slots were written above.
    unsafe { v.set_len(3) };
    assert_eq!(*v, [0u8, 1, 2][..]);
}
