//! The kernel's memblock instance: filled from the E820 table, with the boot-time reservations, tracing
//! every call under `memblock=debug` the way Linux does (`memblock_reserve: [0x…-0x…] caller`).
//!
//! The algorithm is `mm_core::memblock` (host-tested). Allocations are limited to the early direct map
//! (physical < 4 GiB) until the final page tables exist.

use core::panic::Location;
use core::sync::atomic::{AtomicBool, Ordering};

use mm_core::e820::{E820Table, E820Type};
use mm_core::memblock::{Memblock, MemblockError, RegionArray};

use super::layout::KernelImage;
use super::{PAGE_SIZE, early};
use crate::arch::x86_64::boot::{EARLY_MAPPED_BYTES, KERNEL_VMA, boot_pgtables_end, boot_pgtables_start};
use crate::boot::BootInfo;
use crate::sync::SpinLock;
use crate::{pr_err, pr_info};

static MEMBLOCK: SpinLock<Memblock> = SpinLock::new(Memblock::new());
static DEBUG: AtomicBool = AtomicBool::new(false);
/// Set once the page allocator owns the memory: memblock must not hand out anything after that.
static RETIRED: AtomicBool = AtomicBool::new(false);

/// Ends memblock's life as an allocator (after `memblock_free_all`).
pub fn retire() {
    RETIRED.store(true, Ordering::Relaxed);
}

/// Allocations never end above `limit` (the end of the direct map).
pub fn set_current_limit(limit: u64) {
    MEMBLOCK.lock().set_current_limit(limit);
}

/// Turns call tracing on (`memblock=debug`).
pub fn set_debug(on: bool) {
    DEBUG.store(on, Ordering::Relaxed);
}

fn trace(call: &str, base: u64, size: u64, caller: &Location<'_>) {
    trace_named(call, base, size, "", caller);
}

/// Linux prints the caller's symbol; we print what the range is (when known) and the caller's location.
fn trace_named(call: &str, base: u64, size: u64, what: &str, caller: &Location<'_>) {
    if DEBUG.load(Ordering::Relaxed) && size > 0 {
        let sep = if what.is_empty() { "" } else { " " };
        pr_info!("{call}: [{base:#018x}-{:#018x}]{sep}{what} {caller}", base + size - 1);
    }
}

/// Runs `f` on the memblock state (for reports and tests).
pub fn with<R>(f: impl FnOnce(&Memblock) -> R) -> R {
    f(&MEMBLOCK.lock())
}

/// Registers RAM.
#[track_caller]
pub fn memblock_add(base: u64, size: u64) -> Result<(), MemblockError> {
    trace("memblock_add", base, size, Location::caller());
    MEMBLOCK.lock().add(base, size)
}

/// Marks `[base, base + size)` as in use; `what` names it in the `memblock=debug` trace.
#[track_caller]
pub fn memblock_reserve(base: u64, size: u64, what: &str) -> Result<(), MemblockError> {
    trace_named("memblock_reserve", base, size, what, Location::caller());
    MEMBLOCK.lock().reserve(base, size)
}

/// Returns a reserved range to the free pool.
#[track_caller]
pub fn memblock_phys_free(base: u64, size: u64) -> Result<(), MemblockError> {
    trace("memblock_phys_free", base, size, Location::caller());
    MEMBLOCK.lock().free(base, size)
}

/// Allocates `size` bytes aligned to `align`, top-down; returns the physical address. The memory is
/// not cleared (Linux's `memblock_phys_alloc`).
#[track_caller]
pub fn memblock_phys_alloc(size: u64, align: u64) -> Result<u64, MemblockError> {
    memblock_phys_alloc_range(size, align, 0, u64::MAX)
}

/// Allocates inside `[start, end)`, top-down (Linux's `memblock_phys_alloc_range`).
#[track_caller]
pub fn memblock_phys_alloc_range(size: u64, align: u64, start: u64, end: u64) -> Result<u64, MemblockError> {
    if RETIRED.load(Ordering::Relaxed) {
        pr_err!(
            "memblock: allocation of {size:#x} bytes after the page allocator took over ({})",
            Location::caller()
        );
        return Err(MemblockError::NoMemory);
    }
    let result = MEMBLOCK.lock().alloc_range(size, align, start, end);
    match result {
        Ok(base) => trace("memblock_phys_alloc", base, size, Location::caller()),
        Err(err) => pr_err!("memblock_phys_alloc: {size:#x} bytes align {align:#x} failed: {err}"),
    }
    result
}

/// Allocates zeroed memory and returns it as a slice of the early direct map (Linux's `memblock_alloc`).
#[track_caller]
pub fn memblock_alloc(size: u64, align: u64) -> Result<&'static mut [u8], MemblockError> {
    let base = memblock_phys_alloc(size, align)?;
    let virt = early::phys_to_virt(base).ok_or(MemblockError::NoMemory)?;
    // SAFETY: memblock just reserved [base, base + size) for this caller alone, below the allocation
    // limit, so it is RAM inside the early direct map that nothing else references.
    let bytes = unsafe { core::slice::from_raw_parts_mut(virt as *mut u8, size as usize) };
    bytes.fill(0);
    Ok(bytes)
}

/// Reserves a range the kernel cannot run without; failing here leaves no safe way on.
#[track_caller]
fn reserve_or_die(base: u64, size: u64, what: &str) {
    if let Err(err) = memblock_reserve(base, size, what) {
        panic!("memblock: cannot reserve {what} [{base:#x}+{size:#x}]: {err}");
    }
}

/// Fills memblock from the final E820 table and makes the boot-time reservations (seed 000 §7).
pub fn setup(e820: &E820Table, boot: &'static BootInfo, image: &KernelImage) {
    for entry in e820.entries().iter().filter(|e| e.typ == E820Type::USABLE) {
        // Only whole pages are RAM to the page allocator.
        let start = entry.addr.next_multiple_of(PAGE_SIZE);
        let end = entry.end() & !(PAGE_SIZE - 1);
        if end > start && memblock_add(start, end - start).is_err() {
            pr_err!("memblock: memory array full, ignoring RAM [{start:#x}-{:#x}]", end - 1);
        }
    }
    reserve_or_die(0, PAGE_SIZE, "page 0");
    reserve_or_die(0, 1 << 20, "the low 1 MiB (BIOS data, EBDA, legacy ROMs)");
    reserve_or_die(image.phys_start, image.phys_end - image.phys_start, "the kernel image");
    let pgtables = &raw const boot_pgtables_start as u64 - KERNEL_VMA;
    let pgtables_end = &raw const boot_pgtables_end as u64 - KERNEL_VMA;
    reserve_or_die(pgtables, pgtables_end - pgtables, "the early page tables");
    let mbi_start = boot.phys_start & !(PAGE_SIZE - 1);
    reserve_or_die(mbi_start, boot.phys_end.next_multiple_of(PAGE_SIZE) - mbi_start, "the boot information");
    for module in boot.modules() {
        let start = module.start & !(PAGE_SIZE - 1);
        let end = module.end.next_multiple_of(PAGE_SIZE).max(start + PAGE_SIZE);
        reserve_or_die(start, end - start, "a boot module");
    }
    MEMBLOCK.lock().set_current_limit(EARLY_MAPPED_BYTES);
    if DEBUG.load(Ordering::Relaxed) {
        dump();
    }
}

fn dump_array(array: &RegionArray) {
    pr_info!(" {}.cnt  = {:#x}", array.name(), array.regions().len());
    for (i, r) in array.regions().iter().enumerate() {
        pr_info!(
            " {}[{:#x}]\t[{:#018x}-{:#018x}], {:#018x} bytes flags: 0x0",
            array.name(),
            i,
            r.base,
            r.end() - 1,
            r.size
        );
    }
}

/// Prints both arrays as Linux's `memblock_dump_all`.
pub fn dump() {
    let m = MEMBLOCK.lock().clone();
    pr_info!("MEMBLOCK configuration:");
    pr_info!(" memory size = {:#018x} reserved size = {:#018x}", m.phys_mem_size(), m.reserved.total_size());
    dump_array(&m.memory);
    dump_array(&m.reserved);
}

/// Linux's `mem_init_print_info` line: free pages in the buddy allocator, RAM pages, and the kernel image
/// by section; "reserved" is everything else (firmware areas, the kernel, page descriptors, tables).
pub fn print_memory_summary(image: &KernelImage, available_pages: u64, total_pages: u64) {
    let (total, available) = (total_pages * PAGE_SIZE, available_pages * PAGE_SIZE);
    let kib = |bytes: u64| bytes >> 10;
    pr_info!(
        "Memory: {}K/{}K available ({}K kernel code, {}K rwdata, {}K rodata, {}K init, {}K bss, {}K reserved)",
        kib(available),
        kib(total),
        kib(image.text_bytes),
        kib(image.data_bytes),
        kib(image.rodata_bytes),
        kib(image.init_bytes),
        kib(image.bss_bytes),
        kib(total - available)
    );
}
