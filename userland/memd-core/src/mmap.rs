//! mmap(2) for anonymous memory (Linux's `ksys_mmap_pgoff`, `do_mmap` and `__get_unmapped_area`).
//!
//! Errors, in the order Linux finds them:
//! - offset not page-aligned: EINVAL (x86's `sys_mmap`);
//! - no MAP_ANONYMOUS and fd < 0: EBADF;
//! - len 0: EINVAL;
//! - prot: unknown bits EINVAL, WRITE with EXEC EACCES ([`crate::check_prot`]);
//! - len rounded up to pages overflows, or exceeds user space: ENOMEM;
//! - the type bits (0x0f) not exactly MAP_SHARED or MAP_PRIVATE: EINVAL;
//! - no MAP_ANONYMOUS (a valid-looking fd): ENODEV — there are no mappable files here;
//! - MAP_ANONYMOUS with a non-zero offset: EINVAL (Linux ignores it; the protocol has no offset);
//! - MAP_SHARED with MAP_GROWSDOWN: EINVAL;
//! - MAP_FIXED (or MAP_FIXED_NOREPLACE, which implies it): end above `USER_END` ENOMEM, addr not
//!   page-aligned EINVAL, addr in the null trap EPERM (Linux's mmap_min_addr check), and for NOREPLACE
//!   anything mapped in the range EEXIST;
//! - no room anywhere: ENOMEM.
//!
//! Without MAP_FIXED the address is a hint: page-aligned down, used if the range is free (see `gap`).
//! MAP_FIXED replaces what was there: an Unmap of the mapped part, then the Map. Other flags (MAP_NORESERVE,
//! MAP_STACK, and bits Linux ignores for MAP_PRIVATE/MAP_SHARED) are accepted with no effect.

use alloc::vec::Vec;

use abi::errno::{EBADF, EEXIST, EINVAL, ENODEV, ENOMEM, EPERM};
use abi::layout::{USER_END, USER_MIN};
use abi::mman::{
    MAP_ANONYMOUS, MAP_FIXED, MAP_FIXED_NOREPLACE, MAP_GROWSDOWN, MAP_POPULATE, MAP_PRIVATE, MAP_SHARED,
};

use crate::gap::round_hint;
use crate::{Action, Errno, Mm, Vma, VmaKind, check_prot, is_page_aligned, page_align};

/// The bits that say what kind of mapping it is: exactly MAP_SHARED or MAP_PRIVATE for anonymous memory
/// (MAP_SHARED_VALIDATE, both bits, is for files only).
const MAP_TYPE: u64 = 0x0f;

/// A decoded mmap call.
#[derive(Clone, Copy, Debug)]
struct MmapRequest {
    addr: u64,
    /// Page-aligned, at most the size of user space.
    len: u64,
    prot: u64,
    fixed: bool,
    noreplace: bool,
    shared: bool,
    growsdown: bool,
    populate: bool,
}

/// Checks every argument of mmap (no side effects).
fn decode(addr: u64, len: u64, prot: u64, flags: u64, fd: i64, offset: u64) -> Result<MmapRequest, Errno> {
    let anonymous = flags & MAP_ANONYMOUS != 0;
    if !is_page_aligned(offset) {
        return Err(EINVAL);
    }
    if !anonymous && fd < 0 {
        return Err(EBADF);
    }
    if len == 0 {
        return Err(EINVAL);
    }
    let prot = check_prot(prot)?;
    let len = page_align(len).filter(|&len| len <= USER_END - USER_MIN).ok_or(ENOMEM)?;
    let shared = match flags & MAP_TYPE {
        MAP_SHARED => true,
        MAP_PRIVATE => false,
        _ => return Err(EINVAL),
    };
    if !anonymous {
        return Err(ENODEV);
    }
    if offset != 0 {
        return Err(EINVAL);
    }
    let growsdown = flags & MAP_GROWSDOWN != 0;
    if shared && growsdown {
        return Err(EINVAL);
    }
    let noreplace = flags & MAP_FIXED_NOREPLACE != 0;
    Ok(MmapRequest {
        addr,
        len,
        prot,
        fixed: noreplace || flags & MAP_FIXED != 0,
        noreplace,
        shared,
        growsdown,
        populate: flags & MAP_POPULATE != 0,
    })
}

impl Mm {
    /// Where the mapping goes (no side effects).
    fn place(&self, request: &MmapRequest) -> Result<u64, Errno> {
        let MmapRequest { addr, len, .. } = *request;
        if !request.fixed {
            return self.unmapped_area(round_hint(addr), len).ok_or(ENOMEM);
        }
        if addr > USER_END - len {
            return Err(ENOMEM);
        }
        if !is_page_aligned(addr) {
            return Err(EINVAL);
        }
        if addr < USER_MIN {
            return Err(EPERM);
        }
        if request.noreplace && self.overlaps(addr, addr + len) {
            return Err(EEXIST);
        }
        Ok(addr)
    }

    /// mmap(addr, len, prot, flags, fd, offset): the mapping's address and the actions that create it.
    pub fn sys_mmap(
        &mut self,
        addr: u64,
        len: u64,
        prot: u64,
        flags: u64,
        fd: i64,
        offset: u64,
    ) -> Result<(u64, Vec<Action>), Errno> {
        let request = decode(addr, len, prot, flags, fd, offset)?;
        let start = self.place(&request)?;
        let end = start + request.len;

        let mut actions = Vec::new();
        if let Some((mapped_start, mapped_end)) = self.mapped_span(start, end) {
            debug_assert!(request.fixed && !request.noreplace, "placed over a mapping");
            actions.push(Action::Unmap { start: mapped_start, len: mapped_end - mapped_start });
            self.remove_range(start, end);
        }
        let vma = Vma {
            start,
            end,
            prot: request.prot,
            shared: request.shared,
            growsdown: request.growsdown,
            kind: VmaKind::Anonymous,
        };
        self.insert(vma);
        let populate = if request.populate { abi::vm::POPULATE } else { 0 };
        actions.push(Action::Map {
            start,
            len: request.len,
            prot: vma.prot,
            flags: vma.map_flags() | populate,
        });
        self.finish();
        Ok((start, actions))
    }
}
