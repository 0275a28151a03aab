//! tokio's smaller io items: `join`, `copy_bidirectional_with_sizes` (and the copies'
//! retries on `Interrupted`), `Empty`'s seeks, and the trivial readers and writers spending
//! the task's budget so a loop over them cannot starve the other tasks.

mod support;

use std::io::{self, SeekFrom};
use std::pin::Pin;
use std::task::{Context, Poll};

use support::rt;
use tickslab_runtime::io::{
    self as tio, AsyncRead, AsyncReadExt, AsyncSeekExt, AsyncWrite, AsyncWriteExt, ReadBuf,
};

#[test]
fn join_sends_each_call_to_its_side() {
    rt().block_on(async {
        let (mut peer_r, far_w) = tio::simplex(64);
        let (far_r, mut peer_w) = tio::simplex(64);
        let mut both = tio::join(far_r, far_w);
        peer_w.write_all(b"in").await.unwrap();
        let mut got = [0u8; 2];
        both.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"in");
        both.write_all(b"out").await.unwrap();
        both.shutdown().await.unwrap();
        let mut out = Vec::new();
        peer_r.read_to_end(&mut out).await.unwrap();
        assert_eq!(out, b"out");
        assert!(both.writer().is_write_vectored());
        let (_r, _w) = both.into_inner();
    });
}

/// A stream that fails its first read and first write with `Interrupted`, then reads
/// `data` and takes whatever is written.
struct Flaky {
    data: &'static [u8],
    read_interrupted: bool,
    write_interrupted: bool,
    written: Vec<u8>,
}

impl Flaky {
    fn new(data: &'static [u8]) -> Self {
        Flaky {
            data,
            read_interrupted: false,
            write_interrupted: false,
            written: Vec::new(),
        }
    }
}

impl AsyncRead for Flaky {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if !std::mem::replace(&mut self.read_interrupted, true) {
            return Poll::Ready(Err(io::ErrorKind::Interrupted.into()));
        }
        let n = self.data.len().min(buf.remaining());
        buf.put_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Flaky {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if !std::mem::replace(&mut self.write_interrupted, true) {
            return Poll::Ready(Err(io::ErrorKind::Interrupted.into()));
        }
        self.written.extend_from_slice(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[test]
fn copies_retry_interrupted_and_take_buffer_sizes() {
    rt().block_on(async {
        let (mut a, mut b) = (Flaky::new(b"from a, long"), Flaky::new(b"from b"));
        let (ab, ba) = tio::copy_bidirectional_with_sizes(&mut a, &mut b, 3, 1)
            .await
            .unwrap();
        assert_eq!((ab, ba), (12, 6));
        assert_eq!(b.written, b"from a, long");
        assert_eq!(a.written, b"from b");

        let (mut a, mut b) = (Flaky::new(b"x"), Flaky::new(b""));
        assert_eq!(
            tio::copy_bidirectional(&mut a, &mut b).await.unwrap(),
            (1, 0)
        );
        let mut w = Flaky::new(b"");
        let mut r = Flaky::new(b"plain copy");
        assert_eq!(tio::copy(&mut r, &mut w).await.unwrap(), 10);
        assert_eq!(w.written, b"plain copy");
    });
}

#[test]
fn zero_copy_buffer_sizes_panic_with_tokio_s_messages() {
    let (mut a, mut b) = (Flaky::new(b""), Flaky::new(b""));
    for (sizes, msg) in [((0, 1), "`a_to_b_buf_size`"), ((1, 0), "`b_to_a_buf_size`")] {
        let err = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            drop(tio::copy_bidirectional_with_sizes(
                &mut a, &mut b, sizes.0, sizes.1,
            ))
        }))
        .unwrap_err();
        let text = err.downcast_ref::<&str>().copied().unwrap_or_default();
        assert!(
            text.starts_with(msg) && text.ends_with("must be greater than 0"),
            "{text}"
        );
    }
}

#[test]
fn empty_seeks_land_at_zero() {
    rt().block_on(async {
        let mut e = tio::empty();
        for pos in [
            SeekFrom::Start(u64::MAX),
            SeekFrom::End(i64::MIN),
            SeekFrom::Current(-1),
            SeekFrom::Current(i64::MAX),
        ] {
            assert_eq!(e.seek(pos).await.unwrap(), 0);
        }
    });
}

/// Runs `endless` against a task that only yields once: without budget, the endless loop
/// would never let it run and this would hang.
fn loops_give_way(endless: impl std::future::Future<Output = ()> + 'static) {
    rt().block_on(async {
        let other = tickslab_runtime::spawn(async {
            tickslab_runtime::task::yield_now().await;
        });
        let endless = tickslab_runtime::spawn(endless);
        other.await.unwrap();
        endless.abort();
    });
}

#[test]
fn repeat_sink_and_empty_spend_the_task_budget() {
    loops_give_way(async {
        let mut r = tio::repeat(1);
        let mut buf = [0u8; 4];
        loop {
            r.read_exact(&mut buf).await.unwrap();
        }
    });
    loops_give_way(async {
        let mut s = tio::sink();
        loop {
            s.write_all(b"x").await.unwrap();
            s.flush().await.unwrap();
        }
    });
    loops_give_way(async {
        let mut e = tio::empty();
        let mut line = String::new();
        loop {
            tio::AsyncBufReadExt::read_line(&mut e, &mut line)
                .await
                .unwrap();
        }
    });
}

#[test]
fn read_exact_retries_interrupted_reads() {
    rt().block_on(async {
        let mut r = Flaky::new(b"hello");
        let mut buf = [0u8; 5];
        assert_eq!(r.read_exact(&mut buf).await.unwrap(), 5);
        assert_eq!(&buf, b"hello");
        // Other errors still end it.
        let mut short = Flaky::new(b"hi");
        let e = short.read_exact(&mut buf).await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
    });
}

/// Reads its position (mod 256) and seeks with wrapping arithmetic, as tokio's test reader.
struct Positions {
    pos: u64,
}

impl AsyncRead for Positions {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let b = buf.initialize_unfilled();
        let len = b.len();
        for x in b {
            *x = self.pos as u8;
            self.pos = self.pos.wrapping_add(1);
        }
        buf.advance(len);
        Poll::Ready(Ok(()))
    }
}

impl tio::AsyncSeek for Positions {
    fn start_seek(mut self: Pin<&mut Self>, pos: SeekFrom) -> io::Result<()> {
        self.pos = match pos {
            SeekFrom::Start(n) => n,
            SeekFrom::Current(n) => self.pos.wrapping_add(n as u64),
            SeekFrom::End(n) => u64::MAX.wrapping_add(n as u64),
        };
        Ok(())
    }

    fn poll_complete(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<u64>> {
        Poll::Ready(Ok(self.pos))
    }
}

#[test]
fn buf_reader_seeks_back_by_i64_min_in_two_steps() {
    rt().block_on(async {
        use tio::AsyncBufReadExt;
        let mut r = tio::BufReader::with_capacity(5, Positions { pos: 0 });
        assert_eq!(r.fill_buf().await.unwrap(), &[0, 1, 2, 3, 4]);
        assert_eq!(r.seek(SeekFrom::End(-5)).await.unwrap(), u64::MAX - 5);
        assert_eq!(r.fill_buf().await.unwrap().len(), 5);
        // 5 bytes are buffered: i64::MIN - 5 underflows, so two inner seeks.
        let expected = (u64::MAX - 5).wrapping_add(i64::MIN as u64);
        assert_eq!(r.seek(SeekFrom::Current(i64::MIN)).await.unwrap(), expected);
        assert_eq!(r.get_ref().pos, expected);
        assert_eq!(r.fill_buf().await.unwrap().len(), 5);
        assert_eq!(r.seek(SeekFrom::Current(0)).await.unwrap(), expected);
        assert_eq!(r.get_ref().pos, expected);
    });
}
