//! Early page-table editing: the kernel's own tables, built at boot before any allocator exists.
//!
//! The boot stub's tables map physical [0, 4 GiB) at 0 (identity), at the fixed boot PAGE_OFFSET and the
//! first GiB at −2 GiB, all writable and executable. [`switch_to_kernel_tables`] replaces them, from a
//! small pool of page-table pages in .bss, with: the first 4 GiB at the (randomized) direct-map base in
//! 2 MiB pages, present + writable + global + execute-disable; and the kernel image at −2 GiB in 4 KiB
//! pages with STRICT_KERNEL_RWX permissions (text read-execute, rodata read-only, data and bss
//! read-write, both execute-disable). No identity map survives, so a NULL dereference faults.
//!
//! [`map_4k`] maps single pages elsewhere before the page allocator exists (vmemmap, the ACPI window);
//! the final direct map is built with `mm_core::pgtable` (`mm/pgtable.rs`). Entry formats: 4-level paging, Intel SDM vol. 3A §5.5, tables 5-15 to 5-20.

use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicUsize, Ordering};

use x86::bits64::paging::{PDFlags, PML4Flags, PTFlags};

use super::boot::KERNEL_VMA;
use crate::mm::layout;

/// Physical address bits of a table entry (bits 12–51).
const ADDRESS_MASK: u64 = 0x000f_ffff_ffff_f000;
const ENTRIES: usize = 512;
const TWO_MIB: u64 = 2 << 20;
const EARLY_MAP_BYTES: u64 = 4 << 30;

/// Page-table pages for the switch, in .bss (zeroed by the boot loader).
const POOL_PAGES: usize = 16;

#[repr(C, align(4096))]
struct TablePage(UnsafeCell<[u64; ENTRIES]>);

// SAFETY: pool pages are handed out once each by `pool_alloc` (an atomic counter) and then only edited by
// the boot CPU while it builds tables.
unsafe impl Sync for TablePage {}

static POOL: [TablePage; POOL_PAGES] = [const { TablePage(UnsafeCell::new([0; ENTRIES])) }; POOL_PAGES];
static POOL_USED: AtomicUsize = AtomicUsize::new(0);

fn pool_alloc() -> Option<u64> {
    let i = POOL_USED.fetch_add(1, Ordering::Relaxed);
    POOL.get(i).map(|page| page.0.get() as u64 - KERNEL_VMA)
}

/// A page-table page seen through the direct map (tables always live in the first 4 GiB here).
fn table(phys: u64) -> *mut [u64; ENTRIES] {
    (layout::page_offset() + phys) as *mut [u64; ENTRIES]
}

fn current_pml4() -> u64 {
    // SAFETY: reading CR3 has no side effects.
    unsafe { x86::controlregs::cr3() & ADDRESS_MASK }
}

/// Returns the table the entry at `slot` points to, allocating and linking a zeroed one if the entry is
/// empty. `alloc_table` returns the physical address of a zeroed, mapped 4 KiB page.
///
/// # Safety
/// `parent` must be a page-table page reachable through the direct map, and the boot CPU must run alone
/// with interrupts off while tables change.
unsafe fn next_level(parent: u64, slot: usize, alloc_table: &mut dyn FnMut() -> Option<u64>) -> Option<u64> {
    // SAFETY: guaranteed by the caller: `parent` is a mapped page-table page.
    let entries = unsafe { &mut *table(parent) };
    if entries[slot] & PDFlags::PS.bits() != 0 {
        return None; // a large page, not a table: nothing to descend into
    }
    if entries[slot] & 1 == 0 {
        let child = alloc_table()?;
        entries[slot] = child | (PML4Flags::P | PML4Flags::RW).bits();
    }
    Some(entries[slot] & ADDRESS_MASK)
}

fn index(virt: u64, shift: u32) -> usize {
    ((virt >> shift) & 511) as usize
}

/// Permissions of a kernel mapping.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Protection {
    pub writable: bool,
    pub executable: bool,
}

impl Protection {
    pub const RX: Protection = Protection { writable: false, executable: true };
    pub const R: Protection = Protection { writable: false, executable: false };
    pub const RW: Protection = Protection { writable: true, executable: false };
}

fn leaf_flags(prot: Protection, nx: bool) -> u64 {
    let mut flags = (PTFlags::P | PTFlags::G).bits();
    if prot.writable {
        flags |= PTFlags::RW.bits();
    }
    if !prot.executable && nx {
        flags |= PTFlags::XD.bits();
    }
    flags
}

/// Maps the 4 KiB page at `virt` to `phys` under `root`. `None` when a table could not be allocated or
/// a large page is in the way.
fn map_4k_in(
    root: u64,
    virt: u64,
    phys: u64,
    flags: u64,
    alloc_table: &mut dyn FnMut() -> Option<u64>,
) -> Option<()> {
    // SAFETY: the walk starts at a page-table root and only follows or creates page-table pages, all
    // reachable through the direct map; the boot CPU runs alone with interrupts off.
    unsafe {
        let pdpt = next_level(root, index(virt, 39), alloc_table)?;
        let pd = next_level(pdpt, index(virt, 30), alloc_table)?;
        let pt = next_level(pd, index(virt, 21), alloc_table)?;
        (*table(pt))[index(virt, 12)] = (phys & ADDRESS_MASK) | flags;
    }
    Some(())
}

/// Maps a 2 MiB page at `virt` to `phys` under `root`.
fn map_2m_in(
    root: u64,
    virt: u64,
    phys: u64,
    flags: u64,
    alloc_table: &mut dyn FnMut() -> Option<u64>,
) -> Option<()> {
    // SAFETY: as `map_4k_in`.
    unsafe {
        let pdpt = next_level(root, index(virt, 39), alloc_table)?;
        let pd = next_level(pdpt, index(virt, 30), alloc_table)?;
        (*table(pd))[index(virt, 21)] = (phys & ADDRESS_MASK) | flags | PDFlags::PS.bits();
    }
    Some(())
}

/// Builds the kernel's tables (see the module documentation) with the direct map at `direct_base`, loads
/// them, and publishes the new PAGE_OFFSET. `sections` are the kernel image's `(start, end, protection)`
/// virtual ranges, page aligned.
pub fn switch_to_kernel_tables(
    direct_base: u64,
    nx: bool,
    sections: &[(u64, u64, Protection)],
) -> Result<(), &'static str> {
    let mut alloc = pool_alloc;
    let root = pool_alloc().ok_or("no page-table page for the PML4")?;
    let direct_flags = leaf_flags(Protection::RW, nx);
    for phys in (0..EARLY_MAP_BYTES).step_by(TWO_MIB as usize) {
        map_2m_in(root, direct_base + phys, phys, direct_flags, &mut alloc)
            .ok_or("page-table pool exhausted")?;
    }
    for &(start, end, prot) in sections {
        let flags = leaf_flags(prot, nx);
        for virt in (start..end).step_by(4096) {
            map_4k_in(root, virt, virt - KERNEL_VMA, flags, &mut alloc).ok_or("page-table pool exhausted")?;
        }
    }
    // SAFETY: the new hierarchy maps everything the kernel touches from here on: its image (code, stacks,
    // statics) at the same addresses as before, and physical memory below 4 GiB at `direct_base`, which is
    // published before anything uses the direct map again. Reloading CR3 flushes the old translations.
    unsafe { x86::controlregs::cr3_write(root) };
    layout::set_page_offset(direct_base);
    Ok(())
}

/// Page-table pages the switch used from its pool.
pub fn pool_pages_used() -> usize {
    POOL_USED.load(Ordering::Relaxed).min(POOL_PAGES)
}

/// Maps the 4 KiB page at kernel virtual `virt` to `phys` (present, writable, global, and execute-disable
/// when `nx`), creating intermediate tables with `alloc_table`. No TLB flush is needed: the entry was not
/// present before.
pub fn map_4k(virt: u64, phys: u64, nx: bool, alloc_table: &mut dyn FnMut() -> Option<u64>) -> Option<()> {
    map_4k_in(current_pml4(), virt, phys, leaf_flags(Protection::RW, nx), alloc_table)
}
