//! `sync::Mutex` and `sync::RwLock`: guards held across `.await` by two tasks, FIFO
//! hand-over, a dropped `lock` future passing the lock on, panics while holding a guard (no
//! poisoning), `blocking_*` from plain threads, `mem::forget` of a guard, mapped and owned
//! guards, mapped read guards and downgrades (`downgrade_map`), write preference. In the spirit of tokio's `tests/sync_mutex*.rs` and
//! `sync_rwlock.rs` (written anew).

mod support;

use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Wake, Waker};
use std::thread;

use tickslab_runtime::sync::{Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
use tickslab_runtime::*;

use support::rt;

struct Count(AtomicUsize);

impl Wake for Count {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn waker() -> (Arc<Count>, Waker) {
    let c = Arc::new(Count(AtomicUsize::new(0)));
    (c.clone(), Waker::from(c))
}

fn woken(c: &Count) -> usize {
    c.0.load(Ordering::SeqCst)
}

fn poll<F: Future>(f: Pin<&mut F>, w: &Waker) -> Poll<F::Output> {
    f.poll(&mut Context::from_waker(w))
}

fn assert_send_sync<T: Send + Sync>() {}

#[test]
fn types_are_send_and_sync_like_tokio() {
    assert_send_sync::<Mutex<u8>>();
    assert_send_sync::<MutexGuard<'static, u8>>();
    assert_send_sync::<tickslab_runtime::sync::OwnedMutexGuard<u8>>();
    assert_send_sync::<RwLock<u8>>();
    assert_send_sync::<tickslab_runtime::sync::RwLockWriteGuard<'static, u8>>();
}

#[test]
fn two_tasks_hold_the_guard_across_awaits_in_turn() {
    let rt = rt();
    let log = rt.block_on(async {
        let m = Arc::new(Mutex::new(Vec::new()));
        let tasks: Vec<_> = (0..2)
            .map(|id| {
                let m = m.clone();
                spawn(async move {
                    for step in 0..3 {
                        let mut g = m.lock().await;
                        g.push((id, step, "in"));
                        yield_now().await; // the other task runs, and waits
                        g.push((id, step, "out"));
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        Arc::try_unwrap(m).unwrap().into_inner()
    });
    // Every "in" is followed by its own "out": no interleaving inside the lock.
    for pair in log.chunks(2) {
        assert_eq!((pair[0].0, pair[0].1), (pair[1].0, pair[1].1));
        assert_eq!((pair[0].2, pair[1].2), ("in", "out"));
    }
    assert_eq!(log.len(), 12);
}

#[test]
fn a_dropped_lock_future_passes_the_lock_on() {
    let m = Mutex::new(0);
    let g = m.try_lock().unwrap();
    let (cb, wb) = waker();
    let mut b = pin!(m.lock());
    {
        let (ca, wa) = waker();
        let mut a = pin!(m.lock());
        assert!(poll(a.as_mut(), &wa).is_pending());
        assert!(poll(b.as_mut(), &wb).is_pending());
        drop(g);
        assert_eq!(woken(&ca), 1);
    }
    assert_eq!(woken(&cb), 1, "the lock went on to b");
    let Poll::Ready(mut g) = poll(b.as_mut(), &wb) else {
        panic!("b has the lock")
    };
    *g += 1;
    assert!(m.try_lock().is_err());
}

#[test]
fn a_panic_while_holding_the_guard_does_not_poison() {
    let m = Arc::new(Mutex::new(1));
    let rt = rt();
    let m2 = m.clone();
    let r = rt.block_on(async move {
        spawn(async move {
            let mut g = m2.lock().await;
            *g = 2;
            panic!("user code panics with the lock held");
        })
        .await
    });
    assert!(r.unwrap_err().is_panic());
    assert_eq!(*m.try_lock().expect("unlocked by the unwinding"), 2);
}

#[test]
fn a_forgotten_guard_keeps_the_mutex_locked() {
    let m = Mutex::new(());
    std::mem::forget(m.try_lock().unwrap());
    assert!(m.try_lock().is_err());
}

#[test]
fn blocking_lock_from_plain_threads_against_tasks() {
    const N: usize = if cfg!(miri) { 20 } else { 1_000 };
    let m = Arc::new(Mutex::new(0usize));
    let threads: Vec<_> = (0..2)
        .map(|_| {
            let m = m.clone();
            thread::spawn(move || {
                for _ in 0..N {
                    *m.blocking_lock() += 1;
                }
            })
        })
        .collect();
    let rt = rt();
    let m2 = m.clone();
    rt.block_on(async move {
        for _ in 0..N {
            let mut g = m2.clone().lock_owned().await;
            yield_now().await;
            *g += 1;
        }
    });
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(*m.blocking_lock(), 3 * N);
}

#[test]
fn mapped_guard_get_mut_and_into_inner() {
    let mut m = Mutex::new((1, String::from("a")));
    {
        let g = m.try_lock().unwrap();
        let mut s = MutexGuard::map(g, |v| &mut v.1);
        s.push('b');
        assert!(m.try_lock().is_err(), "a mapped guard keeps the lock");
    }
    m.get_mut().0 = 5;
    {
        let g = m.try_lock().unwrap();
        assert!(MutexGuard::try_map(g, |_| None::<&mut u8>).is_err());
    }
    assert_eq!(m.into_inner(), (5, String::from("ab")));
}

#[test]
fn rwlock_readers_share_and_a_waiting_writer_blocks_new_readers() {
    let lock = RwLock::new(0);
    let r1 = lock.try_read().unwrap();
    let r2 = lock.try_read().unwrap();
    let (cw, ww) = waker();
    let mut writer = pin!(lock.write());
    assert!(poll(writer.as_mut(), &ww).is_pending());
    // Write preference: a reader arriving after the writer waits behind it.
    assert!(lock.try_read().is_err());
    let (cr, wr) = waker();
    let mut late_reader = pin!(lock.read());
    assert!(poll(late_reader.as_mut(), &wr).is_pending());
    drop(r1);
    assert_eq!(woken(&cw), 0);
    drop(r2);
    assert_eq!(woken(&cw), 1);
    let Poll::Ready(mut w) = poll(writer.as_mut(), &ww) else {
        panic!("the writer has the lock")
    };
    *w = 7;
    assert!(poll(late_reader.as_mut(), &wr).is_pending());
    let r = w.downgrade();
    assert_eq!(woken(&cr), 1, "downgrading lets the waiting reader in");
    let Poll::Ready(r3) = poll(late_reader.as_mut(), &wr) else {
        panic!("reader in")
    };
    assert_eq!((*r, *r3), (7, 7));
    assert!(lock.try_write().is_err());
}

#[test]
fn rwlock_owned_guards_and_blocking_from_threads() {
    let lock = Arc::new(RwLock::new(0u32));
    let t = {
        let lock = lock.clone();
        thread::spawn(move || {
            for _ in 0..100 {
                *lock.blocking_write() += 1;
                assert!(*lock.blocking_read() > 0);
            }
        })
    };
    let rt = rt();
    let l2 = lock.clone();
    rt.block_on(async move {
        for _ in 0..100 {
            let mut w = l2.clone().write_owned().await;
            *w += 1;
            let r = w.downgrade();
            yield_now().await;
            drop(r);
            let _r = l2.clone().read_owned().await;
        }
    });
    t.join().unwrap();
    assert_eq!(*lock.blocking_read(), 200);
}

#[test]
fn rwlock_panic_in_a_writer_does_not_poison() {
    let lock = Arc::new(RwLock::new(1));
    let l = lock.clone();
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _w = l.blocking_write();
        panic!("writer panics");
    }));
    assert!(r.is_err());
    assert_eq!(*lock.try_read().unwrap(), 1);
    assert!(lock.try_write().is_ok());
}

#[test]
fn rwlock_read_guards_map_and_downgrade_map() {
    rt().block_on(async {
        let lock = RwLock::new((1u32, String::from("two")));
        // A mapped read guard reads its part and keeps the lock read.
        let first = RwLockReadGuard::map(lock.read().await, |v| &v.0);
        assert_eq!(*first, 1);
        assert!(lock.try_write().is_err());
        let second = RwLockReadGuard::try_map(lock.read().await, |v| Some(v.1.as_str()));
        assert_eq!(&*second.unwrap(), "two");
        let none = RwLockReadGuard::try_map(lock.read().await, |_| None::<&u32>);
        let back = none.expect_err("None gives the guard back");
        drop((first, back));
        assert!(lock.try_write().is_ok(), "every read permit came back");

        // downgrade_map: no reader gets in while `f` runs; a waiting reader does after.
        let w = lock.write().await;
        let (_, wk) = waker();
        let mut reader = pin!(lock.read());
        assert!(poll(reader.as_mut(), &wk).is_pending());
        let part = RwLockWriteGuard::downgrade_map(w, |v| {
            assert!(lock.try_read().is_err(), "still written inside f");
            &v.1
        });
        let other = match poll(reader.as_mut(), &wk) {
            Poll::Ready(g) => g,
            Poll::Pending => panic!("the waiting reader got in after the downgrade"),
        };
        assert!(std::ptr::eq(&*part, &other.1));
        drop((part, other));

        // try_downgrade_map: `None` keeps the write lock, unbroken.
        let w = lock.write().await;
        let mut w = RwLockWriteGuard::try_downgrade_map(w, |_| None::<&u32>)
            .expect_err("None gives the write guard back");
        w.0 = 5;
        assert!(lock.try_read().is_err());
        let r = RwLockWriteGuard::try_downgrade_map(w, |v| Some(&v.0)).unwrap();
        assert_eq!(*r, 5);
        assert!(lock.try_read().is_ok(), "a reader now");
        drop(r);
        assert!(lock.try_write().is_ok());
    });
}

#[test]
fn a_panic_inside_a_map_releases_the_lock() {
    rt().block_on(async {
        let lock = RwLock::new(1);
        let w = lock.write().await;
        let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            RwLockWriteGuard::downgrade_map(w, |_: &i32| -> &i32 { panic!("in f") })
        }));
        assert!(res.is_err());
        assert!(lock.try_write().is_ok(), "the write lock was released");
        let r = lock.read().await;
        let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            RwLockReadGuard::map(r, |_: &i32| -> &i32 { panic!("in f") })
        }));
        assert!(res.is_err());
        assert!(lock.try_write().is_ok(), "the read lock was released");
    });
}

#[test]
fn a_mapped_read_guard_crosses_threads() {
    fn assert_send_sync<T: Send + Sync>(_: &T) {}
    let lock = Arc::new(RwLock::new(vec![1u8, 2, 3]));
    let guard = RwLockReadGuard::map(lock.try_read().unwrap(), |v| &v[1..]);
    assert_send_sync(&guard);
    let sum = thread::scope(|s| s.spawn(|| guard.iter().sum::<u8>()).join().unwrap());
    assert_eq!(sum, 5);
    drop(guard);
    assert!(lock.try_write().is_ok());
}
