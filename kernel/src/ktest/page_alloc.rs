//! In-kernel tests of the page allocator: exhausting it order by order, page poisoning, GFP zone and
//! watermark rules, bad frees, and NUMA nodes.

use core::sync::atomic::Ordering;

use mm_core::gfp::Gfp;
use mm_core::list::PageList;
use mm_core::page::{MAX_ORDER, flags};
use mm_core::zone::{DMA_END, DMA32_END, ZoneType};

use crate::mm::mmzone::{self, ZoneRef};
use crate::mm::page_alloc::{self, BAD_PAGES, alloc_pages_raw, drain_all_pages, free_pages_raw};
use crate::mm::sparse::{Vmemmap, page_to_pfn, pfn_to_page};
use crate::mm::vmstat::Snapshot;
use crate::mm::{PAGE_SIZE, early, numa, poison};
use crate::pr_info;

/// The blocks a test holds, threaded through their head pages' descriptors (an owner may use the list
/// links of its pages, as Linux's `page->lru`), so that holding them never touches their memory.
struct BlockList {
    list: PageList,
    pages: u64,
}

impl BlockList {
    fn new() -> Self {
        BlockList { list: PageList::new(), pages: 0 }
    }

    /// Allocates with `gfp` and `order` until the allocator says no; returns the pages taken.
    fn fill(&mut self, gfp: Gfp, order: usize) -> u64 {
        let before = self.pages;
        while let Some(pfn) = alloc_pages_raw(gfp | Gfp::__GFP_NOWARN, order) {
            self.list.push_front(&mut Vmemmap, pfn);
            self.pages += 1 << order;
        }
        self.pages - before
    }

    fn blocks(&self) -> u64 {
        self.list.len()
    }

    fn free_all(&mut self) {
        while let Some(pfn) = self.list.pop_front(&mut Vmemmap) {
            free_pages_raw(pfn, usize::from(pfn_to_page(pfn).order));
        }
        self.pages = 0;
    }
}

fn total_free() -> u64 {
    mmzone::all_zones().map(|(_, z)| z.nr_free.load(Ordering::Relaxed)).sum()
}

/// Gives empty slabs back and drains the per-CPU lists, so every free page is in the buddy lists.
fn settle() {
    for cache in crate::mm::slab::caches() {
        cache.shrink();
    }
    drain_all_pages();
}

/// `test=buddy`: allocate every page, largest order first, until the allocator is empty; free it all;
/// `/proc/buddyinfo` must equal its boot snapshot.
pub fn buddy_exhaust() -> Result<(), &'static str> {
    settle();
    let boot = Snapshot::buddy_counts_now();
    let boot_free = total_free();
    let mut list = BlockList::new();
    let gfp = Gfp::GFP_KERNEL | Gfp::__GFP_MEMALLOC;
    for order in (0..MAX_ORDER).rev() {
        let pages = list.fill(gfp, order);
        pr_info!("test=buddy: order {order:2}: {pages} pages in {} blocks", pages >> order);
    }
    drain_all_pages();
    let left = total_free();
    pr_info!(
        "test=buddy: allocated {} pages in {} blocks; {left} pages left free (boot: {boot_free})",
        list.pages,
        list.blocks()
    );
    if left != 0 {
        return Err("free pages remain after allocating until failure");
    }
    if list.pages != boot_free {
        return Err("the pages handed out differ from the free pages at boot");
    }
    list.free_all();
    drain_all_pages();
    if total_free() != boot_free {
        return Err("free pages did not return to the boot count");
    }
    if Snapshot::buddy_counts_now() != boot {
        return Err("buddyinfo differs from the boot snapshot after freeing everything");
    }
    pr_info!("test=buddy: buddyinfo equals the boot snapshot");
    Ok(())
}

/// `test=poison` (with `page_poison=1`): a write to a freed page is reported when the page is allocated
/// again; a clean free/allocate cycle is not.
pub fn poison() -> Result<(), &'static str> {
    if !poison::page_poison() {
        return Err("boot with page_poison=1");
    }
    let before = poison::CORRUPTIONS.load(Ordering::Relaxed);
    let mut clean = page_alloc::alloc_page(Gfp::GFP_KERNEL).ok_or("allocation failed")?;
    clean.as_mut_slice().fill(0x11);
    drop(clean);
    drop(page_alloc::alloc_page(Gfp::GFP_KERNEL).ok_or("allocation failed")?);
    if poison::CORRUPTIONS.load(Ordering::Relaxed) != before {
        return Err("a clean free/allocate cycle was reported as corrupted");
    }
    let (pfn, order) = page_alloc::alloc_page(Gfp::GFP_KERNEL).ok_or("allocation failed")?.into_raw();
    // SAFETY: (pfn, order) came from `into_raw` just above and nothing else owns the page.
    page_alloc::free_pages(unsafe { page_alloc::Pages::from_raw(pfn, order) });
    let virt = early::phys_to_virt(pfn * PAGE_SIZE).ok_or("page not mapped")? as *mut u8;
    // SAFETY: the page is free but still RAM in the direct map; the test deliberately reads it and then
    // writes three bytes into it — the use-after-free that poisoning must catch.
    let poisoned = unsafe {
        core::slice::from_raw_parts(virt, PAGE_SIZE as usize).iter().all(|&b| b == poison::PAGE_POISON)
    };
    if !poisoned {
        return Err("a freed page is not filled with the poison byte");
    }
    pr_info!("test=poison: writing 3 bytes at offset 0x123 of freed pfn {pfn:#x}");
    // SAFETY: see above.
    unsafe { core::ptr::copy_nonoverlapping(b"ABC".as_ptr(), virt.add(0x123), 3) };
    // The per-CPU list hands the same page out again first.
    let again = page_alloc::alloc_page(Gfp::GFP_KERNEL).ok_or("allocation failed")?;
    if again.pfn() != pfn {
        return Err("the freed page was not handed out again");
    }
    drop(again);
    match poison::CORRUPTIONS.load(Ordering::Relaxed) - before {
        1 => Ok(()),
        0 => Err("the use-after-free was not reported"),
        _ => Err("more than one corruption was reported"),
    }
}

/// `test=gfp`: zone selection, zeroing, alignment, bad frees, and the watermark rules for normal, atomic
/// and `__GFP_MEMALLOC` allocations.
pub fn gfp() -> Result<(), &'static str> {
    let zone_of = |pfn: u64| ZoneType::from_index(usize::from(pfn_to_page(pfn).zone));
    let dma = page_alloc::alloc_page(Gfp::GFP_DMA).ok_or("GFP_DMA allocation failed")?;
    if dma.phys_addr() >= DMA_END || zone_of(dma.pfn()) != ZoneType::Dma {
        return Err("GFP_DMA memory is not in ZONE_DMA");
    }
    let dma32 =
        page_alloc::alloc_page(Gfp::GFP_KERNEL | Gfp::GFP_DMA32).ok_or("GFP_DMA32 allocation failed")?;
    if dma32.phys_addr() >= DMA32_END || zone_of(dma32.pfn()) > ZoneType::Dma32 {
        return Err("GFP_DMA32 memory is above 4G");
    }
    let normal = page_alloc::alloc_page(Gfp::GFP_HIGHUSER_MOVABLE).ok_or("allocation failed")?;
    let best = mmzone::node_data(mmzone::current_node()).zonelist.get().and_then(|l| l.first().copied());
    if Some(zone_of(normal.pfn())) != best.map(|z| z.zone) {
        return Err("GFP_HIGHUSER_MOVABLE did not come from the highest populated zone");
    }
    if pfn_to_page(normal.pfn()).owner() != mm_core::page::PageOwner::User {
        return Err("user memory is not marked as owned by user space");
    }
    pr_info!(
        "test=gfp: DMA pfn {:#x}, DMA32 pfn {:#x}, HIGHUSER_MOVABLE pfn {:#x} in {}",
        dma.pfn(),
        dma32.pfn(),
        normal.pfn(),
        zone_of(normal.pfn()).name()
    );
    drop((dma, dma32, normal));

    let mut dirty = page_alloc::alloc_page(Gfp::GFP_KERNEL).ok_or("allocation failed")?;
    dirty.as_mut_slice().fill(0x5a);
    drop(dirty);
    let mut zeroed = page_alloc::get_zeroed_page(Gfp::GFP_KERNEL).ok_or("allocation failed")?;
    if zeroed.as_mut_slice().iter().any(|&b| b != 0) {
        return Err("get_zeroed_page returned a page that is not zero");
    }
    drop(zeroed);

    let block = page_alloc::alloc_pages(Gfp::GFP_KERNEL, 3).ok_or("order-3 allocation failed")?;
    let head = pfn_to_page(block.pfn());
    if !block.pfn().is_multiple_of(8) || !head.has(flags::PG_HEAD) || head.order != 3 || block.order() != 3 {
        return Err("an order-3 block is misaligned or its head is not marked");
    }
    if (0..8).any(|i| page_to_pfn(pfn_to_page(block.pfn() + i)) != block.pfn() + i) {
        return Err("page_to_pfn(pfn_to_page(pfn)) is not pfn");
    }
    drop(block);

    let bad_before = BAD_PAGES.load(Ordering::Relaxed);
    let (pfn, _) = page_alloc::alloc_page(Gfp::GFP_KERNEL).ok_or("allocation failed")?.into_raw();
    free_pages_raw(pfn, 0);
    pr_info!("test=gfp: freeing pfn {pfn:#x} a second time and freeing reserved page 0");
    free_pages_raw(pfn, 0);
    free_pages_raw(0, 0);
    if BAD_PAGES.load(Ordering::Relaxed) - bad_before != 2 {
        return Err("a double free or a reserved-page free was not reported");
    }
    watermarks()
}

/// Exhausts memory with normal, then atomic, then memalloc requests; each class stops at its floor.
fn watermarks() -> Result<(), &'static str> {
    drain_all_pages();
    let start_free = total_free();
    let zonelist = mmzone::node_data(mmzone::current_node()).zonelist.get().ok_or("no zonelist")?;
    // Free pages of each zone and the floor a request class may not go below.
    let below = |share: fn(u64) -> u64| {
        zonelist.iter().all(|&zref: &ZoneRef| {
            let zone = mmzone::zone(zref);
            let free = zone.free.lock();
            let floor = share(free.watermarks.min) + free.lowmem_reserve[ZoneType::Normal as usize];
            free.buddy.nr_free_pages() <= floor
        })
    };
    let mut list = BlockList::new();
    let normal = list.fill(Gfp::GFP_KERNEL, 0);
    drain_all_pages();
    if !below(|min| min) {
        return Err("GFP_KERNEL stopped while a zone was still above its min watermark");
    }
    let atomic = list.fill(Gfp::GFP_ATOMIC, 0);
    drain_all_pages();
    if atomic == 0 || !below(|min| min - min / 2 - (min - min / 2) / 4) {
        return Err("GFP_ATOMIC did not use the reserve below min, or went past its own floor");
    }
    let memalloc = list.fill(Gfp::GFP_KERNEL | Gfp::__GFP_MEMALLOC, 0);
    drain_all_pages();
    if memalloc == 0 || total_free() != 0 {
        return Err("__GFP_MEMALLOC did not take the last pages");
    }
    pr_info!(
        "test=gfp: GFP_KERNEL took {normal} pages, GFP_ATOMIC {atomic} more below min, __GFP_MEMALLOC the last {memalloc}"
    );
    list.free_all();
    drain_all_pages();
    if total_free() != start_free {
        return Err("free pages did not return to their count before the test");
    }
    Ok(())
}

/// `test=numa` (QEMU with two `-numa` nodes): two nodes with zones, descriptors carrying their node,
/// local allocation, and zonelists that fall back to the other node.
pub fn numa() -> Result<(), &'static str> {
    let nodes = numa::nr_nodes();
    if nodes < 2 {
        return Err("expected at least two NUMA nodes (boot QEMU with -numa)");
    }
    let snapshot = Snapshot::take();
    for nid in 0..nodes {
        let node = mmzone::node_data(nid);
        if !node.is_online() || snapshot.populated_zones(nid) == 0 {
            return Err("a node is offline or has no populated zone");
        }
        let &(start, end) = node.span.get().ok_or("a node has no span")?;
        if pfn_to_page(start).node as usize != nid || pfn_to_page(end - 1).node as usize != nid {
            return Err("page descriptors do not carry their node");
        }
        pr_info!(
            "test=numa: node {nid}: pfn {start:#x}-{:#x}, {} populated zones",
            end - 1,
            snapshot.populated_zones(nid)
        );
    }
    let zonelist = mmzone::node_data(0).zonelist.get().ok_or("no zonelist")?;
    let first_remote =
        zonelist.iter().position(|z| z.node != 0).ok_or("node 0's zonelist has no fallback node")?;
    if zonelist[..first_remote].iter().any(|z| z.node != 0)
        || zonelist[first_remote..].iter().any(|z| z.node == 0)
    {
        return Err("node 0's zonelist does not put its own zones first");
    }
    let page = page_alloc::alloc_page(Gfp::GFP_KERNEL).ok_or("allocation failed")?;
    if usize::from(pfn_to_page(page.pfn()).node) != mmzone::current_node() {
        return Err("a normal allocation did not come from the local node");
    }
    Ok(())
}
