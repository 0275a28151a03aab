//! tokio's `UnwindSafe` / `RefUnwindSafe` markers, in one place.
//!
//! tokio's runtime, join handles, channel halves and sockets are unwind-safe, so renamed
//! code may hold them across `std::panic::catch_unwind` without `AssertUnwindSafe` (tokio's
//! own tests assert it). tickslab's versions hold `Cell`/`RefCell`/`UnsafeCell` state, which
//! makes the auto traits fail; each impl below says why no broken state can be observed
//! after a panic unwinds through code that was using the value.
//!
//! The invariant these rest on: tickslab never calls user code (a future, a destructor, a
//! waker, a `Clone`) while one of these types' interior state is halfway through an update.
//! User code runs either before the state changes or after it is whole again, and where it
//! runs in the middle (a task's poll, a message's drop) a guard restores the state while
//! unwinding (see `DESIGN.md`, "User code may panic anywhere"). So a panic that a
//! `catch_unwind` stops leaves these values usable, which is what `UnwindSafe` promises.
//! These are marker traits: a wrong impl is a logic error, never undefined behaviour.

use std::panic::{RefUnwindSafe, UnwindSafe};

use crate::core::task::{AbortHandle, JoinHandle};
use crate::net::{TcpListener, TcpSocket, TcpStream, UdpSocket};
#[cfg(unix)]
use crate::net::{UnixDatagram, UnixListener, UnixStream};
use crate::runtime::Runtime;
use crate::sync::mpsc::{
    OwnedPermit, Permit, PermitIterator, Receiver, Sender, UnboundedReceiver, UnboundedSender,
    WeakSender, WeakUnboundedSender,
};

/// `impl UnwindSafe + RefUnwindSafe` for each listed type (with its generics).
macro_rules! unwind_safe {
    ($( [$($gen:tt)*] $ty:ty; )*) => {
        $(
            impl<$($gen)*> UnwindSafe for $ty {}
            impl<$($gen)*> RefUnwindSafe for $ty {}
        )*
    };
}

// The runtime (as tokio's `Runtime`): its driver sits in a `RefCell` that only the drive
// entry points borrow; a panic out of `block_on` (the root future's) drops that borrow while
// unwinding, after the task that panicked, if any, has been caught and its slot released.
// The core's queues are changed only between calls into user code.
unwind_safe! {
    [] Runtime;
}

// Join and abort handles (as tokio's): a pointer to the task block plus its reference;
// the task's state changes under the core's state machine, never across a call into user
// code, and a task's panic is caught and stored as a `JoinError`.
unwind_safe! {
    [T] JoinHandle<T>;
    [] AbortHandle;
}

// The `mpsc` halves and permits (as tokio's, for every `T`): the shared state is atomics
// plus ring or block slots that a message enters or leaves whole; a message's `Drop` runs
// after its slot has been released, and a waker is taken out of its slot before it is woken.
unwind_safe! {
    [T] Sender<T>;
    [T] Receiver<T>;
    [T] WeakSender<T>;
    [T] UnboundedSender<T>;
    [T] UnboundedReceiver<T>;
    [T] WeakUnboundedSender<T>;
    [T] OwnedPermit<T>;
    ['a, T] Permit<'a, T>;
    ['a, T] PermitIterator<'a, T>;
}

// Sockets (as tokio's): the OS socket plus its registration's readiness bits and waker
// slots; readiness is a set of flags, each read or cleared whole, and wakers are taken out
// of their slot before being woken, so a panicking waker leaves the registration usable.
unwind_safe! {
    [] TcpListener;
    [] TcpSocket;
    [] TcpStream;
    [] UdpSocket;
}
#[cfg(unix)]
unwind_safe! {
    [] UnixListener;
    [] UnixStream;
    [] UnixDatagram;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_unwind_safe<T: UnwindSafe + RefUnwindSafe>() {}

    #[test]
    fn tokio_unwind_safe_types_are() {
        // `Rc` is neither, so the impls must hold for every `T`, as tokio's do.
        type NotSafe = std::rc::Rc<std::cell::Cell<u8>>;
        assert_unwind_safe::<Runtime>();
        assert_unwind_safe::<JoinHandle<NotSafe>>();
        assert_unwind_safe::<Sender<NotSafe>>();
        assert_unwind_safe::<Receiver<NotSafe>>();
        assert_unwind_safe::<Permit<'static, NotSafe>>();
        assert_unwind_safe::<UnboundedReceiver<NotSafe>>();
        assert_unwind_safe::<TcpListener>();
        assert_unwind_safe::<UdpSocket>();
    }
}
