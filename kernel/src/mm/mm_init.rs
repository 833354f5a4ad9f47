//! Bringing up the page allocator from memblock (Linux's `mm/mm_init.c` and `memblock_free_all`).
//!
//! In order: map RAM above 4 GiB into the direct map; find the NUMA nodes; lay out nodes and zones and
//! print them as Linux does (`Zone ranges:`, `Movable zone start for each node`, `Early memory node
//! ranges`); allocate and fill the page descriptors (sparse vmemmap); release memblock's free memory into
//! the buddy allocators in the largest aligned blocks; compute watermarks, lowmem reserves, per-CPU list
//! sizes and zonelists; shuffle the free lists if asked. memblock is retired at the end.

use core::sync::atomic::Ordering;

use mm_core::buddy::BuddyZone;
use mm_core::numa::{MAX_NUMNODES, fallback_order};
use mm_core::page::{PAGE_SHIFT, Page, PageOwner};
use mm_core::watermark::{Watermarks, lowmem_reserve, min_free_kbytes, pcp_batch, pcp_high, zone_watermarks};
use mm_core::zone::{MAX_NR_ZONES, ZoneType, zone_pfn_ranges};

use super::mmzone::{self, MAX_ZONELIST, NODES, ZoneRef, ZoneSpan};
use super::sparse::{self, Vmemmap};
use super::{PAGE_SIZE, early, highmem, memblock, numa, pgtable, poison};
use crate::boot::BootInfo;
use crate::{pr_info, pr_notice, pr_warn, random};

/// Most RAM ranges handled (memblock's capacity).
const MAX_RANGES: usize = mm_core::memblock::MEMBLOCK_REGIONS;

/// Options of the page allocator from the command line and the CPU.
#[derive(Clone, Copy, Debug)]
pub struct MmOptions {
    pub page_poison: bool,
    pub init_on_alloc: bool,
    pub init_on_free: bool,
    pub shuffle: bool,
    pub numa_off: bool,
    pub nx: bool,
    /// The CPU has 1 GiB pages.
    pub gbpages: bool,
    /// `highmem=SIZE`: the top SIZE of RAM stays out of the direct map as ZONE_HIGHMEM.
    pub highmem: Option<u64>,
}

/// Low memory `highmem=` must leave: room for the page descriptors, the kernel's early allocations and
/// the boot modules.
const MIN_LOWMEM: u64 = 64 << 20;

/// What the boot summary needs to know.
#[derive(Clone, Copy, Debug, Default)]
pub struct MmReport {
    pub total_pages: u64,
    pub free_pages: u64,
}

fn memblock_ranges(free: bool) -> heapless::Vec<(u64, u64), { 2 * MAX_RANGES }> {
    memblock::with(|m| {
        let mut out = heapless::Vec::new();
        if free {
            for range in m.free_ranges() {
                let _ = out.push(range);
            }
        } else {
            for r in m.memory.regions() {
                let _ = out.push((r.base, r.end()));
            }
        }
        out
    })
}

fn zone_index_of(pfn: u64, ranges: &[(u64, u64); MAX_NR_ZONES]) -> usize {
    ranges.iter().position(|&(s, e)| s <= pfn && pfn < e).unwrap_or(MAX_NR_ZONES - 1)
}

/// Lays out nodes and zones and prints them.
fn layout_nodes(ram: &[(u64, u64)], zone_ranges: &[(u64, u64); MAX_NR_ZONES]) {
    pr_info!("Zone ranges:");
    let kinds = if mmzone::has_highmem() { &ZoneType::ALL[..] } else { &ZoneType::ALL[..3] };
    for &kind in kinds {
        let (s, e) = zone_ranges[kind as usize];
        let first_ram =
            ram.iter().map(|r| r.0 >> PAGE_SHIFT).find(|&p| p >= s && p < e).or_else(|| {
                ram.iter().find(|r| (r.0 >> PAGE_SHIFT) < s && (r.1 >> PAGE_SHIFT) > s).map(|_| s)
            });
        match first_ram {
            Some(start) if e > s => pr_info!(
                "  {:<8}[mem {:#018x}-{:#018x}]",
                kind.name(),
                start << PAGE_SHIFT,
                (e << PAGE_SHIFT) - 1
            ),
            _ => pr_info!("  {:<8}empty", kind.name()),
        }
    }
    pr_info!("Movable zone start for each node");
    pr_info!("Early memory node ranges");
    // RAM split into runs of one node: (start, end, node).
    let mut runs: heapless::Vec<(u64, u64, usize), { 4 * MAX_RANGES }> = heapless::Vec::new();
    for &(s, e) in ram {
        let mut cursor = s;
        while cursor < e {
            let (nid, run_end) = numa::node_run(cursor);
            let end = run_end.min(e);
            let _ = runs.push((cursor, end, nid));
            cursor = end;
        }
    }
    for (nid, node) in NODES.iter().enumerate().take(numa::nr_nodes()) {
        let mine = || runs.iter().filter(move |r| r.2 == nid);
        for &(s, e, _) in mine() {
            pr_info!("  node {:>3}: [mem {:#018x}-{:#018x}]", nid, s, e - 1);
        }
        let lo = mine().map(|r| r.0 >> PAGE_SHIFT).min().unwrap_or(0);
        let hi = mine().map(|r| r.1 >> PAGE_SHIFT).max().unwrap_or(0);
        if hi <= lo {
            continue;
        }
        let _ = node.span.set((lo, hi));
        node.online.store(true, Ordering::Relaxed);
        pr_info!(
            "Initmem setup node {nid} [mem {:#018x}-{:#018x}]",
            lo << PAGE_SHIFT,
            (hi << PAGE_SHIFT) - 1
        );
        for zone in &node.zones {
            let (zs, ze) = zone_ranges[zone.kind as usize];
            let (start, end) = (zs.max(lo), ze.min(hi));
            if end <= start {
                let _ = zone.span.set(ZoneSpan::default());
                continue;
            }
            let present: u64 = mine()
                .map(|&(s, e, _)| ((e >> PAGE_SHIFT).min(end)).saturating_sub((s >> PAGE_SHIFT).max(start)))
                .sum();
            let _ = zone.span.set(ZoneSpan { start_pfn: start, spanned: end - start, present });
            zone.free.lock().buddy = BuddyZone::with_id(start, end, nid as u8, zone.kind as u8);
            if end - start > present {
                pr_info!(
                    "On node {nid}, zone {}: {} pages in unavailable ranges",
                    zone.kind.name(),
                    end - start - present
                );
            }
        }
    }
}

/// Releases memblock's free memory into the zones (Linux's `memblock_free_all`); returns the pages.
fn memblock_free_all(zone_ranges: &[(u64, u64); MAX_NR_ZONES], poisoning: bool) -> u64 {
    let mut map = Vmemmap;
    let mut released = 0;
    for (start, end) in memblock_ranges(true) {
        let (start, end) = (start.next_multiple_of(PAGE_SIZE) >> PAGE_SHIFT, end >> PAGE_SHIFT);
        let mut pfn = start;
        while pfn < end {
            // The longest run from `pfn` within one node and one zone.
            let (nid, node_end) = numa::node_run(pfn << PAGE_SHIFT);
            let zi = zone_index_of(pfn, zone_ranges);
            let run_end = end.min(zone_ranges[zi].1).min(node_end >> PAGE_SHIFT);
            if poisoning {
                for p in pfn..run_end {
                    poison::poison_page(p);
                }
            }
            let zone = &NODES[nid].zones[zi];
            let mut free = zone.free.lock();
            let n = free.buddy.free_range(&mut map, pfn, run_end);
            if poisoning {
                for p in pfn..run_end {
                    mm_core::page::PageMap::page_mut(&mut map, p).set(mm_core::page::flags::PG_POISONED);
                }
            }
            zone.nr_free.store(free.buddy.nr_free_pages(), Ordering::Relaxed);
            zone.managed.fetch_add(n, Ordering::Relaxed);
            released += n;
            pfn = run_end;
        }
    }
    // Reserved RAM above 1 MiB holds the kernel, its boot-time allocations and the boot loader's data.
    memblock::with(|m| {
        for r in m.reserved.regions() {
            for pfn in
                (r.base.max(1 << 20) >> PAGE_SHIFT)..(r.end().next_multiple_of(PAGE_SIZE) >> PAGE_SHIFT)
            {
                if sparse::pfn_valid(pfn) {
                    mm_core::page::PageMap::page_mut(&mut map, pfn).owner = PageOwner::Kernel as u8;
                }
            }
        }
    });
    released
}

/// Watermarks, lowmem reserves and per-CPU list sizes of every zone.
fn setup_watermarks() -> u64 {
    let zones: heapless::Vec<(u64, bool), { MAX_NUMNODES * MAX_NR_ZONES }> =
        mmzone::all_zones().map(|(_, z)| (z.managed(), z.kind.is_highmem())).collect();
    let lowmem_kbytes: u64 = zones.iter().filter(|z| !z.1).map(|z| z.0 * 4).sum();
    let min_free = min_free_kbytes(lowmem_kbytes);
    let mut marks = [Watermarks::default(); MAX_NUMNODES * MAX_NR_ZONES];
    zone_watermarks(min_free, &zones, &mut marks);
    for (i, (_, zone)) in mmzone::all_zones().enumerate() {
        let mut free = zone.free.lock();
        free.watermarks = marks[i];
        let batch = pcp_batch(zone.managed());
        let high = pcp_high(marks[i].low, batch, 1);
        for pcp in &zone.pcp {
            let mut pcp = pcp.lock();
            pcp.batch = batch;
            pcp.high = high;
        }
    }
    for (_, node) in mmzone::online_nodes() {
        let managed: [u64; MAX_NR_ZONES] = core::array::from_fn(|i| node.zones[i].managed());
        let reserve = lowmem_reserve(&managed);
        for (zone, row) in node.zones.iter().zip(reserve) {
            zone.free.lock().lowmem_reserve = row;
        }
    }
    min_free
}

/// Zonelists: local zones from highest to lowest, then other nodes' by distance.
fn build_zonelists() -> usize {
    let nr_nodes = numa::nr_nodes();
    let mut built = 0;
    for (nid, node) in mmzone::online_nodes() {
        let mut list: heapless::Vec<ZoneRef, MAX_ZONELIST> = heapless::Vec::new();
        let order = fallback_order(nid, nr_nodes, numa::distance);
        for &other in order.iter().filter(|&&n| NODES[n].is_online()) {
            for zone in NODES[other].zones.iter().rev().filter(|z| z.populated()) {
                let _ = list.push(ZoneRef { node: other as u8, zone: zone.kind });
            }
        }
        if nr_nodes > 1 {
            let mut line: heapless::String<64> = heapless::String::new();
            for n in order.iter() {
                let _ = core::fmt::Write::write_fmt(&mut line, format_args!(" {n}"));
            }
            pr_info!("Fallback order for Node {nid}:{line}");
        }
        let _ = node.zonelist.set(list);
        built += 1;
    }
    built
}

/// Shuffles every zone's free lists with a scratch array of `scratch_pfns` frame numbers.
fn shuffle_zones(scratch: &mut [u32]) -> usize {
    let mut map = Vmemmap;
    let mut zones = 0;
    for (_, zone) in mmzone::all_zones().filter(|(_, z)| z.populated()) {
        zone.free.lock().buddy.shuffle(&mut map, &mut random::below, scratch);
        zones += 1;
    }
    zones
}

/// The first frame of high memory for `highmem=SIZE`, if the split leaves enough low memory above
/// everything memblock already holds (kernel, boot information, modules: they must stay mapped).
fn highmem_split(size: u64, max_pfn: u64) -> Option<u64> {
    let reserved_end = memblock::with(|m| {
        m.reserved.regions().iter().map(|r| r.end()).filter(|&e| e <= max_pfn << PAGE_SHIFT).max()
    })
    .unwrap_or(0);
    let min_low = MIN_LOWMEM.max(reserved_end.next_multiple_of(2 << 20));
    let start = mm_core::zone::highmem_start(size, max_pfn, min_low);
    if start.is_none() {
        pr_warn!(
            "highmem={}M ignored: RAM ends at {}M and at least {}M must stay low memory",
            size >> 20,
            (max_pfn << PAGE_SHIFT) >> 20,
            min_low >> 20
        );
    }
    start
}

/// Brings up nodes, zones, page descriptors and the buddy allocator from memblock.
pub fn mm_init(boot: &'static BootInfo, options: MmOptions) -> Result<MmReport, &'static str> {
    let ram = memblock_ranges(false);
    let max_pfn = ram.last().map_or(0, |r| r.1 >> PAGE_SHIFT);
    let highmem_start = options.highmem.and_then(|size| highmem_split(size, max_pfn));
    // The direct map covers RAM below high memory only; memblock must not hand out memory above it.
    let lowmem: heapless::Vec<(u64, u64), { 2 * MAX_RANGES }> = match highmem_start {
        Some(pfn) => {
            let limit = pfn << PAGE_SHIFT;
            memblock::set_current_limit(limit);
            ram.iter().filter(|r| r.0 < limit).map(|&(s, e)| (s, e.min(limit))).collect()
        }
        None => ram.clone(),
    };
    let mapped_end = pgtable::init_mem_mapping(&lowmem, options.nx, options.gbpages)?;
    early::set_direct_map(&lowmem);
    memblock::set_current_limit(mapped_end);
    highmem::kmap_init()?;
    if let Some(pfn) = highmem_start {
        highmem::set_highmem_start(pfn);
        mmzone::set_highmem_configured();
    }
    highmem::print_info();

    numa::init(boot, &ram, options.numa_off, options.nx);
    mmzone::set_boot_cpu_node(numa::boot_cpu_node());
    let zone_ranges = zone_pfn_ranges(highmem_start, max_pfn);
    layout_nodes(&ram, &zone_ranges);

    let node_range = |nid: usize| -> (u64, u64) {
        NODES[nid].span.get().map_or((0, u64::MAX), |&(s, e)| (s << PAGE_SHIFT, e << PAGE_SHIFT))
    };
    let init =
        |pfn: u64| Page::new_reserved(numa::node_of_pfn(pfn) as u8, zone_index_of(pfn, &zone_ranges) as u8);
    let sparse = sparse::sparse_init(&ram, options.nx, numa::node_of_addr, node_range, init)?;
    let ram_bytes: u64 = ram.iter().map(|r| r.1 - r.0).sum();
    pr_info!(
        "Memory model: sparse vmemmap, {} bytes per page descriptor: {}K of descriptors for {}M of RAM ({}.{:02}%), {} vmemmap page-table pages",
        size_of::<Page>(),
        sparse.memmap_bytes >> 10,
        ram_bytes >> 20,
        sparse.memmap_bytes * 100 / ram_bytes.max(1),
        sparse.memmap_bytes * 10_000 / ram_bytes.max(1) % 100,
        sparse.table_pages
    );

    poison::configure(options.page_poison, options.init_on_alloc, options.init_on_free);
    let scratch_bytes = 64 * 1024;
    let scratch =
        if options.shuffle { memblock::memblock_alloc(scratch_bytes, PAGE_SIZE).ok() } else { None };
    let released = memblock_free_all(&zone_ranges, options.page_poison);
    memblock::retire();
    let min_free = setup_watermarks();
    let zonelists = build_zonelists();
    if let Some(bytes) = scratch {
        let phys = early::virt_to_phys(bytes.as_ptr() as u64);
        // SAFETY: memblock reserved these 64 KiB for this function; they are viewed as u32 only here.
        let words =
            unsafe { core::slice::from_raw_parts_mut(bytes.as_mut_ptr().cast::<u32>(), bytes.len() / 4) };
        let zones = shuffle_zones(words);
        pr_info!("page_alloc: shuffled the free lists of {zones} zones (Fisher-Yates)");
        give_back(phys, scratch_bytes);
    } else if options.shuffle {
        pr_warn!("page_alloc: no memory for the shuffle buffer, free lists not shuffled");
    }
    let total: u64 = mmzone::all_zones().map(|(_, z)| z.span().present).sum();
    let free: u64 = mmzone::all_zones().map(|(_, z)| z.nr_free.load(Ordering::Relaxed)).sum();
    pr_info!(
        "Built {zonelists} zonelists, mobility grouping on.  Total pages: {}",
        mmzone::all_zones().map(|(_, z)| z.managed()).sum::<u64>()
    );
    pr_info!("Policy zone: {}", if mmzone::has_highmem() { "HighMem" } else { "Normal" });
    pr_info!("min_free_kbytes: {min_free}, {released} pages released to the buddy allocator");
    if free != released {
        pr_notice!("page_alloc: {} pages released, {} free after setup", released, free);
    }
    Ok(MmReport { total_pages: total, free_pages: free })
}

/// Gives the kernel image's init memory to the buddy allocator (Linux's `free_initmem`): the 32-bit entry
/// (no longer mapped since the switch to the kernel's tables) and the boot stub's page tables (unmapped
/// from the image here, so a stray use faults instead of corrupting whoever gets the pages).
pub fn free_initmem() {
    let [boot, tables] = super::layout::init_ranges();
    let unmapped = pgtable::with_kernel_pgtable(|table, mem| {
        let virt = tables.0 + crate::arch::x86_64::boot::KERNEL_VMA;
        table.unmap_range(mem, virt, tables.1 - tables.0, mm_core::pgtable::EmptyTables::Keep)
    });
    match unmapped {
        Some(Ok(report)) => pgtable::flush(&report.flush),
        _ => {
            pr_warn!("Freeing unused kernel image: cannot unmap the boot page tables; keeping them");
            return;
        }
    }
    for (start, end) in [boot, tables] {
        give_back(start, end - start);
    }
    let bytes = (boot.1 - boot.0) + (tables.1 - tables.0);
    pr_info!("Freeing unused kernel image (initmem) memory: {}K", bytes >> 10);
}

/// Frees a memblock allocation made before the buddy allocator existed into its zone.
fn give_back(phys: u64, bytes: u64) {
    let mut map = Vmemmap;
    let (start, end) = (phys >> PAGE_SHIFT, (phys + bytes) >> PAGE_SHIFT);
    let zone_ref = {
        let page = sparse::pfn_to_page(start);
        ZoneRef { node: page.node, zone: ZoneType::from_index(usize::from(page.zone)) }
    };
    let zone = mmzone::zone(zone_ref);
    let mut free = zone.free.lock();
    let n = free.buddy.free_range(&mut map, start, end);
    zone.nr_free.store(free.buddy.nr_free_pages(), Ordering::Relaxed);
    zone.managed.fetch_add(n, Ordering::Relaxed);
}
