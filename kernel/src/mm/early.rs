//! Access to physical memory through the direct map at PAGE_OFFSET (see `layout::page_offset`).
//!
//! The kernel's early tables map physical [0, 4 GiB); once memblock knows the RAM, the final direct map
//! (`pgtable::init_mem_mapping`) covers exactly the RAM ranges. Translations of anything else are refused, so a stray
//! physical address (from a boot loader, say) never becomes a wild pointer.

use super::layout::page_offset;
use crate::arch::x86_64::boot::EARLY_MAPPED_BYTES;
use crate::sync::OnceLock;

/// Most RAM ranges the direct map records.
const MAX_RANGES: usize = mm_core::memblock::MEMBLOCK_REGIONS;

/// The RAM ranges of the final direct map, sorted; set once by [`set_direct_map`]. Until then the boot
/// tables' first 4 GiB are mapped.
static DIRECT_RANGES: OnceLock<heapless::Vec<(u64, u64), MAX_RANGES>> = OnceLock::new();

/// Records what the final direct map covers (`pgtable::init_mem_mapping`).
pub fn set_direct_map(ranges: &[(u64, u64)]) {
    let _ = DIRECT_RANGES.set(ranges.iter().copied().take(MAX_RANGES).collect());
}

/// Whether `[phys, phys + len)` lies inside the direct map.
pub fn is_mapped(phys: u64, len: usize) -> bool {
    let Some(end) = phys.checked_add(len as u64) else { return false };
    match DIRECT_RANGES.get() {
        Some(ranges) => ranges.iter().any(|&(s, e)| s <= phys && end <= e),
        None => end <= EARLY_MAPPED_BYTES,
    }
}

/// Virtual address of physical `phys` in the direct map, if mapped.
pub fn phys_to_virt(phys: u64) -> Option<u64> {
    is_mapped(phys, 1).then_some(page_offset() + phys)
}

/// Physical address of a direct-map virtual address.
pub fn virt_to_phys(virt: u64) -> u64 {
    virt - page_offset()
}

/// Physical address of `virt` if it lies in the direct map of RAM.
pub fn virt_to_phys_checked(virt: u64) -> Option<u64> {
    let phys = virt.checked_sub(page_offset())?;
    is_mapped(phys, 1).then_some(phys)
}

/// Direct-map address of a page frame that holds RAM (page-allocator memory: no check).
#[inline]
pub fn pfn_to_virt(pfn: u64) -> u64 {
    page_offset() + (pfn << 12)
}

/// The bytes at physical `[phys, phys + len)`, read-only, for the boot information and modules.
///
/// The caller must only use this for memory that nothing writes while the slice lives: boot information
/// and modules, which memblock keeps reserved.
pub fn phys_bytes(phys: u64, len: usize) -> Option<&'static [u8]> {
    if !is_mapped(phys, len) {
        return None;
    }
    let virt = page_offset() + phys;
    // SAFETY: the range lies inside the direct map (checked above), which is present and readable for
    // the kernel's lifetime; callers only pass boot-loader data that memblock keeps reserved and nothing
    // writes.
    Some(unsafe { core::slice::from_raw_parts(virt as *const u8, len) })
}
