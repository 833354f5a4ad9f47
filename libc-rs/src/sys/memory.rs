//! The memory syscalls with Linux's numbers and semantics: brk, mmap, munmap, mprotect, mremap. On Pagoda
//! the kernel forwards each to the memory server memd (DESIGN §6), which places and records the ranges.
//!
//! All but `brk` are `unsafe`: they can unmap, replace or re-protect memory live objects use.

use crate::errno::Errno;
use crate::syscall::{syscall1, syscall2, syscall3, syscall5, syscall6};
use abi::nr;

/// The raw `brk(addr)` syscall: the new break on success, the unchanged break on failure (Linux); `addr` 0
/// asks for the current break. Use [`crate::mman::sbrk`] for the checked form.
pub fn brk(addr: usize) -> usize {
    // SAFETY: moving the break adds or removes heap pages above the break only; shrinking it is the
    // business of the caller that owns that memory (sbrk and malloc, which only shrink what they own).
    unsafe { syscall1(nr::BRK, addr as u64) as usize }
}

/// `mmap(addr, len, prot, flags, fd, offset)`: the mapping's address.
///
/// # Safety
/// With `MAP_FIXED`, `[addr, addr + len)` must hold no live object (its old contents are replaced).
pub unsafe fn mmap(
    addr: usize,
    len: usize,
    prot: i32,
    flags: i32,
    fd: i32,
    offset: i64,
) -> Result<usize, Errno> {
    // SAFETY: the caller keeps the contract above; without MAP_FIXED nothing existing changes.
    Errno::result(unsafe {
        syscall6(
            nr::MMAP,
            addr as u64,
            len as u64,
            prot as u64,
            flags as u32 as u64,
            fd as i64 as u64,
            offset as u64,
        )
    })
    .map(|address| address as usize)
}

/// `munmap(addr, len)`.
///
/// # Safety
/// No live object may lie in `[addr, addr + len)`.
pub unsafe fn munmap(addr: usize, len: usize) -> Result<(), Errno> {
    // SAFETY: the caller keeps the contract above.
    Errno::result(unsafe { syscall2(nr::MUNMAP, addr as u64, len as u64) }).map(drop)
}

/// `mprotect(addr, len, prot)`.
///
/// # Safety
/// The new protection must not break code that still uses the range.
pub unsafe fn mprotect(addr: usize, len: usize, prot: i32) -> Result<(), Errno> {
    // SAFETY: the caller keeps the contract above.
    Errno::result(unsafe { syscall3(nr::MPROTECT, addr as u64, len as u64, prot as u64) }).map(drop)
}

/// `mremap(old, old_len, new_len, flags, new_addr)`: the mapping's (possibly new) address.
///
/// # Safety
/// `[old, old + old_len)` is a mapping the caller owns; after a move only the returned address is valid.
pub unsafe fn mremap(
    old: usize,
    old_len: usize,
    new_len: usize,
    flags: i32,
    new_addr: usize,
) -> Result<usize, Errno> {
    // SAFETY: the caller keeps the contract above.
    Errno::result(unsafe {
        syscall5(nr::MREMAP, old as u64, old_len as u64, new_len as u64, flags as u64, new_addr as u64)
    })
    .map(|address| address as usize)
}
