//! Seeded random sequences of operations against the runtime, with the invariants checked
//! along the way and at the end of every run.
//!
//! Each run drives one runtime through rounds of random operations: slab and boxed spawns
//! (`spawn_slab`, `try_spawn_slab` with the future handed back, slab claims taken, used,
//! dropped and awaited with `claim_slab`), tasks that finish at once, yield, wait on a
//! waker the test wakes (here or from other threads), time out, or panic, and handles that
//! are awaited, aborted, detached or kept past the runtime. Every round but the last ends by
//! draining the runtime (the slab must be empty again); the last one drops the runtime with
//! tasks still pending, then drops what is left (handles, claims, wakers; some on another
//! thread) in a random order.
//!
//! Checked:
//! - every future and every output is dropped exactly once (a counter per token);
//! - a future is dropped exactly when its task finishes (`is_finished`), and a future handed
//!   back by `try_spawn_slab` and dropped is dropped then;
//! - an awaited handle yields the task's output, its panic (`is_panic`, with its payload),
//!   or `is_cancelled` if it was aborted before it finished (an abort after completion
//!   keeps the output), also when polled after the runtime is gone;
//! - a bounded slab refuses exactly when it is full, `claim_slab` gets the slot that an
//!   abort gave back, and `slab_used` and `tasks_live` return to 0 once everything is gone;
//! - no hang: every wait of the root future is bounded by a timeout.
//!
//! A failing run prints its seed: replay it with
//! `TICKSLAB_RANDOM_SEED=<seed> cargo test -p tickslab-runtime --test random_ops`
//! (add `TICKSLAB_RANDOM_TRACE=1` to print every operation). Runs shrink under Miri.

mod support;

use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::{Future, pending, poll_fn};
use std::panic::{AssertUnwindSafe, catch_unwind, panic_any, resume_unwind};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Once;
use std::sync::mpsc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use support::rt_bounded;
use tickslab_runtime::*;

/// Bytes per slab slot (the task future needs less: checked in every run).
const SLOT: usize = 256;

/// Seeds run by default (each on every slab shape).
const SEEDS: [u64; 16] = [
    1,
    2,
    3,
    42,
    0xdead_beef,
    0x1234_5678_9abc_def0,
    0x0bad_cafe,
    7_777_777,
    0xfeed_f00d,
    0x5eed,
    99,
    123_456_789,
    0xc0ff_ee00,
    31_337,
    0xa5a5_a5a5_a5a5_a5a5,
    2024,
];
/// More seeds run by default after `SEEDS`.
const MORE_SEEDS: std::ops::Range<u64> = 100..132;
/// Seeds run under Miri (about 100 times slower): the first ones of `SEEDS`.
const MIRI_SEEDS: usize = 4;
/// Operations per `block_on` segment: at least this many, plus up to as many again.
const OPS: usize = if cfg!(miri) { 20 } else { 70 };
/// How long any single wait of the root future may take before the run fails as a hang.
/// Miri's clock runs 5 µs per basic block it interprets: 10 "seconds" pass there after
/// little work, so it gets far more.
const LIMIT: Duration = Duration::from_secs(if cfg!(miri) { 600 } else { 10 });

// ---- a tiny PRNG -------------------------------------------------------------------------------

/// splitmix64: small, fast, and good enough to pick operations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// True `percent` times in a hundred.
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            v.swap(i, self.below(i + 1));
        }
    }
}

// ---- drop-counted tokens -----------------------------------------------------------------------

/// How many times each token was dropped, by token id (one entry per token ever created).
#[derive(Default)]
struct Tracker {
    drops: RefCell<Vec<u32>>,
}

impl Tracker {
    fn token(self: &Rc<Self>) -> Token {
        let mut drops = self.drops.borrow_mut();
        drops.push(0);
        Token {
            id: drops.len() - 1,
            tracker: self.clone(),
        }
    }

    fn drops(&self, id: usize) -> u32 {
        self.drops.borrow()[id]
    }

    fn created(&self) -> usize {
        self.drops.borrow().len()
    }

    /// Every token created so far was dropped exactly once.
    fn assert_all_dropped_once(&self, when: &str) {
        let drops = self.drops.borrow();
        let bad: Vec<(usize, u32)> = drops
            .iter()
            .enumerate()
            .filter(|&(_, &n)| n != 1)
            .map(|(id, &n)| (id, n))
            .take(10)
            .collect();
        assert!(
            bad.is_empty(),
            "{when}: of {} tokens, these were not dropped exactly once (id, drops): {bad:?}",
            drops.len()
        );
    }

    /// No token was dropped twice.
    fn assert_no_double_drop(&self, when: &str) {
        let drops = self.drops.borrow();
        if let Some((id, n)) = drops.iter().enumerate().find(|&(_, &n)| n > 1) {
            panic!("{when}: token {id} was dropped {n} times");
        }
    }
}

/// Moved into a task's future (or created as its output); counts its drop.
struct Token {
    id: usize,
    tracker: Rc<Tracker>,
}

impl Drop for Token {
    fn drop(&mut self) {
        self.tracker.drops.borrow_mut()[self.id] += 1;
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Token({})", self.id)
    }
}

// ---- the tasks ---------------------------------------------------------------------------------

/// What a task does before it finishes.
#[derive(Clone, Copy, Debug)]
enum Script {
    /// Finishes on its first poll.
    Ready,
    /// `yield_now().await`, that many times.
    Yield(u8),
    /// Waits until the test releases it (and wakes the waker it stored).
    Wait,
    /// `timeout(ms, pending())`.
    Timeout(u8),
}

#[derive(Clone, Copy, Debug)]
struct Plan {
    script: Script,
    /// Panics (with `ScriptedPanic(token id)`) instead of returning its output.
    panics: bool,
    value: u64,
}

/// The payload of a task's scripted panic (silenced in the panic hook).
struct ScriptedPanic(usize);

/// What a task returns: a value and a drop-counted token of its own.
#[derive(Debug)]
struct Out {
    value: u64,
    token: Token,
}

/// Where a waiting task keeps its waker for the test, and learns it was released.
#[derive(Default)]
struct WaitCell {
    released: Cell<bool>,
    waker: RefCell<Option<Waker>>,
}

/// The future of every task. An `async fn` moves its arguments into the future it returns:
/// `token` is dropped with the future, polled or not.
async fn task_future(token: Token, plan: Plan, cell: Option<Rc<WaitCell>>) -> Out {
    match plan.script {
        Script::Ready => {}
        Script::Yield(k) => {
            for _ in 0..k {
                yield_now().await;
            }
        }
        Script::Wait => {
            let cell = cell.expect("a waiting task has a cell");
            poll_fn(|cx| {
                if cell.released.get() {
                    Poll::Ready(())
                } else {
                    *cell.waker.borrow_mut() = Some(cx.waker().clone());
                    Poll::Pending
                }
            })
            .await;
        }
        Script::Timeout(ms) => {
            let timed = time::timeout(Duration::from_millis(ms.into()), pending::<()>()).await;
            assert!(timed.is_err(), "pending() cannot finish first");
        }
    }
    if plan.panics {
        panic_any(ScriptedPanic(token.id));
    }
    Out {
        value: plan.value,
        token: token.tracker.token(),
    }
}

fn task_size_of<F: Future>(_: &F) -> usize {
    task_size::<F>()
}

/// What awaiting a task's handle must give.
#[derive(Debug, PartialEq, Eq)]
enum Expect {
    Value(u64),
    Panic(usize),
    Cancelled,
}

struct TaskInfo {
    /// The id of the token inside the future.
    token: usize,
    plan: Plan,
    cell: Option<Rc<WaitCell>>,
    /// Lives in a slab slot.
    slab: bool,
    /// Aborted before it finished: its handle must say cancelled.
    aborted_early: bool,
    /// A clone of its waker may be held where the test cannot take it back at once (the
    /// waker bag, the worker thread): its slot may stay in use after it finishes.
    exported: bool,
}

// ---- a thread that wakes and drops wakers ------------------------------------------------------

/// What the worker thread does with a waker it is sent.
#[derive(Clone, Copy, Debug)]
enum Remote {
    Wake,
    WakeByRef,
    WakeByRefThenHold,
    CloneWakeDropOriginal,
    Hold,
    Drop,
}

enum Msg {
    Waker(Waker, Remote),
    /// Wake every held waker (by reference): spurious or late wakes.
    WakeHeld,
    /// Drop every held waker, in a random order, then answer.
    Flush(mpsc::Sender<()>),
}

fn worker(rx: mpsc::Receiver<Msg>, seed: u64) {
    let mut rng = Rng(seed);
    let mut held: Vec<Waker> = Vec::new();
    for msg in rx {
        match msg {
            Msg::Waker(w, Remote::Wake) => w.wake(),
            Msg::Waker(w, Remote::WakeByRef) => w.wake_by_ref(),
            Msg::Waker(w, Remote::WakeByRefThenHold) => {
                w.wake_by_ref();
                held.push(w);
            }
            Msg::Waker(w, Remote::CloneWakeDropOriginal) => {
                let c = w.clone();
                drop(w);
                c.wake();
            }
            Msg::Waker(w, Remote::Hold) => held.push(w),
            Msg::Waker(w, Remote::Drop) => drop(w),
            Msg::WakeHeld => held.iter().for_each(Waker::wake_by_ref),
            Msg::Flush(ack) => {
                rng.shuffle(&mut held);
                held.clear();
                ack.send(()).expect("the test waits for the flush");
            }
        }
    }
    // The test is done (or failed): drop what is left, in a random order.
    rng.shuffle(&mut held);
    drop(held);
}

// ---- one run -----------------------------------------------------------------------------------

/// The slab a run uses.
#[derive(Clone, Copy, Debug)]
enum Shape {
    Bounded(usize),
    Unbounded,
}

impl Shape {
    fn build(self) -> Runtime {
        match self {
            Shape::Bounded(cap) => rt_bounded::<SLOT>(cap),
            Shape::Unbounded => Runtime::builder().slab_unbounded::<SLOT>(4).build(),
        }
    }

    fn capacity(self) -> Option<usize> {
        match self {
            Shape::Bounded(cap) => Some(cap),
            Shape::Unbounded => None,
        }
    }
}

struct Run {
    rng: Rng,
    cap: Option<usize>,
    tracker: Rc<Tracker>,
    tasks: Vec<TaskInfo>,
    handles: Vec<(usize, JoinHandle<Out>)>,
    claims: Vec<SlabClaim>,
    /// Waker clones the test keeps (and wakes, drops, sends away at random).
    bag: Vec<(usize, Waker)>,
    worker: Option<mpsc::Sender<Msg>>,
    worker_thread: Option<std::thread::JoinHandle<()>>,
    oneshots: Vec<std::thread::JoinHandle<()>>,
    /// Tasks spawned on the runtime (not counting futures handed back and dropped).
    spawned: u64,
    /// New tasks wait (for the tasks left pending at the runtime's drop).
    force_wait: bool,
    trace: bool,
}

impl Run {
    fn new(seed: u64, cap: Option<usize>) -> Run {
        let (tx, rx) = mpsc::channel();
        let worker_seed = seed ^ 0x5555_5555_5555_5555;
        let worker_thread = std::thread::spawn(move || worker(rx, worker_seed));
        Run {
            rng: Rng(seed),
            cap,
            tracker: Rc::default(),
            tasks: Vec::new(),
            handles: Vec::new(),
            claims: Vec::new(),
            bag: Vec::new(),
            worker: Some(tx),
            worker_thread: Some(worker_thread),
            oneshots: Vec::new(),
            spawned: 0,
            force_wait: false,
            trace: std::env::var_os("TICKSLAB_RANDOM_TRACE").is_some(),
        }
    }

    fn log(&self, what: fmt::Arguments<'_>) {
        if self.trace {
            eprintln!("  {what}");
        }
    }

    fn send(&self, msg: Msg) {
        self.worker
            .as_ref()
            .expect("worker running")
            .send(msg)
            .expect("the worker thread is alive");
    }

    fn stats() -> RuntimeStats {
        RuntimeStats::current().expect("inside the runtime")
    }

    /// A bounded slab with every slot in use.
    fn slab_full(&self) -> bool {
        self.cap.is_some_and(|cap| Self::stats().slab_used >= cap)
    }

    fn future_dropped(&self, t: usize) -> bool {
        self.tracker.drops(self.tasks[t].token) == 1
    }

    fn expect(&self, t: usize) -> Expect {
        let task = &self.tasks[t];
        if task.aborted_early {
            Expect::Cancelled
        } else if task.plan.panics {
            Expect::Panic(task.token)
        } else {
            Expect::Value(task.plan.value)
        }
    }

    /// Checks what a handle gave against what task `t` must give.
    fn check(&self, t: usize, expected: Expect, got: Result<Out, JoinError>) {
        let plan = self.tasks[t].plan;
        match (&expected, got) {
            (Expect::Cancelled, Err(e)) if e.is_cancelled() => {}
            (Expect::Panic(id), Err(e)) if e.is_panic() => {
                let payload = e.into_panic();
                let got = payload.downcast_ref::<ScriptedPanic>().map(|p| p.0);
                assert_eq!(got, Some(*id), "task {t}: the panic payload is its own");
            }
            (Expect::Value(v), Ok(out)) => {
                assert_eq!(out.value, *v, "task {t} ({plan:?}): output value");
                let id = out.token.id;
                assert_eq!(
                    self.tracker.drops(id),
                    0,
                    "task {t}: output already dropped"
                );
                drop(out);
                assert_eq!(self.tracker.drops(id), 1, "task {t}: output dropped once");
            }
            (_, got) => panic!("task {t} ({plan:?}): expected {expected:?}, got {got:?}"),
        }
    }

    // ---- spawning ------------------------------------------------------------------------------

    fn new_task(&mut self) -> (usize, impl Future<Output = Out> + 'static) {
        let script = match self.rng.below(100) {
            _ if self.force_wait => Script::Wait,
            0..=19 => Script::Ready,
            20..=49 => Script::Yield(1 + self.rng.below(4) as u8),
            50..=84 => Script::Wait,
            _ => Script::Timeout(1 + self.rng.below(3) as u8),
        };
        let plan = Plan {
            script,
            panics: self.rng.chance(15),
            value: self.rng.next(),
        };
        let cell = matches!(script, Script::Wait).then(Rc::<WaitCell>::default);
        let token = self.tracker.token();
        let t = self.tasks.len();
        self.tasks.push(TaskInfo {
            token: token.id,
            plan,
            cell: cell.clone(),
            slab: false,
            aborted_early: false,
            exported: false,
        });
        let future = task_future(token, plan, cell);
        assert!(
            task_size_of(&future) <= SLOT,
            "the task needs {} bytes, more than a {SLOT}-byte slot",
            task_size_of(&future)
        );
        (t, future)
    }

    /// Spawns a new task by a random route. Needs the runtime entered; `rt` (outside
    /// `block_on`) adds the `Runtime` methods to the routes.
    fn op_spawn(&mut self, rt: Option<&Runtime>) {
        let (t, fut) = self.new_task();
        let route = self.rng.below(if rt.is_some() { 8 } else { 5 });
        let (handle, slab, how) = match route {
            0 if !self.slab_full() => (spawn_slab(fut), true, "spawn_slab"),
            0 | 1 => match try_spawn_slab(fut) {
                Ok(h) => (h, true, "try_spawn_slab"),
                Err(e) => {
                    let full = Some(SpawnErrorKind::SlabFull {
                        capacity: self.cap.unwrap_or(0),
                    });
                    assert_eq!(
                        self.cap.and(Some(e.kind())),
                        full,
                        "only a bounded, full slab refuses"
                    );
                    assert!(e.is_full());
                    let fut = e.into_future();
                    if self.rng.chance(50) {
                        (spawn(fut), false, "try_spawn_slab refused, spawn")
                    } else {
                        drop(fut);
                        assert_eq!(
                            self.tracker.drops(self.tasks[t].token),
                            1,
                            "a future handed back and dropped is dropped once, then"
                        );
                        self.log(format_args!("task {t}: refused and dropped"));
                        return;
                    }
                }
            },
            2 => match try_claim_slab() {
                Some(claim) => {
                    assert!(claim.slot_size() >= SLOT);
                    if self.rng.chance(50) {
                        (claim.spawn(fut), true, "try_claim_slab + spawn")
                    } else {
                        let h = claim
                            .try_spawn(fut)
                            .unwrap_or_else(|(e, _)| panic!("a claim fits the task: {e}"));
                        (h, true, "try_claim_slab + try_spawn")
                    }
                }
                None => {
                    assert!(self.cap.is_some(), "an unbounded slab always has room");
                    assert_eq!(Some(Self::stats().slab_used), self.cap, "full");
                    (spawn(fut), false, "try_claim_slab refused, spawn")
                }
            },
            3 if !self.claims.is_empty() => {
                let claim = self.claims.swap_remove(self.rng.below(self.claims.len()));
                (claim.spawn(fut), true, "held claim + spawn")
            }
            5 if !self.slab_full() => {
                let rt = rt.expect("route 5 is outside block_on");
                (rt.spawn_slab(fut), true, "Runtime::spawn_slab")
            }
            6 => {
                let rt = rt.expect("route 6 is outside block_on");
                match rt.try_spawn_slab(fut) {
                    Ok(h) => (h, true, "Runtime::try_spawn_slab"),
                    Err(e) => {
                        assert!(e.is_full() && self.cap.is_some());
                        (rt.spawn(e.into_future()), false, "Runtime::spawn")
                    }
                }
            }
            7 => {
                let rt = rt.expect("route 7 is outside block_on");
                (rt.spawn(fut), false, "Runtime::spawn")
            }
            _ => (spawn(fut), false, "spawn"),
        };
        self.spawned += 1;
        self.tasks[t].slab = slab;
        let plan = self.tasks[t].plan;
        self.log(format_args!("task {t}: {how} {plan:?}"));
        match self.rng.below(100) {
            0..=4 => {
                self.log(format_args!("task {t}: aborted before its first poll"));
                handle.abort();
                self.tasks[t].aborted_early = true;
                self.handles.push((t, handle));
            }
            5..=14 => {
                self.log(format_args!("task {t}: detached at once"));
                drop(handle);
            }
            _ => self.handles.push((t, handle)),
        }
    }

    // ---- wakers --------------------------------------------------------------------------------

    /// Unreleased waiting tasks whose futures are alive (with or without a handle).
    fn waiting(&self) -> Vec<usize> {
        (0..self.tasks.len())
            .filter(|&t| {
                self.tasks[t]
                    .cell
                    .as_ref()
                    .is_some_and(|c| !c.released.get())
                    && !self.future_dropped(t)
            })
            .collect()
    }

    /// Wakes task `t` through the waker it stored, by a random route (here, the worker
    /// thread, a thread of its own). Without a stored waker the task is already queued.
    fn wake_cell(&mut self, t: usize) {
        let cell = self.tasks[t].cell.clone().expect("a waiting task");
        let Some(w) = cell.waker.borrow_mut().take() else {
            return;
        };
        let route = self.rng.below(9);
        self.log(format_args!("task {t}: woken by route {route}"));
        match route {
            0 => w.wake(),
            1 => {
                w.wake_by_ref();
                drop(w);
            }
            2 => {
                // The stale original stays in the cell until the task stores a new one.
                let clone = w.clone();
                clone.wake();
                *cell.waker.borrow_mut() = Some(w);
            }
            3 => {
                w.wake_by_ref();
                self.tasks[t].exported = true;
                self.bag.push((t, w));
            }
            4 => self.send(Msg::Waker(w, Remote::Wake)),
            5 => self.send(Msg::Waker(w, Remote::WakeByRef)),
            6 => {
                self.tasks[t].exported = true;
                self.send(Msg::Waker(w, Remote::WakeByRefThenHold));
            }
            7 => self.send(Msg::Waker(w, Remote::CloneWakeDropOriginal)),
            _ => self.oneshots.push(std::thread::spawn(move || {
                let c = w.clone();
                w.wake_by_ref();
                drop(w);
                c.wake();
            })),
        }
    }

    fn release(&mut self, t: usize) {
        self.log(format_args!("task {t}: released"));
        self.tasks[t]
            .cell
            .as_ref()
            .expect("a waiting task")
            .released
            .set(true);
        self.wake_cell(t);
    }

    fn op_release(&mut self) {
        let waiting = self.waiting();
        if !waiting.is_empty() {
            let t = waiting[self.rng.below(waiting.len())];
            self.release(t);
        }
    }

    /// Wakes a waiting task without releasing it: it polls again and waits on.
    fn op_spurious_wake(&mut self) {
        let waiting = self.waiting();
        if !waiting.is_empty() {
            let t = waiting[self.rng.below(waiting.len())];
            self.log(format_args!("task {t}: spurious wake"));
            self.wake_cell(t);
        }
    }

    /// Keeps a clone of a task's waker in the bag or on the worker thread.
    fn op_export_waker(&mut self) {
        let with_waker: Vec<usize> = (0..self.tasks.len())
            .filter(|&t| {
                self.tasks[t]
                    .cell
                    .as_ref()
                    .is_some_and(|c| c.waker.borrow().is_some())
            })
            .collect();
        if with_waker.is_empty() {
            return;
        }
        let t = with_waker[self.rng.below(with_waker.len())];
        let w = self.tasks[t]
            .cell
            .as_ref()
            .and_then(|c| c.waker.borrow().clone())
            .expect("filtered");
        self.tasks[t].exported = true;
        if self.rng.chance(50) {
            self.log(format_args!("task {t}: waker clone into the bag"));
            self.bag.push((t, w));
        } else {
            self.log(format_args!("task {t}: waker clone held by the worker"));
            self.send(Msg::Waker(w, Remote::Hold));
        }
    }

    /// Wakes, drops or sends away a waker of the bag (its task may be long finished).
    fn op_bag(&mut self) {
        if self.bag.is_empty() {
            if self.rng.chance(50) {
                self.send(Msg::WakeHeld);
            }
            return;
        }
        let i = self.rng.below(self.bag.len());
        match self.rng.below(5) {
            0 => self.bag[i].1.wake_by_ref(),
            1 => drop(self.bag.swap_remove(i)),
            2 => self.bag.swap_remove(i).1.wake(),
            3 => {
                let (_, w) = self.bag.swap_remove(i);
                self.send(Msg::Waker(w, Remote::Drop));
            }
            _ => {
                let (_, w) = self.bag.swap_remove(i);
                self.send(Msg::Waker(w, Remote::WakeByRef));
            }
        }
    }

    // ---- handles -------------------------------------------------------------------------------

    fn op_abort(&mut self) {
        if self.handles.is_empty() {
            return;
        }
        let (t, h) = &self.handles[self.rng.below(self.handles.len())];
        let t = *t;
        let finished = h.is_finished();
        assert_eq!(
            finished,
            self.future_dropped(t),
            "task {t}: is_finished says whether its future is gone"
        );
        h.abort();
        if self.rng.chance(20) {
            h.abort();
        }
        if !finished {
            self.tasks[t].aborted_early = true;
        }
        self.log(format_args!("task {t}: aborted (finished: {finished})"));
    }

    fn op_detach(&mut self) {
        if !self.handles.is_empty() {
            let (t, h) = self.handles.swap_remove(self.rng.below(self.handles.len()));
            self.log(format_args!("task {t}: detached"));
            drop(h);
        }
    }

    /// Awaits a handle, releasing (or aborting) its task first if it waits.
    async fn op_await(&mut self) {
        if self.handles.is_empty() {
            return;
        }
        let (t, h) = self.handles.swap_remove(self.rng.below(self.handles.len()));
        self.await_handle(t, h).await;
    }

    async fn await_handle(&mut self, t: usize, h: JoinHandle<Out>) {
        let waits = self.tasks[t]
            .cell
            .as_ref()
            .is_some_and(|c| !c.released.get())
            && !self.tasks[t].aborted_early
            && !h.is_finished();
        if waits {
            if self.rng.chance(25) {
                h.abort();
                self.tasks[t].aborted_early = true;
            } else {
                self.release(t);
            }
        }
        self.log(format_args!("task {t}: awaited"));
        let got = time::timeout(LIMIT, h)
            .await
            .unwrap_or_else(|_| panic!("task {t} {:?}: its handle hangs", self.tasks[t].plan));
        assert!(self.future_dropped(t), "task {t}: finished, future dropped");
        self.check(t, self.expect(t), got);
    }

    // ---- claims --------------------------------------------------------------------------------

    fn op_take_claim(&mut self) {
        match try_claim_slab() {
            Some(claim) => {
                self.log(format_args!("claim taken"));
                self.claims.push(claim);
            }
            None => assert_eq!(
                Some(Self::stats().slab_used),
                self.cap,
                "try_claim_slab refuses only on a full bounded slab"
            ),
        }
    }

    fn op_drop_claim(&mut self) {
        if !self.claims.is_empty() {
            self.log(format_args!("claim dropped unused"));
            drop(self.claims.swap_remove(self.rng.below(self.claims.len())));
        }
    }

    /// `claim_slab().await`; on a full slab only once something was done that gives a slot
    /// back: a claim dropped, or a slab task aborted (or finished) and its handle gone.
    async fn op_claim_wait(&mut self) {
        if self.slab_full() {
            if !self.claims.is_empty() {
                self.op_drop_claim();
            } else {
                // A victim whose slot nothing else holds: a slab task with no exported waker.
                let victims: Vec<usize> = (0..self.handles.len())
                    .filter(|&i| {
                        let task = &self.tasks[self.handles[i].0];
                        task.slab && !task.exported
                    })
                    .collect();
                if victims.is_empty() {
                    return;
                }
                let (t, h) = self
                    .handles
                    .swap_remove(victims[self.rng.below(victims.len())]);
                if !h.is_finished() {
                    h.abort();
                    self.tasks[t].aborted_early = true;
                }
                // Its own waker, kept in its cell, holds the block too.
                if let Some(cell) = &self.tasks[t].cell {
                    drop(cell.waker.borrow_mut().take());
                }
                self.log(format_args!("task {t}: aborted to free a slot"));
                if self.rng.chance(50) {
                    drop(h);
                } else {
                    self.await_handle(t, h).await;
                }
            }
        }
        self.log(format_args!("claim_slab().await"));
        let claim = time::timeout(LIMIT, claim_slab())
            .await
            .expect("claim_slab: a slot was given back, yet no claim came");
        match self.rng.below(3) {
            0 => {
                let (t, fut) = self.new_task();
                let h = claim.spawn(fut);
                self.spawned += 1;
                self.tasks[t].slab = true;
                self.log(format_args!("task {t}: spawned into an awaited claim"));
                self.handles.push((t, h));
            }
            1 => self.claims.push(claim),
            _ => drop(claim),
        }
    }

    // ---- the operations ------------------------------------------------------------------------

    /// One random operation that needs no `.await` (the runtime must be entered).
    fn op_sync(&mut self, rt: Option<&Runtime>) {
        match self.rng.below(100) {
            0..=34 => self.op_spawn(rt),
            35..=44 => self.op_abort(),
            45..=52 => self.op_detach(),
            53..=66 => self.op_release(),
            67..=72 => self.op_spurious_wake(),
            73..=77 => self.op_export_waker(),
            78..=83 => self.op_bag(),
            84..=91 => self.op_take_claim(),
            _ => self.op_drop_claim(),
        }
    }

    /// The root future of one `block_on`: `ops` random operations.
    async fn segment(&mut self, ops: usize) {
        for _ in 0..ops {
            match self.rng.below(100) {
                0..=9 => {
                    for _ in 0..1 + self.rng.below(3) {
                        yield_now().await;
                    }
                }
                10 => time::sleep(Duration::from_millis(1)).await,
                11..=22 => self.op_await().await,
                23..=28 => self.op_claim_wait().await,
                _ => self.op_sync(None),
            }
        }
    }

    /// Finishes every task and gives back every handle, claim and waker, so that the slab
    /// empties (checked by the caller after one more pass).
    async fn drain(&mut self) {
        self.log(format_args!("drain"));
        for t in self.waiting() {
            self.release(t);
        }
        let handles = std::mem::take(&mut self.handles);
        for (t, h) in handles {
            match self.rng.below(3) {
                0 => self.await_handle(t, h).await,
                1 => {
                    h.abort();
                    if !self.future_dropped(t) {
                        self.tasks[t].aborted_early = true;
                    }
                    self.await_handle(t, h).await;
                }
                _ => drop(h),
            }
        }
        self.claims.clear();
        let deadline = Instant::now() + LIMIT;
        while Self::stats().tasks_live > 0 {
            assert!(
                Instant::now() < deadline,
                "drain: tasks still live: {:?}",
                Self::stats()
            );
            // A sleep whose deadline passed before its first poll is ready at once (under
            // Miri, 1 ms is 200 basic blocks): yield too, so the runtime runs a pass.
            yield_now().await;
            time::sleep(Duration::from_millis(1)).await;
        }
        for t in 0..self.tasks.len() {
            assert!(self.future_dropped(t), "drain: task {t}'s future is gone");
            if let Some(cell) = &self.tasks[t].cell {
                drop(cell.waker.borrow_mut().take());
            }
        }
        let mut bag = std::mem::take(&mut self.bag);
        self.rng.shuffle(&mut bag);
        for (_, w) in bag {
            if self.rng.chance(30) {
                self.send(Msg::Waker(w, Remote::Drop));
            } else {
                drop(w);
            }
        }
        self.flush_threads();
        self.tracker.assert_all_dropped_once("drain");
        self.tasks.clear();
    }

    /// Waits until the worker dropped what it held and the one-shot threads are done.
    fn flush_threads(&mut self) {
        let (ack_tx, ack_rx) = mpsc::channel();
        self.send(Msg::Flush(ack_tx));
        ack_rx.recv_timeout(LIMIT).expect("the worker flushes");
        for t in self.oneshots.drain(..) {
            t.join().expect("a one-shot waker thread");
        }
    }

    fn assert_stats_add_up(&self, s: &RuntimeStats) {
        assert_eq!(s.tasks_spawned, self.spawned, "tasks spawned: {s:?}");
        assert_eq!(
            s.tasks_completed + s.tasks_live as u64,
            s.tasks_spawned,
            "{s:?}"
        );
    }

    /// Drops the runtime with tasks pending, then what is left in a random order.
    fn finish(mut self, rt: Runtime) {
        {
            // Make sure something is pending at the drop.
            let _enter = rt.enter();
            self.force_wait = true;
            for _ in 0..1 + self.rng.below(3) {
                self.op_spawn(Some(&rt));
            }
        }
        self.assert_stats_add_up(&rt.stats());
        let mut leftovers: Vec<Left> = Vec::new();
        for (t, h) in std::mem::take(&mut self.handles) {
            let finished = h.is_finished();
            assert_eq!(finished, self.future_dropped(t), "task {t}: is_finished");
            let expected = if finished {
                self.expect(t)
            } else {
                Expect::Cancelled
            };
            leftovers.push(Left::Handle(t, h, expected));
        }
        let s = rt.stats();
        self.log(format_args!(
            "runtime dropped: {} tasks live, {} slots used (peak {}), {} handles kept",
            s.tasks_live,
            s.slab_used,
            s.slab_peak,
            leftovers.len()
        ));
        drop(rt);
        for t in 0..self.tasks.len() {
            assert!(
                self.future_dropped(t),
                "task {t} ({:?}): the runtime's drop drops every future",
                self.tasks[t].plan
            );
        }
        self.tracker
            .assert_no_double_drop("after the runtime's drop");

        leftovers.extend(self.claims.drain(..).map(Left::Claim));
        leftovers.extend(self.bag.drain(..).map(|(_, w)| Left::Waker(w)));
        for task in &self.tasks {
            if let Some(w) = task.cell.as_ref().and_then(|c| c.waker.borrow_mut().take()) {
                leftovers.push(Left::Waker(w));
            }
        }
        self.rng.shuffle(&mut leftovers);
        for left in leftovers {
            match left {
                Left::Handle(t, mut h, expected) => {
                    if self.rng.chance(50) {
                        match Pin::new(&mut h).poll(&mut Context::from_waker(Waker::noop())) {
                            Poll::Ready(got) => self.check(t, expected, got),
                            Poll::Pending => panic!("task {t}: pending after the runtime"),
                        }
                    }
                    drop(h);
                }
                Left::Claim(c) => drop(c),
                Left::Waker(w) => match self.rng.below(5) {
                    0 => w.wake(),
                    1 => {
                        w.wake_by_ref();
                        drop(w);
                    }
                    2 => self.send(Msg::Waker(w, Remote::Drop)),
                    3 => self.send(Msg::Waker(w, Remote::WakeByRefThenHold)),
                    _ => self.oneshots.push(std::thread::spawn(move || w.wake())),
                },
            }
        }
        self.tasks.clear();
        drop(self.worker.take());
        self.worker_thread
            .take()
            .expect("started")
            .join()
            .expect("the worker thread");
        for t in self.oneshots.drain(..) {
            t.join().expect("a one-shot waker thread");
        }
        self.tracker.assert_all_dropped_once("the end");
        assert!(self.tracker.created() > 0);
    }
}

enum Left {
    Handle(usize, JoinHandle<Out>, Expect),
    Claim(SlabClaim),
    Waker(Waker),
}

/// One run: rounds of `block_on` segments (with operations from outside the runtime in
/// between), drained and checked between rounds; the last round ends with the runtime
/// dropped under pending tasks.
fn run(seed: u64, shape: Shape) {
    let rt = shape.build();
    let mut st = Run::new(seed, shape.capacity());
    let rounds = 1 + st.rng.below(3);
    for round in 0..rounds {
        for _ in 0..1 + st.rng.below(3) {
            {
                let _enter = rt.enter();
                for _ in 0..st.rng.below(6) {
                    st.op_sync(Some(&rt));
                }
            }
            let ops = OPS + st.rng.below(OPS);
            rt.block_on(st.segment(ops));
        }
        if round + 1 < rounds || st.rng.chance(50) {
            rt.block_on(st.drain());
            // One more pass takes in the blocks freed from other threads.
            rt.block_on(yield_now());
            let s = rt.stats();
            assert_eq!((s.slab_used, s.tasks_live), (0, 0), "after a drain: {s:?}");
            st.assert_stats_add_up(&s);
        }
    }
    st.finish(rt);
}

fn silence_scripted_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !info.payload().is::<ScriptedPanic>() {
                previous(info);
            }
        }));
    });
}

fn seeds() -> Vec<u64> {
    match std::env::var("TICKSLAB_RANDOM_SEED") {
        Ok(s) => {
            let s = s.trim();
            let parsed = match s.strip_prefix("0x") {
                Some(hex) => u64::from_str_radix(hex, 16),
                None => s.parse(),
            };
            vec![parsed.unwrap_or_else(|e| panic!("TICKSLAB_RANDOM_SEED={s:?}: {e}"))]
        }
        Err(_) if cfg!(miri) => SEEDS[..MIRI_SEEDS].to_vec(),
        Err(_) => SEEDS.iter().copied().chain(MORE_SEEDS).collect(),
    }
}

fn run_seeds(shape: Shape) {
    silence_scripted_panics();
    for seed in seeds() {
        if std::env::var_os("TICKSLAB_RANDOM_TRACE").is_some() {
            eprintln!("random_ops: {shape:?}, seed {seed}");
        }
        if let Err(panic) = catch_unwind(AssertUnwindSafe(|| run(seed, shape))) {
            eprintln!(
                "random_ops: FAILED on slab {shape:?} with seed {seed}; replay with \
                 TICKSLAB_RANDOM_SEED={seed} (and TICKSLAB_RANDOM_TRACE=1 to see the operations)"
            );
            resume_unwind(panic);
        }
    }
}

#[test]
fn random_ops_on_a_one_slot_slab() {
    run_seeds(Shape::Bounded(1));
}

#[test]
fn random_ops_on_a_two_slot_slab() {
    run_seeds(Shape::Bounded(2));
}

#[test]
fn random_ops_on_a_sixteen_slot_slab() {
    run_seeds(Shape::Bounded(16));
}

#[test]
fn random_ops_on_an_unbounded_slab() {
    run_seeds(Shape::Unbounded);
}
