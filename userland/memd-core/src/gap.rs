//! Room for a new mapping (Linux's `get_unmapped_area` on x86-64): the hint if it is free, else the
//! highest gap below `mmap_base` that fits (top-down), else the lowest one anywhere (bottom-up).
//!
//! A grows-down VMA keeps [`STACK_GUARD_GAP`] free below it (Linux's `vm_start_gap`): new mappings and
//! the heap stay out of it, so the kernel can extend the VMA into it on a fault (its reach is the same
//! 1 MiB). MAP_FIXED ignores the gap, as on Linux.

use abi::layout::{USER_END, USER_MIN};

use crate::{Mm, PAGE_SIZE, Vma};

/// Linux's `stack_guard_gap`: 256 pages.
pub const STACK_GUARD_GAP: u64 = 256 * PAGE_SIZE;

impl Vma {
    /// The lowest address a neighbour below may reach (Linux's `vm_start_gap`).
    pub(crate) fn start_gap(&self) -> u64 {
        if self.growsdown { self.start.saturating_sub(STACK_GUARD_GAP) } else { self.start }
    }
}

/// Linux's `round_hint_to_min`: a hint is taken page-aligned down (x86), and one in the null trap is
/// moved to its top (0 stays "no hint").
pub(crate) fn round_hint(addr: u64) -> u64 {
    let hint = addr & !(PAGE_SIZE - 1);
    if hint != 0 && hint < USER_MIN { USER_MIN } else { hint }
}

impl Mm {
    /// Whether `[start, end)` is free and clear of the next VMA's guard gap (Linux's hint check and brk's
    /// collision check: only the next VMA counts).
    pub(crate) fn is_free_with_gap(&self, start: u64, end: u64) -> bool {
        self.vmas.get(self.find_vma(start)).is_none_or(|next| end <= next.start_gap())
    }

    /// The free gaps of user space, low to high, each `[low, high)` and non-empty.
    fn gaps(&self) -> impl DoubleEndedIterator<Item = (u64, u64)> + '_ {
        // Gap i lies between VMA i - 1 and VMA i (the first and last ones end at user space's edges).
        (0..=self.vmas.len())
            .map(|i| {
                let low = if i == 0 { USER_MIN } else { self.vmas[i - 1].end };
                let high = self.vmas.get(i).map_or(USER_END, Vma::start_gap);
                (low, high)
            })
            .filter(|(low, high)| low < high)
    }

    /// The highest `len` bytes free inside `[low, high)`.
    fn top_down(&self, len: u64, low: u64, high: u64) -> Option<u64> {
        self.gaps()
            .rev()
            .map(|(gap_low, gap_high)| (gap_low.max(low), gap_high.min(high)))
            .find(|&(gap_low, gap_high)| gap_high >= gap_low && gap_high - gap_low >= len)
            .map(|(_, gap_high)| gap_high - len)
    }

    /// The lowest `len` bytes free inside `[low, high)`.
    fn bottom_up(&self, len: u64, low: u64, high: u64) -> Option<u64> {
        self.gaps()
            .map(|(gap_low, gap_high)| (gap_low.max(low), gap_high.min(high)))
            .find(|&(gap_low, gap_high)| gap_high >= gap_low && gap_high - gap_low >= len)
            .map(|(gap_low, _)| gap_low)
    }

    /// Where a new mapping of `len` bytes (page-aligned) goes: `hint` (already rounded by [`round_hint`]; 0
    /// for none) if that range is free, else top-down below `mmap_base`, else bottom-up over all of user
    /// space.
    pub(crate) fn unmapped_area(&self, hint: u64, len: u64) -> Option<u64> {
        if hint != 0
            && hint.checked_add(len).is_some_and(|end| end <= USER_END && self.is_free_with_gap(hint, end))
        {
            return Some(hint);
        }
        self.top_down(len, USER_MIN, self.mmap_base).or_else(|| self.bottom_up(len, USER_MIN, USER_END))
    }
}
