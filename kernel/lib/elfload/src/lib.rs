//! ELF program loading, the pure part: check a user executable and say where its segments go
//! ([`plan`]), and lay out the stack `_start` finds ([`build_stack`]). The kernel does the mapping.
//!
//! Specs followed: the ELF-64 Object File Format (version 1.5: file header, program header table,
//! `PT_LOAD` segments) and the System V ABI AMD64 supplement §3.4.1 "Initial Stack and Register State"
//! (argc, argv, envp, auxiliary vector), with the auxiliary vector keys Linux uses.
//!
//! Only static, non-position-independent x86-64 executables (`ET_EXEC`, no `PT_INTERP`) are accepted, as
//! lld links them for `x86_64-unknown-none` with `-C relocation-model=static`: `PT_LOAD` segments from
//! 0x200000 upwards, plus `PT_PHDR`, `PT_GNU_STACK`, `PT_GNU_EH_FRAME`, which are ignored.
//!
//! Invariants of a [`LoadPlan`] returned by [`plan`]:
//! 1. every segment's page range `[page_start, page_end)` lies inside `[user_min, user_end)`;
//! 2. the page ranges of any two segments are disjoint, so each page gets exactly one [`Perms`];
//! 3. no segment is both writable and executable;
//! 4. `file_offset + file_bytes` of every segment is within the file, and `file_bytes <= mem_bytes`;
//! 5. the entry point lies inside `[vaddr, vaddr + mem_bytes)` of an executable segment.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

mod plan;
mod stack;

pub use plan::{ElfError, MAX_PROGRAM_HEADERS, PHENT_SIZE, plan};
pub use stack::{
    AT_CLKTCK, AT_EGID, AT_ENTRY, AT_EUID, AT_EXECFN, AT_GID, AT_HWCAP, AT_NULL, AT_PAGESZ, AT_PHDR,
    AT_PHENT, AT_PHNUM, AT_PLATFORM, AT_RANDOM, AT_SECURE, AT_UID, StackError, StackImage, build_stack,
};

/// The page size segments are mapped with (x86-64 4 KiB pages).
pub const PAGE_SIZE: u64 = 4096;

/// At most this many non-empty `PT_LOAD` segments are accepted.
pub const MAX_SEGMENTS: usize = 16;

/// Access rights of a segment, from its `p_flags` (`PF_R` 4, `PF_W` 2, `PF_X` 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Perms {
    pub read: bool,
    pub write: bool,
    pub exec: bool,
}

/// One `PT_LOAD` segment: `file_bytes` bytes from `file_offset` go to `vaddr`, the rest of
/// `mem_bytes` (the bss) is zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment {
    pub vaddr: u64,
    pub mem_bytes: u64,
    pub file_offset: u64,
    pub file_bytes: u64,
    pub perms: Perms,
}

impl Segment {
    /// The first page the segment touches (`vaddr` rounded down to a page).
    pub fn page_start(&self) -> u64 {
        self.vaddr & !(PAGE_SIZE - 1)
    }

    /// The end of the last page the segment touches, exclusive (`vaddr + mem_bytes` rounded up to a page).
    /// Never overflows for segments from [`plan`]; for others it saturates at the last page boundary.
    pub fn page_end(&self) -> u64 {
        self.vaddr.saturating_add(self.mem_bytes).saturating_add(PAGE_SIZE - 1) & !(PAGE_SIZE - 1)
    }
}

/// Where an executable's segments go, as checked by [`plan`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadPlan {
    /// `e_entry`: where user mode starts (`AT_ENTRY`).
    pub entry: u64,
    /// The non-empty `PT_LOAD` segments, in program header order, page ranges pairwise disjoint.
    pub segments: heapless::Vec<Segment, MAX_SEGMENTS>,
    /// First page after the highest segment (where brk starts).
    pub image_end: u64,
    /// Address of the program headers in memory if some `PT_LOAD` covers them (for `AT_PHDR`), else 0.
    pub phdr_vaddr: u64,
    /// Size of one program header (`AT_PHENT`, always 56).
    pub phent: u64,
    /// Number of program headers (`AT_PHNUM`).
    pub phnum: u64,
}

#[cfg(test)]
mod tests;
