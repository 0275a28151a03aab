//! The io toolbox over the traits, with tokio's names: the extension traits, the buffered
//! wrappers, the copies, `split`, `duplex`, and the trivial readers and writers. One
//! concept per file.

mod buf_read_ext;
mod buf_reader;
mod buf_stream;
mod buf_writer;
mod chain;
mod copy;
mod copy_bidirectional;
mod duplex;
mod empty;
mod join;
mod lines;
mod lock;
mod read;
mod read_ext;
mod read_to_end;
mod seek_ext;
mod simplex;
mod split;
mod take;
mod write;
mod write_ext;

pub(crate) use read::{poll_read_slice, swapped};

pub use buf_read_ext::AsyncBufReadExt;
pub use buf_reader::BufReader;
pub use buf_stream::BufStream;
pub use buf_writer::BufWriter;
pub use chain::Chain;
use chain::chain;
pub use copy::{SPARES as COPY_BUFFER_SPARES, copy, copy_buf};
pub use copy_bidirectional::{copy_bidirectional, copy_bidirectional_with_sizes};
pub use duplex::{DuplexStream, duplex};
pub use empty::{Empty, Repeat, Sink, empty, repeat, sink};
pub use join::{Join, join};
pub use lines::{Lines, Split};
pub use read::{Read, ReadExact};
pub use read_ext::AsyncReadExt;
pub use seek_ext::AsyncSeekExt;
pub use simplex::{SimplexStream, simplex};
pub use split::{ReadHalf, WriteHalf, split};
pub use take::Take;
use take::take;
pub use write::{Write, WriteAll};
pub use write_ext::AsyncWriteExt;
