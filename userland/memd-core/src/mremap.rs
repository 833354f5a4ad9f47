//! mremap(2) (Linux's mm/mremap.c), without MREMAP_FIXED.
//!
//! - flags other than MREMAP_MAYMOVE: EINVAL (MREMAP_FIXED and MREMAP_DONTUNMAP are not supported:
//!   the protocol carries no new address);
//! - old not page-aligned: EINVAL;
//! - new_len 0 (after rounding up to pages): EINVAL;
//! - old_len 0: EINVAL (Linux duplicates a shared mapping then; not supported, and Linux refuses it for
//!   private ones too);
//! - `[old, old + old_len)` not inside one VMA: EFAULT;
//! - shrinking (or the same size): the tail is unmapped, the result is `old`;
//! - growing in place, when the range ends where its VMA ends and the pages after it are free up to
//!   `USER_END`: a Map of the extension with the VMA's prot and flags;
//! - otherwise with MREMAP_MAYMOVE: a new place found top-down (no hint), a Move of the old range there,
//!   then a Map of the extension after it; without it: ENOMEM.
//!
//! A moved piece of the heap or of the initial stack becomes plain anonymous memory (Linux names
//! `[heap]` and `[stack]` by address, and the moved VMA no longer holds the break or the stack start);
//! image VMAs move like any other and keep their name.

use alloc::vec;
use alloc::vec::Vec;

use abi::errno::{EFAULT, EINVAL, ENOMEM};
use abi::layout::USER_END;
use abi::mman::MREMAP_MAYMOVE;

use crate::{Action, Errno, Mm, Vma, VmaKind, is_page_aligned, page_align};

impl Mm {
    /// mremap(old, old_len, new_len, flags): the mapping's address afterwards and the actions.
    pub fn sys_mremap(
        &mut self,
        old: u64,
        old_len: u64,
        new_len: u64,
        flags: u64,
    ) -> Result<(u64, Vec<Action>), Errno> {
        if flags & !MREMAP_MAYMOVE != 0 || !is_page_aligned(old) {
            return Err(EINVAL);
        }
        let new_len = page_align(new_len).filter(|&len| len != 0).ok_or(EINVAL)?;
        let old_len = page_align(old_len).filter(|&len| len != 0).ok_or(EINVAL)?;
        let old_end = old.checked_add(old_len).ok_or(EFAULT)?;
        let vma = self.vma_at(old).map(|i| self.vmas[i]).filter(|v| old_end <= v.end).ok_or(EFAULT)?;

        if new_len <= old_len {
            let tail = old + new_len;
            let actions = if tail < old_end {
                vec![Action::Unmap { start: tail, len: old_end - tail }]
            } else {
                Vec::new()
            };
            self.remove_range(tail, old_end);
            self.finish();
            return Ok((old, actions));
        }

        let extension = new_len - old_len;
        if old_end == vma.end
            && old.checked_add(new_len).is_some_and(|end| end <= USER_END && !self.overlaps(old_end, end))
        {
            let grown = Vma { start: old_end, end: old + new_len, ..vma };
            self.insert(grown);
            self.finish();
            let map = Action::Map { start: old_end, len: extension, prot: vma.prot, flags: vma.map_flags() };
            return Ok((old, vec![map]));
        }

        if flags & MREMAP_MAYMOVE == 0 {
            return Err(ENOMEM);
        }
        // The old range is still mapped during the search, so the new place never overlaps it.
        let new = self.unmapped_area(0, new_len).ok_or(ENOMEM)?;
        let kind = match vma.kind {
            VmaKind::Heap | VmaKind::Stack => VmaKind::Anonymous,
            kind => kind,
        };
        let moved = Vma { start: new, end: new + new_len, kind, ..vma };
        self.remove_range(old, old_end);
        self.insert(moved);
        self.finish();
        let actions = vec![
            Action::Move { old, len: old_len, new },
            Action::Map { start: new + old_len, len: extension, prot: moved.prot, flags: moved.map_flags() },
        ];
        Ok((new, actions))
    }
}
