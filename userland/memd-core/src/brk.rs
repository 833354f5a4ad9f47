//! brk(2): moving the program break (Linux's `SYSCALL_DEFINE1(brk)` in mm/mmap.c).
//!
//! The break is kept exactly as the program set it; the heap's pages end at its page end. brk returns
//! the new break on success and the old one when it refuses (the raw syscall never fails: libc turns
//! "unchanged" into ENOMEM).
//! - Below `start_brk` (brk(0) included): refused.
//! - Within the same page end: only the number changes.
//! - Shrinking: always allowed; whatever is mapped in the whole pages above the new page end goes.
//! - Growing: `[old page end, new page end)` is mapped read-write as heap, if it stays below `USER_END`
//!   and `[old page end, new page end + one page)` is free, clear of a grows-down VMA's guard gap (Linux
//!   keeps that one page between the heap and the next mapping).

use alloc::vec;
use alloc::vec::Vec;

use abi::layout::USER_END;
use abi::prot::{READ, WRITE};

use crate::{Action, Mm, PAGE_SIZE, Vma, VmaKind, page_align};

impl Mm {
    /// brk(addr): returns the break after the call and the actions that get it there.
    pub fn sys_brk(&mut self, addr: u64) -> (u64, Vec<Action>) {
        if addr < self.start_brk || addr > USER_END {
            return (self.brk, Vec::new());
        }
        // Both are at most USER_END, which is page-aligned: no overflow.
        let new_end = page_align(addr).unwrap_or(USER_END);
        let old_end = page_align(self.brk).unwrap_or(USER_END);
        let actions = if new_end == old_end {
            Vec::new()
        } else if new_end < old_end {
            let actions = self
                .mapped_span(new_end, old_end)
                .map(|(start, end)| Action::Unmap { start, len: end - start })
                .into_iter()
                .collect();
            self.remove_range(new_end, old_end);
            actions
        } else {
            let guard_end = new_end.saturating_add(PAGE_SIZE);
            if !self.is_free_with_gap(old_end, guard_end) {
                return (self.brk, Vec::new());
            }
            let heap = Vma {
                start: old_end,
                end: new_end,
                prot: READ | WRITE,
                shared: false,
                growsdown: false,
                kind: VmaKind::Heap,
            };
            self.insert(heap);
            vec![Action::Map { start: heap.start, len: heap.len(), prot: heap.prot, flags: heap.map_flags() }]
        };
        self.brk = addr;
        self.finish();
        (addr, actions)
    }
}
