//! munmap(2) (Linux's `__vm_munmap`).
//!
//! - addr not page-aligned, or the range reaching above `USER_END`: EINVAL;
//! - len 0: EINVAL;
//! - holes are fine (so is a range with nothing mapped: no action at all); VMAs that stick out are split.
//!
//! The range may start in the null trap, as on Linux (nothing is mapped there).
//!
//! Actions: one Unmap covering the mapped part, from the first mapped page to the end of the last one;
//! it may contain holes, which the kernel's `vm_unmap` accepts. One call however many VMAs it crosses.

use alloc::vec::Vec;

use abi::errno::EINVAL;
use abi::layout::USER_END;

use crate::{Action, Errno, Mm, is_page_aligned, page_align};

impl Mm {
    /// munmap(addr, len): the actions that remove the range.
    pub fn sys_munmap(&mut self, addr: u64, len: u64) -> Result<Vec<Action>, Errno> {
        if !is_page_aligned(addr) || addr > USER_END || len > USER_END - addr {
            return Err(EINVAL);
        }
        // At most USER_END - addr, and USER_END is page-aligned: no overflow.
        let len = page_align(len).ok_or(EINVAL)?;
        if len == 0 {
            return Err(EINVAL);
        }
        let end = addr + len;
        let actions = match self.mapped_span(addr, end) {
            Some((start, end)) => alloc::vec![Action::Unmap { start, len: end - start }],
            None => Vec::new(),
        };
        self.remove_range(addr, end);
        self.finish();
        Ok(actions)
    }
}
