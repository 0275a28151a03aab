//! [`AsyncSeekExt`]: tokio's `async` seek helpers over any [`AsyncSeek`].

use std::future::{Future, poll_fn};
use std::io::{self, SeekFrom};
use std::pin::Pin;
use std::task::{Poll, ready};

use crate::io::AsyncSeek;

/// `async` helpers for every [`AsyncSeek`], as tokio's `AsyncSeekExt`.
pub trait AsyncSeekExt: AsyncSeek {
    /// Seeks to `pos`, returning the new position from the start. A seek still in progress
    /// (one whose future was dropped) is finished first.
    fn seek(&mut self, pos: SeekFrom) -> impl Future<Output = io::Result<u64>> + '_
    where
        Self: Unpin,
    {
        let mut started = false;
        poll_fn(move |cx| {
            if !started {
                // Finish whatever seek an earlier dropped future left behind.
                ready!(Pin::new(&mut *self).poll_complete(cx))?;
                Pin::new(&mut *self).start_seek(pos)?;
                started = true;
            }
            Poll::Ready(ready!(Pin::new(&mut *self).poll_complete(cx)))
        })
    }

    /// Seeks back to the start.
    fn rewind(&mut self) -> impl Future<Output = io::Result<()>> + '_
    where
        Self: Unpin,
    {
        let seek = self.seek(SeekFrom::Start(0));
        async move { seek.await.map(drop) }
    }

    /// The current position from the start.
    fn stream_position(&mut self) -> impl Future<Output = io::Result<u64>> + '_
    where
        Self: Unpin,
    {
        self.seek(SeekFrom::Current(0))
    }
}

impl<S: AsyncSeek + ?Sized> AsyncSeekExt for S {}
