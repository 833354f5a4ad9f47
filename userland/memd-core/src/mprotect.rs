//! mprotect(2) (Linux's `do_mprotect_pkey`).
//!
//! - addr not page-aligned: EINVAL;
//! - len 0: nothing to do, success (before the other checks, as Linux);
//! - the range rounded up to pages overflows: ENOMEM;
//! - prot: unknown bits EINVAL, WRITE with EXEC EACCES ([`crate::check_prot`]);
//! - any page of the range unmapped: ENOMEM, and nothing changes (Linux changes the VMAs before the
//!   first hole and then fails; we check first, so the call is all or nothing).
//!
//! VMAs that stick out are split; neighbours that end up alike are merged. Actions: one Protect of the
//! whole range.

use alloc::vec::Vec;

use abi::errno::{EINVAL, ENOMEM};

use crate::{Action, Errno, Mm, check_prot, is_page_aligned, page_align};

impl Mm {
    /// mprotect(addr, len, prot): the actions that change the protection.
    pub fn sys_mprotect(&mut self, addr: u64, len: u64, prot: u64) -> Result<Vec<Action>, Errno> {
        if !is_page_aligned(addr) {
            return Err(EINVAL);
        }
        if len == 0 {
            return Ok(Vec::new());
        }
        let len = page_align(len).ok_or(ENOMEM)?;
        let end = addr.checked_add(len).ok_or(ENOMEM)?;
        let prot = check_prot(prot)?;
        if !self.covered(addr, end) {
            return Err(ENOMEM);
        }
        self.set_prot(addr, end, prot);
        self.finish();
        Ok(alloc::vec![Action::Protect { start: addr, len, prot }])
    }
}
