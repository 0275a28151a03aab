//! The io toolbox with tokio's semantics: extension methods (numbers, `read_to_end`,
//! `read_to_string`, `read_buf`, `write_all_buf`, lines), the buffered wrappers, copies,
//! `split`, `duplex`, `empty`/`sink`/`repeat`, seeks; and the bad paths: end of stream in
//! the middle of a `read_exact`, invalid UTF-8, a copy dropped mid-way, a duplex closed
//! from either end, a reader that panics inside a `BufReader`.
//!
//! Every test runs under a generous `timeout` that only detects hangs.

mod support;

use std::cell::Cell;
use std::future::Future;
use std::io::{self, Cursor, IoSlice, SeekFrom};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::{Pin, pin};
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use tickslab_runtime::io::{
    self as tio, AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncSeekExt, AsyncWrite, AsyncWriteExt,
    BufReader, BufStream, BufWriter, ReadBuf,
};
use tickslab_runtime::time::timeout;
use tickslab_runtime::{spawn, yield_now};

use support::rt;

const GUARD: Duration = Duration::from_secs(10);

fn run<F: Future>(f: F) -> F::Output {
    rt().block_on(async { timeout(GUARD, f).await.expect("the test hung (10 s guard)") })
}

/// A reader of scripted chunks: `Ok` bytes, `Err` kinds, `Pending` (`None`), and a panic
/// for the chunk `b"PANIC"`.
struct Script {
    steps: Vec<Option<Result<&'static [u8], io::ErrorKind>>>,
}

impl Script {
    fn new(steps: Vec<Option<Result<&'static [u8], io::ErrorKind>>>) -> Self {
        Script { steps }
    }
}

impl AsyncRead for Script {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.steps.is_empty() {
            return Poll::Ready(Ok(()));
        }
        match self.steps.remove(0) {
            None => {
                cx.waker().wake_by_ref();
                Poll::Pending
            }
            Some(Err(kind)) => Poll::Ready(Err(kind.into())),
            Some(Ok(b"PANIC")) => panic!("reader panics"),
            Some(Ok(chunk)) => {
                let n = chunk.len().min(buf.remaining());
                buf.put_slice(&chunk[..n]);
                if n < chunk.len() {
                    self.steps.insert(0, Some(Ok(&chunk[n..])));
                }
                Poll::Ready(Ok(()))
            }
        }
    }
}

/// Polls `f` once with a no-op waker.
fn poll_once<F: Future>(f: Pin<&mut F>) -> Poll<F::Output> {
    f.poll(&mut Context::from_waker(Waker::noop()))
}

#[test]
fn numbers_round_trip_in_both_byte_orders() {
    run(async {
        let mut w = Vec::new();
        w.write_u8(1).await.unwrap();
        w.write_i8(-2).await.unwrap();
        w.write_u16(0x0102).await.unwrap();
        w.write_u16_le(0x0102).await.unwrap();
        w.write_i32(-3).await.unwrap();
        w.write_u64_le(u64::MAX - 1).await.unwrap();
        w.write_i128(i128::MIN).await.unwrap();
        w.write_u128_le(7).await.unwrap();
        w.write_f32(1.5).await.unwrap();
        w.write_f64_le(-0.25).await.unwrap();
        w.write_i16_le(-300).await.unwrap();
        w.write_u32(0xdead_beef).await.unwrap();
        w.write_i64(-5).await.unwrap();
        assert_eq!(&w[2..6], &[1, 2, 2, 1], "big then little endian");
        let mut r = &w[..];
        assert_eq!(r.read_u8().await.unwrap(), 1);
        assert_eq!(r.read_i8().await.unwrap(), -2);
        assert_eq!(r.read_u16().await.unwrap(), 0x0102);
        assert_eq!(r.read_u16_le().await.unwrap(), 0x0102);
        assert_eq!(r.read_i32().await.unwrap(), -3);
        assert_eq!(r.read_u64_le().await.unwrap(), u64::MAX - 1);
        assert_eq!(r.read_i128().await.unwrap(), i128::MIN);
        assert_eq!(r.read_u128_le().await.unwrap(), 7);
        assert_eq!(r.read_f32().await.unwrap(), 1.5);
        assert_eq!(r.read_f64_le().await.unwrap(), -0.25);
        assert_eq!(r.read_i16_le().await.unwrap(), -300);
        assert_eq!(r.read_u32().await.unwrap(), 0xdead_beef);
        assert_eq!(r.read_i64().await.unwrap(), -5);
        assert!(r.is_empty());
    });
}

#[test]
fn end_of_stream_in_the_middle_of_a_number_or_read_exact_is_unexpected_eof() {
    run(async {
        let mut r: &[u8] = &[1, 2];
        let err = r.read_u32().await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
        let mut s = Script::new(vec![Some(Ok(b"ab")), None, Some(Ok(b"c"))]);
        let mut buf = [0u8; 4];
        let err = s.read_exact(&mut buf).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
        assert_eq!(&buf[..3], b"abc", "what came is in the buffer");
        // An error mid-way is returned as it is.
        let mut s = Script::new(vec![
            Some(Ok(b"ab")),
            Some(Err(io::ErrorKind::ConnectionReset)),
        ]);
        let err = s.read_exact(&mut buf).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::ConnectionReset);
    });
}

#[test]
fn read_to_end_appends_and_grows_only_when_full() {
    run(async {
        let mut v = b"pre:".to_vec();
        let mut s = Script::new(vec![Some(Ok(b"one")), None, Some(Ok(b"two"))]);
        assert_eq!(s.read_to_end(&mut v).await.unwrap(), 6);
        assert_eq!(v, b"pre:onetwo");
        // A reader at its end costs no growth: the 32-byte stack probe finds the end.
        let mut v = Vec::with_capacity(4);
        v.extend_from_slice(b"full");
        let cap = v.capacity();
        assert_eq!(tio::empty().read_to_end(&mut v).await.unwrap(), 0);
        assert_eq!(v.capacity(), cap);
        // More than fits: grows, keeps everything.
        let big = vec![7u8; 100_000];
        let mut v = Vec::new();
        assert_eq!((&big[..]).read_to_end(&mut v).await.unwrap(), 100_000);
        assert_eq!(v, big);
        // An error: what was read stays, no zeroed spare room shows.
        let mut s = Script::new(vec![Some(Ok(b"abc")), Some(Err(io::ErrorKind::Other))]);
        let mut v = Vec::with_capacity(64);
        assert!(s.read_to_end(&mut v).await.is_err());
        assert_eq!(v, b"abc");
    });
}

#[test]
fn read_to_end_dropped_or_panicking_leaves_only_what_was_read() {
    let mut v = Vec::with_capacity(64);
    {
        let mut s = Script::new(vec![Some(Ok(b"abc")), None]);
        let mut f = pin!(s.read_to_end(&mut v));
        assert!(poll_once(f.as_mut()).is_pending());
    }
    assert_eq!(
        v, b"abc",
        "a dropped read_to_end keeps what it read, no zeroes"
    );
    let mut v = Vec::with_capacity(64);
    let mut s = Script::new(vec![Some(Ok(b"xy")), Some(Ok(b"PANIC"))]);
    let res = catch_unwind(AssertUnwindSafe(|| {
        let f = pin!(s.read_to_end(&mut v));
        let _ = poll_once(f);
    }));
    assert!(res.is_err());
    assert_eq!(
        v, b"xy",
        "a panicking reader leaves what it gave before, no zeroes"
    );
}

#[test]
fn read_to_string_keeps_tokio_semantics_on_bad_paths() {
    run(async {
        let mut s = String::from("pre:");
        let mut r: &[u8] = "héllo".as_bytes();
        assert_eq!(r.read_to_string(&mut s).await.unwrap(), 6);
        assert_eq!(s, "pre:héllo");
        // Invalid UTF-8: InvalidData, and the string is as it was.
        let mut s = String::from("keep");
        let mut r: &[u8] = &[b'o', b'k', 0xff, 0xfe];
        let err = r.read_to_string(&mut s).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert_eq!(s, "keep");
        // A UTF-8 character cut across two reads is fine.
        let mut s = String::new();
        let bytes = "é".as_bytes();
        let (a, b): (&'static [u8], &'static [u8]) = (&[0xc3], &[0xa9]);
        assert_eq!(bytes, [a, b].concat());
        let mut r = Script::new(vec![Some(Ok(a)), None, Some(Ok(b))]);
        r.read_to_string(&mut s).await.unwrap();
        assert_eq!(s, "é");
        // An I/O error: the string is as it was.
        let mut s = String::from("keep");
        let mut r = Script::new(vec![
            Some(Ok(b"more")),
            Some(Err(io::ErrorKind::BrokenPipe)),
        ]);
        let err = r.read_to_string(&mut s).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::BrokenPipe);
        assert_eq!(s, "keep");
    });
    // Dropped mid-way: the string is as it was (not emptied).
    let mut s = String::from("keep");
    {
        let mut r = Script::new(vec![Some(Ok(b"more")), None]);
        let mut f = pin!(r.read_to_string(&mut s));
        assert!(poll_once(f.as_mut()).is_pending());
    }
    assert_eq!(s, "keep");
}

#[test]
fn read_buf_fills_spare_capacity_and_write_all_buf_drains_a_buf() {
    run(async {
        let mut v: Vec<u8> = Vec::with_capacity(8);
        let mut r: &[u8] = b"0123456789";
        let n = r.read_buf(&mut v).await.unwrap();
        assert!(n > 0 && n <= 10);
        assert_eq!(&v[..], &b"0123456789"[..n]);
        // No room left in a fixed buffer: 0, nothing read.
        let mut storage = [0u8; 0];
        let mut fixed = &mut storage[..];
        assert_eq!(r.read_buf(&mut fixed).await.unwrap(), 0);

        use bytes::Buf;
        let mut src = Buf::chain(&b"hello "[..], &b"world"[..]);
        let mut out = Vec::new();
        out.write_all_buf(&mut src).await.unwrap();
        assert_eq!(out, b"hello world");
        assert!(!src.has_remaining());
        // To a writer that is not vectored, and one byte at a time.
        let mut one = OneByte::default();
        let mut src = &b"abc"[..];
        one.write_all_buf(&mut src).await.unwrap();
        assert_eq!(one.0, b"abc");
        let mut src = &b"de"[..];
        assert_eq!(one.write_buf(&mut src).await.unwrap(), 1);
        assert_eq!(src, b"e");
        let n = one
            .write_vectored(&[IoSlice::new(b""), IoSlice::new(b"zz")])
            .await
            .unwrap();
        assert_eq!(n, 1);
        // A writer that takes nothing: WriteZero.
        let mut storage = [0u8; 2];
        let mut full = Cursor::new(&mut storage[..]);
        let mut src = &b"abc"[..];
        let err = full.write_all_buf(&mut src).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::WriteZero);
        assert_eq!(src, b"c", "the buf advanced past what was written");
    });
}

#[derive(Default)]
struct OneByte(Vec<u8>);

impl AsyncWrite for OneByte {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let n = buf.len().min(1);
        self.0.extend_from_slice(&buf[..n]);
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[test]
fn take_and_chain() {
    run(async {
        let mut t = (&b"abcdef"[..]).take(4);
        let mut out = String::new();
        t.read_to_string(&mut out).await.unwrap();
        assert_eq!(out, "abcd");
        assert_eq!(t.limit(), 0);
        t.set_limit(10);
        let mut rest = Vec::new();
        t.read_to_end(&mut rest).await.unwrap();
        assert_eq!(rest, b"ef");
        // Take over a buffered reader, line by line.
        let mut lines = BufReader::new(&b"a\nb\nc\n"[..]).take(4).lines();
        assert_eq!(lines.next_line().await.unwrap().as_deref(), Some("a"));
        assert_eq!(lines.next_line().await.unwrap().as_deref(), Some("b"));
        assert_eq!(lines.next_line().await.unwrap(), None);

        let mut c = (&b"ab"[..]).chain(&b""[..]).chain(&b"cd"[..]);
        let mut out = Vec::new();
        c.read_to_end(&mut out).await.unwrap();
        assert_eq!(out, b"abcd");
        let mut c = BufReader::new(&b"x\ny"[..]).chain(&b"z\n"[..]);
        let mut line = String::new();
        c.read_line(&mut line).await.unwrap();
        c.read_line(&mut line).await.unwrap();
        assert_eq!(line, "x\nyz\n", "a line across the two readers");
    });
}

#[test]
fn buffered_lines_split_read_until_and_invalid_utf8() {
    run(async {
        let data: &[u8] = b"one\r\ntwo\nthree";
        let mut lines = BufReader::with_capacity(4, data).lines();
        let mut got = Vec::new();
        while let Some(l) = lines.next_line().await.unwrap() {
            got.push(l);
        }
        assert_eq!(got, ["one", "two", "three"]);
        let mut seg = BufReader::new(&b"a,b,,c"[..]).split(b',');
        let mut got = Vec::new();
        while let Some(s) = seg.next_segment().await.unwrap() {
            got.push(s);
        }
        assert_eq!(got, [&b"a"[..], b"b", b"", b"c"]);
        let mut r = BufReader::new(&b"k=v;rest"[..]);
        let mut v = Vec::new();
        assert_eq!(r.read_until(b';', &mut v).await.unwrap(), 4);
        assert_eq!(v, b"k=v;");
        // read_line: invalid UTF-8 is InvalidData and the string is as it was.
        let mut r = BufReader::new(&b"bad \xff line\nnext\n"[..]);
        let mut s = String::from("keep");
        let err = r.read_line(&mut s).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert_eq!(s, "keep");
        s.clear();
        r.read_line(&mut s).await.unwrap();
        assert_eq!(s, "next\n", "the bad line was consumed");
        assert_eq!(r.read_line(&mut s).await.unwrap(), 0, "end of stream");
        // Lines as a futures Stream.
        use futures_util::StreamExt as _;
        let all: Vec<_> = BufReader::new(&b"x\ny\n"[..]).lines().collect().await;
        let all: Vec<String> = all.into_iter().map(Result::unwrap).collect();
        assert_eq!(all, ["x", "y"]);
        // fill_buf / consume.
        let mut r = BufReader::new(&b"abc"[..]);
        assert_eq!(r.fill_buf().await.unwrap(), b"abc");
        AsyncBufReadExt::consume(&mut r, 2);
        assert_eq!(r.fill_buf().await.unwrap(), b"c");
        AsyncBufReadExt::consume(&mut r, 1);
        assert_eq!(r.fill_buf().await.unwrap(), b"");
    });
}

#[test]
fn next_line_is_cancel_safe() {
    let mut lines =
        BufReader::new(Script::new(vec![Some(Ok(b"hel")), None, Some(Ok(b"lo\n"))])).lines();
    {
        let mut f = pin!(lines.next_line());
        assert!(poll_once(f.as_mut()).is_pending());
    }
    let mut f = pin!(lines.next_line());
    match poll_once(f.as_mut()) {
        Poll::Ready(Ok(Some(line))) => assert_eq!(line, "hello", "nothing was lost"),
        other => panic!("expected the line, got {other:?}"),
    }
}

#[test]
fn a_panicking_reader_inside_a_buf_reader_leaves_it_consistent() {
    let script = Script::new(vec![
        Some(Ok(b"ab\ncd")),
        Some(Ok(b"PANIC")),
        Some(Ok(b"\n")),
    ]);
    let mut r = BufReader::with_capacity(16, script);
    let mut line = String::new();
    {
        let mut f = pin!(r.read_line(&mut line));
        assert!(matches!(poll_once(f.as_mut()), Poll::Ready(Ok(3))));
    }
    assert_eq!(line, "ab\n");
    line.clear();
    let res = catch_unwind(AssertUnwindSafe(|| {
        let f = pin!(r.read_line(&mut line));
        let _ = poll_once(f);
    }));
    assert!(res.is_err(), "the panic goes through");
    assert_eq!(line, "", "the dropped read_line put the string back");
    assert_eq!(r.buffer(), b"", "the buffer holds no stale bytes");
    // The reader goes on after the panic.
    {
        let f = pin!(r.read_line(&mut line));
        assert!(matches!(poll_once(f), Poll::Ready(Ok(1))));
    }
    assert_eq!(line, "\n");
}

#[test]
fn buf_reader_large_reads_skip_the_buffer_and_seeks_count_what_is_buffered() {
    run(async {
        let data: Vec<u8> = (0..100u8).collect();
        let mut r = BufReader::with_capacity(8, Cursor::new(data.clone()));
        let mut small = [0u8; 2];
        r.read_exact(&mut small).await.unwrap();
        assert_eq!(r.buffer(), &data[2..8]);
        // The user sees position 2, whatever was buffered.
        assert_eq!(r.stream_position().await.unwrap(), 2);
        assert_eq!(r.seek(SeekFrom::Current(3)).await.unwrap(), 5);
        assert_eq!(r.read_u8().await.unwrap(), 5);
        r.rewind().await.unwrap();
        assert_eq!(r.read_u8().await.unwrap(), 0);
        let mut big = [0u8; 50];
        r.seek(SeekFrom::Start(10)).await.unwrap();
        r.read_exact(&mut big).await.unwrap();
        assert_eq!(&big[..], &data[10..60]);
        assert_eq!(
            r.get_ref().position(),
            60,
            "large reads went straight through"
        );
    });
}

#[test]
fn buf_writer_buffers_small_writes_and_reports_write_zero() {
    run(async {
        let mut w = BufWriter::with_capacity(8, Vec::new());
        w.write_all(b"abc").await.unwrap();
        assert_eq!(w.get_ref(), b"", "buffered");
        assert_eq!(w.buffer(), b"abc");
        w.write_all(b"defgh").await.unwrap();
        assert_eq!(w.get_ref(), b"", "8 bytes fit the 8-byte buffer");
        w.write_all(b"i").await.unwrap();
        assert_eq!(
            w.get_ref(),
            b"abcdefgh",
            "flushed what was buffered to make room"
        );
        w.write_all(&[b'x'; 20]).await.unwrap();
        assert_eq!(
            w.get_ref().len(),
            9 + 20,
            "a large write goes straight through"
        );
        w.write_u16(0x4142).await.unwrap();
        w.flush().await.unwrap();
        assert!(w.get_ref().ends_with(b"AB"));
        let n = w
            .write_vectored(&[IoSlice::new(b"12"), IoSlice::new(b"34")])
            .await
            .unwrap();
        assert_eq!(n, 4);
        w.shutdown().await.unwrap();
        assert!(w.get_ref().ends_with(b"1234"));
        // A full inner writer: the flush fails with WriteZero.
        let mut storage = [0u8; 4];
        let mut w = BufWriter::with_capacity(8, Cursor::new(&mut storage[..]));
        w.write_all(b"123456").await.unwrap();
        let err = w.flush().await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::WriteZero);
    });
}

#[test]
fn buf_stream_over_a_duplex() {
    run(async {
        let (a, mut b) = tio::duplex(64);
        let mut a = BufStream::new(a);
        a.write_all(b"ping\n").await.unwrap();
        let mut got = [0u8; 5];
        let pending = timeout(Duration::from_millis(1), b.read_exact(&mut got)).await;
        assert!(pending.is_err(), "nothing reaches the peer before a flush");
        a.flush().await.unwrap();
        b.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"ping\n");
        b.write_all(b"pong\n").await.unwrap();
        let mut line = String::new();
        a.read_line(&mut line).await.unwrap();
        assert_eq!(line, "pong\n");
    });
}

#[test]
fn copy_copy_buf_and_a_copy_dropped_mid_way() {
    run(async {
        let data: Vec<u8> = (0..50_000u32).map(|i| i as u8).collect();
        let mut out = Vec::new();
        assert_eq!(tio::copy(&mut &data[..], &mut out).await.unwrap(), 50_000);
        assert_eq!(out, data);
        let mut out = Vec::new();
        let mut r = BufReader::new(&data[..]);
        assert_eq!(tio::copy_buf(&mut r, &mut out).await.unwrap(), 50_000);
        assert_eq!(out, data);
        // A writer that takes nothing: WriteZero.
        let mut storage = [0u8; 3];
        let err = tio::copy(&mut &data[..], &mut Cursor::new(&mut storage[..]))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::WriteZero);

        // Dropped mid-way: the copy into a full duplex is pending; dropping it releases
        // the borrowed ends, which still work.
        let (mut a, mut b) = tio::duplex(16);
        let mut src = &data[..];
        let cut = timeout(Duration::from_millis(5), tio::copy(&mut src, &mut a)).await;
        assert!(cut.is_err(), "the copy waits for room");
        let mut got = [0u8; 16];
        b.read_exact(&mut got).await.unwrap();
        assert_eq!(&got[..], &data[..16]);
        a.write_all(b"after").await.unwrap();
        let mut got = [0u8; 5];
        b.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"after");
    });
}

#[test]
fn copy_bidirectional_passes_data_and_fin_both_ways() {
    run(async {
        // client <-> a, proxy, d <-> server. The 100 bytes fit in the pipes and the
        // proxy's buffer, so the client's write_all ends before the server reads.
        let (mut client, mut a) = tio::duplex(64);
        let (mut d, mut server) = tio::duplex(64);
        let proxy = spawn(async move { tio::copy_bidirectional(&mut a, &mut d).await });
        client.write_all(&[1u8; 100]).await.unwrap();
        let mut got = vec![0u8; 100];
        server.read_exact(&mut got).await.unwrap();
        server.write_all(b"reply").await.unwrap();
        server.shutdown().await.unwrap();
        let mut back = Vec::new();
        client.read_to_end(&mut back).await.unwrap();
        assert_eq!(back, b"reply", "the server's FIN reached the client");
        client.shutdown().await.unwrap();
        let mut rest = Vec::new();
        server.read_to_end(&mut rest).await.unwrap();
        assert!(rest.is_empty());
        assert_eq!(proxy.await.unwrap().unwrap(), (100, 5));
    });
}

#[test]
fn duplex_close_from_either_end() {
    run(async {
        let (mut a, mut b) = tio::duplex(8);
        a.write_all(b"bye").await.unwrap();
        drop(a);
        let mut got = Vec::new();
        b.read_to_end(&mut got).await.unwrap();
        assert_eq!(
            got, b"bye",
            "what was written before the drop is read, then the end"
        );
        let err = b.write_all(b"x").await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::BrokenPipe);

        // A writer waiting for room is woken by the peer's drop, with BrokenPipe.
        let (mut a, b) = tio::duplex(4);
        let writer = spawn(async move { a.write_all(b"0123456789").await });
        yield_now().await;
        drop(b);
        let err = writer.await.unwrap().unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::BrokenPipe);

        // A reader waiting for data is woken by the peer's shutdown, with end of stream.
        let (mut a, mut b) = tio::duplex(4);
        let reader = spawn(async move {
            let mut v = Vec::new();
            b.read_to_end(&mut v).await.map(|_| v)
        });
        yield_now().await;
        a.write_all(b"1234").await.unwrap();
        a.shutdown().await.unwrap();
        assert_eq!(reader.await.unwrap().unwrap(), b"1234");
    });
}

#[test]
#[should_panic(expected = "duplex buffer size must be > 0")]
fn duplex_of_size_zero_panics() {
    let _ = tio::duplex(0);
}

#[test]
fn split_halves_work_apart_and_unsplit() {
    run(async {
        let (a, mut b) = tio::duplex(64);
        let (mut r, mut w) = tio::split(a);
        assert!(r.is_pair_of(&w) && w.is_pair_of(&r));
        let echo = spawn(async move {
            let mut buf = [0u8; 4];
            b.read_exact(&mut buf).await.unwrap();
            b.write_all(&buf).await.unwrap();
            b
        });
        w.write_all(b"echo").await.unwrap();
        let mut got = [0u8; 4];
        r.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"echo");
        let _b = echo.await.unwrap();
        let _stream = r.unsplit(w);
        let (r1, _w1) = tio::split(tio::duplex(1).0);
        let (_r2, w2) = tio::split(tio::duplex(1).0);
        assert!(!r1.is_pair_of(&w2));
        let res = catch_unwind(AssertUnwindSafe(move || r1.unsplit(w2)));
        assert!(
            res.is_err(),
            "unsplit of halves from different streams panics"
        );
    });
}

#[test]
fn empty_sink_repeat() {
    run(async {
        let mut buf = [0u8; 4];
        assert_eq!(tio::empty().read(&mut buf).await.unwrap(), 0);
        assert_eq!(tio::sink().write(b"gone").await.unwrap(), 4);
        tio::empty().write_all(b"gone").await.unwrap();
        tio::repeat(9).read_exact(&mut buf).await.unwrap();
        assert_eq!(buf, [9; 4]);
        let mut limited = tio::repeat(b'z').take(3);
        let mut s = String::new();
        limited.read_to_string(&mut s).await.unwrap();
        assert_eq!(s, "zzz");
    });
}

#[test]
fn seek_ext_on_a_cursor() {
    run(async {
        let mut c = Cursor::new(vec![0u8; 10]);
        assert_eq!(c.seek(SeekFrom::End(-2)).await.unwrap(), 8);
        assert_eq!(c.stream_position().await.unwrap(), 8);
        c.rewind().await.unwrap();
        assert_eq!(c.position(), 0);
        let err = c.seek(SeekFrom::Current(-1)).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    });
}

/// A writer whose waker count shows that a copy flushes while its reader waits.
struct CountingFlush(Rc<Cell<usize>>, Vec<u8>);

impl AsyncWrite for CountingFlush {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.1.extend_from_slice(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.0.set(self.0.get() + 1);
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[test]
fn copy_flushes_while_the_reader_waits_and_at_the_end() {
    run(async {
        let flushes = Rc::new(Cell::new(0));
        let mut w = CountingFlush(flushes.clone(), Vec::new());
        let mut r = Script::new(vec![Some(Ok(b"a")), None, Some(Ok(b"b"))]);
        assert_eq!(tio::copy(&mut r, &mut w).await.unwrap(), 2);
        assert_eq!(w.1, b"ab");
        assert_eq!(
            flushes.get(),
            2,
            "once while the reader waited, once at the end"
        );
    });
}

#[test]
fn simplex_is_a_one_way_pipe_with_backpressure_and_end_of_stream() {
    run(async {
        let (mut r, mut w) = tio::simplex(4);
        let writer = spawn(async move {
            w.write_all(b"0123456789").await.unwrap();
            w.shutdown().await.unwrap();
            let err = w.write_all(b"x").await.unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::BrokenPipe);
        });
        let mut got = Vec::new();
        r.read_to_end(&mut got).await.unwrap();
        assert_eq!(
            got, b"0123456789",
            "a 4-byte pipe carried 10 bytes in order"
        );
        writer.await.unwrap();
        // futures-io on the halves too.
        let (mut r, mut w) = tio::simplex(8);
        futures_util::io::AsyncWriteExt::write_all(&mut w, b"fio")
            .await
            .unwrap();
        let mut three = [0u8; 3];
        futures_util::io::AsyncReadExt::read_exact(&mut r, &mut three)
            .await
            .unwrap();
        assert_eq!(&three, b"fio");
    });
}
