//! The io traits in tokio's shape: `ReadBuf`'s whole API (including its panics), the impls
//! for std's types and pointers, and hand-written impls as tokio's own tests write them.
//!
//! No runtime and no sockets here (a no-op waker polls once): the file runs under Miri
//! (`MIRIFLAGS=-Zmiri-strict-provenance cargo +nightly miri test -p tickslab-runtime --test
//! io_traits`), which checks `ReadBuf`'s `unsafe` conversions.

use std::future::Future;
use std::io::{self, Cursor, IoSlice, SeekFrom};
use std::mem::MaybeUninit;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::{Pin, pin};
use std::task::{Context, Poll, Waker};

use tickslab_runtime::io::{
    AsyncBufRead, AsyncRead, AsyncReadExt, AsyncSeek, AsyncWrite, AsyncWriteExt, ReadBuf,
};

/// Polls `f` once with a no-op waker: every future here is ready at once.
fn now<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("expected the future to be ready at once"),
    }
}

fn panics(f: impl FnOnce()) -> bool {
    catch_unwind(AssertUnwindSafe(f)).is_err()
}

#[test]
fn read_buf_over_an_initialized_slice() {
    let mut storage = [7u8; 8];
    let mut buf = ReadBuf::new(&mut storage);
    assert_eq!(buf.capacity(), 8);
    assert_eq!(buf.remaining(), 8);
    assert_eq!(buf.filled(), b"");
    assert_eq!(buf.initialized(), &[7; 8]);
    buf.put_slice(b"abc");
    assert_eq!(buf.filled(), b"abc");
    assert_eq!(buf.remaining(), 5);
    buf.filled_mut()[0] = b'X';
    // Already initialized: nothing is zeroed.
    assert_eq!(buf.initialize_unfilled_to(2), &[7, 7]);
    buf.advance(2);
    assert_eq!(buf.filled(), b"Xbc\x07\x07");
    buf.set_filled(1);
    assert_eq!(buf.filled(), b"X");
    buf.clear();
    assert_eq!(buf.filled(), b"");
    assert_eq!(buf.initialized().len(), 8);
    assert_eq!(&storage, b"Xbc\x07\x07\x07\x07\x07");
}

#[test]
fn read_buf_over_uninit_memory_initializes_once() {
    let mut storage = [MaybeUninit::<u8>::uninit(); 6];
    let mut buf = ReadBuf::uninit(&mut storage);
    assert_eq!(buf.initialized(), b"");
    assert!(panics(
        || ReadBuf::uninit(&mut [MaybeUninit::uninit(); 2]).advance(1)
    ));
    buf.put_slice(b"ab");
    assert_eq!(buf.initialized(), b"ab");
    {
        let rest = buf.initialize_unfilled_to(2);
        assert_eq!(rest, &[0, 0]);
        rest.copy_from_slice(b"cd");
    }
    assert_eq!(buf.initialized(), b"abcd");
    // The written bytes stay: asking again does not zero them.
    assert_eq!(buf.initialize_unfilled_to(2), b"cd");
    assert_eq!(buf.initialize_unfilled(), b"cd\0\0");
    buf.advance(4);
    assert_eq!(buf.filled(), b"abcd\0\0");
    assert_eq!(buf.remaining(), 0);
    assert_eq!(buf.initialize_unfilled(), b"");
}

#[test]
fn read_buf_unsafe_api_as_tokio_uses_it() {
    let mut storage = [MaybeUninit::<u8>::uninit(); 4];
    let mut buf = ReadBuf::uninit(&mut storage);
    // SAFETY: writes initialized bytes only, then says how many.
    unsafe {
        let un = buf.unfilled_mut();
        un[0].write(1);
        un[1].write(2);
        buf.assume_init(2);
    }
    buf.advance(2);
    assert_eq!(buf.filled(), &[1, 2]);
    // SAFETY: reads the length only.
    assert_eq!(unsafe { buf.inner_mut() }.len(), 4);
    // Assuming fewer bytes than already known does not shrink the initialized part.
    // SAFETY: no byte is claimed that was not written.
    unsafe { buf.assume_init(0) };
    assert_eq!(buf.initialized(), &[1, 2]);
}

#[test]
fn read_buf_take_limits_and_keeps_what_is_initialized() {
    let mut storage = *b"0123456789";
    let mut buf = ReadBuf::new(&mut storage);
    buf.put_slice(b"ab");
    {
        let mut sub = buf.take(3);
        assert_eq!(sub.capacity(), 3);
        assert_eq!(sub.initialized(), b"234");
        sub.put_slice(b"xyz");
        assert!(panics(move || sub.put_slice(b"!")));
    }
    buf.advance(3);
    assert_eq!(buf.filled(), b"abxyz");
    assert_eq!(buf.take(100).capacity(), 5);
}

#[test]
fn read_buf_panics_on_misuse_and_stays_consistent() {
    let mut storage = [0u8; 4];
    let mut buf = ReadBuf::new(&mut storage);
    assert!(panics(|| buf.put_slice(b"12345")));
    assert!(panics(|| buf.set_filled(5)));
    assert!(panics(|| buf.advance(5)));
    assert!(panics(|| {
        buf.initialize_unfilled_to(5);
    }));
    buf.advance(4);
    assert!(panics(|| buf.advance(usize::MAX)));
    assert_eq!(buf.filled().len(), 4);
    let mut storage = [MaybeUninit::<u8>::uninit(); 4];
    let mut buf = ReadBuf::uninit(&mut storage);
    // Filled may not pass the initialized part, even within capacity.
    assert!(panics(|| buf.set_filled(1)));
    assert_eq!(
        format!("{buf:?}"),
        "ReadBuf { filled: 0, initialized: 0, capacity: 4 }"
    );
}

/// A reader as tokio's tests write them: a fixed script of chunks.
struct Script(Vec<&'static [u8]>);

impl AsyncRead for Script {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if let Some(chunk) = self.0.first().copied() {
            let n = chunk.len().min(buf.remaining());
            buf.put_slice(&chunk[..n]);
            if n == chunk.len() {
                self.0.remove(0);
            } else {
                self.0[0] = &chunk[n..];
            }
        }
        Poll::Ready(Ok(()))
    }
}

#[test]
fn a_hand_written_reader_works_with_the_helpers() {
    let mut r = Script(vec![b"he", b"llo", b" world"]);
    let mut buf = [0u8; 4];
    assert_eq!(now(r.read(&mut buf)).unwrap(), 2);
    assert_eq!(now(r.read_exact(&mut buf)).unwrap(), 4);
    assert_eq!(&buf, b"llo ");
    let mut rest = [0u8; 10];
    let err = now(r.read_exact(&mut rest)).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    assert_eq!(now(r.read(&mut buf)).unwrap(), 0, "end of stream");
}

/// A reader that replaces the `ReadBuf` it was given by its own: the helpers refuse it
/// (else its "nothing read" would look like an end of stream).
struct Swapper;

impl AsyncRead for Swapper {
    fn poll_read(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        // An empty `&mut []` is `'static`: a buffer that is not the caller's.
        let other = ReadBuf::new(&mut []);
        *buf = other;
        Poll::Ready(Ok(()))
    }
}

#[test]
fn a_reader_that_swaps_the_read_buf_panics_the_helpers() {
    let mut buf = [0u8; 4];
    assert!(panics(|| {
        let _ = now(Swapper.read(&mut buf));
    }));
    assert_eq!(buf, [0; 4], "nothing was claimed as read");
}

#[test]
fn slices_and_cursors_read() {
    let mut data: &[u8] = b"abcdef";
    let mut buf = [0u8; 4];
    assert_eq!(now(data.read(&mut buf)).unwrap(), 4);
    assert_eq!(data, b"ef");
    let mut c = Cursor::new(b"abcdef".to_vec());
    assert_eq!(now(c.read(&mut buf)).unwrap(), 4);
    assert_eq!(c.position(), 4);
    c.set_position(100);
    assert_eq!(
        now(c.read(&mut buf)).unwrap(),
        0,
        "past the end reads as end of stream"
    );
    // Through Box, &mut and Pin<Box<_>>.
    let mut boxed: Box<dyn AsyncRead + Unpin> = Box::new(&b"xy"[..]);
    assert_eq!(now(boxed.read(&mut buf)).unwrap(), 2);
    let mut pinned = Box::pin(Cursor::new([1u8, 2, 3]));
    assert_eq!(now(pinned.read(&mut buf)).unwrap(), 3);
    let mut s: &[u8] = b"q";
    let mut r = &mut s;
    assert_eq!(now((&mut r).read(&mut buf)).unwrap(), 1);
}

#[test]
fn vectors_and_cursors_write() {
    let mut v = Vec::new();
    now(v.write_all(b"abc")).unwrap();
    let bufs = [IoSlice::new(b"de"), IoSlice::new(b""), IoSlice::new(b"f")];
    assert!(AsyncWrite::is_write_vectored(&v));
    let n = now(std::future::poll_fn(|cx| {
        Pin::new(&mut v).poll_write_vectored(cx, &bufs)
    }))
    .unwrap();
    assert_eq!(n, 3);
    assert_eq!(v, b"abcdef");
    now(v.flush()).unwrap();
    now(v.shutdown()).unwrap();

    let mut storage = [0u8; 4];
    let mut c = Cursor::new(&mut storage[..]);
    let err = now(c.write_all(b"12345")).unwrap_err();
    assert_eq!(
        err.kind(),
        io::ErrorKind::WriteZero,
        "a full slice takes no more"
    );
    assert_eq!(storage, *b"1234");

    let mut c = Cursor::new(Vec::new());
    now(c.write_all(b"grow")).unwrap();
    assert_eq!(c.get_ref(), b"grow");
    let mut boxed: Pin<Box<dyn AsyncWrite>> = Box::pin(Vec::new());
    now(boxed.write_all(b"x")).unwrap();
}

/// A writer with only `poll_write`: the default vectored write takes the first non-empty
/// buffer, and `is_write_vectored` is false.
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
fn default_vectored_write_takes_the_first_non_empty_buffer() {
    let mut w = OneByte(Vec::new());
    assert!(!w.is_write_vectored());
    let bufs = [IoSlice::new(b""), IoSlice::new(b"zq")];
    let n = now(std::future::poll_fn(|cx| {
        Pin::new(&mut w).poll_write_vectored(cx, &bufs)
    }))
    .unwrap();
    assert_eq!((n, &w.0[..]), (1, &b"z"[..]));
    now(w.write_all(b"abc")).unwrap();
    assert_eq!(w.0, b"zabc");
}

#[test]
fn buffered_reads_and_seeks_on_std_types() {
    let mut data: &[u8] = b"line\nrest";
    let got = now(std::future::poll_fn(|cx| {
        Pin::new(&mut data).poll_fill_buf(cx).map_ok(|b| b.len())
    }))
    .unwrap();
    assert_eq!(got, 9);
    Pin::new(&mut data).consume(5);
    assert_eq!(data, b"rest");
    Pin::new(&mut data).consume(100);
    assert_eq!(data, b"", "consuming more than is there is clamped");

    let mut c = Cursor::new(b"0123456789");
    Pin::new(&mut c).start_seek(SeekFrom::End(-3)).unwrap();
    let pos = now(std::future::poll_fn(|cx| {
        Pin::new(&mut c).poll_complete(cx)
    }))
    .unwrap();
    assert_eq!(pos, 7);
    let err = Pin::new(&mut c)
        .start_seek(SeekFrom::Current(-100))
        .unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    let mut boxed: Box<Cursor<Vec<u8>>> = Box::new(Cursor::new(vec![1, 2]));
    Pin::new(&mut boxed).consume(1);
    assert_eq!(boxed.position(), 1);
}

#[test]
fn read_buf_into_a_buf_mut_and_take_through_a_lent_read_buf() {
    // `read_buf` lends the vector's spare capacity as a `ReadBuf` (the `unsafe` of
    // `read_ext.rs`, checked here under Miri).
    let mut v: Vec<u8> = Vec::with_capacity(4);
    v.push(b'>');
    let mut src: &[u8] = b"abcdefgh";
    let n = now(src.read_buf(&mut v)).unwrap();
    assert!(n >= 3);
    assert_eq!(&v[..], &b">abcdefgh"[..n + 1]);
    // A reader that swaps the lent buffer is refused here too.
    assert!(panics(|| {
        let _ = now(Swapper.read_buf(&mut Vec::<u8>::with_capacity(8)));
    }));
    // `Take` lends part of an uninitialized buffer to its reader without `unsafe`.
    let mut storage = [MaybeUninit::<u8>::uninit(); 8];
    let mut buf = ReadBuf::uninit(&mut storage);
    let mut t = (&b"0123456789"[..]).take(5);
    now(std::future::poll_fn(|cx| {
        Pin::new(&mut t).poll_read(cx, &mut buf)
    }))
    .unwrap();
    assert_eq!(buf.filled(), b"01234");
    assert_eq!(
        buf.initialized(),
        b"01234",
        "what the inner reader wrote counts"
    );
    assert_eq!(t.limit(), 0);
    let mut t = Swapper.take(4);
    assert!(panics(|| {
        let _ = now(std::future::poll_fn(|cx| {
            Pin::new(&mut t).poll_read(cx, &mut buf)
        }));
    }));
}

#[test]
fn read_buf_is_a_buf_mut_as_tokio_s() {
    use bytes::BufMut;
    // Over uninitialized memory: bytes written through the chunk become filled.
    let mut storage = [MaybeUninit::<u8>::uninit(); 8];
    let mut buf = ReadBuf::uninit(&mut storage);
    assert_eq!(buf.remaining_mut(), 8);
    assert_eq!(buf.chunk_mut().len(), 8);
    buf.chunk_mut()[..3].copy_from_slice(b"abc");
    // SAFETY: the three bytes were just written through `chunk_mut`.
    unsafe { buf.advance_mut(3) };
    assert_eq!(buf.filled(), b"abc");
    assert_eq!(buf.initialized().len(), 3);
    buf.put_u8(b'd');
    BufMut::put_slice(&mut buf, b"efg");
    assert_eq!(buf.filled(), b"abcdefg");
    assert_eq!(buf.chunk_mut().len(), 1);
    // Advancing past the end panics and changes nothing.
    // SAFETY: the call panics before it counts any byte (2 > remaining).
    assert!(panics(|| unsafe { buf.advance_mut(2) }));
    assert_eq!(buf.filled(), b"abcdefg");
    assert_eq!(buf.remaining_mut(), 1);
    // Writing more than fits panics (bytes' put_* check remaining_mut).
    assert!(panics(|| buf.put_u16(7)));
    buf.put_u8(b'h');
    assert_eq!(buf.remaining_mut(), 0);
    assert_eq!(buf.chunk_mut().len(), 0);
    assert_eq!(buf.filled(), b"abcdefgh");
}
