//! The VMA list of one task: lookup, split, removal, insertion and merging (Linux's VMA tree, as a sorted
//! `Vec`: tasks here have tens of VMAs, and a simple list is easy to check).
//!
//! Between two public calls the list keeps the invariants stated in the crate root; inside a call,
//! `remove_range`, `insert` and `set_prot` may leave compatible neighbours, which `merge` joins.

use crate::{Mm, Vma};

impl Mm {
    /// Index of the first VMA that ends above `addr` (Linux's `find_vma`); `vmas.len()` if none.
    pub(crate) fn find_vma(&self, addr: u64) -> usize {
        self.vmas.partition_point(|v| v.end <= addr)
    }

    /// Index of the VMA containing `addr`.
    pub(crate) fn vma_at(&self, addr: u64) -> Option<usize> {
        let i = self.find_vma(addr);
        (i < self.vmas.len() && self.vmas[i].start <= addr).then_some(i)
    }

    /// Whether some VMA overlaps `[start, end)`.
    pub(crate) fn overlaps(&self, start: u64, end: u64) -> bool {
        self.vmas.get(self.find_vma(start)).is_some_and(|v| v.start < end)
    }

    /// The smallest range holding every mapped page of `[start, end)`, if there is one.
    pub(crate) fn mapped_span(&self, start: u64, end: u64) -> Option<(u64, u64)> {
        let first = self.vmas.get(self.find_vma(start)).filter(|v| v.start < end)?;
        let last = &self.vmas[self.vmas.partition_point(|v| v.start < end) - 1];
        Some((start.max(first.start), end.min(last.end)))
    }

    /// Whether every page of `[start, end)` is in some VMA.
    pub(crate) fn covered(&self, start: u64, end: u64) -> bool {
        let mut at = start;
        for vma in &self.vmas[self.find_vma(start)..] {
            if at >= end {
                break;
            }
            if vma.start > at {
                return false;
            }
            at = vma.end;
        }
        at >= end
    }

    /// Splits the VMA containing `addr` in two at `addr` (nothing if `addr` is a boundary or unmapped).
    fn split_at(&mut self, addr: u64) {
        if let Some(i) = self.vma_at(addr)
            && self.vmas[i].start < addr
        {
            let high = Vma { start: addr, ..self.vmas[i] };
            self.vmas[i].end = addr;
            self.vmas.insert(i + 1, high);
        }
    }

    /// Splits at both ends and returns the index range of the VMAs inside `[start, end)`.
    fn isolate(&mut self, start: u64, end: u64) -> core::ops::Range<usize> {
        self.split_at(start);
        self.split_at(end);
        self.find_vma(start)..self.vmas.partition_point(|v| v.start < end)
    }

    /// Forgets `[start, end)`, splitting the VMAs that stick out of it.
    pub(crate) fn remove_range(&mut self, start: u64, end: u64) {
        let inside = self.isolate(start, end);
        self.vmas.drain(inside);
    }

    /// Sets the protection of `[start, end)`, which must be fully mapped.
    pub(crate) fn set_prot(&mut self, start: u64, end: u64, prot: u64) {
        let inside = self.isolate(start, end);
        for vma in &mut self.vmas[inside] {
            vma.prot = prot;
        }
    }

    /// Adds a VMA where nothing is mapped.
    pub(crate) fn insert(&mut self, vma: Vma) {
        debug_assert!(!vma.is_empty() && !self.overlaps(vma.start, vma.end), "insert over {vma:?}");
        let at = self.vmas.partition_point(|v| v.start < vma.start);
        self.vmas.insert(at, vma);
    }

    /// Joins every pair of touching compatible neighbours (Linux's `vma_merge`).
    pub(crate) fn merge(&mut self) {
        self.vmas.dedup_by(|next, prev| {
            let join = prev.end == next.start && prev.compatible(next);
            if join {
                prev.end = next.end;
            }
            join
        });
    }

    /// Bytes mapped (Linux's `total_vm`, in bytes).
    pub(crate) fn total_vm(&self) -> u64 {
        self.vmas.iter().map(Vma::len).sum()
    }

    /// Ends a successful call: merges, records the peak size, checks the invariants in debug builds.
    pub(crate) fn finish(&mut self) {
        self.merge();
        self.hiwater_vm = self.hiwater_vm.max(self.total_vm());
        debug_assert_eq!(self.check_invariants(), Ok(()));
    }

    /// The invariants of the crate root, with the first broken one.
    pub fn check_invariants(&self) -> Result<(), &'static str> {
        use abi::layout::{USER_END, USER_MIN};
        let mut previous: Option<&Vma> = None;
        for vma in &self.vmas {
            if vma.is_empty() {
                return Err("empty VMA");
            }
            if !crate::is_page_aligned(vma.start) || !crate::is_page_aligned(vma.end) {
                return Err("VMA not page-aligned");
            }
            if vma.start < USER_MIN || vma.end > USER_END {
                return Err("VMA outside user space");
            }
            if let Some(prev) = previous {
                if prev.end > vma.start {
                    return Err("VMAs overlap or are out of order");
                }
                if prev.end == vma.start && prev.compatible(vma) {
                    return Err("compatible neighbours not merged");
                }
            }
            previous = Some(vma);
        }
        if self.brk < self.start_brk {
            return Err("brk below start_brk");
        }
        Ok(())
    }
}
