//! Address-space calls for memd and privileged tasks: create, remove and re-protect ranges in a task's
//! address space (the mechanism behind brk/mmap, which memd serves — DESIGN §6).

use abi::errno::{EINVAL, ENOSYS, EPERM, ESRCH};
use abi::{cap, prot, vm};

use super::{Args, Result};
use crate::mm::aspace::{AddressSpace, Range, RangeKind};
use crate::mm::pgtable;
use crate::task::KERNEL;

/// Linux's brk/mmap/munmap/mprotect/mremap are served by memd (issue: userland memory); until it runs
/// they are not implemented.
pub fn posix_memory(_nr: u64) -> Result {
    Err(-ENOSYS)
}

/// The target address space, after the capability checks; `loaded` when it is the running one.
fn target(
    pid: u64,
) -> core::result::Result<(alloc::sync::Arc<crate::sync::SpinLock<AddressSpace>>, bool), i64> {
    let k = KERNEL.lock();
    let me = k.cur();
    if me.caps & cap::VM == 0 {
        return Err(-EPERM);
    }
    let pid = if pid == 0 { me.pid } else { u32::try_from(pid).map_err(|_| -ESRCH)? };
    if pid != me.pid && me.caps & cap::VM_OTHER == 0 {
        return Err(-EPERM);
    }
    let t = k.task(pid).filter(|t| t.is_alive()).ok_or(-ESRCH)?;
    Ok((t.aspace.clone().ok_or(-EINVAL)?, pid == me.pid))
}

/// vm_map(pid, addr, len, prot, flags).
pub fn vm_map(a: Args) -> Result {
    let [pid, addr, len, prot_bits, flags, _] = a.0;
    if prot_bits & !(prot::READ | prot::WRITE | prot::EXEC) != 0
        || flags & !(vm::FIXED | vm::POPULATE | vm::SHARED) != 0
    {
        return Err(-EINVAL);
    }
    if len == 0 || len > abi::layout::USER_END {
        return Err(-EINVAL);
    }
    let len = len.next_multiple_of(crate::mm::PAGE_SIZE);
    let (space, _) = target(pid)?;
    let mut space = space.lock();
    let start = if flags & vm::FIXED != 0 { addr } else { space.find_gap(len).ok_or(-abi::errno::ENOMEM)? };
    let range = Range {
        start,
        end: start.wrapping_add(len),
        prot: prot_bits,
        shared: flags & vm::SHARED != 0,
        kind: RangeKind::Anonymous,
    };
    space.add_range(range).map_err(|e| -e.errno())?;
    if flags & vm::POPULATE != 0 && prot_bits != 0 {
        let mut page = start;
        while page < start + len {
            if space.handle_fault(page, prot_bits & prot::WRITE != 0, false).is_err() {
                let _ = space.remove_range(start, len);
                return Err(-abi::errno::ENOMEM);
            }
            page += crate::mm::PAGE_SIZE;
        }
    }
    Ok(start)
}

/// vm_unmap(pid, addr, len).
pub fn vm_unmap(a: Args) -> Result {
    let [pid, addr, len, ..] = a.0;
    let len = len.checked_next_multiple_of(crate::mm::PAGE_SIZE).ok_or(-EINVAL)?;
    let (space, loaded) = target(pid)?;
    let flush = space.lock().remove_range(addr, len).map_err(|e| -e.errno())?;
    if loaded {
        pgtable::flush(&flush);
    }
    Ok(0)
}

/// vm_protect(pid, addr, len, prot).
pub fn vm_protect(a: Args) -> Result {
    let [pid, addr, len, prot_bits, ..] = a.0;
    let len = len.checked_next_multiple_of(crate::mm::PAGE_SIZE).ok_or(-EINVAL)?;
    let (space, loaded) = target(pid)?;
    let flush = space.lock().protect_range(addr, len, prot_bits).map_err(|e| -e.errno())?;
    if loaded {
        pgtable::flush(&flush);
    }
    Ok(0)
}
