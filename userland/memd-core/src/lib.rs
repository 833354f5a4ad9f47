//! memd's policy: one task's VMA list and Linux's brk/mmap/munmap/mprotect/mremap rules, as kernel actions.
//!
//! memd, the memory server (DESIGN §6), receives every task's memory syscalls as IPC. For each one it asks
//! this crate what the call means for the task's [`Mm`], performs the returned [`Action`]s in order with the
//! native calls `vm_map`/`vm_unmap`/`vm_protect`/`vm_move` (one call per action), and replies with the
//! result. Nothing here touches hardware or the kernel: every rule is tested on the host.
//!
//! Layers (one way): `lib` (types) → `vma` (the sorted list: find, split, remove, merge) → `gap` (room for
//! a new mapping) → `mm` (a task's state at first contact) → `brk`, `mmap`, `munmap`, `mprotect`,
//! `mremap` (the syscalls) → `proc` (the texts).
//!
//! Invariants of an [`Mm`], true after every call (checked in debug builds and by the property tests):
//! its VMAs are sorted, disjoint, non-empty, page-aligned and inside `[USER_MIN, USER_END)`, and no two
//! neighbours are compatible (touching with equal prot, flags and kind): those are merged, as Linux's
//! `vma_merge` does.
//!
//! Decode then invoke (STYLE 8): every `sys_*` checks all its arguments and finds its place before it
//! changes anything, so an `Err` (or a refused brk) leaves the `Mm` as it was. If the kernel then refuses
//! one of the actions (out of memory), memd restores a clone taken before the call.
//!
//! Sources: the man pages mmap(2), munmap(2), mprotect(2), mremap(2), brk(2); where they are vague, Linux's
//! mm/mmap.c (`do_mmap`, `brk`, `__get_unmapped_area`), mm/mremap.c, mm/mprotect.c, arch/x86/mm/mmap.c
//! (`mmap_base`, `arch_randomize_brk`) and fs/proc/task_mmu.c (the texts).
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

extern crate alloc;

mod brk;
mod gap;
mod mm;
mod mmap;
mod mprotect;
mod mremap;
mod munmap;
pub mod proc;
mod vma;

#[cfg(test)]
mod tests;

pub use mm::{Layout, Mm};

/// A positive Linux errno value (`abi::errno`); memd replies with its negation.
pub type Errno = i64;

/// Permission denied: here, a request for a page both writable and executable (W^X, see [`check_prot`]).
pub const EACCES: Errno = 13;

/// Pages are 4 KiB.
pub const PAGE_SIZE: u64 = 4096;

/// Linux's PROT_SEM: accepted by mmap and mprotect and ignored (x86 has no use for it).
pub const PROT_SEM: u64 = 0x8;

/// What a VMA holds; decides its name in `maps` and the kind of range memd asks the kernel for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VmaKind {
    /// The program's segments (named after the program in `maps`).
    Image,
    /// brk memory (`[heap]`).
    Heap,
    /// The initial stack the kernel built (`[stack]`).
    Stack,
    /// mmap memory (no name).
    Anonymous,
}

/// One virtual memory area: `[start, end)`, page-aligned, with one protection and one set of flags.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Vma {
    pub start: u64,
    pub end: u64,
    /// `abi::prot` bits (never WRITE and EXEC together).
    pub prot: u64,
    /// MAP_SHARED: a child of fork shares the pages instead of copying them.
    pub shared: bool,
    /// MAP_GROWSDOWN: the kernel extends it downwards when a fault lands just below it.
    pub growsdown: bool,
    pub kind: VmaKind,
}

/// One kernel call memd makes on the task's behalf, in the order given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// `vm_map(pid, start, len, prot, flags)`: `[start, start + len)` is free; `flags` are `abi::vm` bits,
    /// always with FIXED, plus POPULATE, SHARED, GROWSDOWN and HEAP as the mapping asks.
    Map { start: u64, len: u64, prot: u64, flags: u64 },
    /// `vm_unmap(pid, start, len)`: the range may contain holes (the kernel accepts them).
    Unmap { start: u64, len: u64 },
    /// `vm_protect(pid, start, len, prot)`: every page of the range is mapped.
    Protect { start: u64, len: u64, prot: u64 },
    /// `vm_move(pid, old, len, new)`: `[old, old + len)` is fully mapped, `[new, new + len)` free, and the
    /// two do not overlap.
    Move { old: u64, len: u64, new: u64 },
}

/// `len` rounded up to whole pages, or `None` when that overflows.
pub(crate) fn page_align(len: u64) -> Option<u64> {
    len.checked_next_multiple_of(PAGE_SIZE)
}

/// Whether `addr` is on a page boundary.
pub(crate) fn is_page_aligned(addr: u64) -> bool {
    addr.is_multiple_of(PAGE_SIZE)
}

/// Checks mmap's and mprotect's `prot` and returns the bits a VMA keeps.
///
/// Unknown bits are EINVAL (Linux's mprotect; Linux's mmap silently ignores them, we refuse them there too).
/// PROT_WRITE with PROT_EXEC is EACCES: our kernel enforces W^X on user pages, so where Linux would grant
/// such a mapping we refuse it with the errno Linux uses for a refused PROT_EXEC (deviation from Linux).
pub fn check_prot(prot: u64) -> Result<u64, Errno> {
    use abi::prot::{EXEC, READ, WRITE};
    if prot & !(READ | WRITE | EXEC | PROT_SEM) != 0 {
        return Err(abi::errno::EINVAL);
    }
    let prot = prot & !PROT_SEM;
    if prot & (WRITE | EXEC) == WRITE | EXEC {
        return Err(EACCES);
    }
    Ok(prot)
}

impl Vma {
    /// Length in bytes.
    pub fn len(&self) -> u64 {
        self.end - self.start
    }

    /// Never true for a VMA in an [`Mm`]; here for clippy's `len_without_is_empty`.
    pub fn is_empty(&self) -> bool {
        self.end <= self.start
    }

    /// Whether `self` and `next` would form one VMA if they touched (Linux's `is_mergeable_vma`).
    pub fn compatible(&self, next: &Vma) -> bool {
        self.prot == next.prot
            && self.shared == next.shared
            && self.growsdown == next.growsdown
            && self.kind == next.kind
    }

    /// The `abi::vm` flags of a `vm_map` that extends this VMA or creates one like it.
    pub fn map_flags(&self) -> u64 {
        use abi::vm::{FIXED, GROWSDOWN, HEAP, SHARED};
        FIXED
            | if self.shared { SHARED } else { 0 }
            | if self.growsdown { GROWSDOWN } else { 0 }
            | if self.kind == VmaKind::Heap { HEAP } else { 0 }
    }
}
