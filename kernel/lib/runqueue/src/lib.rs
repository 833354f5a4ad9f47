//! The scheduler's run queue: fixed priorities, FIFO order within a level, O(1) pick through a priority
//! bitmap (as in RTOS kernels and Linux's old O(1) scheduler and `rt_prio_array`).
//!
//! Invariant: bit `p` of `bitmap` is set exactly when `levels[p]` is non-empty, so the highest ready
//! priority is `63 - bitmap.leading_zeros()` — one instruction. A task appears at most once.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

extern crate alloc;

use alloc::collections::VecDeque;

/// Priority levels: 0 (idle) … 63 (most urgent).
pub const LEVELS: usize = 64;

/// Ready tasks by priority; `T` is the task identifier.
#[derive(Debug)]
pub struct RunQueue<T> {
    bitmap: u64,
    levels: [VecDeque<T>; LEVELS],
}

impl<T: Copy + PartialEq> Default for RunQueue<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Copy + PartialEq> RunQueue<T> {
    pub const fn new() -> Self {
        RunQueue { bitmap: 0, levels: [const { VecDeque::new() }; LEVELS] }
    }

    /// Appends `task` at `priority` (after a time slice ran out, a yield, or a wake-up).
    pub fn push_back(&mut self, task: T, priority: u8) {
        let p = usize::from(priority).min(LEVELS - 1);
        self.levels[p].push_back(task);
        self.bitmap |= 1 << p;
    }

    /// Puts `task` first at `priority` (preempted by a more urgent task: it keeps its turn).
    pub fn push_front(&mut self, task: T, priority: u8) {
        let p = usize::from(priority).min(LEVELS - 1);
        self.levels[p].push_front(task);
        self.bitmap |= 1 << p;
    }

    /// The highest priority with a ready task.
    pub fn highest(&self) -> Option<u8> {
        (self.bitmap != 0).then(|| 63 - self.bitmap.leading_zeros() as u8)
    }

    /// Takes the first task of the highest non-empty level.
    pub fn pop(&mut self) -> Option<(T, u8)> {
        let p = self.highest()?;
        let level = &mut self.levels[usize::from(p)];
        let task = level.pop_front()?;
        if level.is_empty() {
            self.bitmap &= !(1 << p);
        }
        Some((task, p))
    }

    /// Removes `task` wherever it is queued; returns whether it was.
    pub fn remove(&mut self, task: T) -> bool {
        let mut bits = self.bitmap;
        while bits != 0 {
            let p = 63 - bits.leading_zeros() as usize;
            bits &= !(1 << p);
            let level = &mut self.levels[p];
            if let Some(i) = level.iter().position(|&t| t == task) {
                level.remove(i);
                if level.is_empty() {
                    self.bitmap &= !(1 << p);
                }
                return true;
            }
        }
        false
    }

    /// Whether any task at `priority` or above is ready.
    pub fn has_at_least(&self, priority: u8) -> bool {
        self.highest().is_some_and(|p| p >= priority)
    }

    pub fn len(&self) -> usize {
        self.levels.iter().map(VecDeque::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.bitmap == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn picks_highest_priority_first_and_fifo_within_a_level() {
        let mut rq = RunQueue::new();
        rq.push_back(1u32, 10);
        rq.push_back(2, 30);
        rq.push_back(3, 30);
        rq.push_back(4, 0);
        assert_eq!(rq.highest(), Some(30));
        assert_eq!(rq.pop(), Some((2, 30)));
        assert_eq!(rq.pop(), Some((3, 30)));
        assert_eq!(rq.pop(), Some((1, 10)));
        assert_eq!(rq.pop(), Some((4, 0)));
        assert_eq!(rq.pop(), None);
        assert!(rq.is_empty());
    }

    #[test]
    fn push_front_keeps_a_preempted_task_first() {
        let mut rq = RunQueue::new();
        rq.push_back(1u32, 5);
        rq.push_front(2, 5);
        assert_eq!(rq.pop(), Some((2, 5)));
    }

    #[test]
    fn remove_clears_the_level_bit() {
        let mut rq = RunQueue::new();
        rq.push_back(7u32, 63);
        rq.push_back(8, 1);
        assert!(rq.remove(7));
        assert!(!rq.remove(7));
        assert_eq!(rq.highest(), Some(1));
        assert!(rq.has_at_least(1));
        assert!(!rq.has_at_least(2));
    }

    proptest! {
        /// Against a model: a list of (priority, sequence) pairs, popped by highest priority then FIFO.
        #[test]
        fn matches_a_sorted_model(ops in proptest::collection::vec((0u8..64, any::<bool>()), 0..200)) {
            let mut rq = RunQueue::new();
            let mut model: Vec<(u8, u32)> = Vec::new();
            for (id, (priority, pop)) in ops.into_iter().enumerate() {
                if pop {
                    let best = model.iter().enumerate()
                        .max_by(|a, b| a.1.0.cmp(&b.1.0).then(b.1.1.cmp(&a.1.1)))
                        .map(|(i, _)| i);
                    let expected = best.map(|i| model.remove(i)).map(|(p, t)| (t, p));
                    prop_assert_eq!(rq.pop(), expected);
                } else {
                    rq.push_back(id as u32, priority);
                    model.push((priority, id as u32));
                }
                prop_assert_eq!(rq.len(), model.len());
                prop_assert_eq!(rq.highest(), model.iter().map(|m| m.0).max());
            }
        }
    }
}
