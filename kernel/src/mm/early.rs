//! Access to physical memory through the early direct map (physical [0, 4 GiB) at PAGE_OFFSET).
//!
//! The boot stub maps the first 4 GiB at PAGE_OFFSET with 2 MiB pages; until the final page tables
//! exist this is how the kernel reads the boot information and modules and writes memory memblock hands
//! out. Ranges that leave the mapped window are refused.

use crate::arch::x86_64::boot::{EARLY_MAPPED_BYTES, PAGE_OFFSET};

/// Virtual address of physical `phys` in the early direct map, if mapped.
pub fn phys_to_virt(phys: u64) -> Option<u64> {
    (phys < EARLY_MAPPED_BYTES).then_some(PAGE_OFFSET + phys)
}

/// Whether `[phys, phys + len)` lies inside the early direct map.
pub fn is_mapped(phys: u64, len: usize) -> bool {
    phys.checked_add(len as u64).is_some_and(|end| end <= EARLY_MAPPED_BYTES)
}

/// The bytes at physical `[phys, phys + len)`, read-only, for the boot information and modules.
///
/// The caller must only use this for memory that nothing writes while the slice lives: boot information
/// and modules, which memblock keeps reserved.
pub fn phys_bytes(phys: u64, len: usize) -> Option<&'static [u8]> {
    if !is_mapped(phys, len) {
        return None;
    }
    let virt = phys_to_virt(phys)?;
    // SAFETY: the range lies inside the early direct map (checked above), which is present and readable
    // for the kernel's lifetime; callers only pass boot-loader data that memblock keeps reserved and
    // nothing writes.
    Some(unsafe { core::slice::from_raw_parts(virt as *const u8, len) })
}
