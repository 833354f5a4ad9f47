//! NUMA nodes: which physical memory belongs to which node, from the ACPI SRAT (seed 000 §18, seed 002).
//!
//! The RSDP comes from the multiboot2 tag; the `acpi` crate finds the SRAT and SLIT through the RSDT/XSDT;
//! `mm_core::numa` parses them. Without an SRAT, with `numa=off`, or when the SRAT does not cover the RAM
//! (Linux's rule: more than 1 MiB missing), all memory is one node, as Linux's "Faking a node".

use core::ptr::NonNull;

use acpi::sdt::{SdtHeader, Signature};
use acpi::{AcpiHandler, AcpiTable, AcpiTables, PhysicalMapping};
use mm_core::numa::{LOCAL_DISTANCE, MAX_NUMNODES, PxmMap, REMOTE_DISTANCE, Slit, parse_slit, parse_srat};
use mm_core::page::PAGE_SHIFT;

use super::{PAGE_SIZE, early, memblock};
use crate::arch::x86_64::paging;
use crate::boot::BootInfo;
use crate::sync::OnceLock;
use crate::{pr_info, pr_warn};

/// Most node memory ranges remembered.
const MAX_NODE_RANGES: usize = 64;

/// The node layout: memory ranges with their node, and the distance matrix.
#[derive(Debug)]
pub struct NumaLayout {
    /// `(start, end, node)`, physical, sorted by start.
    pub ranges: heapless::Vec<(u64, u64, usize), MAX_NODE_RANGES>,
    pub nr_nodes: usize,
    pub distance: [[u8; MAX_NUMNODES]; MAX_NUMNODES],
    pub boot_cpu_node: usize,
}

static LAYOUT: OnceLock<NumaLayout> = OnceLock::new();

/// The layout; one node covering everything until `init` ran.
pub fn layout() -> &'static NumaLayout {
    LAYOUT.get().unwrap_or_else(|| {
        static FALLBACK: NumaLayout = NumaLayout {
            ranges: heapless::Vec::new(),
            nr_nodes: 1,
            distance: [[LOCAL_DISTANCE; MAX_NUMNODES]; MAX_NUMNODES],
            boot_cpu_node: 0,
        };
        &FALLBACK
    })
}

/// The node of a physical address (node 0 for memory no SRAT range covers).
pub fn node_of_addr(addr: u64) -> usize {
    layout().ranges.iter().find(|&&(s, e, _)| s <= addr && addr < e).map_or(0, |r| r.2)
}

/// The node of `addr` and the end of the run of addresses from `addr` on that share it.
pub fn node_run(addr: u64) -> (usize, u64) {
    let ranges = &layout().ranges;
    if let Some(&(_, end, node)) = ranges.iter().find(|&&(s, e, _)| s <= addr && addr < e) {
        return (node, end);
    }
    (0, ranges.iter().map(|r| r.0).filter(|&s| s > addr).min().unwrap_or(u64::MAX))
}

/// The node of the boot CPU, from the SRAT's processor affinity (0 without one).
pub fn boot_cpu_node() -> usize {
    layout().boot_cpu_node
}

pub fn node_of_pfn(pfn: u64) -> usize {
    node_of_addr(pfn << PAGE_SHIFT)
}

pub fn nr_nodes() -> usize {
    layout().nr_nodes
}

pub fn distance(from: usize, to: usize) -> u8 {
    layout().distance[from.min(MAX_NUMNODES - 1)][to.min(MAX_NUMNODES - 1)]
}

/// Virtual address where physical memory outside the direct map (firmware tables above 4 GiB) is mapped
/// for the ACPI parser: a fixed offset, 4 KiB pages, created on demand.
const ACPI_WINDOW_BASE: u64 = super::layout::regions::ACPI_WINDOW;

/// Maps ACPI tables: through the direct map when it covers them, else into the ACPI window.
#[derive(Clone, Copy, Debug)]
struct EarlyAcpiHandler {
    nx: bool,
}

impl AcpiHandler for EarlyAcpiHandler {
    unsafe fn map_physical_region<T>(
        &self,
        physical_address: usize,
        size: usize,
    ) -> PhysicalMapping<Self, T> {
        let phys = physical_address as u64;
        let virt = if early::is_mapped(phys, size) {
            early::phys_to_virt(phys).expect("checked")
        } else {
            let first = phys & !(PAGE_SIZE - 1);
            let last = (phys + size as u64).next_multiple_of(PAGE_SIZE);
            let mut alloc_table = || {
                let table = memblock::memblock_alloc(PAGE_SIZE, PAGE_SIZE).ok()?;
                Some(early::virt_to_phys(table.as_ptr() as u64))
            };
            for page in (first..last).step_by(PAGE_SIZE as usize) {
                if paging::map_4k(ACPI_WINDOW_BASE + page, page, self.nx, &mut alloc_table).is_none() {
                    panic!("ACPI: no memory to map the table at {phys:#x}");
                }
            }
            ACPI_WINDOW_BASE + phys
        };
        // SAFETY: `virt` maps `size` bytes of `physical_address` (direct map or the window just made); the
        // acpi crate validates what it reads.
        unsafe {
            PhysicalMapping::new(
                physical_address,
                NonNull::new(virt as *mut T).expect("non-null"),
                size,
                size,
                *self,
            )
        }
    }

    fn unmap_physical_region<T>(_region: &PhysicalMapping<Self, T>) {
        // Direct-map and window mappings stay: they cost nothing and tables are read again later.
    }
}

/// The SRAT's fixed part, so that `acpi` can find and validate it.
#[repr(C, packed)]
struct SratTable {
    header: SdtHeader,
}

// SAFETY: `SratTable` starts with the SDT header, as `AcpiTable` requires.
unsafe impl AcpiTable for SratTable {
    const SIGNATURE: Signature = Signature::SRAT;
    fn header(&self) -> &SdtHeader {
        &self.header
    }
}

#[repr(C, packed)]
struct SlitTable {
    header: SdtHeader,
}

// SAFETY: `SlitTable` starts with the SDT header, as `AcpiTable` requires.
unsafe impl AcpiTable for SlitTable {
    const SIGNATURE: Signature = Signature::SLIT;
    fn header(&self) -> &SdtHeader {
        &self.header
    }
}

/// The MADT's fixed part (ACPI "APIC" table), so that `acpi` can find and validate it.
#[repr(C, packed)]
struct MadtTable {
    header: SdtHeader,
}

// SAFETY: `MadtTable` starts with the SDT header, as `AcpiTable` requires.
unsafe impl AcpiTable for MadtTable {
    const SIGNATURE: Signature = Signature::MADT;
    fn header(&self) -> &SdtHeader {
        &self.header
    }
}

/// Runs `f` on the whole MADT, if the firmware has one. Call it while memblock still works (the table
/// may need the ACPI window), and keep nothing of the bytes.
pub fn with_madt<R>(boot: &'static BootInfo, nx: bool, f: impl FnOnce(&[u8]) -> R) -> Option<R> {
    let tables = acpi_tables(boot, nx)?;
    let mapping = tables.find_table::<MadtTable>().ok()?;
    table_bytes(&mapping).map(f)
}

/// The whole table behind a validated mapping.
fn table_bytes<T: AcpiTable + Unpin>(
    mapping: &PhysicalMapping<EarlyAcpiHandler, T>,
) -> Option<&'static [u8]> {
    let length = mapping.header().length as usize;
    let phys = mapping.physical_start() as u64;
    if early::is_mapped(phys, length) {
        early::phys_bytes(phys, length)
    } else {
        // SAFETY: `read_table` in the acpi crate mapped the full length in the ACPI window.
        Some(unsafe { core::slice::from_raw_parts(mapping.virtual_start().as_ptr().cast::<u8>(), length) })
    }
}

fn acpi_tables(boot: &'static BootInfo, nx: bool) -> Option<AcpiTables<EarlyAcpiHandler>> {
    let handler = EarlyAcpiHandler { nx };
    let info = boot.info();
    let result = if let Some(v2) = info.rsdp_v2_tag().filter(|t| t.checksum_is_valid()) {
        // SAFETY: the XSDT address comes from a checksummed RSDP; the handler maps whatever it points at.
        unsafe { AcpiTables::from_rsdt(handler, 2, v2.xsdt_address()) }
    } else if let Some(v1) = info.rsdp_v1_tag().filter(|t| t.checksum_is_valid()) {
        // SAFETY: as above, for the RSDT of an ACPI 1.0 RSDP.
        unsafe { AcpiTables::from_rsdt(handler, 0, v1.rsdt_address()) }
    } else {
        return None;
    };
    result.map_err(|e| pr_warn!("ACPI: cannot read the root table: {e:?}")).ok()
}

/// One node covering all RAM.
fn fake_node(ram: &[(u64, u64)], why: &str) -> NumaLayout {
    let (start, end) = (ram.first().map_or(0, |r| r.0), ram.last().map_or(0, |r| r.1));
    pr_info!("{why}");
    pr_info!("Faking a node at [mem {start:#018x}-{:#018x}]", end.max(start + 1) - 1);
    let mut ranges = heapless::Vec::new();
    let _ = ranges.push((start, end, 0));
    NumaLayout {
        ranges,
        nr_nodes: 1,
        distance: [[LOCAL_DISTANCE; MAX_NUMNODES]; MAX_NUMNODES],
        boot_cpu_node: 0,
    }
}

fn from_srat(
    boot: &'static BootInfo,
    ram: &[(u64, u64)],
    nx: bool,
    boot_apic_id: u32,
) -> Result<NumaLayout, &'static str> {
    let tables = acpi_tables(boot, nx).ok_or("No NUMA configuration found (no usable ACPI tables)")?;
    let srat_map = tables.find_table::<SratTable>().map_err(|_| "No NUMA configuration found (no SRAT)")?;
    let srat = parse_srat(table_bytes(&srat_map).ok_or("SRAT unreadable")?).map_err(|e| {
        pr_warn!("ACPI: SRAT rejected: {e}");
        "SRAT is malformed"
    })?;
    let pxm = PxmMap::from_srat(&srat);
    if pxm.nr_nodes() == 0 || srat.memory.is_empty() {
        return Err("No NUMA configuration found (SRAT without memory)");
    }
    let mut ranges: heapless::Vec<(u64, u64, usize), MAX_NODE_RANGES> = heapless::Vec::new();
    for m in &srat.memory {
        let Some(node) = pxm.node_of(m.pxm) else {
            pr_warn!("ACPI: SRAT: PXM {} beyond {} nodes, memory ignored", m.pxm, MAX_NUMNODES);
            continue;
        };
        let end = m.base.saturating_add(m.length);
        pr_info!(
            "ACPI: SRAT: Node {} PXM {} [mem {:#010x}-{:#010x}]{}",
            node,
            m.pxm,
            m.base,
            end - 1,
            if m.hotpluggable { " hotplug" } else { "" }
        );
        if ranges.push((m.base, end, node)).is_err() {
            return Err("too many SRAT memory ranges");
        }
    }
    ranges.sort_unstable_by_key(|r| r.0);
    // Linux's numa_meminfo_cover_memory: the nodes must cover all RAM but for less than 1 MiB.
    let ram_bytes: u64 = ram.iter().map(|r| r.1 - r.0).sum();
    let covered: u64 = ram
        .iter()
        .map(|&(s, e)| ranges.iter().map(|&(rs, re, _)| e.min(re).saturating_sub(s.max(rs))).sum::<u64>())
        .sum();
    if ram_bytes - covered.min(ram_bytes) >= 1 << 20 {
        pr_warn!(
            "NUMA: nodes only cover {}MB of your {}MB e820 RAM. Not used.",
            covered >> 20,
            ram_bytes >> 20
        );
        return Err("NUMA: SRAT does not cover the RAM");
    }
    let slit =
        tables.find_table::<SlitTable>().ok().and_then(|m| table_bytes(&m).and_then(|b| parse_slit(b).ok()));
    let nr_nodes = pxm.nr_nodes().min(MAX_NUMNODES);
    let mut distance = [[REMOTE_DISTANCE; MAX_NUMNODES]; MAX_NUMNODES];
    for (from, row) in distance.iter_mut().enumerate() {
        for (to, d) in row.iter_mut().enumerate() {
            let slit_distance = |s: &Slit| s.distance(pxm.pxm_of(from)? as usize, pxm.pxm_of(to)? as usize);
            *d = slit.as_ref().and_then(slit_distance).unwrap_or(if from == to {
                LOCAL_DISTANCE
            } else {
                REMOTE_DISTANCE
            });
        }
    }
    let boot_cpu_node =
        srat.cpus.iter().find(|c| c.apic_id == boot_apic_id).and_then(|c| pxm.node_of(c.pxm)).unwrap_or(0);
    Ok(NumaLayout { ranges, nr_nodes, distance, boot_cpu_node })
}

/// Determines the nodes. `ram` is memblock's memory, sorted.
pub fn init(boot: &'static BootInfo, ram: &[(u64, u64)], numa_off: bool, nx: bool) {
    let boot_apic_id = crate::arch::x86_64::cpu::cpuid(1, 0).1 >> 24;
    let layout = if numa_off {
        fake_node(ram, "NUMA turned off")
    } else {
        from_srat(boot, ram, nx, boot_apic_id).unwrap_or_else(|why| fake_node(ram, why))
    };
    for node in 0..layout.nr_nodes {
        let spans = layout.ranges.iter().filter(|r| r.2 == node);
        let (lo, hi) = spans.fold((u64::MAX, 0), |(lo, hi), r| (lo.min(r.0), hi.max(r.1)));
        if hi > lo {
            pr_info!("NUMA: Node {node} [mem {lo:#018x}-{:#018x}]", hi - 1);
        }
    }
    if layout.nr_nodes > 1 {
        for from in 0..layout.nr_nodes {
            let mut line: heapless::String<64> = heapless::String::new();
            for to in 0..layout.nr_nodes {
                let _ =
                    core::fmt::Write::write_fmt(&mut line, format_args!(" {:3}", layout.distance[from][to]));
            }
            pr_info!("NUMA: node {from} distances:{line}");
        }
    }
    if LAYOUT.set(layout).is_err() {
        pr_warn!("NUMA: initialized twice; keeping the first layout");
    }
}
