//! An intrusive FIFO list of waiting tasks, for senders waiting for room in a bounded
//! channel: no allocation per wait.
//!
//! Each waiting future embeds one [`Waiter`] node. While the future is pending the node is
//! linked into the channel's [`WaiterList`]; the list only holds raw pointers to the nodes.
//! This is sound because of three rules, which every user of this module keeps:
//!
//! 1. **One lock.** Every access to a node's fields (links, waker, state) goes through the
//!    `&mut WaiterList` of the one list the node is used with. The list sits behind that
//!    channel's lock: a `RefCell` in a `!Send` channel (local `mpsc`) or a
//!    `std::sync::Mutex` (cross-thread channels). The owning future never reads its node
//!    directly; it asks the list (under the lock).
//! 2. **Pinned.** A node is only linked through `Pin<&Waiter>`, so it does not move while
//!    linked. `Waiter` is `!Unpin` ([`PhantomPinned`]), so its owner is too.
//! 3. **Unlinked before it dies.** The owning future's `Drop` calls [`WaiterList::remove`]
//!    under the lock before the node's memory goes away. `Pin`'s drop guarantee says that
//!    memory of a pinned value is not reused before its destructor ran, so the list never
//!    holds a dangling pointer. (A leaked future leaks its node: still linked, still valid
//!    memory. If the channel then dies, the list dies with the leaked node in it; nobody
//!    follows its links again.)
//!
//! Node states: `Idle` (not in the list, nothing pending), `Queued` (linked, with a waker),
//! `Notified` (taken out of the list by a wake: the owner must act on it, or pass it on when
//! it is dropped so that no wakeup is lost).
//!
//! Each node also carries one `usize` of **payload** that the primitive using the list
//! interprets (a semaphore: permits still missing; `Notify`: the generation the waiter was
//! made in, then how it was woken). It is read and written under the same lock as the rest
//! of the node, through [`WaiterList::payload`], [`WaiterList::front_payload`] and
//! [`WaiterList::back_payload`].
//!
//! The same list serves the same-thread primitives (behind a `RefCell`) and every
//! thread-safe one in `sync/` (`Semaphore`, and through it `Mutex`, `RwLock`, `OnceCell`
//! and `mpsc`'s capacity; `Notify`, and through it `watch`, `Barrier`, `SetOnce` and
//! `CancellationToken`; `broadcast`'s receivers; the cross channel; `SyncPool`): one list,
//! one set of rules, rather than one per primitive.
//!
//! Wakers are never woken nor dropped by this module while the caller holds the lock: every
//! function hands wakers back to the caller, who drops the lock first. A waker's `wake` or
//! `drop` may run arbitrary code, and that code may well touch the same channel.

use std::cell::UnsafeCell;
use std::marker::PhantomPinned;
use std::pin::Pin;
use std::ptr::NonNull;
use std::task::Waker;

/// Where a [`Waiter`] stands with its list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WaitState {
    /// Not linked, nothing pending for it.
    Idle,
    /// Linked, waiting to be notified.
    Queued,
    /// Taken off the list by a notification that its owner has not consumed yet.
    Notified,
}

/// The node a waiting future embeds. See the module docs for the rules.
pub(crate) struct Waiter {
    node: UnsafeCell<Node>,
    _pinned: PhantomPinned,
}

struct Node {
    prev: Link,
    next: Link,
    waker: Option<Waker>,
    state: WaitState,
    payload: usize,
}

type Link = Option<NonNull<Node>>;

// SAFETY: a `Waiter`'s fields are only touched through the `&mut WaiterList` it is used with
// (rule 1 of the module docs), so moving or sharing the future that holds it between
// threads cannot race: the list's lock orders every access. The `Waker` inside is
// `Send + Sync`.
unsafe impl Send for Waiter {}
// SAFETY: a shared `&Waiter` gives access to nothing: every read or write of the node goes
// through the `&mut WaiterList` it is used with (rule 1), never through `&Waiter` alone.
unsafe impl Sync for Waiter {}

impl Waiter {
    /// A fresh, idle node.
    pub(crate) const fn new() -> Waiter {
        Waiter {
            node: UnsafeCell::new(Node {
                prev: None,
                next: None,
                waker: None,
                state: WaitState::Idle,
                payload: 0,
            }),
            _pinned: PhantomPinned,
        }
    }

    fn ptr(&self) -> NonNull<Node> {
        // SAFETY: `UnsafeCell::get` never returns null.
        unsafe { NonNull::new_unchecked(self.node.get()) }
    }
}

/// The list head: a FIFO of linked [`Waiter`]s. Lives behind the channel's lock.
pub(crate) struct WaiterList {
    head: Link,
    tail: Link,
    len: usize,
}

// SAFETY: the list holds pointers to `Waiter` nodes, which are `Send` (see above); the list
// is only ever reached through its channel's lock, which serialises all access to the nodes.
unsafe impl Send for WaiterList {}

impl WaiterList {
    /// An empty list.
    pub(crate) const fn new() -> WaiterList {
        WaiterList {
            head: None,
            tail: None,
            len: 0,
        }
    }

    /// How many waiters are linked.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The state of `waiter`.
    ///
    /// # Safety
    /// `waiter` is used with this list only (module rule 1).
    pub(crate) unsafe fn state(&self, waiter: &Waiter) -> WaitState {
        // SAFETY: we hold the list (caller's contract), so nobody else touches the node; the
        // read goes through the cell's raw pointer.
        unsafe { (*waiter.ptr().as_ptr()).state }
    }

    /// The payload of `waiter` (see the module docs), for reading or writing.
    ///
    /// # Safety
    /// `waiter` is used with this list only (module rule 1).
    pub(crate) unsafe fn payload<'a>(&'a mut self, waiter: Pin<&'a Waiter>) -> &'a mut usize {
        // SAFETY: we hold the list (caller's contract) for as long as the returned borrow
        // lives, so nobody else touches the node; it is pinned and alive (rule 3).
        unsafe { &mut (*waiter.get_ref().ptr().as_ptr()).payload }
    }

    /// The payload of the first waiter, if any.
    pub(crate) fn front_payload(&mut self) -> Option<&mut usize> {
        // SAFETY: linked nodes are alive (rule 3) and touched only under the list, which the
        // returned borrow holds.
        self.head.map(|p| unsafe { &mut (*p.as_ptr()).payload })
    }

    /// The payload of the last waiter, if any.
    pub(crate) fn back_payload(&mut self) -> Option<&mut usize> {
        // SAFETY: as in `front_payload`.
        self.tail.map(|p| unsafe { &mut (*p.as_ptr()).payload })
    }

    /// Queues `waiter` at the back with `waker`, or, if it is already queued, refreshes its
    /// waker. A `Notified` or `Idle` node is (re)queued at the back. Returns a replaced
    /// waker, for the caller to drop after releasing the lock.
    ///
    /// # Safety
    /// `waiter` is used with this list only, and its owner removes it with
    /// [`remove`](Self::remove) (under this list's lock) before the node's memory is
    /// invalidated (module rules 1 and 3).
    #[must_use = "drop the replaced waker after releasing the lock"]
    pub(crate) unsafe fn push_back(&mut self, waiter: Pin<&Waiter>, waker: Waker) -> Option<Waker> {
        let ptr = waiter.get_ref().ptr();
        // SAFETY: we hold the list (caller's contract): no other reference to this node's
        // fields exists while this one lives, and the node is pinned and alive.
        let node = unsafe { &mut *ptr.as_ptr() };
        // The waker comes cloned: a clone is foreign code, which must not run under the
        // list's lock. The one not kept goes back to the caller, to drop after unlocking.
        let old = match &node.waker {
            Some(w) if w.will_wake(&waker) => Some(waker),
            _ => node.waker.replace(waker),
        };
        if node.state == WaitState::Queued {
            return old;
        }
        debug_assert!(node.prev.is_none() && node.next.is_none());
        node.state = WaitState::Queued;
        node.prev = self.tail;
        node.next = None;
        match self.tail {
            // SAFETY: linked nodes are alive (rule 3) and distinct from `node` (it was not
            // linked); we hold the list.
            Some(tail) => unsafe { (*tail.as_ptr()).next = Some(ptr) },
            None => self.head = Some(ptr),
        }
        self.tail = Some(ptr);
        self.len += 1;
        old
    }

    /// Unlinks `waiter` if it is queued and sets it `Idle`. Returns its previous state and
    /// its waker (to drop after releasing the lock).
    ///
    /// # Safety
    /// `waiter` is used with this list only (module rule 1).
    pub(crate) unsafe fn remove(&mut self, waiter: Pin<&Waiter>) -> (WaitState, Option<Waker>) {
        let ptr = waiter.get_ref().ptr();
        // SAFETY: we hold the list (caller's contract), the node is alive and pinned.
        let state = unsafe { (*ptr.as_ptr()).state };
        if state == WaitState::Queued {
            // SAFETY: the node is queued, hence linked into this list.
            unsafe { self.unlink(ptr) };
        }
        // SAFETY: as above; `unlink` holds no reference any more.
        let node = unsafe { &mut *ptr.as_ptr() };
        node.state = WaitState::Idle;
        (state, node.waker.take())
    }

    /// Takes the first waiter off the list, marks it `mark` (`Notified`, or `Idle` when the
    /// channel closed and there is nothing to hand over) and returns its waker, for the
    /// caller to wake after releasing the lock. `None` when the list is empty.
    pub(crate) fn pop_front(&mut self, mark: WaitState) -> Option<Waker> {
        debug_assert!(mark != WaitState::Queued);
        let ptr = self.head?;
        // SAFETY: `ptr` is the head, so it is linked into this list.
        unsafe { self.unlink(ptr) };
        // SAFETY: linked nodes are alive (rule 3: their owners unlink them before dying,
        // under the lock we hold); `unlink` holds no reference any more.
        let node = unsafe { &mut *ptr.as_ptr() };
        node.state = mark;
        let waker = node.waker.take();
        debug_assert!(waker.is_some(), "a queued waiter always has a waker");
        waker
    }

    /// Takes the last waiter off the list: as [`pop_front`](Self::pop_front), from the
    /// other end (`Notify::notify_last`).
    pub(crate) fn pop_back(&mut self, mark: WaitState) -> Option<Waker> {
        debug_assert!(mark != WaitState::Queued);
        let ptr = self.tail?;
        // SAFETY: `ptr` is the tail, so it is linked into this list.
        unsafe { self.unlink(ptr) };
        // SAFETY: as in `pop_front`.
        let node = unsafe { &mut *ptr.as_ptr() };
        node.state = mark;
        let waker = node.waker.take();
        debug_assert!(waker.is_some(), "a queued waiter always has a waker");
        waker
    }

    /// Unlinks a node from the list (its state is left to the caller).
    ///
    /// # Safety
    /// `ptr` is linked into this list, and the caller holds the list.
    unsafe fn unlink(&mut self, ptr: NonNull<Node>) {
        // SAFETY: linked nodes are alive (rule 3) and accessed only under the lock we hold;
        // the neighbours are distinct nodes, each touched through its own short-lived place.
        unsafe {
            let (prev, next) = ((*ptr.as_ptr()).prev, (*ptr.as_ptr()).next);
            match prev {
                Some(p) => (*p.as_ptr()).next = next,
                None => self.head = next,
            }
            match next {
                Some(n) => (*n.as_ptr()).prev = prev,
                None => self.tail = prev,
            }
            (*ptr.as_ptr()).prev = None;
            (*ptr.as_ptr()).next = None;
        }
        self.len -= 1;
    }
}
