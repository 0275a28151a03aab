//! The script a [`Mock`](super::Mock) follows: a queue of actions and the rules that match
//! the code's reads and writes against it.
//!
//! Rules (tokio-test's, which tokio's own tests rely on):
//! 1. Finished actions leave the front: a read or write whose bytes are all consumed, an
//!    error that was returned, a wait whose deadline has passed. The deadline of a wait is
//!    set when the wait first reaches the front (`now + duration`).
//! 2. A read is served only by the front action: `Read` bytes (as many as fit), or a
//!    `ReadError`. A `Wait` in front makes it sleep; a `Write` or `WriteError` makes it wait
//!    for the writer; an empty script is the end of the stream (or, while a
//!    [`Handle`](super::Handle) lives, a wait for more script).
//! 3. A write is matched against the `Write` actions from the front on, passing over reads
//!    still to come and stopping at the first `Wait` or `WriteError`: a connection's two
//!    directions are independent, so the code may write before it reads what the script
//!    puts first. A `Wait` in front makes it sleep, a `WriteError` in front is returned.
//!    Bytes that differ from the script's are a panic naming both.
//! 4. Nothing here blocks or wakes: the caller turns a step into `Poll` and wakers.

use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use tickslab_runtime::io::ReadBuf;
use tickslab_runtime::time::Instant;

/// One step of the script.
#[derive(Clone)]
pub(super) enum Action {
    /// Bytes the next reads return, and how many were read already.
    Read(Chunk),
    /// Bytes the next writes must match, and how many were matched already.
    Write(Chunk),
    /// A pause of the given length in both directions.
    Wait(Duration),
    /// An error the next read returns; `None` once returned. Shared so that a `Builder`
    /// can be cloned and build several mocks.
    ReadError(Option<Arc<io::Error>>),
    /// An error the next write returns; `None` once returned.
    WriteError(Option<Arc<io::Error>>),
}

/// Scripted bytes and how far the code has got through them.
#[derive(Clone)]
pub(super) struct Chunk {
    data: Vec<u8>,
    done: usize,
}

impl Chunk {
    pub(super) fn new(data: &[u8]) -> Chunk {
        Chunk {
            data: data.to_vec(),
            done: 0,
        }
    }

    fn rest(&self) -> &[u8] {
        &self.data[self.done..]
    }
}

/// What a read gets from the script.
pub(super) enum ReadStep {
    /// Bytes were put in the buffer (`Ok`), or the scripted error.
    Done(io::Result<()>),
    /// A wait is in front: sleep until this instant, then try again.
    Sleep(Instant),
    /// A write is in front: the reader waits for the writer.
    Blocked,
    /// Nothing is left.
    Empty,
}

/// What a write gets from the script.
pub(super) enum WriteStep {
    /// This many bytes matched (at least one), or the scripted error.
    Done(io::Result<usize>),
    /// A wait is in front: sleep until this instant, then try again.
    Sleep(Instant),
    /// A read (or a wait behind one) comes before the next scripted write.
    Blocked,
    /// No write nor write error is left in the script.
    NoWrite,
}

/// The queue of actions, see the module docs.
pub(super) struct Script {
    actions: VecDeque<Action>,
    /// The deadline of the `Wait` in front, once it has reached the front.
    wait_until: Option<Instant>,
    name: String,
}

/// What is in front of the script after rule 1.
enum Front {
    Read,
    ReadError,
    Write,
    WriteError,
    Wait(Instant),
    Empty,
}

impl Script {
    pub(super) fn new(actions: VecDeque<Action>, name: String) -> Script {
        Script {
            actions,
            wait_until: None,
            name,
        }
    }

    pub(super) fn push(&mut self, action: Action) {
        self.actions.push_back(action);
    }

    /// Rule 1: drops finished actions, then says what is in front.
    fn front(&mut self) -> Front {
        loop {
            let finished = match self.actions.front() {
                None => return Front::Empty,
                Some(Action::Read(c)) if !c.rest().is_empty() => return Front::Read,
                Some(Action::Write(c)) if !c.rest().is_empty() => return Front::Write,
                Some(Action::ReadError(Some(_))) => return Front::ReadError,
                Some(Action::WriteError(Some(_))) => return Front::WriteError,
                Some(&Action::Wait(duration)) => {
                    let now = Instant::now();
                    let until = *self.wait_until.get_or_insert(now + duration);
                    if now < until {
                        return Front::Wait(until);
                    }
                    self.wait_until = None;
                    true
                }
                Some(_) => true,
            };
            if finished {
                self.actions.pop_front();
            }
        }
    }

    /// Rule 2. `buf` has room for at least one byte.
    pub(super) fn read(&mut self, buf: &mut ReadBuf<'_>) -> ReadStep {
        match self.front() {
            Front::Read => {
                let Some(Action::Read(chunk)) = self.actions.front_mut() else {
                    unreachable!("front() said a read is in front")
                };
                let n = chunk.rest().len().min(buf.remaining());
                buf.put_slice(&chunk.rest()[..n]);
                chunk.done += n;
                ReadStep::Done(Ok(()))
            }
            Front::ReadError => match self.actions.front_mut() {
                Some(Action::ReadError(e)) => ReadStep::Done(Err(take_error(e))),
                _ => unreachable!("front() said a read error is in front"),
            },
            Front::Wait(until) => ReadStep::Sleep(until),
            Front::Write | Front::WriteError => ReadStep::Blocked,
            Front::Empty => ReadStep::Empty,
        }
    }

    /// Rule 3. `src` is not empty.
    pub(super) fn write(&mut self, mut src: &[u8]) -> WriteStep {
        match self.front() {
            Front::Wait(until) => return WriteStep::Sleep(until),
            Front::WriteError => match self.actions.front_mut() {
                Some(Action::WriteError(e)) => return WriteStep::Done(Err(take_error(e))),
                _ => unreachable!("front() said a write error is in front"),
            },
            Front::Empty => return WriteStep::NoWrite,
            Front::Read | Front::ReadError | Front::Write => {}
        }
        let mut matched = 0;
        let total = self.actions.len();
        for (i, action) in self.actions.iter_mut().enumerate() {
            match action {
                Action::Write(chunk) => {
                    let n = chunk.rest().len().min(src.len());
                    if chunk.rest()[..n] != src[..n] {
                        panic!(
                            "mock write does not match the script {}: action #{i} expects \
                             b\"{}\", the code wrote b\"{}\"",
                            Remaining(&self.name, total),
                            chunk.rest()[..n].escape_ascii(),
                            src[..n].escape_ascii(),
                        );
                    }
                    chunk.done += n;
                    matched += n;
                    src = &src[n..];
                    if src.is_empty() {
                        break;
                    }
                }
                Action::Wait(_) | Action::WriteError(_) => break,
                Action::Read(_) | Action::ReadError(_) => {}
            }
        }
        if matched > 0 {
            WriteStep::Done(Ok(matched))
        } else if self.expects_write() {
            WriteStep::Blocked
        } else {
            WriteStep::NoWrite
        }
    }

    /// Whether a write or write error is still to come.
    fn expects_write(&self) -> bool {
        self.actions.iter().any(|a| match a {
            Action::Write(c) => !c.rest().is_empty(),
            Action::WriteError(e) => e.is_some(),
            _ => false,
        })
    }

    /// The bytes left to read and to write, for the drop check.
    pub(super) fn unfinished(&self) -> (usize, usize) {
        let mut left = (0, 0);
        for a in &self.actions {
            match a {
                Action::Read(c) => left.0 += c.rest().len(),
                Action::Write(c) => left.1 += c.rest().len(),
                _ => {}
            }
        }
        left
    }

    /// "(name N, K actions remain)", for panic messages.
    pub(super) fn remaining(&self) -> Remaining<'_> {
        Remaining(&self.name, self.actions.len())
    }

    pub(super) fn name(&self) -> &str {
        &self.name
    }
}

/// Takes a scripted error out of its action (which then counts as finished). A `Builder`
/// that is still alive shares the error: the mock then returns one of the same kind and
/// message (`io::Error` is not `Clone`).
fn take_error(slot: &mut Option<Arc<io::Error>>) -> io::Error {
    let shared = slot
        .take()
        .expect("front() checked the error is still there");
    Arc::try_unwrap(shared).unwrap_or_else(|shared| match shared.raw_os_error() {
        Some(code) => io::Error::from_raw_os_error(code),
        None => io::Error::new(shared.kind(), shared.to_string()),
    })
}

/// The tail of panic messages: the mock's name and how much script is left.
pub(super) struct Remaining<'a>(&'a str, usize);

impl fmt::Display for Remaining<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            write!(f, "({} actions remain)", self.1)
        } else {
            write!(f, "(name {}, {} actions remain)", self.0, self.1)
        }
    }
}
