//! Address-space calls for memd and privileged tasks: create, remove and re-protect ranges in a task's
//! address space (the mechanism behind brk/mmap, which memd serves — DESIGN §6).

use abi::errno::{EINVAL, ENOSYS, EPERM, ESRCH};
use abi::{cap, prot, vm};

use super::{Args, Result};
use crate::mm::aspace::{AddressSpace, Range, RangeKind};
use crate::mm::pgtable;
use crate::task::{KERNEL, ServerSlot};

/// The memory server's endpoint for a request of the running task: ENOSYS before memd registered,
/// `ended` after it ended, EDEADLK for memd itself (it would wait for itself).
fn memd_endpoint(k: &crate::task::Kernel, ended: i64) -> core::result::Result<crate::ipc::ObjectId, i64> {
    match k.memd {
        None if k.started_memd => Err(ended),
        None => Err(-ENOSYS),
        Some((_, server)) if k.cur().tgid == server => Err(-abi::errno::EDEADLK),
        Some((endpoint, _)) => Ok(endpoint),
    }
}

/// Linux's brk/mmap/munmap/mprotect/mremap go to memd as an IPC call on the caller's behalf (DESIGN §6;
/// `abi::memd` describes the words): the caller blocks until memd has changed its address space and
/// replied with the syscall's result. Before memd registers they fail with ENOSYS; memd itself may not
/// use them (EDEADLK: it would wait for itself).
pub fn forward_to_memd(number: u64, a: Args) -> Result {
    use abi::memd::{OP_BRK, OP_MMAP, OP_MPROTECT, OP_MREMAP, OP_MUNMAP, word0};
    let [a0, a1, a2, a3, a4, a5] = a.0;
    let words = match number {
        abi::nr::BRK => [word0(OP_BRK, 0, 0), a0, 0, 0],
        abi::nr::MMAP => {
            // No files: the offset only has to be page-aligned (it is ignored for anonymous memory).
            if !a5.is_multiple_of(crate::mm::PAGE_SIZE) {
                return Err(-EINVAL);
            }
            [word0(OP_MMAP, a2, a3), a0, a1, a4]
        }
        abi::nr::MUNMAP => [word0(OP_MUNMAP, 0, 0), a0, a1, 0],
        abi::nr::MPROTECT => [word0(OP_MPROTECT, a2, 0), a0, a1, 0],
        _ => [word0(OP_MREMAP, 0, a3), a0, a1, a2],
    };
    if a1 > u64::MAX / 2 && number != abi::nr::BRK && number != abi::nr::MMAP {
        // A length no address space can hold: refuse before bothering memd.
        return Err(-EINVAL);
    }
    let k = KERNEL.lock();
    let endpoint = memd_endpoint(&k, -abi::errno::ENOMEM)?;
    let msg = crate::ipc::Message { words, ..Default::default() };
    match crate::ipc::endpoint::send(k, endpoint, msg, true) {
        Ok(Some(reply)) => Ok(reply.status as u64),
        // memd ended while the call waited: no memory can be had.
        Ok(None) | Err(_) => Err(-abi::errno::ENOMEM),
    }
}

/// memd_text(op, pid, buf, len, offset): asks memd for a /proc/PID text on the caller's behalf and copies
/// what it answered into `buf`.
pub fn memd_text(a: Args) -> Result {
    use abi::memd::{OP_MAPS, OP_SMAPS, OP_STATUS, word0};
    let [op, pid, buf, len, offset, _] = a.0;
    if !matches!(op, OP_MAPS | OP_SMAPS | OP_STATUS) {
        return Err(-EINVAL);
    }
    crate::mm::uaccess::UserSlice::new(buf, len)?;
    let k = KERNEL.lock();
    let endpoint = memd_endpoint(&k, -ENOSYS)?;
    let pid = if pid == 0 { u64::from(k.cur().tgid) } else { pid };
    let serial = u32::try_from(pid)
        .ok()
        .and_then(|p| k.task(p))
        .filter(|t| t.is_alive() && t.tgid == t.pid)
        .map(|t| u64::from(t.serial))
        .ok_or(-abi::errno::ESRCH)?;
    let msg = crate::ipc::Message { words: [word0(op, 0, 0), pid, offset, serial], ..Default::default() };
    let reply = crate::ipc::endpoint::send(k, endpoint, msg, true)?.ok_or(-abi::errno::ENOMEM)?;
    if reply.status < 0 {
        return Err(reply.status);
    }
    let data = reply.bulk.as_deref().unwrap_or(&[]);
    let n = (data.len() as u64).min(len);
    crate::mm::uaccess::UserSlice::new(buf, n)?.write(&data[..n as usize])?;
    Ok(n)
}

/// server_register(kind, endpoint): the caller's process becomes the memory server (memd) or the
/// memory-group service (limitd).
pub fn server_register(a: Args) -> Result {
    let [kind, handle, ..] = a.0;
    let (slot, needs): (ServerSlot, u32) = match kind {
        abi::memd::SERVER_KIND => (|k| &mut k.memd, cap::VM_OTHER),
        abi::limitd::SERVER_KIND => (|k| &mut k.limitd, cap::GROUP),
        _ => return Err(-EINVAL),
    };
    let mut k = KERNEL.lock();
    if k.cur().caps & needs == 0 {
        return Err(-EPERM);
    }
    let object = match k.cur().handle(handle) {
        Some(h) if h.kind == crate::ipc::Kind::Endpoint => h.object,
        _ => return Err(-abi::errno::EBADF),
    };
    if let Some((_, server)) = *slot(&mut k)
        && k.task(server).is_some_and(|t| t.is_alive())
    {
        return Err(-abi::errno::EBUSY);
    }
    let tgid = k.cur().tgid;
    // The kernel holds its own reference: the endpoint outlives a close of the server's handle.
    k.objects.get_ref(object);
    if let Some((old, _)) = slot(&mut k).replace((object, tgid)) {
        for waiter in k.objects.put_ref(old) {
            crate::sched::wake(&mut k, waiter, -abi::errno::EPIPE);
        }
    }
    if kind == abi::memd::SERVER_KIND {
        k.started_memd = true;
        crate::pr_info!(
            "memd: memory server registered (pid {tgid}); brk/mmap/munmap/mprotect/mremap go to it"
        );
    } else {
        crate::pr_info!("limitd: memory-group service registered (pid {tgid}); /sys/fs/cgroup goes to it");
    }
    Ok(0)
}

/// vm_ranges(pid, buf, len): pid's ranges as `abi::RangeInfo`s.
pub fn vm_ranges(a: Args) -> Result {
    let [pid, buf, len, ..] = a.0;
    let (space, _) = target(pid)?;
    let ranges = space.lock().range_info();
    let fit = (len / size_of::<abi::RangeInfo>() as u64).min(ranges.len() as u64);
    for (i, range) in ranges.iter().take(fit as usize).enumerate() {
        crate::mm::uaccess::UserPtr::<abi::RangeInfo>::new(buf + (i * size_of::<abi::RangeInfo>()) as u64)?
            .write(range)?;
    }
    Ok(ranges.len() as u64)
}

/// vm_move(pid, old, len, new).
pub fn vm_move(a: Args) -> Result {
    let [pid, old, len, new, ..] = a.0;
    let len = len.checked_next_multiple_of(crate::mm::PAGE_SIZE).ok_or(-EINVAL)?;
    let (space, loaded) = target(pid)?;
    let flush = space.lock().move_range(old, len, new).map_err(|e| -e.errno())?;
    if loaded {
        pgtable::flush(&flush);
    }
    Ok(new)
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
        || flags & !(vm::FIXED | vm::POPULATE | vm::SHARED | vm::GROWSDOWN | vm::HEAP) != 0
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
        growsdown: flags & vm::GROWSDOWN != 0,
        kind: if flags & vm::HEAP != 0 { RangeKind::Heap } else { RangeKind::Anonymous },
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
