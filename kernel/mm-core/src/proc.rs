//! The page allocator's introspection texts in Linux's formats: `/proc/buddyinfo`, `/proc/pagetypeinfo`,
//! `/proc/zoneinfo`, the memory part of `/proc/meminfo` and `/proc/vmstat` (seed 000 §23, §32, §44).
//!
//! The kernel takes a snapshot of each zone ([`ZoneReport`]) and these functions write the text, so the
//! formats are tested on the host against lines copied from Linux's output.

use core::fmt::{self, Write};

use crate::page::{MAX_ORDER, MIGRATE_TYPES, MigrateType, PAGEBLOCK_NR_PAGES, PAGEBLOCK_ORDER};
use crate::watermark::Watermarks;
use crate::zone::{MAX_NR_ZONES, ZoneType};

/// A CPU's list of one zone.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PcpReport {
    pub cpu: usize,
    pub count: u64,
    pub high: u64,
    pub batch: u64,
}

/// Most per-CPU lists reported per zone.
pub const MAX_PCP_REPORTS: usize = 8;

/// Everything the texts say about one zone.
#[derive(Clone, Debug, Default)]
pub struct ZoneReport {
    pub node: usize,
    pub zone: Option<ZoneType>,
    pub start_pfn: u64,
    pub spanned: u64,
    pub present: u64,
    pub managed: u64,
    /// Pages in the buddy free lists (per-CPU pages not included, as Linux's `NR_FREE_PAGES`).
    pub free: u64,
    pub watermarks: Watermarks,
    pub protection: [u64; MAX_NR_ZONES],
    pub free_per_type: [[u64; MAX_ORDER]; MIGRATE_TYPES],
    pub pageblocks_per_type: [u64; MIGRATE_TYPES],
    /// Per-CPU lists of the online CPUs.
    pub pcp: heapless::Vec<PcpReport, MAX_PCP_REPORTS>,
}

impl ZoneReport {
    fn name(&self) -> &'static str {
        self.zone.map_or("?", ZoneType::name)
    }

    fn populated(&self) -> bool {
        self.present > 0
    }

    /// Free blocks per order, all types.
    pub fn free_per_order(&self) -> [u64; MAX_ORDER] {
        core::array::from_fn(|o| self.free_per_type.iter().map(|t| t[o]).sum())
    }
}

/// `/proc/buddyinfo`: one line per populated zone, free blocks per order.
pub fn buddyinfo(w: &mut impl Write, zones: &[ZoneReport]) -> fmt::Result {
    for z in zones.iter().filter(|z| z.populated()) {
        write!(w, "Node {}, zone {:>8} ", z.node, z.name())?;
        for n in z.free_per_order() {
            write!(w, "{n:>6} ")?;
        }
        writeln!(w)?;
    }
    Ok(())
}

/// `/proc/pagetypeinfo`: free blocks per order and type, then pageblocks per type.
pub fn pagetypeinfo(w: &mut impl Write, zones: &[ZoneReport]) -> fmt::Result {
    writeln!(w, "Page block order: {PAGEBLOCK_ORDER}")?;
    writeln!(w, "Pages per block:  {PAGEBLOCK_NR_PAGES}")?;
    writeln!(w)?;
    write!(w, "{:<43} ", "Free pages count per migrate type at order")?;
    for order in 0..MAX_ORDER {
        write!(w, "{order:>6} ")?;
    }
    writeln!(w)?;
    for z in zones.iter().filter(|z| z.populated()) {
        for mt in MigrateType::ALL {
            write!(w, "Node {:>4}, zone {:>8}, type {:>12} ", z.node, z.name(), mt.name())?;
            for n in z.free_per_type[mt as usize] {
                write!(w, "{n:>6} ")?;
            }
            writeln!(w)?;
        }
    }
    writeln!(w)?;
    write!(w, "{:<23}", "Number of blocks type ")?;
    for mt in MigrateType::ALL {
        write!(w, "{:>12} ", mt.name())?;
    }
    writeln!(w)?;
    for z in zones.iter().filter(|z| z.populated()) {
        write!(w, "Node {}, zone {:>8} ", z.node, z.name())?;
        for n in z.pageblocks_per_type {
            write!(w, "{n:>12} ")?;
        }
        writeln!(w)?;
    }
    Ok(())
}

/// `/proc/zoneinfo`: watermarks, sizes, protection, counters and per-CPU lists of every zone.
pub fn zoneinfo(w: &mut impl Write, zones: &[ZoneReport]) -> fmt::Result {
    for z in zones {
        write!(w, "Node {}, zone {:>8}", z.node, z.name())?;
        write!(w, "\n  pages free     {}", z.free)?;
        write!(w, "\n        boost    0")?;
        write!(w, "\n        min      {}", z.watermarks.min)?;
        write!(w, "\n        low      {}", z.watermarks.low)?;
        write!(w, "\n        high     {}", z.watermarks.high)?;
        write!(w, "\n        spanned  {}", z.spanned)?;
        write!(w, "\n        present  {}", z.present)?;
        write!(w, "\n        managed  {}", z.managed)?;
        write!(w, "\n        cma      0")?;
        write!(w, "\n        protection: ({}", z.protection[0])?;
        for p in &z.protection[1..] {
            write!(w, ", {p}")?;
        }
        write!(w, ")")?;
        if !z.populated() {
            writeln!(w)?;
            continue;
        }
        write!(w, "\n      {:<12} {}", "nr_free_pages", z.free)?;
        write!(w, "\n  pagesets")?;
        for p in &z.pcp {
            write!(w, "\n    cpu: {}", p.cpu)?;
            write!(w, "\n              count: {}", p.count)?;
            write!(w, "\n              high:  {}", p.high)?;
            write!(w, "\n              batch: {}", p.batch)?;
        }
        write!(w, "\n  node_unreclaimable:  0")?;
        write!(w, "\n  start_pfn:           {}", z.start_pfn)?;
        writeln!(w)?;
    }
    Ok(())
}

/// The figures of `/proc/meminfo` the page allocator knows, in pages.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MemInfo {
    /// Managed pages of all zones (Linux's `totalram_pages`).
    pub total: u64,
    pub free: u64,
    pub available: u64,
    /// Pages in slabs of reclaimable and of other caches.
    pub slab_reclaimable: u64,
    pub slab_unreclaimable: u64,
    /// Managed and free pages of the HighMem zones; `None` when the kernel runs without high memory
    /// (Linux prints the `HighTotal`..`LowFree` lines only with `CONFIG_HIGHMEM`).
    pub high: Option<(u64, u64)>,
    /// Bytes of kernel stacks.
    pub kernel_stack_bytes: u64,
    /// Pages of page tables (the kernel's own: no user address spaces exist yet).
    pub page_tables: u64,
    /// Size of the vmalloc area and bytes mapped in it, in bytes.
    pub vmalloc_total: u64,
    pub vmalloc_used: u64,
    /// Direct-map pages of 4 KiB, 2 MiB and 1 GiB.
    pub direct_map: [u64; 3],
}

fn meminfo_line(w: &mut impl Write, label: &str, pages: u64) -> fmt::Result {
    meminfo_kb(w, label, pages * 4)
}

fn meminfo_kb(w: &mut impl Write, label: &str, kb: u64) -> fmt::Result {
    // Linux pads the label to 16 columns and the value to 8.
    writeln!(w, "{label:<16}{kb:>8} kB")
}

/// The memory lines of `/proc/meminfo` (there is no page cache and no swap yet: those lines are 0).
pub fn meminfo(w: &mut impl Write, m: &MemInfo) -> fmt::Result {
    meminfo_line(w, "MemTotal:", m.total)?;
    meminfo_line(w, "MemFree:", m.free)?;
    meminfo_line(w, "MemAvailable:", m.available)?;
    meminfo_line(w, "Buffers:", 0)?;
    meminfo_line(w, "Cached:", 0)?;
    meminfo_line(w, "SwapCached:", 0)?;
    if let Some((high_total, high_free)) = m.high {
        meminfo_line(w, "HighTotal:", high_total)?;
        meminfo_line(w, "HighFree:", high_free)?;
        meminfo_line(w, "LowTotal:", m.total - high_total)?;
        meminfo_line(w, "LowFree:", m.free - high_free)?;
    }
    meminfo_line(w, "SwapTotal:", 0)?;
    meminfo_line(w, "SwapFree:", 0)?;
    meminfo_line(w, "Slab:", m.slab_reclaimable + m.slab_unreclaimable)?;
    meminfo_line(w, "SReclaimable:", m.slab_reclaimable)?;
    meminfo_line(w, "SUnreclaim:", m.slab_unreclaimable)?;
    meminfo_kb(w, "KernelStack:", m.kernel_stack_bytes / 1024)?;
    meminfo_line(w, "PageTables:", m.page_tables)?;
    meminfo_kb(w, "VmallocTotal:", m.vmalloc_total / 1024)?;
    meminfo_kb(w, "VmallocUsed:", m.vmalloc_used / 1024)?;
    // Linux stopped computing the largest free chunk (5.3) and prints 0.
    meminfo_kb(w, "VmallocChunk:", 0)?;
    meminfo_kb(w, "DirectMap4k:", m.direct_map[0] * 4)?;
    meminfo_kb(w, "DirectMap2M:", m.direct_map[1] * 2048)?;
    meminfo_kb(w, "DirectMap1G:", m.direct_map[2] * 1024 * 1024)
}

/// Linux's `si_mem_available` without page cache (none exists yet): free pages minus what the
/// watermarks and lowmem reserves keep back, plus the reclaimable slab that can go (at least half of
/// it, or the low watermarks' worth, is assumed to stay).
pub fn mem_available(free: u64, total_reserve: u64, slab_reclaimable: u64, low_watermarks: u64) -> u64 {
    let reclaimable = slab_reclaimable - (slab_reclaimable / 2).min(low_watermarks);
    free.saturating_sub(total_reserve) + reclaimable
}

/// Linux's `calculate_totalreserve_pages` for one zone: its largest lowmem reserve plus its high watermark,
/// at most its managed pages.
pub fn zone_reserve_pages(managed: u64, high_watermark: u64, protection: &[u64; MAX_NR_ZONES]) -> u64 {
    (protection.iter().copied().max().unwrap_or(0) + high_watermark).min(managed)
}

/// Event counters of the page allocator (`/proc/vmstat`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VmEvents {
    pub pgalloc: [u64; MAX_NR_ZONES],
    pub pgfree: u64,
}

/// `/proc/vmstat` lines of the page allocator; `highmem` adds `pgalloc_high`.
pub fn vmstat(w: &mut impl Write, nr_free_pages: u64, events: &VmEvents, highmem: bool) -> fmt::Result {
    writeln!(w, "nr_free_pages {nr_free_pages}")?;
    writeln!(w, "pgalloc_dma {}", events.pgalloc[ZoneType::Dma as usize])?;
    writeln!(w, "pgalloc_dma32 {}", events.pgalloc[ZoneType::Dma32 as usize])?;
    writeln!(w, "pgalloc_normal {}", events.pgalloc[ZoneType::Normal as usize])?;
    if highmem {
        writeln!(w, "pgalloc_high {}", events.pgalloc[ZoneType::HighMem as usize])?;
    }
    writeln!(w, "pgfree {}", events.pgfree)
}

#[cfg(test)]
mod tests;
