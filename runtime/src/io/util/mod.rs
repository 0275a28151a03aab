//! The io toolbox over the traits: extension traits with tokio's names.

mod read;
mod read_ext;
mod write;
mod write_ext;

pub use read::{Read, ReadExact};
pub use read_ext::AsyncReadExt;
pub use write::{Write, WriteAll};
pub use write_ext::AsyncWriteExt;
