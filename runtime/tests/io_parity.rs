//! The io toolbox where tokio's own io tests pinned a behaviour down: `Interrupted` is
//! retried by every loop that reads or writes until done (`write_all`, `write_all_buf`,
//! the number writes, `BufWriter`'s flush, `copy_buf`, `read_to_end`, `read_to_string`,
//! `read_until`, `read_line`, `lines`) while other errors still end them; invalid UTF-8
//! errors carry tokio's inner error; `read_to_end` grows the vector as tokio's does and
//! lends its spare capacity uninitialized, remembering what readers initialized (under
//! Miri in `.ci/run`: the `unsafe` of `read_to_end.rs`); `BufWriter` counts a vectored write onto a non-vectored writer as tokio's; `copy` and
//! `copy_buf` spend the task's budget; `copy_buf` flushes while its reader waits.
//!
//! Every test runs under a generous `timeout` that only detects hangs.

mod support;

use std::cell::Cell;
use std::future::Future;
use std::io::{self, ErrorKind, IoSlice};
use std::pin::Pin;
use std::rc::Rc;
use std::str::Utf8Error;
use std::string::FromUtf8Error;
use std::task::{Context, Poll};
use std::time::Duration;

use tickslab_runtime::io::{
    self as tio, AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader,
    BufWriter, ReadBuf,
};
use tickslab_runtime::spawn;
use tickslab_runtime::task::coop::BUDGET;
use tickslab_runtime::time::timeout;

use support::rt;

const GUARD: Duration = Duration::from_secs(10);

fn run<F: Future>(f: F) -> F::Output {
    rt().block_on(async { timeout(GUARD, f).await.expect("the test hung (10 s guard)") })
}

/// A reader of scripted steps: `Ok` bytes (cut to the room given) or an `Err` kind; at
/// the end of the script, end of stream.
struct Reads(Vec<Result<&'static [u8], ErrorKind>>);

impl AsyncRead for Reads {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.0.is_empty() {
            return Poll::Ready(Ok(()));
        }
        match self.0.remove(0) {
            Err(kind) => Poll::Ready(Err(kind.into())),
            Ok(chunk) => {
                let n = chunk.len().min(buf.remaining());
                buf.put_slice(&chunk[..n]);
                if n < chunk.len() {
                    self.0.insert(0, Ok(&chunk[n..]));
                }
                Poll::Ready(Ok(()))
            }
        }
    }
}

/// A writer of scripted steps: `Ok(n)` takes at most `n` bytes, `Err` fails with that
/// kind; past the script it takes everything. Vectored when asked.
#[derive(Default)]
struct Writes {
    steps: Vec<Result<usize, ErrorKind>>,
    data: Vec<u8>,
    vectored: bool,
}

impl Writes {
    fn new(steps: Vec<Result<usize, ErrorKind>>) -> Self {
        Writes {
            steps,
            ..Writes::default()
        }
    }

    fn take(&mut self, bufs: &[&[u8]]) -> io::Result<usize> {
        let mut limit = match (!self.steps.is_empty()).then(|| self.steps.remove(0)) {
            Some(Err(kind)) => return Err(kind.into()),
            Some(Ok(n)) => n,
            None => usize::MAX,
        };
        let mut n = 0;
        for b in bufs {
            let k = b.len().min(limit);
            self.data.extend_from_slice(&b[..k]);
            n += k;
            limit -= k;
        }
        Ok(n)
    }
}

impl AsyncWrite for Writes {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Poll::Ready(self.get_mut().take(&[buf]))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let me = self.get_mut();
        assert!(me.vectored, "a non-vectored writer was written vectored");
        let slices: Vec<&[u8]> = bufs.iter().map(|b| &b[..]).collect();
        Poll::Ready(me.take(&slices))
    }

    fn is_write_vectored(&self) -> bool {
        self.vectored
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

const INT: Result<usize, ErrorKind> = Err(ErrorKind::Interrupted);

#[test]
fn writes_until_done_retry_interrupted_and_return_other_errors() {
    run(async {
        let mut w = Writes::new(vec![INT, Ok(2), INT, INT, Ok(1)]);
        w.write_all(b"hello").await.unwrap();
        assert_eq!(w.data, b"hello");

        let mut w = Writes::new(vec![INT, Ok(1), INT]);
        w.write_u32(0x0102_0304).await.unwrap();
        w.write_u8(5).await.unwrap();
        w.write_f64_le(1.5).await.unwrap();
        let mut want = vec![1, 2, 3, 4, 5];
        want.extend_from_slice(&1.5f64.to_le_bytes());
        assert_eq!(w.data, want);

        for vectored in [false, true] {
            let mut w = Writes::new(vec![INT, Ok(3), INT]);
            w.vectored = vectored;
            let mut buf = bytes::Bytes::from_static(b"chunked");
            w.write_all_buf(&mut buf).await.unwrap();
            assert_eq!(w.data, b"chunked");
            assert!(buf.is_empty());
        }

        // Other errors end them, with what was written so far written.
        let mut w = Writes::new(vec![Ok(2), Err(ErrorKind::BrokenPipe)]);
        let err = w.write_all(b"hello").await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::BrokenPipe);
        assert_eq!(w.data, b"he");
        let mut w = Writes::new(vec![INT, Err(ErrorKind::ConnectionReset)]);
        let err = w.write_u16(7).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionReset);
        let mut w = Writes::new(vec![Ok(0)]);
        let mut buf = &b"x"[..];
        let err = w.write_all_buf(&mut buf).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::WriteZero);
    });
}

#[test]
fn buf_writer_flush_retries_interrupted_and_keeps_the_rest_on_error() {
    run(async {
        let mut w = BufWriter::new(Writes::new(vec![INT, Ok(2), INT, Ok(1)]));
        w.write_all(b"hello").await.unwrap();
        assert!(w.get_ref().data.is_empty(), "buffered");
        w.flush().await.unwrap();
        assert_eq!(w.get_ref().data, b"hello");
        assert!(w.buffer().is_empty());

        // Another error: what was written is gone from the buffer, the rest waits.
        let mut w = BufWriter::new(Writes::new(vec![Ok(2), Err(ErrorKind::BrokenPipe)]));
        w.write_all(b"hello").await.unwrap();
        let err = w.flush().await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::BrokenPipe);
        assert_eq!(w.buffer(), b"llo");
        w.flush().await.unwrap();
        assert_eq!(w.get_ref().data, b"hello");
    });
}

#[test]
fn buf_writer_vectored_onto_a_non_vectored_writer_counts_the_slices_that_fit() {
    run(async {
        let msg = b"foo bar baz";
        let bufs = [
            IoSlice::new(&msg[0..4]),
            IoSlice::new(&msg[4..8]),
            IoSlice::new(&msg[8..]),
        ];
        // 8 bytes of room: the first two slices fit, the third waits (tokio's count).
        let mut w = BufWriter::with_capacity(8, Writes::default());
        assert_eq!(w.write_vectored(&bufs).await.unwrap(), 8);
        assert_eq!(w.buffer(), &msg[..8]);
        // The buffer is full: the next slice flushes it first.
        assert_eq!(w.write_vectored(&bufs[2..]).await.unwrap(), 3);
        assert_eq!(w.get_ref().data, &msg[..8]);
        assert_eq!(w.buffer(), &msg[8..]);
        // Leading empty slices are skipped; all empty: 0.
        let empty = [IoSlice::new(&[]), IoSlice::new(&[])];
        assert_eq!(w.write_vectored(&empty).await.unwrap(), 0);
        // A first slice as large as the buffer goes straight through, alone.
        let big = [
            IoSlice::new(&[]),
            IoSlice::new(b"0123456789"),
            IoSlice::new(b"x"),
        ];
        assert_eq!(w.write_vectored(&big).await.unwrap(), 10);
        assert_eq!(w.get_ref().data, b"foo bar baz0123456789");
        assert!(w.buffer().is_empty());

        // A vectored inner writer still takes everything at once.
        let mut w = BufWriter::with_capacity(8, Writes::default());
        w.get_mut().vectored = true;
        assert_eq!(w.write_vectored(&bufs).await.unwrap(), 11);
        assert_eq!(w.get_ref().data, msg);
    });
}

#[test]
fn reads_until_done_retry_interrupted_and_return_other_errors() {
    let int = Err(ErrorKind::Interrupted);
    run(async {
        let mut r = Reads(vec![int, Ok(b"hello"), int, Ok(b" world"), int]);
        let mut v = Vec::new();
        assert_eq!(r.read_to_end(&mut v).await.unwrap(), 11);
        assert_eq!(v, b"hello world");

        let mut r = Reads(vec![Ok(b"hello"), int, Ok(b" world")]);
        let mut s = String::from("> ");
        assert_eq!(r.read_to_string(&mut s).await.unwrap(), 11);
        assert_eq!(s, "> hello world");

        let mut r = BufReader::new(Reads(vec![Ok(b"ab"), int, Ok(b"c;d\nnext\n"), int]));
        let mut v = Vec::new();
        assert_eq!(r.read_until(b';', &mut v).await.unwrap(), 4);
        assert_eq!(v, b"abc;");
        let mut s = String::new();
        assert_eq!(r.read_line(&mut s).await.unwrap(), 2);
        assert_eq!(s, "d\n");
        let mut lines = r.lines();
        assert_eq!(lines.next_line().await.unwrap().as_deref(), Some("next"));
        assert_eq!(lines.next_line().await.unwrap(), None);

        // Other errors end them; read_to_end keeps what it read.
        let mut r = Reads(vec![Ok(b"abc"), int, Err(ErrorKind::ConnectionReset)]);
        let mut v = Vec::new();
        let err = r.read_to_end(&mut v).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionReset);
        assert_eq!(v, b"abc");
        let mut r = BufReader::new(Reads(vec![Ok(b"ab"), Err(ErrorKind::TimedOut)]));
        let mut v = Vec::new();
        let err = r.read_until(b';', &mut v).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TimedOut);
        assert_eq!(v, b"ab");
    });
}

#[test]
fn invalid_utf8_errors_carry_tokio_s_inner_error() {
    run(async {
        // read_line: the Utf8Error of the whole string (the original text counts), and the
        // string is as it was.
        let mut r = BufReader::new(&b"Hello Wor\xffld.\nnext\n"[..]);
        let mut s = String::from("Foo");
        let err = r.read_line(&mut s).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidData);
        let utf8 = err.into_inner().unwrap().downcast::<Utf8Error>().unwrap();
        assert_eq!(utf8.valid_up_to(), 12);
        assert_eq!(s, "Foo");
        s.clear();
        r.read_line(&mut s).await.unwrap();
        assert_eq!(s, "next\n", "the bad line was consumed");

        // read_to_string: the same, and the string is not truncated.
        let mut s = String::from("abc");
        let err = (&[0xffu8, 0xff][..])
            .read_to_string(&mut s)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidData);
        let utf8 = err.into_inner().unwrap().downcast::<Utf8Error>().unwrap();
        assert_eq!(utf8.valid_up_to(), 3);
        assert_eq!(s, "abc");

        // lines: the line's FromUtf8Error (without its newline), once; then the next line.
        let mut lines = (&b"ok\n\xff\xfe\r\nnext\n\xff"[..]).lines();
        assert_eq!(lines.next_line().await.unwrap().as_deref(), Some("ok"));
        let err = lines.next_line().await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidData);
        let bad = err
            .into_inner()
            .unwrap()
            .downcast::<FromUtf8Error>()
            .unwrap();
        assert_eq!(bad.into_bytes(), b"\xff\xfe");
        assert_eq!(lines.next_line().await.unwrap().as_deref(), Some("next"));
        let err = lines.next_line().await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidData, "a bad last line, once");
        assert_eq!(lines.next_line().await.unwrap(), None);
    });
}

#[test]
fn read_to_end_grows_as_tokio_s() {
    run(async {
        // 38 bytes into 34 of capacity: the stack probe finds 4 more (doubling to 68),
        // then less than 32 bytes of room are left, so it doubles again before the read
        // that finds the end.
        let bytes = b"the_vector_startingcap_will_be_smaller";
        let mut v = Vec::with_capacity(34);
        assert_eq!((&bytes[..]).read_to_end(&mut v).await.unwrap(), 38);
        assert_eq!(v, bytes);
        assert_eq!(v.capacity(), 34 * 4);

        // What fits the first capacity never grows it, however it arrives.
        for split in [0, 1, 20, 37] {
            for cap in [38, 40, 64, 100] {
                let mut r = match split {
                    0 => Reads(vec![Ok(&bytes[..])]),
                    _ => Reads(vec![Ok(&bytes[..split]), Ok(&bytes[split..])]),
                };
                let mut v = Vec::with_capacity(cap);
                r.read_to_end(&mut v).await.unwrap();
                assert_eq!(v, bytes);
                assert_eq!(v.capacity(), cap, "split {split}, cap {cap}");
            }
        }

        // A small vector (under 32 bytes) grows as it fills, and is not grown at the end.
        let mut v = Vec::with_capacity(4);
        assert_eq!((&bytes[..]).read_to_end(&mut v).await.unwrap(), 38);
        assert_eq!(v, bytes);
        let mut v = Vec::new();
        assert_eq!(tio::empty().read_to_end(&mut v).await.unwrap(), 0);
        assert_eq!(v.capacity(), 0, "an empty reader costs no allocation");
    });
}

/// A reader that records how many initialized-but-unfilled bytes each call is lent,
/// then initializes `extra` bytes more than it fills (one byte per call), for `calls`
/// calls; then end of stream.
struct InitProbe {
    seen: Vec<usize>,
    calls: usize,
    extra: usize,
}

impl AsyncRead for InitProbe {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.seen.push(buf.initialized().len() - buf.filled().len());
        if self.seen.len() <= self.calls {
            let extra = self.extra;
            buf.initialize_unfilled_to(1 + extra)[0] = b'x';
            buf.advance(1);
        }
        Poll::Ready(Ok(()))
    }
}

#[test]
fn read_to_end_lends_spare_capacity_uninitialized_and_remembers_what_was_initialized() {
    run(async {
        // 64 bytes of room: the first read sees nothing initialized; each read initializes
        // 3 bytes and fills 1, so the next sees 2 more initialized bytes than it fills.
        let mut r = InitProbe {
            seen: Vec::new(),
            calls: 10,
            extra: 2,
        };
        let mut v = Vec::with_capacity(64);
        assert_eq!(r.read_to_end(&mut v).await.unwrap(), 10);
        assert_eq!(v, [b'x'; 10]);
        let want: Vec<usize> = (0..=10).map(|i| if i == 0 { 0 } else { 2 }).collect();
        assert_eq!(r.seen, want);

        // Filling past the first capacity (34): reads 1-3 go into the spare capacity (1
        // initialized ahead after the first); from 31 bytes of room on (reads 4-35), the
        // stack probe (uninitialized) while the vector keeps its first capacity; the 35th
        // grows it to 68, and a grown vector starts uninitialized (a reallocation's
        // contents are not assumed): 0 at read 36, 1 at 37; at 31 bytes of room it grows
        // again (136): 0 at read 38, then 1 ahead up to the end.
        let mut r = InitProbe {
            seen: Vec::new(),
            calls: 40,
            extra: 1,
        };
        let mut v = Vec::with_capacity(34);
        assert_eq!(r.read_to_end(&mut v).await.unwrap(), 40);
        assert_eq!(v, [b'x'; 40]);
        let mut want = vec![0, 1, 1];
        want.extend([0; 32]);
        want.extend([0, 1, 0, 1, 1, 1]);
        assert_eq!(r.seen, want);
    });
}

/// A reader that replaces the `ReadBuf` it is lent by another one.
struct Swapper;

impl AsyncRead for Swapper {
    fn poll_read(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        // An empty `&mut []` is `'static`: a buffer that is not the caller's.
        *buf = ReadBuf::new(&mut []);
        Poll::Ready(Ok(()))
    }
}

#[test]
fn read_to_end_refuses_a_reader_that_swaps_its_read_buf() {
    use std::panic::{AssertUnwindSafe, catch_unwind};
    for cap in [64, 40] {
        // 64: the read goes into the vector's spare capacity; 40 with 10 bytes held: the
        // stack probe.
        let mut v = Vec::with_capacity(cap);
        v.extend_from_slice(&[1; 10]);
        let held = v.clone();
        let res = catch_unwind(AssertUnwindSafe(|| run(Swapper.read_to_end(&mut v))));
        assert!(res.is_err(), "cap {cap}: the swap is refused");
        assert_eq!(v, held, "cap {cap}: nothing was claimed as read");
    }
}

/// How many copies a task completes in a loop before another task gets to run.
async fn copies_before_yield<F: Future>(mut one_copy: impl FnMut() -> F) -> usize {
    let ran = Rc::new(Cell::new(false));
    let flag = ran.clone();
    spawn(async move { flag.set(true) });
    for done in 0..10 * BUDGET as usize {
        if ran.get() {
            return done;
        }
        one_copy().await;
    }
    panic!("the copy loop never yielded to the other task");
}

#[test]
fn copy_and_copy_buf_spend_the_task_s_budget() {
    run(async {
        let n = copies_before_yield(|| async {
            let mut out = Vec::new();
            tio::copy(&mut &b"hello"[..], &mut out).await.unwrap();
            assert_eq!(out, b"hello");
        })
        .await;
        // One unit per completed copy: the first BUDGET complete, the next one yields
        // (the other task runs) and completes when polled again.
        assert_eq!(n, BUDGET as usize + 1, "one unit per completed copy");
    });
    // A fresh runtime, so that the loop starts with a whole budget.
    run(async {
        let n = copies_before_yield(|| async {
            let mut out = Vec::new();
            tio::copy_buf(&mut &b"hello"[..], &mut out).await.unwrap();
            assert_eq!(out, b"hello");
        })
        .await;
        assert_eq!(n, BUDGET as usize + 1, "one unit per completed copy_buf");
    });
}

/// A writer that keeps what it is given until flushed, then sends it into a duplex.
struct SendOnFlush {
    pending: Vec<u8>,
    out: tio::DuplexStream,
}

impl AsyncWrite for SendOnFlush {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().pending.extend_from_slice(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let me = self.get_mut();
        while !me.pending.is_empty() {
            let n = std::task::ready!(Pin::new(&mut me.out).poll_write(cx, &me.pending))?;
            me.pending.drain(..n);
        }
        Pin::new(&mut me.out).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().out).poll_shutdown(cx)
    }
}

#[test]
fn copy_buf_flushes_while_its_reader_waits_and_retries_interrupted() {
    run(async {
        // tokio's proxy_buf: the copy reads what it wrote itself, which only arrives
        // once flushed; without a flush while the reader waits, it waits forever.
        let (rd, wd) = tio::duplex(1024);
        let mut rd = BufReader::new(rd).take(1024);
        let mut wd = SendOnFlush {
            pending: Vec::new(),
            out: wd,
        };
        wd.write_all(&[0x42; 512]).await.unwrap();
        wd.flush().await.unwrap();
        assert_eq!(tio::copy_buf(&mut rd, &mut wd).await.unwrap(), 1024);

        let int = Err(ErrorKind::Interrupted);
        let mut r = BufReader::new(Reads(vec![int, Ok(b"ab"), int, Ok(b"cd")]));
        let mut w = Writes::new(vec![INT, Ok(1), INT]);
        assert_eq!(tio::copy_buf(&mut r, &mut w).await.unwrap(), 4);
        assert_eq!(w.data, b"abcd");
        // Another error ends it.
        let mut r = BufReader::new(Reads(vec![Ok(b"ab"), Err(ErrorKind::BrokenPipe)]));
        let mut w = Writes::default();
        let err = tio::copy_buf(&mut r, &mut w).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::BrokenPipe);
        assert_eq!(w.data, b"ab");
    });
}
