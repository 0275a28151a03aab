//! The unbounded channel's queue: a list of fixed-size blocks that recycles its blocks.
//!
//! Messages sit in blocks of [`BLOCK`] slots (each a `VecDeque` made with that capacity
//! and never pushed past it, so it never reallocates). A block emptied by the receiver
//! goes to a spare list and is reused by the next block the senders need, instead of being
//! freed: once the queue has reached its high-water mark, pushing and popping allocate
//! nothing. The memory stays at that mark (blocks are kept, not returned to the
//! allocator) until the channel is dropped. Growth never copies messages (unlike one big
//! ring buffer that doubles), so a burst costs one block allocation per 32 messages.
//!
//! Safe code only; the channel keeps it behind a `std::sync::Mutex`.

use std::collections::VecDeque;

/// Messages per block.
pub(super) const BLOCK: usize = 32;

pub(super) struct BlockQueue<T> {
    /// Live blocks, oldest first; every block but the last is non-empty.
    blocks: VecDeque<VecDeque<T>>,
    /// Emptied blocks, ready for reuse.
    spare: Vec<VecDeque<T>>,
    len: usize,
}

impl<T> BlockQueue<T> {
    /// An empty queue: allocates nothing until the first push.
    pub(super) const fn new() -> BlockQueue<T> {
        BlockQueue {
            blocks: VecDeque::new(),
            spare: Vec::new(),
            len: 0,
        }
    }

    /// Messages queued.
    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// Appends a message; takes a spare block (or, past the high-water mark, a new one)
    /// when the last block is full.
    pub(super) fn push(&mut self, value: T) {
        let need_block = self.blocks.back().is_none_or(|b| b.len() == BLOCK);
        if need_block {
            let block = self
                .spare
                .pop()
                .unwrap_or_else(|| VecDeque::with_capacity(BLOCK));
            self.blocks.push_back(block);
        }
        let back = self.blocks.back_mut().expect("a block was just ensured");
        back.push_back(value);
        self.len += 1;
    }

    /// Takes the oldest message; an emptied block goes to the spare list (the last block
    /// stays in place, to be refilled).
    pub(super) fn pop(&mut self) -> Option<T> {
        let front = self.blocks.front_mut()?;
        let value = front.pop_front()?;
        self.len -= 1;
        if front.is_empty() && self.blocks.len() > 1 {
            let block = self.blocks.pop_front().expect("front exists");
            self.spare.push(block);
        }
        Some(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifo_across_blocks_and_reuse() {
        let mut q = BlockQueue::new();
        for round in 0..3 {
            for i in 0..(BLOCK * 3 + 5) {
                q.push((round, i));
            }
            assert_eq!(q.len(), BLOCK * 3 + 5);
            for i in 0..(BLOCK * 3 + 5) {
                assert_eq!(q.pop(), Some((round, i)));
            }
            assert_eq!(q.pop(), None);
            assert_eq!(q.len(), 0);
            // Four blocks at the mark: one live (empty), three spare.
            assert_eq!(q.blocks.len() + q.spare.len(), 4);
        }
    }
}
