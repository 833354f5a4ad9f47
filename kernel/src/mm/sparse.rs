//! The sparse memory model with a virtual memory map (Linux's SPARSEMEM_VMEMMAP, seed 000 §14, seed 002).
//!
//! Physical memory is cut into sections of 2^SECTION_SIZE_BITS bytes (128 MiB). Only sections that
//! contain RAM get page descriptors: 32768 descriptors of 32 bytes, 1 MiB per section, allocated from
//! memblock on the section's own node and mapped at `VMEMMAP_BASE + section × 1 MiB`. All descriptors
//! thus sit in one virtual array indexed by page frame number, so `pfn_to_page` and `page_to_pfn` are
//! one addition or subtraction each. Frames of absent sections have no descriptor; [`pfn_valid`] says
//! which do.

use core::sync::atomic::{AtomicU64, Ordering};

use mm_core::page::{PAGE_SHIFT, Page, PageMap};

use super::layout::vmemmap_base;
use super::{PAGE_SIZE, early, memblock};
use crate::arch::x86_64::paging;
use crate::pr_info;

/// log2 of a section's size in bytes (Linux x86-64's value).
pub const SECTION_SIZE_BITS: u32 = 27;
pub const PFN_SECTION_SHIFT: u32 = SECTION_SIZE_BITS - PAGE_SHIFT;
pub const PAGES_PER_SECTION: u64 = 1 << PFN_SECTION_SHIFT;
/// Bytes of descriptors per section.
pub const MEMMAP_BYTES_PER_SECTION: u64 = PAGES_PER_SECTION * size_of::<Page>() as u64;
/// Sections the presence bitmap can describe: 2^17 × 128 MiB = 16 TiB, the reach of 32-bit frame links.
pub const MAX_SECTIONS: usize = 1 << 17;

static SECTION_PRESENT: [AtomicU64; MAX_SECTIONS / 64] = [const { AtomicU64::new(0) }; MAX_SECTIONS / 64];

pub fn pfn_to_section_nr(pfn: u64) -> u64 {
    pfn >> PFN_SECTION_SHIFT
}

/// Whether `pfn` has a page descriptor.
pub fn pfn_valid(pfn: u64) -> bool {
    let nr = pfn_to_section_nr(pfn) as usize;
    nr < MAX_SECTIONS && SECTION_PRESENT[nr / 64].load(Ordering::Relaxed) & (1 << (nr % 64)) != 0
}

/// The descriptor of `pfn` (which must be valid).
pub fn pfn_to_page(pfn: u64) -> &'static Page {
    debug_assert!(pfn_valid(pfn));
    // SAFETY: descriptors of present sections are mapped and initialized by `sparse_init` and live
    // forever; shared access to a descriptor is what its owner rules allow (see mm_core::page).
    unsafe { &*((vmemmap_base() as *const Page).add(pfn as usize)) }
}

/// The frame number of a descriptor.
pub fn page_to_pfn(page: &Page) -> u64 {
    (page as *const Page as u64 - vmemmap_base()) / size_of::<Page>() as u64
}

/// The kernel's [`PageMap`]: every descriptor through the vmemmap.
///
/// Callers hold the lock of the zone whose frames they touch (or own the frames), which is what makes
/// the `&mut` handed out exclusive.
pub struct Vmemmap;

impl PageMap for Vmemmap {
    fn page(&self, pfn: u64) -> &Page {
        pfn_to_page(pfn)
    }

    fn page_mut(&mut self, pfn: u64) -> &mut Page {
        debug_assert!(pfn_valid(pfn));
        // SAFETY: as `pfn_to_page`; exclusivity comes from the zone lock or page ownership the caller
        // holds (see the type's documentation).
        unsafe { &mut *((vmemmap_base() as *mut Page).add(pfn as usize)) }
    }

    fn present(&self, pfn: u64) -> bool {
        pfn_valid(pfn)
    }
}

/// What `sparse_init` built, for the boot report.
#[derive(Clone, Copy, Debug, Default)]
pub struct SparseReport {
    pub sections: u64,
    pub memmap_bytes: u64,
    pub table_pages: u64,
}

/// Allocates and maps the descriptors of every section holding RAM, and fills them with
/// `init(pfn)`: reserved pages with their node and zone. `node_range(nid)` gives the physical range a
/// section's descriptors should come from.
pub fn sparse_init(
    ram: &[(u64, u64)],
    nx: bool,
    node_of: impl Fn(u64) -> usize,
    node_range: impl Fn(usize) -> (u64, u64),
    init: impl Fn(u64) -> Page,
) -> Result<SparseReport, &'static str> {
    let mut report = SparseReport::default();
    let mut alloc_table = || -> Option<u64> {
        memblock::memblock_phys_alloc(PAGE_SIZE, PAGE_SIZE).ok().inspect(|&phys| {
            report.table_pages += 1;
            if let Some(virt) = early::phys_to_virt(phys) {
                // SAFETY: memblock just reserved this page for us; it is RAM in the direct map.
                unsafe { core::ptr::write_bytes(virt as *mut u8, 0, PAGE_SIZE as usize) };
            }
        })
    };
    let mut last_section = None;
    for &(start, end) in ram {
        let first = pfn_to_section_nr(start >> PAGE_SHIFT);
        let last = pfn_to_section_nr((end - 1) >> PAGE_SHIFT);
        for nr in first..=last {
            if last_section == Some(nr) || nr as usize >= MAX_SECTIONS {
                continue;
            }
            last_section = Some(nr);
            let section_pfn = nr << PFN_SECTION_SHIFT;
            let (node_start, node_end) = node_range(node_of(section_pfn.max(start >> PAGE_SHIFT)));
            let memmap = memblock::memblock_phys_alloc_range(
                MEMMAP_BYTES_PER_SECTION,
                PAGE_SIZE,
                node_start,
                node_end,
            )
            .or_else(|_| memblock::memblock_phys_alloc(MEMMAP_BYTES_PER_SECTION, PAGE_SIZE))
            .map_err(|_| "no memory for page descriptors")?;
            let virt_base = vmemmap_base() + section_pfn * size_of::<Page>() as u64;
            for offset in (0..MEMMAP_BYTES_PER_SECTION).step_by(PAGE_SIZE as usize) {
                paging::map_4k(virt_base + offset, memmap + offset, nx, &mut alloc_table)
                    .ok_or("no memory for vmemmap page tables")?;
            }
            let descriptors = virt_base as *mut Page;
            for i in 0..PAGES_PER_SECTION {
                // SAFETY: the section's descriptor array was just mapped (1 MiB of fresh RAM) and nothing
                // else refers to it yet.
                unsafe { descriptors.add(i as usize).write(init(section_pfn + i)) };
            }
            SECTION_PRESENT[nr as usize / 64].fetch_or(1 << (nr % 64), Ordering::Relaxed);
            report.sections += 1;
            report.memmap_bytes += MEMMAP_BYTES_PER_SECTION;
        }
    }
    pr_info!("sparse: SECTION_SIZE_BITS {}, {} present sections", SECTION_SIZE_BITS, report.sections);
    Ok(report)
}
