//! The page allocator's texts: `/proc/buddyinfo`, `/proc/pagetypeinfo`, `/proc/zoneinfo`, the memory
//! lines of `/proc/meminfo` and `/proc/vmstat` (Linux's `mm/vmstat.c`, `fs/proc/meminfo.c`).
//!
//! Each zone is snapshotted under its lock into an `mm_core::proc::ZoneReport`; the formatting is
//! host-tested in `mm_core::proc`. `print_all` writes every text to the log at a chosen level (the boot
//! prints them at debug level, visible with `loglevel=8`); later issues serve them to user space.

use core::fmt::{self, Write};
use core::sync::atomic::Ordering;

use mm_core::numa::MAX_NUMNODES;
use mm_core::page::{MIGRATE_TYPES, MigrateType};
use mm_core::proc::{self, MemInfo, PcpReport, VmEvents, ZoneReport};
use mm_core::zone::MAX_NR_ZONES;

use super::mmzone::{self, Zone};
use super::page_alloc::PGFREE;
use super::sparse::Vmemmap;
use crate::printk::{self, Level};

const MAX_ZONES: usize = MAX_NUMNODES * MAX_NR_ZONES;

/// Snapshots of every zone of every online node. The reports live on the heap: a task's 16 KiB kernel
/// stack could not hold one per possible zone.
pub struct Snapshot {
    zones: alloc::vec::Vec<&'static Zone>,
    reports: alloc::vec::Vec<ZoneReport>,
}

impl Snapshot {
    pub fn take() -> Self {
        let mut snap = Snapshot { zones: alloc::vec::Vec::new(), reports: alloc::vec::Vec::new() };
        let map = Vmemmap;
        for (nid, zone) in mmzone::all_zones() {
            let mut pcp_reports = heapless::Vec::new();
            for (cpu, pcp) in zone.pcp.iter().enumerate().take(mmzone::nr_online_cpus()) {
                let pcp = pcp.lock();
                let _ =
                    pcp_reports.push(PcpReport { cpu, count: pcp.count(), high: pcp.high, batch: pcp.batch });
            }
            let span = zone.span();
            let free = zone.free.lock();
            let report = ZoneReport {
                node: nid,
                zone: Some(zone.kind),
                start_pfn: span.start_pfn,
                spanned: span.spanned,
                present: span.present,
                managed: zone.managed(),
                free: free.buddy.nr_free_pages(),
                watermarks: free.watermarks,
                protection: free.lowmem_reserve,
                free_per_type: core::array::from_fn(|t| free.buddy.blocks_per_order(MigrateType::ALL[t])),
                pageblocks_per_type: if span.present > 0 {
                    free.buddy.pageblock_counts(&map)
                } else {
                    [0; MIGRATE_TYPES]
                },
                pcp: pcp_reports,
            };
            snap.zones.push(zone);
            snap.reports.push(report);
        }
        snap
    }

    pub fn buddyinfo(&self, w: &mut impl Write) -> fmt::Result {
        proc::buddyinfo(w, &self.reports)
    }

    pub fn pagetypeinfo(&self, w: &mut impl Write) -> fmt::Result {
        proc::pagetypeinfo(w, &self.reports)
    }

    pub fn zoneinfo(&self, w: &mut impl Write) -> fmt::Result {
        proc::zoneinfo(w, &self.reports)
    }

    pub fn meminfo(&self) -> MemInfo {
        let total: u64 = self.reports.iter().map(|r| r.managed).sum();
        let free: u64 = self.reports.iter().map(|r| r.free).sum();
        let reserve: u64 = self
            .reports
            .iter()
            .map(|r| proc::zone_reserve_pages(r.managed, r.watermarks.high, &r.protection))
            .sum();
        let low: u64 = self.reports.iter().map(|r| r.watermarks.low).sum();
        let slab = super::slab::SLAB_PAGES.load(Ordering::Relaxed);
        let high = mmzone::has_highmem().then(|| {
            let highmem = self.reports.iter().filter(|r| r.zone.is_some_and(|z| z.is_highmem()));
            highmem.fold((0, 0), |(t, f), r| (t + r.managed, f + r.free))
        });
        let (vmalloc_used, vmalloc_total) = super::vmalloc::usage();
        MemInfo {
            total,
            free,
            // Every slab cache is unreclaimable so far: nothing of the slab counts as available.
            available: proc::mem_available(free, reserve, 0, low),
            slab_reclaimable: 0,
            slab_unreclaimable: slab,
            high,
            kernel_stack_bytes: super::vmalloc::kernel_stack_bytes(),
            page_tables: super::pgtable::KERNEL_PGTABLE_PAGES.load(Ordering::Relaxed)
                + super::aspace::USER_PGTABLE_PAGES.load(Ordering::Relaxed),
            vmalloc_total,
            vmalloc_used,
            direct_map: core::array::from_fn(|i| super::pgtable::DIRECT_MAP_PAGES[i].load(Ordering::Relaxed)),
        }
    }

    pub fn vmstat(&self, w: &mut impl Write) -> fmt::Result {
        let mut events = VmEvents { pgfree: PGFREE.load(Ordering::Relaxed), ..VmEvents::default() };
        for zone in &self.zones {
            events.pgalloc[zone.kind as usize] += zone.pgalloc.load(Ordering::Relaxed);
        }
        let free = self.reports.iter().map(|r| r.free).sum();
        proc::vmstat(w, free, &events, mmzone::has_highmem())
    }

    /// Free pages per order summed over zones (for tests comparing against a boot snapshot).
    /// Free blocks per order of every zone, read directly from the free lists without building a
    /// snapshot (no allocation, so reading does not change what is read).
    pub fn buddy_counts_now() -> heapless::Vec<[u64; mm_core::page::MAX_ORDER], MAX_ZONES> {
        mmzone::all_zones()
            .map(|(_, zone)| {
                let free = zone.free.lock();
                let per_type: [[u64; mm_core::page::MAX_ORDER]; MIGRATE_TYPES] =
                    core::array::from_fn(|t| free.buddy.blocks_per_order(MigrateType::ALL[t]));
                core::array::from_fn(|o| per_type.iter().map(|t| t[o]).sum())
            })
            .collect()
    }

    /// Number of zones with memory on node `nid`.
    pub fn populated_zones(&self, nid: usize) -> usize {
        self.reports.iter().filter(|r| r.node == nid && r.present > 0).count()
    }
}

/// A `fmt::Write` that sends each completed line to the log at one level.
struct LogLines {
    level: Level,
    line: heapless::String<200>,
}

impl Write for LogLines {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for c in s.chars() {
            if c == '\n' {
                printk::printk(self.level, format_args!("{}", self.line));
                self.line.clear();
            } else if self.line.push(c).is_err() {
                printk::printk(self.level, format_args!("{}", self.line));
                self.line.clear();
                let _ = self.line.push(c);
            }
        }
        Ok(())
    }
}

/// Logs every text at `level`, each under a `cat /proc/…`-style heading.
pub fn print_all(level: Level) {
    if !printk::enabled(level) {
        return;
    }
    let snap = Snapshot::take();
    let mut out = LogLines { level, line: heapless::String::new() };
    let _ = writeln!(out, "/proc/buddyinfo:");
    let _ = snap.buddyinfo(&mut out);
    let _ = writeln!(out, "/proc/pagetypeinfo:");
    let _ = snap.pagetypeinfo(&mut out);
    let _ = writeln!(out, "/proc/zoneinfo:");
    let _ = snap.zoneinfo(&mut out);
    let _ = writeln!(out, "/proc/meminfo:");
    let _ = proc::meminfo(&mut out, &snap.meminfo());
    let _ = writeln!(out, "/proc/vmstat:");
    let _ = snap.vmstat(&mut out);
    let _ = writeln!(out, "/proc/slabinfo:");
    let _ = super::slab::slabinfo(&mut out);
}
