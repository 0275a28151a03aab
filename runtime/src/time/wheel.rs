//! A hierarchical timing wheel; a tick is 1/32 ms (see `NANOS_PER_TICK` in `time/mod.rs`).
//!
//! Six levels of 64 slots: level `l` slots span `64^l` ticks, so the wheel covers `64^6`
//! ticks (about 25 days; later deadlines are parked in the top level and re-placed until
//! due).
//! Entries live in one `Vec` and are linked into slot lists by index, so arming, cancelling
//! and firing a timer is O(1) and allocates nothing once the `Vec` has grown to the largest
//! number of timers armed at once. There is no `unsafe` here.
//!
//! Invariant: every armed entry sits at the level of the highest 6-bit group in which its
//! tick differs from `elapsed`, in the slot of its tick at that level. Entries of level `l`
//! therefore all fall after `elapsed` within `elapsed`'s level-`l+1` block, so the earliest
//! occupied slot of the lowest occupied level is the next thing to happen.

use std::task::Waker;

const LEVELS: usize = 6;
const SLOT_BITS: u32 = 6;
const SLOTS: usize = 1 << SLOT_BITS;
const NIL: u32 = u32::MAX;

/// A handle to an armed (or fired) timer: its index and the generation of that index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TimerKey {
    index: u32,
    generation: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Free,
    Armed { level: u8, slot: u8 },
    Fired,
}

struct Entry {
    tick: u64,
    generation: u32,
    state: State,
    prev: u32,
    next: u32,
    waker: Option<Waker>,
}

#[derive(Clone, Copy)]
struct SlotList {
    head: u32,
    tail: u32,
}

const EMPTY: SlotList = SlotList {
    head: NIL,
    tail: NIL,
};

pub(crate) struct Wheel {
    entries: Vec<Entry>,
    /// Free entries, linked through `next`.
    free_head: u32,
    /// The tick the wheel has advanced to.
    elapsed: u64,
    slots: [[SlotList; SLOTS]; LEVELS],
    occupied: [u64; LEVELS],
    armed: usize,
}

impl Wheel {
    pub(crate) fn new() -> Self {
        Wheel {
            entries: Vec::new(),
            free_head: NIL,
            elapsed: 0,
            slots: [[EMPTY; SLOTS]; LEVELS],
            occupied: [0; LEVELS],
            armed: 0,
        }
    }

    /// Timers armed and not yet fired.
    pub(crate) fn armed(&self) -> usize {
        self.armed
    }

    #[cfg(test)]
    pub(crate) fn elapsed(&self) -> u64 {
        self.elapsed
    }

    /// Arms a timer for `tick`, to wake `waker`. A tick already reached fires at once.
    pub(crate) fn insert(&mut self, tick: u64, waker: Waker) -> TimerKey {
        let index = if self.free_head != NIL {
            let i = self.free_head;
            self.free_head = self.entries[i as usize].next;
            i
        } else {
            let i = u32::try_from(self.entries.len())
                .ok()
                .filter(|&i| i != NIL)
                .expect("more than 4 billion timers");
            self.entries.push(Entry {
                tick: 0,
                generation: 0,
                state: State::Free,
                prev: NIL,
                next: NIL,
                waker: None,
            });
            i
        };
        let e = &mut self.entries[index as usize];
        e.tick = tick;
        e.waker = Some(waker);
        e.prev = NIL;
        e.next = NIL;
        let key = TimerKey {
            index,
            generation: e.generation,
        };
        if tick <= self.elapsed {
            e.state = State::Fired;
        } else {
            self.armed += 1;
            self.place(index);
        }
        key
    }

    fn entry(&self, key: TimerKey) -> Option<&Entry> {
        self.entries
            .get(key.index as usize)
            .filter(|e| e.generation == key.generation && e.state != State::Free)
    }

    /// Whether the timer has fired. `false` for a stale key.
    pub(crate) fn is_fired(&self, key: TimerKey) -> bool {
        self.entry(key).is_some_and(|e| e.state == State::Fired)
    }

    /// Replaces the waker of an armed timer (no-op if it would wake the same task).
    pub(crate) fn set_waker(&mut self, key: TimerKey, waker: &Waker) {
        if self.entry(key).is_none() {
            return;
        }
        let e = &mut self.entries[key.index as usize];
        match &e.waker {
            Some(w) if w.will_wake(waker) => {}
            _ => e.waker = Some(waker.clone()),
        }
    }

    /// Disarms (if armed) and frees the timer. Stale keys are ignored.
    pub(crate) fn remove(&mut self, key: TimerKey) -> Option<Waker> {
        let state = self.entry(key)?.state;
        if let State::Armed { level, slot } = state {
            self.unlink(key.index, level as usize, slot as usize);
            self.armed -= 1;
        }
        let e = &mut self.entries[key.index as usize];
        e.state = State::Free;
        e.generation = e.generation.wrapping_add(1);
        let waker = e.waker.take();
        e.next = self.free_head;
        self.free_head = key.index;
        waker
    }

    /// The earliest tick at which something is due, if anything is armed.
    pub(crate) fn next_expiration(&self) -> Option<u64> {
        self.next_slot().map(|(_, _, tick)| tick)
    }

    /// Advances to `now` (a tick), firing every timer due by then, earliest first; each
    /// fired timer's waker is handed to `fire`. Returns how many fired.
    pub(crate) fn advance(&mut self, now: u64, mut fire: impl FnMut(Waker)) -> usize {
        let mut fired = 0;
        while let Some((level, slot, tick)) = self.next_slot() {
            if tick > now {
                break;
            }
            self.elapsed = self.elapsed.max(tick);
            let mut list = std::mem::replace(&mut self.slots[level][slot], EMPTY);
            self.occupied[level] &= !(1 << slot);
            while list.head != NIL {
                let index = list.head;
                list.head = self.entries[index as usize].next;
                let e = &mut self.entries[index as usize];
                e.prev = NIL;
                e.next = NIL;
                if e.tick <= self.elapsed {
                    e.state = State::Fired;
                    self.armed -= 1;
                    fired += 1;
                    if let Some(w) = e.waker.take() {
                        fire(w);
                    }
                } else {
                    self.place(index); // cascades to a lower level
                }
            }
        }
        self.elapsed = self.elapsed.max(now);
        fired
    }

    fn level_for(&self, tick: u64) -> usize {
        let differing = (self.elapsed ^ tick) | (SLOTS as u64 - 1);
        let significant = 63 - differing.leading_zeros();
        ((significant / SLOT_BITS) as usize).min(LEVELS - 1)
    }

    fn place(&mut self, index: u32) {
        let tick = self.entries[index as usize].tick;
        let level = self.level_for(tick);
        let top_shift = SLOT_BITS * (LEVELS as u32 - 1);
        let reach = 1u64 << (SLOT_BITS * LEVELS as u32);
        let slot = if tick - self.elapsed >= reach {
            // Beyond the wheel's reach: park in the top-level slot that comes round last;
            // when it does, the entry is re-placed (and so never fires early).
            let pos = (self.elapsed >> top_shift) & (SLOTS as u64 - 1);
            ((pos + SLOTS as u64 - 1) & (SLOTS as u64 - 1)) as usize
        } else {
            ((tick >> (SLOT_BITS * level as u32)) & (SLOTS as u64 - 1)) as usize
        };
        let list = &mut self.slots[level][slot];
        let tail = list.tail;
        list.tail = index;
        if tail == NIL {
            list.head = index;
        } else {
            self.entries[tail as usize].next = index;
        }
        let e = &mut self.entries[index as usize];
        e.prev = tail;
        e.next = NIL;
        e.state = State::Armed {
            level: level as u8,
            slot: slot as u8,
        };
        self.occupied[level] |= 1 << slot;
    }

    fn unlink(&mut self, index: u32, level: usize, slot: usize) {
        let (prev, next) = {
            let e = &self.entries[index as usize];
            (e.prev, e.next)
        };
        let list = &mut self.slots[level][slot];
        if prev == NIL {
            list.head = next;
        } else {
            self.entries[prev as usize].next = next;
        }
        let list = &mut self.slots[level][slot];
        if next == NIL {
            list.tail = prev;
        } else {
            self.entries[next as usize].prev = prev;
        }
        if self.slots[level][slot].head == NIL {
            self.occupied[level] &= !(1 << slot);
        }
    }

    /// The earliest occupied slot: `(level, slot, tick at which it is due)`.
    fn next_slot(&self) -> Option<(usize, usize, u64)> {
        for level in 0..LEVELS {
            if self.occupied[level] == 0 {
                continue;
            }
            let shift = SLOT_BITS * level as u32;
            let pos = ((self.elapsed >> shift) & (SLOTS as u64 - 1)) as u32;
            let block_bits = shift + SLOT_BITS;
            let block_start = if block_bits >= 64 {
                0
            } else {
                self.elapsed & !((1u64 << block_bits) - 1)
            };
            if level < LEVELS - 1 {
                // Occupied slots never lie before `elapsed`'s slot (see the invariant).
                let ahead = self.occupied[level] & (u64::MAX << pos);
                debug_assert_ne!(ahead, 0, "timer wheel invariant broken");
                let slot = ahead.trailing_zeros() as u64;
                return Some((level, slot as usize, block_start + (slot << shift)));
            }
            // The top level wraps: slots before `pos` belong to the next block.
            let slot = (pos + self.occupied[level].rotate_right(pos).trailing_zeros()) % 64;
            let mut tick = block_start + (u64::from(slot) << shift);
            if slot < pos {
                tick += 1u64 << block_bits;
            }
            return Some((level, slot as usize, tick));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::Wake;

    struct Count(AtomicUsize);
    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn waker() -> (Waker, Arc<Count>) {
        let c = Arc::new(Count(AtomicUsize::new(0)));
        (Waker::from(c.clone()), c)
    }

    /// A tiny xorshift for reproducible pseudo-random ticks.
    fn rng(seed: &mut u64) -> u64 {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        *seed
    }

    #[test]
    fn fires_each_timer_exactly_at_its_tick_in_order() {
        let mut wheel = Wheel::new();
        let mut seed = 0x9E37_79B9_7F4A_7C15;
        let n = if cfg!(miri) { 100 } else { 2_000 };
        let mut keys = Vec::new();
        for _ in 0..n {
            let span = [70, 5_000, 300_000, 20_000_000][(rng(&mut seed) % 4) as usize];
            let tick = 1 + rng(&mut seed) % span;
            keys.push((tick, wheel.insert(tick, waker().0)));
        }
        assert_eq!(wheel.armed(), n);
        let mut expected: Vec<u64> = keys.iter().map(|k| k.0).collect();
        expected.sort_unstable();
        expected.dedup();
        // Jump from due tick to due tick: never early, never late.
        let mut seen = 0;
        while let Some(next) = wheel.next_expiration() {
            let before = keys.iter().filter(|(_, k)| wheel.is_fired(*k)).count();
            wheel.advance(next, |_| {});
            let fired_now: Vec<u64> = keys
                .iter()
                .filter(|(_, k)| wheel.is_fired(*k))
                .map(|(t, _)| *t)
                .collect();
            assert!(fired_now.len() >= before);
            for t in &fired_now {
                assert!(
                    *t <= wheel.elapsed(),
                    "fired early: tick {t} at {}",
                    wheel.elapsed()
                );
            }
            if fired_now.len() > before {
                assert_eq!(expected[seen], wheel.elapsed(), "a due time was skipped");
                seen += 1;
            }
        }
        assert_eq!(seen, expected.len());
        assert_eq!(wheel.armed(), 0);
    }

    #[test]
    fn advance_in_big_steps_fires_all_due_and_nothing_else() {
        let mut wheel = Wheel::new();
        let mut seed = 42;
        let mut keys = Vec::new();
        for _ in 0..(if cfg!(miri) { 100 } else { 5_000 }) {
            let tick = 1 + rng(&mut seed) % 1_000_000;
            keys.push((tick, wheel.insert(tick, waker().0)));
        }
        for now in [
            0, 1, 63, 64, 4095, 4096, 99_999, 500_000, 999_999, 1_000_000,
        ] {
            wheel.advance(now, |_| {});
            for (t, k) in &keys {
                assert_eq!(wheel.is_fired(*k), *t <= now, "tick {t} at now {now}");
            }
        }
    }

    #[test]
    fn removal_cancels_and_keys_go_stale() {
        let mut wheel = Wheel::new();
        let (w, count) = waker();
        let a = wheel.insert(10, w.clone());
        let b = wheel.insert(10, w.clone());
        let c = wheel.insert(5000, w);
        assert!(wheel.remove(b).is_some());
        assert!(wheel.remove(b).is_none(), "stale key");
        wheel.advance(10, |w| w.wake());
        assert!(wheel.is_fired(a));
        assert!(!wheel.is_fired(b));
        assert_eq!(count.0.load(Ordering::SeqCst), 1);
        wheel.remove(a);
        // The freed entry is reused with a new generation; the old key stays stale.
        let d = wheel.insert(20, waker().0);
        assert_eq!(d.index, a.index);
        assert!(!wheel.is_fired(a));
        wheel.remove(c);
        assert_eq!(wheel.armed(), 1);
        assert_eq!(wheel.next_expiration(), Some(20));
    }

    #[test]
    fn past_ticks_fire_at_once_and_far_future_is_never_early() {
        let mut wheel = Wheel::new();
        wheel.advance(1000, |_| {});
        let past = wheel.insert(999, waker().0);
        assert!(wheel.is_fired(past));
        let far = 1000 + (1u64 << 40);
        let k = wheel.insert(far, waker().0);
        let mut now = 1000;
        while let Some(next) = wheel.next_expiration() {
            assert!(next <= far);
            now = next;
            wheel.advance(now, |_| {});
        }
        assert!(wheel.is_fired(k));
        assert_eq!(now, far);
    }

    #[test]
    fn entries_are_reused_without_growth() {
        let mut wheel = Wheel::new();
        for round in 0..100u64 {
            let keys: Vec<_> = (0..64)
                .map(|i| wheel.insert(round * 100 + i + 1, waker().0))
                .collect();
            wheel.advance(round * 100 + 100, |_| {});
            for k in keys {
                assert!(wheel.is_fired(k));
                wheel.remove(k);
            }
        }
        assert_eq!(wheel.entries.len(), 64);
    }
}
