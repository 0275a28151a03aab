//! Buffer pools: [`Buf`], [`BufPool`], [`SyncBufPool`] (documented on [`BufPool`]).

use std::fmt;
use std::ops::{Deref, DerefMut};

use super::config::{PoolConfig, PoolStats, Recycle};
use super::{Alloc, Pool, PoolBox, SyncAlloc, SyncPool, SyncPoolBox};

/// A fixed-size byte buffer and how much of it is filled. Derefs to the whole buffer.
pub struct Buf {
    bytes: Box<[u8]>,
    filled: usize,
}

impl Buf {
    /// A zeroed buffer of `size` bytes (one allocation).
    pub fn new(size: usize) -> Buf {
        Buf {
            bytes: vec![0; size].into_boxed_slice(),
            filled: 0,
        }
    }

    /// Size of the buffer (fixed).
    pub fn capacity(&self) -> usize {
        self.bytes.len()
    }

    /// Records that the first `n` bytes hold the current contents (what a read returned).
    ///
    /// # Panics
    /// If `n` exceeds the buffer's size.
    #[track_caller]
    pub fn set_filled(&mut self, n: usize) {
        assert!(
            n <= self.bytes.len(),
            "Buf::set_filled({n}) on a buffer of {} bytes",
            self.bytes.len()
        );
        self.filled = n;
    }

    /// The filled part: the first [`filled_len`](Self::filled_len) bytes.
    pub fn filled(&self) -> &[u8] {
        &self.bytes[..self.filled]
    }

    /// The filled part, writable.
    pub fn filled_mut(&mut self) -> &mut [u8] {
        &mut self.bytes[..self.filled]
    }

    /// How many bytes are filled.
    pub fn filled_len(&self) -> usize {
        self.filled
    }
}

impl Recycle for Buf {
    /// Marks the buffer empty; its bytes and memory are kept.
    fn on_release(&mut self) {
        self.filled = 0;
    }
}

impl Deref for Buf {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.bytes
    }
}

impl DerefMut for Buf {
    fn deref_mut(&mut self) -> &mut [u8] {
        &mut self.bytes
    }
}

impl fmt::Debug for Buf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Buf")
            .field("capacity", &self.capacity())
            .field("filled", &self.filled)
            .finish()
    }
}

/// A buffer from a [`BufPool`]; derefs (twice) to `[u8]`, so `&mut buf` is a read target.
pub type PoolBuf = PoolBox<Buf>;

/// A buffer from a [`SyncBufPool`]; `Send`, returns to its pool from any thread.
pub type SyncPoolBuf = SyncPoolBox<Buf>;

/// Buffer pools: fixed-size byte buffers for datagrams and asset chunks, recycled.
///
/// A [`BufPool`] is a recycling [`Pool`] of [`Buf`]s: every buffer is allocated once (all of
/// them when a bounded pool is made), and a dropped [`PoolBuf`] goes back with its bytes, so
/// receiving into pooled buffers allocates nothing. A [`PoolBuf`] derefs to the whole
/// buffer as `[u8]`, which is what the runtime's reads take:
///
/// ```
/// use tickslab_runtime::{Runtime, net::UdpSocket, pool::BufPool};
///
/// let rt = Runtime::new().unwrap();
/// rt.block_on(async {
///     let bufs = BufPool::new(64, 1500);                  // 64 buffers of 1,500 bytes, now
///     let rx = UdpSocket::bind("127.0.0.1:0").await.unwrap();
///     let tx = UdpSocket::bind("127.0.0.1:0").await.unwrap();
///     tx.send_to(b"hello", rx.local_addr().unwrap()).await.unwrap();
///
///     let mut buf = bufs.alloc().await;                   // waits if all 64 are out
///     let (n, _from) = rx.recv_from(&mut buf).await.unwrap();
///     buf.set_filled(n);
///     assert_eq!(buf.filled(), b"hello");
/// });                                                     // `buf` went back to the pool
/// ```
///
/// A buffer handed out again still holds the bytes of its previous use (they are always
/// initialized: buffers are zeroed once, when allocated); only [`Buf::filled`] says what is
/// current. [`SyncBufPool`] is the same over a [`SyncPool`], for buffers handed to another
/// thread.
#[derive(Clone, Debug)]
pub struct BufPool {
    pool: Pool<Buf>,
    buf_size: usize,
}

impl BufPool {
    /// `count` buffers of `buf_size` bytes, all allocated now; the pool never grows.
    ///
    /// # Panics
    /// If `count` is 0.
    #[track_caller]
    pub fn new(count: usize, buf_size: usize) -> BufPool {
        let pool = Self::with_config(PoolConfig::bounded(count), buf_size);
        pool.pool.prefill();
        pool
    }

    /// Buffers of `buf_size` bytes in a pool as `config` says; each buffer is allocated
    /// when its slot is first used.
    #[track_caller]
    pub fn with_config(config: PoolConfig, buf_size: usize) -> BufPool {
        BufPool {
            pool: Pool::recycling_with(config, move || Buf::new(buf_size)),
            buf_size,
        }
    }

    /// A free buffer (its filled length is 0), or `None` when all are in use.
    #[inline]
    pub fn try_alloc(&self) -> Option<PoolBuf> {
        self.pool.try_take()
    }

    /// A free buffer, waiting while all are in use.
    pub fn alloc(&self) -> Alloc<'_, Buf> {
        self.pool.take()
    }

    /// Bytes per buffer.
    pub fn buf_size(&self) -> usize {
        self.buf_size
    }

    /// The pool's counters.
    pub fn stats(&self) -> PoolStats {
        self.pool.stats()
    }

    /// The typed pool underneath.
    pub fn pool(&self) -> &Pool<Buf> {
        &self.pool
    }
}

/// A thread-safe pool of fixed-size byte buffers: buffers filled on the I/O thread can be
/// dropped on the game thread.
#[derive(Debug)]
pub struct SyncBufPool {
    pool: SyncPool<Buf>,
    buf_size: usize,
}

impl SyncBufPool {
    /// `count` buffers of `buf_size` bytes, all allocated now; the pool never grows.
    ///
    /// # Panics
    /// If `count` is 0 or not below `u32::MAX`.
    #[track_caller]
    pub fn new(count: usize, buf_size: usize) -> SyncBufPool {
        let mut pool = Self::with_config(PoolConfig::bounded(count), buf_size);
        pool.pool.prefill();
        pool
    }

    /// Buffers of `buf_size` bytes in a pool as `config` says, each allocated when its slot
    /// is first used.
    #[track_caller]
    pub fn with_config(config: PoolConfig, buf_size: usize) -> SyncBufPool {
        SyncBufPool {
            pool: SyncPool::recycling_with(config, move || Buf::new(buf_size)),
            buf_size,
        }
    }

    /// A free buffer, or `None` when all are in use.
    #[inline]
    pub fn try_alloc(&self) -> Option<SyncPoolBuf> {
        self.pool.try_take()
    }

    /// A free buffer, waiting while all are in use (woken by a drop on any thread).
    pub fn alloc(&self) -> SyncAlloc<'_, Buf> {
        self.pool.take()
    }

    /// Bytes per buffer.
    pub fn buf_size(&self) -> usize {
        self.buf_size
    }

    /// The pool's counters.
    pub fn stats(&self) -> PoolStats {
        self.pool.stats()
    }

    /// The typed pool underneath.
    pub fn pool(&self) -> &SyncPool<Buf> {
        &self.pool
    }
}
