//! `net::unix::pipe` as tokio's: an anonymous pipe, named FIFOs opened by path or from a
//! `File`, the checks that refuse what is not a FIFO or has the wrong access mode, end of
//! stream, `try_*` against a full pipe, and descriptors handed back.
#![cfg(unix)]

mod support;

use std::io::ErrorKind;
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use support::rt;
use tickslab_runtime::io::{AsyncReadExt, AsyncWriteExt, Interest};
use tickslab_runtime::net::unix::pipe;

/// A FIFO made with `mkfifo` in a fresh directory, removed when dropped.
struct Fifo(PathBuf);

impl Fifo {
    fn new() -> Fifo {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "tickslab-pipe-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("fifo");
        let ok = std::process::Command::new("mkfifo")
            .arg(&path)
            .status()
            .unwrap();
        assert!(ok.success(), "mkfifo");
        Fifo(path)
    }
}

impl Drop for Fifo {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(self.0.parent().unwrap());
    }
}

fn is_nonblocking(fd: &impl AsFd) -> bool {
    let file = std::fs::File::from(fd.as_fd().try_clone_to_owned().unwrap());
    // A read of nothing from an empty pipe says WouldBlock only in non-blocking mode; use
    // /proc's flags instead of reading (a blocking read would hang).
    use std::os::fd::AsRawFd;
    let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{}", file.as_raw_fd())).unwrap();
    let flags = info
        .lines()
        .find_map(|l| l.strip_prefix("flags:"))
        .map(|f| u32::from_str_radix(f.trim(), 8).unwrap())
        .unwrap();
    flags & 0o4000 != 0 // O_NONBLOCK
}

#[test]
fn an_anonymous_pipe_carries_bytes_then_its_end() {
    rt().block_on(async {
        let (mut tx, mut rx) = pipe::pipe().unwrap();
        tx.write_all(b"hello").await.unwrap();
        drop(tx);
        let mut got = Vec::new();
        rx.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"hello");
        assert_eq!(
            rx.try_read(&mut [0; 4]).unwrap(),
            0,
            "no writer: end of stream"
        );
    });
}

#[test]
fn a_fifo_opens_by_path_and_a_sender_without_reader_fails() {
    let fifo = Fifo::new();
    rt().block_on(async {
        let e = pipe::OpenOptions::new().open_sender(&fifo.0).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(6), "ENXIO: no reader yet");
        let mut rx = pipe::OpenOptions::new().open_receiver(&fifo.0).unwrap();
        let mut tx = pipe::OpenOptions::new().open_sender(&fifo.0).unwrap();
        tx.write_all(b"through the fifo").await.unwrap();
        let ready = rx.ready(Interest::READABLE).await.unwrap();
        assert!(ready.is_readable());
        let mut buf = [0u8; 16];
        rx.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"through the fifo");
    });
}

#[test]
fn checked_constructors_refuse_other_files_and_access_modes() {
    let fifo = Fifo::new();
    rt().block_on(async {
        let plain = fifo.0.with_file_name("plain");
        std::fs::write(&plain, b"x").unwrap();
        let e = pipe::OpenOptions::new().open_receiver(&plain).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        let e = pipe::Receiver::from_file(std::fs::File::open(&plain).unwrap()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        // Unchecked: past the FIFO check, refused by epoll (a regular file cannot wait).
        let e = pipe::OpenOptions::new()
            .unchecked(true)
            .open_receiver(&plain)
            .unwrap_err();
        assert_eq!(
            e.raw_os_error(),
            Some(1),
            "EPERM from epoll, not the FIFO check"
        );

        let _reader = pipe::OpenOptions::new().open_receiver(&fifo.0).unwrap();
        let write_only = std::fs::OpenOptions::new()
            .write(true)
            .open(&fifo.0)
            .unwrap();
        let e = pipe::Receiver::from_file(write_only).unwrap_err();
        assert_eq!(
            e.kind(),
            ErrorKind::InvalidInput,
            "a write-only file is no receiver"
        );
        let read_only = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(0o4000)
            .open(&fifo.0)
            .unwrap();
        let e = pipe::Sender::from_file(read_only).unwrap_err();
        assert_eq!(
            e.kind(),
            ErrorKind::InvalidInput,
            "a read-only file is no sender"
        );
        // A blocking file is made non-blocking.
        let writer = std::fs::OpenOptions::new()
            .write(true)
            .open(&fifo.0)
            .unwrap();
        let tx = pipe::Sender::from_file(writer).unwrap();
        assert!(is_nonblocking(&tx));
    });
}

use std::os::unix::fs::OpenOptionsExt;

#[test]
fn try_write_fills_the_pipe_and_try_read_drains_it() {
    rt().block_on(async {
        let (tx, rx) = pipe::pipe().unwrap();
        tx.writable().await.unwrap();
        let mut written = 0;
        loop {
            match tx.try_write(&[7; 4096]) {
                Ok(n) => written += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) => panic!("{e}"),
            }
        }
        assert!(written > 0);
        let mut read = 0;
        let mut buf = Vec::with_capacity(8192);
        while read < written {
            rx.readable().await.unwrap();
            match rx.try_read_buf(&mut buf) {
                Ok(n) => {
                    read += n;
                    buf.clear();
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!(read, written);
        tx.writable().await.unwrap();
    });
}

#[test]
fn descriptors_come_back_in_the_mode_asked_for() {
    rt().block_on(async {
        let (tx, rx) = pipe::pipe().unwrap();
        let tx_fd = tx.into_blocking_fd().unwrap();
        let rx_fd = rx.into_nonblocking_fd().unwrap();
        assert!(!is_nonblocking(&tx_fd));
        assert!(is_nonblocking(&rx_fd));
        // They still form the pipe.
        let mut tx = pipe::Sender::from_owned_fd(tx_fd).unwrap();
        let mut rx = pipe::Receiver::from_owned_fd(rx_fd).unwrap();
        tx.write_all(b"again").await.unwrap();
        let mut buf = [0u8; 5];
        rx.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"again");
    });
}

#[test]
fn try_io_runs_only_when_ready_and_clears_on_would_block() {
    rt().block_on(async {
        let (tx, rx) = pipe::pipe().unwrap();
        tx.writable().await.unwrap();
        let mut called = false;
        tx.try_io(|| {
            called = true;
            Ok(())
        })
        .unwrap();
        assert!(called);
        // Not readable yet: the closure is not called.
        let e = rx.try_io(|| -> std::io::Result<()> { panic!("called while not readable") });
        assert_eq!(e.unwrap_err().kind(), ErrorKind::WouldBlock);
        // A WouldBlock from the closure clears writability: not called next time.
        let e = tx.try_io(|| -> std::io::Result<()> { Err(ErrorKind::WouldBlock.into()) });
        assert!(e.is_err());
        let e =
            tx.try_io(|| -> std::io::Result<()> { panic!("called after a WouldBlock cleared it") });
        assert_eq!(e.unwrap_err().kind(), ErrorKind::WouldBlock);
    });
}
