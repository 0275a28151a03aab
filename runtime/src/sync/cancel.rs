//! [`CancellationToken`]: tokio-util's cancellation tree, thread-safe, no allocation per
//! wait (a token and each child token is one `Arc`).
//!
//! Each node of the tree has a cancelled flag, a [`Notify`] for the tasks waiting on it,
//! and, behind a `std::sync::Mutex`, its parent and children.
//!
//! # Invariants
//!
//! 1. **Locks are taken ancestor first** (a parent's before its child's, never the other
//!    way), and the cancelled flag is set under the node's own lock, where its children
//!    are taken out. So a child added under the parent's lock either sees the flag (and
//!    starts cancelled) or is taken out and cancelled by the `cancel` that sets it.
//! 2. **Dropping the last handle of a token** unlinks its node from its parent and hands
//!    its children to that parent (tokio-util's behaviour: cancelling the grandparent
//!    still reaches them); the parent-child links are the only strong cycle and this
//!    breaks it, so nodes are freed. A handle forgotten with `mem::forget` leaks its node.
//! 3. A waiter makes its `Notified` before it reads the flag; `cancel` sets the flag, then
//!    calls `notify_waiters`: no waiter misses the cancel.

use std::fmt;
use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use super::notify::{Notified, Notify};
use super::wake_list::lock;

struct Tree {
    parent: Option<Arc<Node>>,
    children: Vec<Arc<Node>>,
}

struct Node {
    cancelled: AtomicBool,
    notify: Notify,
    /// `CancellationToken` handles (clones) alive.
    handles: AtomicUsize,
    tree: Mutex<Tree>,
}

impl Node {
    fn new(parent: Option<Arc<Node>>) -> Arc<Node> {
        Arc::new(Node {
            cancelled: AtomicBool::new(false),
            notify: Notify::new(),
            handles: AtomicUsize::new(1),
            tree: Mutex::new(Tree {
                parent,
                children: Vec::new(),
            }),
        })
    }

    /// Cancels `root` and its descendants (iteratively: a deep tree cannot overflow the
    /// stack).
    fn cancel(root: &Arc<Node>) {
        let mut stack = vec![root.clone()];
        while let Some(node) = stack.pop() {
            let children = {
                let mut tree = lock(&node.tree);
                if node.cancelled.load(Ordering::Acquire) {
                    continue;
                }
                // Invariant 1: set under the lock where children are taken out.
                node.cancelled.store(true, Ordering::Release);
                std::mem::take(&mut tree.children)
            };
            node.notify.notify_waiters();
            stack.extend(children);
        }
    }

    /// Invariant 2: unlinks `this` from its parent and hands its children to the parent.
    fn detach(this: &Arc<Node>) {
        loop {
            let Some(parent) = lock(&this.tree).parent.clone() else {
                return;
            };
            let mut ptree = lock(&parent.tree);
            let mut tree = lock(&this.tree);
            let still = tree
                .parent
                .as_ref()
                .is_some_and(|p| Arc::ptr_eq(p, &parent));
            if !still {
                // A concurrent detach of our parent re-parented us: try again.
                continue;
            }
            tree.parent = None;
            if let Some(i) = ptree.children.iter().position(|c| Arc::ptr_eq(c, this)) {
                ptree.children.swap_remove(i);
            }
            let children = std::mem::take(&mut tree.children);
            for child in &children {
                lock(&child.tree).parent = Some(parent.clone());
            }
            let parent_cancelled = parent.cancelled.load(Ordering::Acquire);
            if !parent_cancelled {
                ptree.children.extend(children.iter().cloned());
            }
            drop(tree);
            drop(ptree);
            if parent_cancelled {
                for child in &children {
                    Node::cancel(child);
                }
            }
            return;
        }
    }
}

/// A token that tells tasks to stop (tokio-util's `CancellationToken`): `Clone`, `Send +
/// Sync`. Cancelling a token cancels its children ([`child_token`](Self::child_token)),
/// not its parent.
///
/// ```
/// use tickslab_runtime::{Runtime, spawn, sync::CancellationToken};
///
/// let rt = Runtime::new().unwrap();
/// rt.block_on(async {
///     let token = CancellationToken::new();
///     let child = token.child_token();
///     let task = spawn(async move {
///         child.cancelled().await;
///         "stopped"
///     });
///     token.cancel();
///     assert_eq!(task.await.unwrap(), "stopped");
/// });
/// ```
pub struct CancellationToken {
    node: Arc<Node>,
}

impl CancellationToken {
    /// A new, uncancelled token with no parent. One allocation.
    pub fn new() -> CancellationToken {
        CancellationToken {
            node: Node::new(None),
        }
    }

    /// A token cancelled when this one is (or at once if this one already is); cancelling
    /// it does not cancel this one. One allocation.
    pub fn child_token(&self) -> CancellationToken {
        let child = Node::new(Some(self.node.clone()));
        {
            let mut tree = lock(&self.node.tree);
            if self.node.cancelled.load(Ordering::Acquire) {
                child.cancelled.store(true, Ordering::Release);
            } else {
                tree.children.push(child.clone());
            }
        }
        CancellationToken { node: child }
    }

    /// Cancels this token and every descendant; wakes every task waiting on them.
    pub fn cancel(&self) {
        Node::cancel(&self.node);
    }

    /// Whether this token is cancelled.
    pub fn is_cancelled(&self) -> bool {
        self.node.cancelled.load(Ordering::Acquire)
    }

    /// Completes once the token is cancelled. Cancel-safe, no allocation.
    pub fn cancelled(&self) -> WaitForCancellationFuture<'_> {
        WaitForCancellationFuture {
            node: &self.node,
            // Invariant 3: made before the first look at the flag (in `poll`).
            notified: self.node.notify.notified(),
        }
    }

    /// As [`cancelled`](Self::cancelled), owning a clone of the token (`'static`).
    pub async fn cancelled_owned(self) {
        self.cancelled().await
    }

    /// Runs `fut` until it completes (`Some(output)`) or the token is cancelled (`None`,
    /// `fut` is dropped). If both are ready, the cancellation wins.
    pub async fn run_until_cancelled<F: Future>(&self, fut: F) -> Option<F::Output> {
        let mut cancelled = pin!(self.cancelled());
        let mut fut = pin!(fut);
        std::future::poll_fn(|cx| {
            if cancelled.as_mut().poll(cx).is_ready() {
                return std::task::Poll::Ready(None);
            }
            fut.as_mut().poll(cx).map(Some)
        })
        .await
    }

    /// A guard that cancels the token when dropped (unless [`DropGuard::disarm`]ed).
    pub fn drop_guard(self) -> DropGuard {
        DropGuard { token: Some(self) }
    }
}

/// Future of [`CancellationToken::cancelled`] (tokio-util's name). `!Unpin`.
#[must_use = "futures do nothing unless awaited"]
pub struct WaitForCancellationFuture<'a> {
    node: &'a Node,
    notified: Notified<'a>,
}

impl Future for WaitForCancellationFuture<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // SAFETY: `notified` is structurally pinned: it is never moved out of the pinned
        // future, only replaced in place through `Pin::set` (which drops the old one where
        // it lies); this type has no `Drop` and no `Unpin` impl of its own.
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: as above.
        let mut notified = unsafe { Pin::new_unchecked(&mut this.notified) };
        loop {
            if this.node.cancelled.load(Ordering::Acquire) {
                return Poll::Ready(());
            }
            match notified.as_mut().poll(cx) {
                // Woken by a cancel, or by nothing else: look at the flag again with a
                // fresh `Notified` made first (invariant 3).
                Poll::Ready(()) => notified.set(this.node.notify.notified()),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

impl fmt::Debug for WaitForCancellationFuture<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitForCancellationFuture")
            .finish_non_exhaustive()
    }
}

impl Default for CancellationToken {
    fn default() -> Self {
        CancellationToken::new()
    }
}

impl Clone for CancellationToken {
    fn clone(&self) -> Self {
        self.node.handles.fetch_add(1, Ordering::Relaxed);
        CancellationToken {
            node: self.node.clone(),
        }
    }
}

impl Drop for CancellationToken {
    fn drop(&mut self) {
        if self.node.handles.fetch_sub(1, Ordering::AcqRel) == 1 {
            Node::detach(&self.node);
        }
    }
}

impl fmt::Debug for CancellationToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancellationToken")
            .field("is_cancelled", &self.is_cancelled())
            .finish()
    }
}

/// Cancels its token when dropped ([`CancellationToken::drop_guard`]).
#[must_use = "the token is cancelled as soon as the guard is dropped"]
pub struct DropGuard {
    token: Option<CancellationToken>,
}

impl DropGuard {
    /// Gives the token back without cancelling it.
    pub fn disarm(mut self) -> CancellationToken {
        self.token.take().expect("a DropGuard holds its token")
    }
}

impl Drop for DropGuard {
    fn drop(&mut self) {
        if let Some(token) = &self.token {
            token.cancel();
        }
    }
}

impl fmt::Debug for DropGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DropGuard").finish_non_exhaustive()
    }
}
