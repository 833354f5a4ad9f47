//! The kernel's page tables (seed 000 §12–§16): `mm_core::pgtable` reached through the direct map, with
//! table pages from memblock during boot and from the buddy allocator afterwards, all counted.
//!
//! `init_mem_mapping` builds the final direct map — every RAM range and nothing else, in the largest pages
//! the alignment allows (1 GiB when the CPU has them, else 2 MiB, 4 KiB at the edges) — and swaps it in
//! for the boot-time 4 GiB blanket. After the page allocator is up, `kernel_pgtable()` gives the one
//! `PageTable` every later kernel mapping (vmalloc, fixmap, kmap) goes through, under its lock, and
//! [`flush`] applies the TLB work each change reports.

use core::sync::atomic::{AtomicU64, Ordering};

use mm_core::gfp::Gfp;
use mm_core::page::{PageMap, PageOwner};
use mm_core::pgtable::{EmptyTables, PageSize, PageTable, PhysMemory, PteFlags, TlbFlush};

use super::layout::page_offset;
use super::sparse::Vmemmap;
use super::{PAGE_SIZE, memblock, page_alloc};
use crate::arch::x86_64::tlb;
use crate::sync::{OnceLock, SpinLock};
use crate::{pr_info, pr_warn};

/// Page-table pages the kernel half uses (boot pool, memblock and buddy pages).
pub static KERNEL_PGTABLE_PAGES: AtomicU64 = AtomicU64::new(0);
/// Direct-map pages per size (4K, 2M, 1G), for meminfo's `DirectMap*` lines.
pub static DIRECT_MAP_PAGES: [AtomicU64; 3] = [const { AtomicU64::new(0) }; 3];

static NX: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(true);

/// Kernel protections, without NX on a CPU that has none (the bit would be reserved there).
pub fn kernel_flags(flags: PteFlags) -> PteFlags {
    if NX.load(Ordering::Relaxed) { flags } else { flags.difference(PteFlags::NO_EXECUTE) }
}

/// Where table pages come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TableSource {
    Memblock,
    Buddy,
}

/// Table pages through the direct map.
pub struct KernelPtMem {
    source: TableSource,
}

impl KernelPtMem {
    pub const fn new(source: TableSource) -> Self {
        KernelPtMem { source }
    }
}

impl PhysMemory for KernelPtMem {
    fn read_entry(&self, table: u64, index: usize) -> u64 {
        // SAFETY: page-table pages are RAM in the direct map; entries are aligned u64s.
        unsafe { ((page_offset() + table) as *const u64).add(index).read_volatile() }
    }

    fn write_entry(&mut self, table: u64, index: usize, value: u64) {
        // SAFETY: as `read_entry`; the caller holds the page-table lock.
        unsafe { ((page_offset() + table) as *mut u64).add(index).write_volatile(value) }
    }

    fn alloc_table(&mut self) -> Option<u64> {
        let phys = match self.source {
            TableSource::Memblock => {
                let bytes = memblock::memblock_alloc(PAGE_SIZE, PAGE_SIZE).ok()?;
                bytes.as_ptr() as u64 - page_offset()
            }
            TableSource::Buddy => {
                let pfn = page_alloc::alloc_pages_raw(Gfp::GFP_KERNEL | Gfp::__GFP_ZERO, 0)?;
                Vmemmap.page_mut(pfn).owner = PageOwner::PageTable as u8;
                pfn * PAGE_SIZE
            }
        };
        KERNEL_PGTABLE_PAGES.fetch_add(1, Ordering::Relaxed);
        Some(phys)
    }

    fn free_table(&mut self, table: u64) {
        KERNEL_PGTABLE_PAGES.fetch_sub(1, Ordering::Relaxed);
        match self.source {
            TableSource::Memblock => {
                let _ = memblock::memblock_phys_free(table, PAGE_SIZE);
            }
            TableSource::Buddy => {
                Vmemmap.page_mut(table / PAGE_SIZE).owner = PageOwner::KernelAlloc as u8;
                page_alloc::free_pages_raw(table / PAGE_SIZE, 0);
            }
        }
    }
}

/// Applies the TLB work a page-table change reported.
pub fn flush(work: &TlbFlush) {
    if work.is_empty() {
        return;
    }
    if work.is_full() {
        if work.global() { tlb::flush_all_global() } else { tlb::flush_all() }
    } else {
        for &page in work.pages() {
            tlb::flush_page(page);
        }
    }
}

fn current_root() -> u64 {
    // SAFETY: reading CR3 has no side effects.
    unsafe { x86::controlregs::cr3() & 0x000f_ffff_ffff_f000 }
}

/// Builds the final direct map of `ram` (sorted physical ranges) and swaps it in. Returns the highest
/// mapped address, or an error when memblock ran out of table pages (the boot map then stays).
pub fn init_mem_mapping(ram: &[(u64, u64)], nx: bool, gbpages: bool) -> Result<u64, &'static str> {
    NX.store(nx, Ordering::Relaxed);
    let start_tsc = crate::arch::x86_64::cpu::rdtsc();
    let mut mem = KernelPtMem::new(TableSource::Memblock);
    let boot_tables = PageTable::from_root(&mem, current_root()).nr_tables();
    KERNEL_PGTABLE_PAGES.store(boot_tables, Ordering::Relaxed);
    let mut scratch = PageTable::new(&mut mem).map_err(|_| "no memory for the direct map's tables")?;
    let max_size = if gbpages { PageSize::Size1G } else { PageSize::Size2M };
    let base = page_offset();
    let mut counts = [0u64; 3];
    for &(start, end) in ram {
        let report = scratch
            .map_range(&mut mem, base + start, start, end - start, kernel_flags(PteFlags::KERNEL), max_size)
            .map_err(|_| "cannot map RAM into the direct map")?;
        for (c, n) in counts.iter_mut().zip(report.nr_pages) {
            *c += n;
        }
    }
    let end = ram.last().map_or(0, |r| r.1);
    let first_slot = ((base >> 39) & 511) as usize;
    let last_slot = (((base + end.max(1) - 1) >> 39) & 511) as usize;
    let live = current_root();
    for slot in first_slot..=last_slot {
        let entry = mem.read_entry(scratch.root(), slot);
        mem.write_entry(live, slot, entry);
    }
    tlb::flush_all_global();
    // The scratch PML4 is no longer needed; its subtrees are live now.
    mem.free_table(scratch.root());
    let tables = PageTable::from_root(&mem, live).nr_tables();
    KERNEL_PGTABLE_PAGES.store(tables, Ordering::Relaxed);
    for (slot, n) in DIRECT_MAP_PAGES.iter().zip(counts) {
        slot.store(n, Ordering::Relaxed);
    }
    let cycles = crate::arch::x86_64::cpu::rdtsc() - start_tsc;
    let micros = crate::arch::x86_64::tsc::tsc_khz().map_or(0, |khz| cycles * 1000 / khz);
    pr_info!(
        "direct map: {} MiB of RAM in {} x 1G + {} x 2M + {} x 4K pages, {} kernel page-table pages, built in {} us",
        ram.iter().map(|r| r.1 - r.0).sum::<u64>() >> 20,
        counts[2],
        counts[1],
        counts[0],
        tables,
        micros
    );
    if !gbpages {
        pr_info!("direct map: no 1G pages (CPUID pdpe1gb clear), 2M is the largest");
    }
    Ok(end)
}

/// Creates, from memblock, the last-level tables of the `N` 2 MiB chunks from `start` in the live kernel
/// tables and returns their physical addresses: windows whose PTEs are later written directly, without
/// allocating or taking the page-table lock (the fixmap and pkmap, as Linux's `permanent_kmaps_init`).
pub fn populate_pte_tables<const N: usize>(start: u64) -> Result<[u64; N], &'static str> {
    let mut mem = KernelPtMem::new(TableSource::Memblock);
    let mut table = PageTable::from_root(&mem, current_root());
    let mut tables = [0; N];
    for (i, slot) in tables.iter_mut().enumerate() {
        let chunk = start + i as u64 * (2 << 20);
        if let Some(pt) = table.pte_table(&mem, chunk) {
            *slot = pt;
            continue;
        }
        // Mapping one page creates the path; unmapping it with `Keep` leaves the tables in place.
        table
            .map(&mut mem, chunk, 0, PageSize::Size4K, kernel_flags(PteFlags::KERNEL_RO))
            .map_err(|_| "no memory for a fixed window's page tables")?;
        let report = table
            .unmap_range(&mut mem, chunk, PAGE_SIZE, EmptyTables::Keep)
            .map_err(|_| "cannot clear a fixed window's page")?;
        flush(&report.flush);
        *slot = table.pte_table(&mem, chunk).ok_or("a fixed window's page table is missing")?;
    }
    Ok(tables)
}

static KERNEL_PT: OnceLock<SpinLock<PageTable>> = OnceLock::new();

/// Adopts the live tables as the kernel page table; later table pages come from the buddy allocator.
pub fn init_kernel_pgtable() {
    let table = PageTable::from_root(&KernelPtMem::new(TableSource::Buddy), current_root());
    if KERNEL_PT.set(SpinLock::new(table)).is_err() {
        pr_warn!("pgtable: kernel page table adopted twice");
    }
}

/// Runs `f` on the kernel page table (under its lock) with the buddy-backed table memory.
pub fn with_kernel_pgtable<R>(f: impl FnOnce(&mut PageTable, &mut KernelPtMem) -> R) -> Option<R> {
    let lock = KERNEL_PT.get()?;
    let mut table = lock.lock();
    Some(f(&mut table, &mut KernelPtMem::new(TableSource::Buddy)))
}

/// Linux's "x86/mm: Checked W+X mappings" over the whole kernel half and the (empty) user half; returns
/// the number of W+X 4 KiB pages.
pub fn check_wx() -> u64 {
    let mem = KernelPtMem::new(TableSource::Buddy);
    let table = PageTable::from_root(&mem, current_root());
    let report = table.check_wx(&mem, ..);
    match report.first {
        None => pr_info!("x86/mm: Checked W+X mappings: passed, no W+X pages found."),
        Some(first) => pr_warn!(
            "x86/mm: Checked W+X mappings: FAILED, {} W+X pages found (first at {first:#x}).",
            report.nr_pages
        ),
    }
    report.nr_pages
}
