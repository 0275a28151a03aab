//! TCP: the halves a [`TcpStream`](super::TcpStream) splits into (the listener and the
//! stream themselves are at [`net`](super)'s root, as in tokio).

mod futures_io;
pub(super) mod listener;
pub(super) mod socket;
mod split;
mod split_owned;
pub(super) mod stream;

pub use split::{ReadHalf, WriteHalf};
pub use split_owned::{OwnedReadHalf, OwnedWriteHalf, ReuniteError};
