//! The page allocator's entry points: `alloc_pages(gfp, order)` and friends, returning owning handles
//! (Linux's `mm/page_alloc.c`, seed 000 §22–§24, §29, §31).
//!
//! An allocation walks the zonelist of the local node, from the highest zone its GFP flags allow down to
//! DMA and then to other nodes, and takes memory from the first zone whose free pages stay above the
//! `low` watermark (fast path). If none can, it retries down to `min`, which high-priority and atomic
//! requests may undercut (slow path), then drains the per-CPU lists and retries once more. Order-0
//! requests go through the CPU's per-CPU list of their migrate type; larger ones to the buddy allocator
//! under the zone lock. Every allocated page is checked against its poison (`page_poison=1`) and zeroed
//! when asked (`__GFP_ZERO`, `init_on_alloc=1`); every freed page is poisoned or zeroed (`init_on_free=1`).
//!
//! Bad frees (double frees, frees of reserved or never-allocated pages) are refused with Linux's
//! "Bad page state" report and leak the block rather than corrupt the free lists.

use core::sync::atomic::{AtomicU64, Ordering};

use mm_core::gfp::Gfp;
use mm_core::page::{MAX_ORDER, MIGRATE_PCPTYPES, MigrateType, PageMap, PageOwner, flags};
use mm_core::watermark::{AllocFlags, Mark, watermark_ok};
use mm_core::zone::ZoneType;

use super::mmzone::{self, Zone, ZoneRef, current_cpu};
use super::sparse::{Vmemmap, pfn_to_page, pfn_valid};
use super::{PAGE_SIZE, early, highmem, poison};
use crate::{pr_err, pr_warn};

/// Pages freed since boot (`pgfree`).
pub static PGFREE: AtomicU64 = AtomicU64::new(0);
/// "Bad page state" reports since boot.
pub static BAD_PAGES: AtomicU64 = AtomicU64::new(0);

/// `(managed, free)` pages of every zone, read without locks (after draining the per-CPU lists the
/// free count is exact).
pub fn nr_pages() -> (u64, u64) {
    super::mmzone::all_zones()
        .fold((0, 0), |(total, free), (_, zone)| (total + zone.managed(), free + zone_free_pages(zone)))
}

/// Pages in the buddy free lists of `zone`, kept next to the lock for lock-free watermark checks
/// (Linux's `NR_FREE_PAGES`).
fn zone_free_pages(zone: &Zone) -> u64 {
    zone.nr_free.load(Ordering::Relaxed)
}

/// An owned block of 2^order physically contiguous pages, freed when dropped.
#[derive(Debug)]
pub struct Pages {
    pfn: u64,
    order: u8,
}

impl Pages {
    pub fn pfn(&self) -> u64 {
        self.pfn
    }

    pub fn order(&self) -> usize {
        usize::from(self.order)
    }

    pub fn nr_pages(&self) -> u64 {
        1 << self.order
    }

    pub fn phys_addr(&self) -> u64 {
        self.pfn * PAGE_SIZE
    }

    /// The block's bytes through the direct map. Low memory only: high-memory pages are reached with
    /// `highmem::kmap` or `kmap_atomic`.
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        assert!(!highmem::is_highmem(self.pfn), "Pages::as_mut_slice on high memory: use kmap");
        let virt = early::phys_to_virt(self.phys_addr()).expect("allocated RAM is in the direct map");
        // SAFETY: the handle owns these pages exclusively, and they are RAM mapped by the direct map.
        unsafe { core::slice::from_raw_parts_mut(virt as *mut u8, (self.nr_pages() * PAGE_SIZE) as usize) }
    }

    /// Gives up ownership without freeing (for structures that keep the pages, such as page tables).
    pub fn into_raw(self) -> (u64, usize) {
        let raw = (self.pfn, usize::from(self.order));
        core::mem::forget(self);
        raw
    }

    /// Takes ownership of a block released by [`Pages::into_raw`].
    ///
    /// # Safety
    /// `(pfn, order)` must come from `into_raw` and not be owned by anything else.
    pub unsafe fn from_raw(pfn: u64, order: usize) -> Self {
        Pages { pfn, order: order as u8 }
    }
}

impl Drop for Pages {
    fn drop(&mut self) {
        free_pages_raw(self.pfn, usize::from(self.order));
    }
}

/// Allocates 2^`order` contiguous pages.
pub fn alloc_pages(gfp: Gfp, order: usize) -> Option<Pages> {
    alloc_pages_raw(gfp, order).map(|pfn| Pages { pfn, order: order as u8 })
}

/// Allocates one page.
pub fn alloc_page(gfp: Gfp) -> Option<Pages> {
    alloc_pages(gfp, 0)
}

/// Allocates one zeroed page.
pub fn get_zeroed_page(gfp: Gfp) -> Option<Pages> {
    alloc_pages(gfp | Gfp::__GFP_ZERO, 0)
}

/// Frees a block (the same as dropping it).
pub fn free_pages(pages: Pages) {
    drop(pages);
}

fn local_zonelist() -> &'static [ZoneRef] {
    let node = mmzone::node_data(mmzone::current_node());
    node.zonelist.get().map_or(&[], |list| list.as_slice())
}

/// The allocation: fast path, slow path, drain and retry (Linux's `__alloc_pages`).
pub fn alloc_pages_raw(gfp: Gfp, order: usize) -> Option<u64> {
    alloc_pages_with(gfp, order, true)
}

/// A page for user memory: like [`alloc_pages_raw`], but it stops at the low watermark, which keeps
/// `[min, low)` for the kernel — so when user memory runs out, the out-of-memory path (oomd's calls,
/// the OOM report, the victim's exit) still finds the kernel memory it needs. (Linux gets there with
/// reclaim and the OOM victim's access to reserves; this kernel has neither.)
pub fn alloc_user_pages_raw(gfp: Gfp, order: usize) -> Option<u64> {
    alloc_pages_with(gfp, order, false)
}

fn alloc_pages_with(gfp: Gfp, order: usize, below_low: bool) -> Option<u64> {
    if order >= MAX_ORDER {
        if !gfp.contains(Gfp::__GFP_NOWARN) {
            pr_warn!("page allocation of order {order} refused: the largest order is {}", MAX_ORDER - 1);
        }
        return None;
    }
    let highest = gfp.zone(mmzone::has_highmem());
    let mt = gfp.migratetype();
    let no_watermarks = gfp.contains(Gfp::__GFP_MEMALLOC);
    let fast = AllocFlags { mark: Mark::Low, high: false, harder: false, no_watermarks };
    let slow = AllocFlags {
        mark: Mark::Min,
        high: gfp.contains(Gfp::__GFP_HIGH),
        harder: gfp.contains(Gfp::__GFP_ATOMIC),
        no_watermarks,
    };
    let pfn = get_page_from_freelist(order, mt, highest, fast).or_else(|| {
        // Below the low watermark: oomd hears of it on the next tick.
        super::oom::low_memory();
        let slow = if below_low { slow } else { fast };
        get_page_from_freelist(order, mt, highest, slow).or_else(|| {
            if gfp.contains(Gfp::__GFP_NORETRY) {
                return None;
            }
            drain_all_pages();
            get_page_from_freelist(order, mt, highest, slow)
        })
    });
    match pfn {
        Some(pfn) => {
            post_alloc_hook(pfn, order, gfp);
            Some(pfn)
        }
        None => {
            if !gfp.contains(Gfp::__GFP_NOWARN) {
                warn_alloc(gfp, order);
            }
            None
        }
    }
}

fn get_page_from_freelist(
    order: usize,
    mt: MigrateType,
    highest: ZoneType,
    flags: AllocFlags,
) -> Option<u64> {
    for &zref in local_zonelist() {
        if zref.zone > highest {
            continue;
        }
        let zone = mmzone::zone(zref);
        if !zone.populated() {
            continue;
        }
        let (mark, reserve) = {
            let free = zone.free.lock();
            (free.watermarks.get(flags.mark), free.lowmem_reserve[highest as usize])
        };
        let has_block = |o: usize| zone.free.lock().buddy.has_free_block(o, flags.harder);
        if !watermark_ok(zone_free_pages(zone), order, mark, reserve, flags, has_block) {
            continue;
        }
        if let Some(pfn) = rmqueue(zone, order, mt) {
            zone.pgalloc.fetch_add(1 << order, Ordering::Relaxed);
            return Some(pfn);
        }
    }
    None
}

/// Takes a block from one zone: order 0 through the CPU's list, larger orders from the buddy allocator.
fn rmqueue(zone: &Zone, order: usize, mt: MigrateType) -> Option<u64> {
    let mut map = Vmemmap;
    if order == 0 && (mt as usize) < MIGRATE_PCPTYPES {
        let mut pcp = zone.pcp[current_cpu()].lock();
        if let Some(pfn) = pcp.pop(&mut map, mt) {
            return Some(pfn);
        }
        {
            let mut free = zone.free.lock();
            pcp.refill(&mut free.buddy, &mut map, mt);
            zone.nr_free.store(free.buddy.nr_free_pages(), Ordering::Relaxed);
        }
        return pcp.pop(&mut map, mt);
    }
    let mut free = zone.free.lock();
    let pfn = free.buddy.alloc(&mut map, order, mt);
    zone.nr_free.store(free.buddy.nr_free_pages(), Ordering::Relaxed);
    pfn
}

/// Prepares an allocated block: ownership, reference count, poison check, zeroing.
fn post_alloc_hook(pfn: u64, order: usize, gfp: Gfp) {
    let mut map = Vmemmap;
    let owner = if gfp.contains(Gfp::__GFP_HARDWALL) { PageOwner::User } else { PageOwner::KernelAlloc };
    for p in pfn..pfn + (1 << order) {
        let page = map.page_mut(p);
        page.owner = owner as u8;
        page.clear(flags::PG_HEAD);
        if page.has(flags::PG_POISONED) {
            page.clear(flags::PG_POISONED);
            poison::check_page(p);
        }
    }
    let head = map.page_mut(pfn);
    head.order = order as u8;
    head.set_refcount(1);
    if order > 0 {
        head.set(flags::PG_HEAD);
    }
    if gfp.contains(Gfp::__GFP_ZERO) || poison::init_on_alloc() {
        zero_pages(pfn, order);
    }
}

fn zero_pages(pfn: u64, order: usize) {
    for p in pfn..pfn + (1 << order) {
        // SAFETY: the block was just allocated (or is being freed) by its only owner.
        unsafe { highmem::with_page_bytes(p, |bytes| bytes.fill(0)) };
    }
}

/// Linux's "Bad page state": report and refuse.
fn bad_page(pfn: u64, order: usize, reason: &str) {
    BAD_PAGES.fetch_add(1, Ordering::Relaxed);
    if pfn_valid(pfn) {
        let page = pfn_to_page(pfn);
        pr_err!(
            "BUG: Bad page state in process swapper  pfn:{pfn:05x} order:{order} flags:{:#06x} owner:{:?} refcount:{}",
            page.flags,
            page.owner(),
            page.refcount()
        );
    } else {
        pr_err!("BUG: Bad page state in process swapper  pfn:{pfn:05x}: no such page frame");
    }
    pr_err!("page dumped because: {reason}");
}

/// Frees a block by frame number and order (what dropping [`Pages`] does).
pub fn free_pages_raw(pfn: u64, order: usize) {
    if order >= MAX_ORDER || !pfn.is_multiple_of(1 << order) || !pfn_valid(pfn) {
        bad_page(pfn, order, "freed block is not an allocated block");
        return;
    }
    let head = pfn_to_page(pfn);
    let reason = if head.has(flags::PG_BUDDY) || head.has(flags::PG_PCP) || head.refcount() == 0 {
        Some("page is already free (double free)")
    } else if head.has(flags::PG_RESERVED) {
        Some("PAGE_FLAGS_CHECK_AT_FREE flag(s) set: reserved page")
    } else if usize::from(head.order) != order {
        Some("freed with another order than it was allocated with")
    } else {
        None
    };
    if let Some(reason) = reason {
        bad_page(pfn, order, reason);
        return;
    }
    free_pages_prepare(pfn, order);
    PGFREE.fetch_add(1 << order, Ordering::Relaxed);
    let zone = mmzone::zone(ZoneRef { node: head.node, zone: ZoneType::from_index(usize::from(head.zone)) });
    let mut map = Vmemmap;
    if order == 0 {
        let mt = zone.free.lock().buddy.pageblock_migratetype(&map, pfn);
        if (mt as usize) < MIGRATE_PCPTYPES {
            let mut pcp = zone.pcp[current_cpu()].lock();
            pcp.push(&mut map, pfn, mt);
            if pcp.over_high() {
                let batch = pcp.batch;
                let mut free = zone.free.lock();
                pcp.drain(&mut free.buddy, &mut map, batch);
                zone.nr_free.store(free.buddy.nr_free_pages(), Ordering::Relaxed);
            }
            return;
        }
    }
    let mut free = zone.free.lock();
    let mt = free.buddy.pageblock_migratetype(&map, pfn);
    if let Err(err) = free.buddy.free(&mut map, pfn, order, mt) {
        drop(free);
        bad_page(
            pfn,
            order,
            match err {
                mm_core::buddy::FreeError::AlreadyFree => "page is already free (double free)",
                _ => "block does not belong to its zone",
            },
        );
        return;
    }
    zone.nr_free.store(free.buddy.nr_free_pages(), Ordering::Relaxed);
}

/// Clears ownership and applies `page_poison` / `init_on_free`.
fn free_pages_prepare(pfn: u64, order: usize) {
    let poisoning = poison::page_poison();
    if !poisoning && poison::init_on_free() {
        zero_pages(pfn, order);
    }
    let mut map = Vmemmap;
    for p in pfn..pfn + (1 << order) {
        if poisoning {
            poison::poison_page(p);
        }
        let page = map.page_mut(p);
        page.owner = PageOwner::Free as u8;
        page.clear(flags::PG_HEAD);
        if poisoning {
            page.set(flags::PG_POISONED);
        }
        page.set_refcount(0);
    }
}

/// Returns every CPU's per-CPU pages to the buddy allocator (Linux's `drain_all_pages`).
pub fn drain_all_pages() {
    let mut map = Vmemmap;
    for (_, zone) in mmzone::all_zones().filter(|(_, z)| z.populated()) {
        for pcp in &zone.pcp {
            let mut pcp = pcp.lock();
            if pcp.count() > 0 {
                let mut free = zone.free.lock();
                pcp.drain_all(&mut free.buddy, &mut map);
                zone.nr_free.store(free.buddy.nr_free_pages(), Ordering::Relaxed);
            }
        }
    }
}

/// Linux's `warn_alloc`: the failed request and the free memory per zone and order.
fn warn_alloc(gfp: Gfp, order: usize) {
    pr_warn!(
        "{}: page allocation failure: order:{order}, mode:{:#x}({gfp:?}), nodemask=(null)",
        crate::task::current_comm().as_str(),
        gfp.0
    );
    for (nid, zone) in mmzone::all_zones().filter(|(_, z)| z.populated()) {
        let free = zone.free.lock();
        let counts = free.buddy.nr_free_per_order();
        let mut line: heapless::String<160> = heapless::String::new();
        for (o, n) in counts.iter().enumerate() {
            let _ = core::fmt::Write::write_fmt(&mut line, format_args!("{n}*{}kB ", 4u64 << o));
        }
        pr_warn!(
            "Node {nid} {}: {line}= {}kB (min {}kB)",
            zone.kind.name(),
            free.buddy.nr_free_pages() * 4,
            free.watermarks.min * 4
        );
    }
}
