//! Task-local values, as tokio's `task_local!`: a value set for the extent of a future
//! ([`LocalKey::scope`]) or a closure ([`LocalKey::sync_scope`]), read with
//! [`LocalKey::with`] / [`LocalKey::try_with`] / [`LocalKey::get`].
//!
//! Each key is a thread-local slot. A scoped future swaps its value into the slot around
//! each of its polls (and around the drop of its inner future, so destructors see it) and
//! back out after, so the value follows the future, not the thread's other tasks. Nothing
//! is allocated. The swap-back is done by a guard, so a panic inside the scope restores the
//! slot too.

use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Declares task-local keys, as tokio's `task_local!`:
///
/// ```
/// tickslab_runtime::task_local! {
///     static REQUEST_ID: u32;
/// }
///
/// # tickslab_runtime::Runtime::new().unwrap().block_on(async {
/// let seen = REQUEST_ID
///     .scope(7, async { REQUEST_ID.get() })
///     .await;
/// assert_eq!(seen, 7);
/// assert!(REQUEST_ID.try_with(|_| ()).is_err(), "not set outside the scope");
/// # });
/// ```
#[macro_export]
macro_rules! task_local {
    () => {};
    ($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty; $($rest:tt)*) => {
        $crate::__task_local_inner!($(#[$attr])* $vis $name, $t);
        $crate::task_local!($($rest)*);
    };
    ($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty) => {
        $crate::__task_local_inner!($(#[$attr])* $vis $name, $t);
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __task_local_inner {
    ($(#[$attr:meta])* $vis:vis $name:ident, $t:ty) => {
        $(#[$attr])*
        $vis static $name: $crate::task::LocalKey<$t> = {
            ::std::thread_local! {
                static __TICKSLAB_KEY: ::std::cell::RefCell<::core::option::Option<$t>> =
                    const { ::std::cell::RefCell::new(::core::option::Option::None) };
            }
            $crate::task::LocalKey { inner: &__TICKSLAB_KEY }
        };
    };
}

/// A task-local key, declared with [`task_local!`](crate::task_local).
pub struct LocalKey<T: 'static> {
    #[doc(hidden)]
    pub inner: &'static std::thread::LocalKey<RefCell<Option<T>>>,
}

/// Why a task-local value could not be read: it is not set here (outside any scope of its
/// key), or the thread is being torn down.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct AccessError {
    _private: (),
}

impl fmt::Debug for AccessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccessError")
    }
}

impl fmt::Display for AccessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("task-local value not set")
    }
}

impl std::error::Error for AccessError {}

/// Puts the value back where it came from when the scope ends, even by a panic.
struct Swap<'a, T: 'static> {
    key: &'static LocalKey<T>,
    slot: &'a mut Option<T>,
}

impl<T: 'static> Drop for Swap<'_, T> {
    fn drop(&mut self) {
        // The thread-local is being torn down only when the thread exits, after every
        // scope on it has ended; a failed access here has nothing to put back.
        let _ = self.key.inner.try_with(|cell| {
            if let Ok(mut inner) = cell.try_borrow_mut() {
                std::mem::swap(self.slot, &mut *inner);
            }
        });
    }
}

impl<T: 'static> LocalKey<T> {
    /// Swaps `slot` into the key for the duration of `f`.
    #[track_caller]
    fn scope_inner<R>(&'static self, slot: &mut Option<T>, f: impl FnOnce() -> R) -> R {
        let swapped = self.inner.with(|cell| match cell.try_borrow_mut() {
            Ok(mut inner) => {
                std::mem::swap(slot, &mut *inner);
                true
            }
            Err(_) => false,
        });
        // Panicking here, not in the closure, keeps `#[track_caller]`'s location the user's.
        assert!(
            swapped,
            "cannot enter a task-local scope while the task-local value is borrowed (inside \
             `with` of the same key)"
        );
        let _swap = Swap { key: self, slot };
        f()
    }

    /// Runs `future` with the key set to `value`, as tokio's `LocalKey::scope`.
    pub fn scope<F: Future>(&'static self, value: T, future: F) -> TaskLocalFuture<T, F> {
        TaskLocalFuture {
            key: self,
            slot: Some(value),
            future: Some(future),
        }
    }

    /// Runs `f` with the key set to `value`, as tokio's `LocalKey::sync_scope`.
    #[track_caller]
    pub fn sync_scope<F: FnOnce() -> R, R>(&'static self, value: T, f: F) -> R {
        let mut slot = Some(value);
        self.scope_inner(&mut slot, f)
    }

    /// Runs `f` with a reference to the value.
    ///
    /// # Panics
    /// Outside a scope of this key (tokio's message).
    #[track_caller]
    pub fn with<F: FnOnce(&T) -> R, R>(&'static self, f: F) -> R {
        match self.try_with(f) {
            Ok(r) => r,
            Err(_) => panic!(
                "cannot access a task-local storage value without setting it first via \
                 `LocalKey::scope` or `LocalKey::sync_scope`"
            ),
        }
    }

    /// Runs `f` with a reference to the value, or says it is not set.
    pub fn try_with<F: FnOnce(&T) -> R, R>(&'static self, f: F) -> Result<R, AccessError> {
        let err = AccessError { _private: () };
        self.inner
            .try_with(|cell| {
                let inner = cell.try_borrow().map_err(|_| err)?;
                inner.as_ref().map(f).ok_or(err)
            })
            .map_err(|_| err)?
    }
}

impl<T: Clone + 'static> LocalKey<T> {
    /// A copy of the value.
    ///
    /// # Panics
    /// Outside a scope of this key.
    #[track_caller]
    pub fn get(&'static self) -> T {
        self.with(T::clone)
    }

    /// A copy of the value, or says it is not set.
    pub fn try_get(&'static self) -> Result<T, AccessError> {
        self.try_with(T::clone)
    }
}

impl<T: 'static> fmt::Debug for LocalKey<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LocalKey { .. }")
    }
}

pin_project_lite::pin_project! {
    /// A future run with a task-local value set, from [`LocalKey::scope`].
    pub struct TaskLocalFuture<T: 'static, F> {
        key: &'static LocalKey<T>,
        slot: Option<T>,
        #[pin]
        future: Option<F>,
    }

    impl<T: 'static, F> PinnedDrop for TaskLocalFuture<T, F> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            let mut future = this.future;
            if future.is_some() {
                // The inner future's destructor runs with the value set, as tokio's does.
                // During thread teardown the key may be gone: then it drops without it.
                let key: &'static LocalKey<T> = this.key;
                if key.inner.try_with(|_| ()).is_ok() {
                    key.scope_inner(this.slot, || future.set(None));
                } else {
                    future.set(None);
                }
            }
        }
    }
}

impl<T: 'static, F: Future> Future for TaskLocalFuture<T, F> {
    type Output = F::Output;

    #[track_caller]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let key: &'static LocalKey<T> = this.key;
        let mut future = this.future;
        key.scope_inner(this.slot, || match future.as_mut().as_pin_mut() {
            Some(f) => {
                let out = f.poll(cx);
                if out.is_ready() {
                    // Dropped inside the scope, as on cancellation.
                    future.set(None);
                }
                out
            }
            None => panic!("TaskLocalFuture polled after it completed"),
        })
    }
}

impl<T: 'static, F> TaskLocalFuture<T, F> {
    /// Takes the value out, as tokio's: `None` if already taken. Polls after that run the
    /// inner future with the key unset.
    pub fn take_value(self: Pin<&mut Self>) -> Option<T> {
        self.project().slot.take()
    }
}

impl<T: 'static, F> fmt::Debug for TaskLocalFuture<T, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TaskLocalFuture { .. }")
    }
}
