//! The kernel's E820 table: built from the boot loader's memory map, sanitized, printed, capped by `mem=`.
//!
//! Sources, in order of preference: the multiboot2 memory-map tag (GRUB passes the BIOS E820 entries
//! through, or translates UEFI's map), the EFI memory-map tag, and as a last resort the basic
//! lower/upper memory sizes. The sanitizing itself is `mm_core::e820` (host-tested).

use mm_core::e820::{E820Error, E820Table, E820Type, e820_type_from_efi};

use crate::boot::BootInfo;
use crate::printk::{self, Level};
use crate::sync::SpinLock;
use crate::{pr_debug, pr_emerg, pr_info, pr_notice, pr_warn};

static E820: SpinLock<E820Table> = SpinLock::new(E820Table::new());

/// Runs `f` on the final E820 table.
pub fn with_table<R>(f: impl FnOnce(&E820Table) -> R) -> R {
    f(&E820.lock())
}

fn append(table: &mut E820Table, addr: u64, size: u64, typ: E820Type) {
    match table.append(addr, size, typ) {
        Ok(()) => {}
        Err(E820Error::ZeroLength) => pr_notice!("e820: dropping zero-length entry at {addr:#x} ({typ})"),
        Err(err) => pr_warn!("e820: dropping entry at {addr:#x} size {size:#x} ({typ}): {err}"),
    }
}

/// Fills the raw table from the boot information; returns the name of the source used.
fn read_firmware_map(boot: &'static BootInfo, table: &mut E820Table) -> Option<&'static str> {
    let info = boot.info();
    if let Some(mmap) = info.memory_map_tag() {
        for area in mmap.memory_areas() {
            append(table, area.start_address(), area.size(), E820Type(u32::from(area.typ())));
        }
        return Some("multiboot2 memory map");
    }
    if let Some(efi) = info.efi_memory_map_tag() {
        for desc in efi.memory_areas() {
            let size = desc.page_count.saturating_mul(4096);
            append(table, desc.phys_start, size, e820_type_from_efi(desc.ty.0));
        }
        return Some("EFI memory map");
    }
    if let Some(basic) = info.basic_memory_info_tag() {
        append(table, 0, u64::from(basic.memory_lower()) * 1024, E820Type::USABLE);
        append(table, 1 << 20, u64::from(basic.memory_upper()) * 1024, E820Type::USABLE);
        return Some("multiboot2 basic memory information");
    }
    None
}

/// Builds, sanitizes and prints the table; applies `mem=`. Returns the final table.
pub fn setup(boot: &'static BootInfo, mem_limit: Option<u64>) -> E820Table {
    let mut table = E820Table::new();
    match read_firmware_map(boot, &mut table) {
        Some(source) => pr_info!("e820: memory map from the {source}, {} entries", table.len()),
        None => pr_emerg!("e820: the boot loader passed no memory map at all"),
    }
    if printk::enabled(Level::Debug) {
        for entry in table.entries() {
            pr_debug!("e820: firmware entry {entry}");
        }
    }
    let report = table.sanitize();
    if report.changed() {
        pr_notice!(
            "e820: sanitized the firmware map: {} -> {} entries ({} overlaps resolved, {} empty dropped{}{})",
            report.entries_in,
            report.entries_out,
            report.overlaps,
            report.empty_dropped,
            if report.unsorted { ", sorted" } else { "" },
            if report.truncated > 0 { ", top entries lost: table full" } else { "" }
        );
    }
    pr_info!("BIOS-provided physical RAM map:");
    for entry in table.entries() {
        pr_info!("BIOS-e820: {entry}");
    }
    if let Some(limit) = mem_limit {
        match table.limit_usable(limit) {
            Ok(()) => {
                pr_info!("e820: remove [mem {limit:#018x}-{:#018x}] usable", u64::MAX - 1);
                pr_info!("user-defined physical RAM map:");
                for entry in table.entries() {
                    pr_info!("user: {entry}");
                }
            }
            Err(err) => pr_warn!("e820: cannot apply mem={limit:#x}: {err}"),
        }
    }
    *E820.lock() = table.clone();
    table
}
