//! Access to physical memory through the direct map at PAGE_OFFSET (see `layout::page_offset`).
//!
//! The kernel's early tables map physical [0, 4 GiB); [`extend_direct_map`] adds every RAM range above
//! 4 GiB (in 2 MiB pages) once memblock knows the RAM. Translations of anything else are refused, so a stray
//! physical address (from a boot loader, say) never becomes a wild pointer.

use super::layout::page_offset;
use crate::arch::x86_64::boot::EARLY_MAPPED_BYTES;
use crate::arch::x86_64::paging;
use crate::sync::OnceLock;
use crate::{pr_info, pr_warn};

/// Most RAM ranges above 4 GiB that can be mapped.
const MAX_HIGH_RANGES: usize = 64;

/// RAM ranges above 4 GiB that are mapped, sorted; set once by [`extend_direct_map`].
static HIGH_RANGES: OnceLock<heapless::Vec<(u64, u64), MAX_HIGH_RANGES>> = OnceLock::new();

/// Whether `[phys, phys + len)` lies inside the direct map.
pub fn is_mapped(phys: u64, len: usize) -> bool {
    let Some(end) = phys.checked_add(len as u64) else { return false };
    if end <= EARLY_MAPPED_BYTES {
        return true;
    }
    HIGH_RANGES.get().is_some_and(|ranges| ranges.iter().any(|&(s, e)| s <= phys && end <= e))
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

/// Maps the RAM `ranges` (sorted `[start, end)` pairs) above 4 GiB into the direct map, with page-table
/// pages from `alloc_table` (zeroed pages below 4 GiB). Returns the highest mapped address.
pub fn extend_direct_map(
    ranges: &[(u64, u64)],
    nx: bool,
    alloc_table: &mut dyn FnMut() -> Option<u64>,
) -> u64 {
    let high: heapless::Vec<(u64, u64), MAX_HIGH_RANGES> = ranges
        .iter()
        .filter(|&&(_, end)| end > EARLY_MAPPED_BYTES)
        .map(|&(start, end)| {
            ((start.max(EARLY_MAPPED_BYTES)) & !((2 << 20) - 1), end.next_multiple_of(2 << 20))
        })
        .take(MAX_HIGH_RANGES)
        .collect();
    if ranges.iter().filter(|r| r.1 > EARLY_MAPPED_BYTES).count() > MAX_HIGH_RANGES {
        pr_warn!("direct map: more than {MAX_HIGH_RANGES} RAM ranges above 4G; the rest stays unmapped");
    }
    match paging::extend_direct_map(&high, nx, alloc_table) {
        Some(tables) => {
            let end = high.last().map_or(EARLY_MAPPED_BYTES, |r| r.1);
            let mapped = high.len();
            if HIGH_RANGES.set(high).is_err() {
                pr_warn!("direct map: extended twice; keeping the first set of ranges");
            }
            if mapped > 0 {
                pr_info!("direct map: RAM above 4G mapped with 2M pages ({tables} page-table pages)");
            }
            end
        }
        None => {
            pr_warn!("direct map: out of memory for page tables; RAM above 4G stays unused");
            EARLY_MAPPED_BYTES
        }
    }
}
