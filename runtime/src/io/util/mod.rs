//! The io toolbox over the traits: extension traits with tokio's names.

mod read_ext;
mod write_ext;

pub use read_ext::AsyncReadExt;
pub use write_ext::AsyncWriteExt;
