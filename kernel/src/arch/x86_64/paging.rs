//! Early page-table editing: giving the direct map its own tables and extending it over RAM above 4 GiB.
//!
//! The boot stub maps physical [0, 4 GiB) with 2 MiB pages and shares one PDPT between the identity map
//! (PML4 slot 0) and the direct map at PAGE_OFFSET (slot 256). Before the page allocator can hand out RAM
//! above 4 GiB, the direct map gets a PDPT of its own and 2 MiB mappings (present, writable, global,
//! execute-disable) for every 2 MiB chunk that holds RAM, in 4-level paging (Intel SDM vol. 3A §5.5,
//! tables 5-15 to 5-20). [`map_4k`] maps single pages elsewhere in the kernel half (the vmemmap of page
//! descriptors). The final kernel page tables of a later issue replace all of this.

use x86::bits64::paging::{PDFlags, PDPTFlags, PML4Flags, PTFlags};

use super::boot::PAGE_OFFSET;

/// Physical address bits of a table entry (bits 12–51).
const ADDRESS_MASK: u64 = 0x000f_ffff_ffff_f000;
const ENTRIES: usize = 512;
/// PML4 slot of PAGE_OFFSET.
const DIRECT_MAP_PML4_SLOT: usize = 256;
const TWO_MIB: u64 = 2 << 20;

/// A page-table page seen through the direct map (tables always live below 4 GiB here).
fn table(phys: u64) -> *mut [u64; ENTRIES] {
    (PAGE_OFFSET + phys) as *mut [u64; ENTRIES]
}

fn current_pml4() -> u64 {
    // SAFETY: reading CR3 has no side effects.
    unsafe { x86::controlregs::cr3() & ADDRESS_MASK }
}

/// Returns the table the entry at `slot` points to, allocating and linking a zeroed one if the entry is
/// empty. `alloc_table` returns the physical address of a zeroed, mapped 4 KiB page.
///
/// # Safety
/// `parent` must be a live page-table page of the current hierarchy, mapped through the direct map, and
/// the kernel must run single-threaded with interrupts off while tables change.
unsafe fn next_level(
    parent: u64,
    slot: usize,
    flags: u64,
    alloc_table: &mut dyn FnMut() -> Option<u64>,
) -> Option<u64> {
    // SAFETY: guaranteed by the caller: `parent` is a mapped page-table page.
    let entries = unsafe { &mut *table(parent) };
    if entries[slot] & PDFlags::PS.bits() != 0 {
        return None; // a large page, not a table: nothing to descend into
    }
    if entries[slot] & 1 == 0 {
        let child = alloc_table()?;
        entries[slot] = child | flags;
    }
    Some(entries[slot] & ADDRESS_MASK)
}

/// Gives the direct map its own PDPT (copying the boot mappings of the first 4 GiB) and maps every 2 MiB
/// chunk of `ranges` above 4 GiB. Returns the number of table pages used, or `None` if `alloc_table` ran
/// out (the mappings made so far stay valid).
pub fn extend_direct_map(
    ranges: &[(u64, u64)],
    nx: bool,
    alloc_table: &mut dyn FnMut() -> Option<u64>,
) -> Option<u64> {
    let mut used = 0u64;
    let mut counting_alloc = || {
        let page = alloc_table();
        used += u64::from(page.is_some());
        page
    };
    let pml4 = current_pml4();
    let table_flags = (PML4Flags::P | PML4Flags::RW).bits();
    // SAFETY: `pml4` is the live top-level table (CR3), reachable through the direct map; the boot CPU
    // runs alone with interrupts off.
    let pml4_entries = unsafe { &mut *table(pml4) };
    let shared_pdpt = pml4_entries[DIRECT_MAP_PML4_SLOT] & ADDRESS_MASK;
    let own_pdpt = counting_alloc()?;
    // SAFETY: both are page-table pages mapped through the direct map; the new one is not yet linked.
    unsafe { *table(own_pdpt) = *table(shared_pdpt) };
    pml4_entries[DIRECT_MAP_PML4_SLOT] = own_pdpt | table_flags;

    let mut leaf_flags = (PDFlags::P | PDFlags::RW | PDFlags::PS | PDFlags::G).bits();
    if nx {
        leaf_flags |= PDFlags::XD.bits();
    }
    let mut result = Some(());
    'ranges: for &(start, end) in ranges {
        let mut addr = start.max(4 << 30) & !(TWO_MIB - 1);
        while addr < end {
            let pml4_slot = DIRECT_MAP_PML4_SLOT + (addr >> 39) as usize;
            // SAFETY: every table reached here is part of the live hierarchy or freshly allocated and
            // zeroed; single-threaded, interrupts off.
            let pd = unsafe {
                next_level(pml4, pml4_slot, table_flags, &mut counting_alloc).and_then(|pdpt| {
                    next_level(
                        pdpt,
                        ((addr >> 30) & 511) as usize,
                        (PDPTFlags::P | PDPTFlags::RW).bits(),
                        &mut counting_alloc,
                    )
                })
            };
            let Some(pd) = pd else {
                result = None;
                break 'ranges;
            };
            // SAFETY: `pd` is a mapped page-directory page of the live hierarchy.
            unsafe { (*table(pd))[((addr >> 21) & 511) as usize] = addr | leaf_flags };
            addr += TWO_MIB;
        }
    }
    // SAFETY: reloading CR3 with the current PML4 flushes the old shared-PDPT translations.
    unsafe { x86::controlregs::cr3_write(pml4) };
    result.map(|()| used)
}

/// Maps the 4 KiB page at kernel virtual `virt` to `phys` (present, writable, global, and execute-disable
/// when `nx`), creating intermediate tables with `alloc_table`. Returns `None` when a table could not be
/// allocated. No TLB flush is needed: the entry was not present before.
pub fn map_4k(virt: u64, phys: u64, nx: bool, alloc_table: &mut dyn FnMut() -> Option<u64>) -> Option<()> {
    let index = |shift: u32| ((virt >> shift) & 511) as usize;
    let flags = (PML4Flags::P | PML4Flags::RW).bits();
    let mut leaf = (PTFlags::P | PTFlags::RW | PTFlags::G).bits();
    if nx {
        leaf |= PTFlags::XD.bits();
    }
    // SAFETY: the walk starts at the live PML4 and only follows or creates page-table pages, all mapped
    // through the direct map; the boot CPU runs alone with interrupts off.
    unsafe {
        let pdpt = next_level(current_pml4(), index(39), flags, alloc_table)?;
        let pd = next_level(pdpt, index(30), flags, alloc_table)?;
        let pt = next_level(pd, index(21), flags, alloc_table)?;
        (*table(pt))[index(12)] = (phys & ADDRESS_MASK) | leaf;
    }
    Some(())
}
