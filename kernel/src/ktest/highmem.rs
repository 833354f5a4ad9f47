//! In-kernel test of high memory (`highmem=`): the direct map stops at high memory, high pages are
//! reached through kmap_atomic and kmap, pkmap slots run out and come back through the lazy flush, and
//! vmalloc uses high pages.

use mm_core::gfp::Gfp;

use super::{MemCheckpoint, translate, unmapped};
use crate::mm::highmem::{self, FIX_KMAP_BEGIN, fix_to_virt, kmap, kmap_atomic, kunmap};
use crate::mm::layout::{page_offset, regions};
use crate::mm::page_alloc::{alloc_pages_raw, free_pages_raw};
use crate::mm::{PAGE_SIZE, vmalloc};
use crate::pr_info;

/// Fills a page with a pattern derived from `seed`, through a temporary mapping.
fn fill(pfn: u64, seed: u8) {
    let mut map = kmap_atomic(pfn);
    // SAFETY: the test owns the page.
    for (i, b) in unsafe { map.as_mut_slice() }.iter_mut().enumerate() {
        *b = seed.wrapping_add(i as u8);
    }
}

/// Whether the page at `virt` holds the pattern of `seed`.
fn holds(virt: u64, seed: u8) -> bool {
    // SAFETY: `virt` maps a page the test owns, for at least the duration of this call.
    let bytes = unsafe { core::slice::from_raw_parts(virt as *const u8, PAGE_SIZE as usize) };
    bytes.iter().enumerate().all(|(i, &b)| b == seed.wrapping_add(i as u8))
}

fn alloc_high() -> Result<u64, &'static str> {
    let pfn = alloc_pages_raw(Gfp::GFP_HIGHUSER | Gfp::__GFP_NOWARN, 0).ok_or("no high page")?;
    if !highmem::is_highmem(pfn) {
        free_pages_raw(pfn, 0);
        return Err("a __GFP_HIGHMEM allocation did not come from ZONE_HIGHMEM");
    }
    Ok(pfn)
}

/// `test=highmem` (boot with `highmem=SIZE`).
pub fn highmem() -> Result<(), &'static str> {
    let start = highmem::highmem_start_pfn().ok_or("boot with highmem=SIZE for this test")?;
    let before = MemCheckpoint::take();

    // The direct map ends where high memory begins.
    let edge = page_offset() + start * PAGE_SIZE;
    if unmapped(edge - 1) || !unmapped(edge) {
        return Err("the direct map does not end at the start of high memory");
    }
    pr_info!("test=highmem: direct map ends at {edge:#x} (pfn {start:#x}); the next byte faults");

    let low = alloc_pages_raw(Gfp::GFP_KERNEL, 0).ok_or("no low page")?;
    if highmem::is_highmem(low) {
        return Err("a GFP_KERNEL allocation came from high memory");
    }
    let (a, b) = (alloc_high()?, alloc_high()?);

    // kmap_atomic: nested slots, released in reverse order, unmapped afterwards.
    fill(a, 0x11);
    {
        let first = kmap_atomic(a);
        let second = kmap_atomic(b);
        if first.addr() != fix_to_virt(FIX_KMAP_BEGIN) || second.addr() != fix_to_virt(FIX_KMAP_BEGIN + 1) {
            return Err("kmap_atomic did not use the first two fixmap slots of CPU 0");
        }
        if !holds(first.addr(), 0x11) {
            return Err("kmap_atomic does not show what was written through an earlier mapping");
        }
        pr_info!(
            "test=highmem: kmap_atomic pfn {a:#x} at {:#x}, nested pfn {b:#x} at {:#x} (fixmap)",
            first.addr(),
            second.addr()
        );
    }
    if !unmapped(fix_to_virt(FIX_KMAP_BEGIN)) || !unmapped(fix_to_virt(FIX_KMAP_BEGIN + 1)) {
        return Err("a kmap_atomic slot is still mapped after its release");
    }
    let low_map = kmap_atomic(low);
    if low_map.addr() != page_offset() + low * PAGE_SIZE {
        return Err("kmap_atomic of a low page is not its direct-map address");
    }
    drop(low_map);

    // copy_highpage between two high pages, checked through a persistent kmap.
    // SAFETY: the test owns both pages.
    unsafe { highmem::copy_highpage(b, a) };
    let addr = kmap(b).ok_or("kmap failed")?;
    if !(regions::PKMAP_BASE..regions::PKMAP_BASE + regions::LAST_PKMAP * PAGE_SIZE).contains(&addr) {
        return Err("kmap of a high page is outside the pkmap window");
    }
    if !holds(addr, 0x11) {
        return Err("copy_highpage did not copy");
    }
    if kmap(b) != Some(addr) || highmem::page_address(b) != Some(addr) {
        return Err("a second kmap of the same page got another slot");
    }
    kunmap(b);
    kunmap(b);
    if highmem::page_address(b).is_some() {
        return Err("page_address still finds a page after its last kunmap");
    }
    pr_info!(
        "test=highmem: copy_highpage {a:#x} -> {b:#x}; kmap of {b:#x} at {addr:#x}, shared by a second kmap"
    );

    // __GFP_ZERO clears high pages through kmap_atomic.
    fill(a, 0x5a);
    free_pages_raw(a, 0);
    let z = alloc_pages_raw(Gfp::GFP_HIGHUSER | Gfp::__GFP_ZERO, 0).ok_or("no zeroed high page")?;
    let zeroed = {
        let map = kmap_atomic(z);
        // SAFETY: the test owns the page.
        let bytes = unsafe { core::slice::from_raw_parts(map.addr() as *const u8, PAGE_SIZE as usize) };
        bytes.iter().all(|&x| x == 0)
    };
    if !zeroed {
        return Err("a __GFP_ZERO high page is not zeroed");
    }
    pr_info!(
        "test=highmem: __GFP_ZERO high page {z:#x} is zeroed{}",
        if z == a { " (the page just filled with 0x5a)" } else { "" }
    );

    // Every pkmap slot in use: the next kmap fails; after kunmap the lazy flush frees them again.
    let slots = regions::LAST_PKMAP as usize;
    let mut pages = alloc::vec::Vec::new();
    pages.try_reserve_exact(slots + 1).map_err(|_| "no memory for the page list")?;
    for _ in 0..=slots {
        pages.push(alloc_high()?);
    }
    let (_, _, flushes_before) = highmem::pkmap_stats();
    for (i, &pfn) in pages[..slots].iter().enumerate() {
        let addr = kmap(pfn).ok_or("kmap failed before the slots ran out")?;
        // SAFETY: the test owns the page, mapped at `addr` until its kunmap.
        unsafe { (addr as *mut u64).write_volatile(i as u64) };
    }
    let (used, _, _) = highmem::pkmap_stats();
    if used != slots {
        return Err("not every pkmap slot is in use");
    }
    if kmap(pages[slots]).is_some() {
        return Err("kmap succeeded with every slot in use");
    }
    for (i, &pfn) in pages[..slots].iter().enumerate() {
        let addr = highmem::page_address(pfn).ok_or("a kmapped page has no address")?;
        // SAFETY: as above.
        if unsafe { (addr as *const u64).read_volatile() } != i as u64 {
            return Err("a kmapped page lost its contents");
        }
        kunmap(pfn);
    }
    let (used, lazy, _) = highmem::pkmap_stats();
    let again = kmap(pages[slots]).ok_or("kmap failed after every slot was released")?;
    let (_, lazy_after, flushes) = highmem::pkmap_stats();
    pr_info!(
        "test=highmem: {slots} kmaps fill the pkmap; the next one fails; after kunmap {used} in use, {lazy} awaiting the lazy flush; kmap again at {again:#x} after {} flush(es), {lazy_after} still lazy",
        flushes - flushes_before
    );
    if used != 0 || flushes <= flushes_before || lazy_after >= lazy {
        return Err("the lazy pkmap flush did not reclaim the released slots");
    }
    kunmap(pages[slots]);
    // A kunmap of a page that is not kmapped is reported and ignored.
    kunmap(pages[0]);
    for pfn in pages {
        free_pages_raw(pfn, 0);
    }

    // vmalloc takes high pages: they need no direct-map address.
    let area = vmalloc::vmalloc(64 * 1024).ok_or("vmalloc failed")?;
    let high_pages = (0..16u64)
        .filter_map(|i| translate(area.as_ptr() as u64 + i * PAGE_SIZE))
        .filter(|&(phys, _)| highmem::is_highmem(phys / PAGE_SIZE))
        .count();
    vmalloc::vfree(area);
    pr_info!("test=highmem: vmalloc(64K) got {high_pages} of its 16 pages from high memory");
    if high_pages != 16 {
        return Err("vmalloc did not use high memory");
    }

    free_pages_raw(b, 0);
    free_pages_raw(z, 0);
    free_pages_raw(low, 0);
    let after = MemCheckpoint::take();
    let missing = after.missing_since(&before);
    pr_info!(
        "test=highmem: {} free pages (before: {}), {missing} pages unaccounted for",
        after.free,
        before.free
    );
    if missing != 0 {
        return Err("free pages did not return to the baseline");
    }
    Ok(())
}
