//! The kernel's virtual layout: the image's sections from the linker script (`_text`…`__bss_stop` in Linux
//! terms) and the bases of the direct map, vmalloc area and vmemmap chosen at boot.

use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use mm_core::kaslr;
use mm_core::page::{PAGE_SHIFT, Page};

use crate::arch::x86_64::boot::KERNEL_VMA;
use crate::pr_warn;
use crate::printk::{self, Level};

unsafe extern "C" {
    static __kernel_phys_start: u8;
    static __boot_start: u8;
    static __boot_end: u8;
    static __text_start: u8;
    static __text_end: u8;
    static __rodata_start: u8;
    static __rodata_end: u8;
    static __data_start: u8;
    static __data_end: u8;
    static __bss_start: u8;
    static __bss_end: u8;
}

/// Sizes and physical extent of the loaded kernel image.
#[derive(Clone, Copy, Debug)]
pub struct KernelImage {
    /// Physical `[start, end)` of everything GRUB loaded, .boot through .bss.
    pub phys_start: u64,
    pub phys_end: u64,
    pub text_bytes: u64,
    pub rodata_bytes: u64,
    pub data_bytes: u64,
    pub bss_bytes: u64,
    /// Needed only while booting, freed at the end of it: the .boot section (multiboot2 header, 32-bit
    /// entry) and the boot stub's page tables.
    pub init_bytes: u64,
}

/// Address of a linker-defined symbol (only its address means anything).
macro_rules! symbol_addr {
    ($symbol:ident) => {
        (&raw const $symbol) as u64
    };
}

fn boot_pgtables_bytes() -> u64 {
    use crate::arch::x86_64::boot::{boot_pgtables_end, boot_pgtables_start};
    symbol_addr!(boot_pgtables_end) - symbol_addr!(boot_pgtables_start)
}

/// Physical ranges of the init memory `free_initmem` gives back: .boot and the boot page tables.
pub fn init_ranges() -> [(u64, u64); 2] {
    use crate::arch::x86_64::boot::boot_pgtables_start;
    let tables = symbol_addr!(boot_pgtables_start) - KERNEL_VMA;
    [(symbol_addr!(__boot_start), symbol_addr!(__boot_end)), (tables, tables + boot_pgtables_bytes())]
}

/// The image's higher-half sections with their STRICT_KERNEL_RWX permissions: text read-execute, rodata
/// read-only, data and bss read-write.
pub fn kernel_sections() -> [(u64, u64, crate::arch::x86_64::paging::Protection); 3] {
    use crate::arch::x86_64::paging::Protection;
    [
        (symbol_addr!(__text_start), symbol_addr!(__text_end), Protection::RX),
        (symbol_addr!(__rodata_start), symbol_addr!(__rodata_end), Protection::R),
        (symbol_addr!(__data_start), symbol_addr!(__bss_end), Protection::RW),
    ]
}

/// Reads the section symbols of the linked image.
pub fn kernel_image() -> KernelImage {
    KernelImage {
        phys_start: symbol_addr!(__kernel_phys_start),
        phys_end: symbol_addr!(__bss_end) - KERNEL_VMA,
        text_bytes: symbol_addr!(__text_end) - symbol_addr!(__text_start),
        rodata_bytes: symbol_addr!(__rodata_end) - symbol_addr!(__rodata_start),
        data_bytes: symbol_addr!(__data_end) - symbol_addr!(__data_start),
        bss_bytes: symbol_addr!(__bss_end) - symbol_addr!(__bss_start),
        init_bytes: symbol_addr!(__boot_end) - symbol_addr!(__boot_start) + boot_pgtables_bytes(),
    }
}

/// The kernel half of the address space (DESIGN §5), from the bottom up. The direct map, the vmalloc
/// area and the vmemmap are placed at boot — randomized unless `nokaslr` (seed 000 §21) — the rest is
/// fixed.
pub mod regions {
    /// Bytes of the vmalloc/ioremap area (Linux's `VMALLOC_SIZE_TB` of 32).
    pub const VMALLOC_SIZE: u64 = 32 << 40;
    /// Early window for firmware tables outside the direct map.
    pub const ACPI_WINDOW: u64 = 0xffff_fc00_0000_0000;
    /// Persistent kmap slots (1024 pages), as 32-bit Linux's PKMAP area.
    pub const PKMAP_BASE: u64 = 0xffff_ffff_fe00_0000;
    pub const LAST_PKMAP: u64 = 1024;
    /// Fixed mappings (temporary `kmap_atomic` slots and others), one 2 MiB page table.
    pub const FIXMAP_START: u64 = 0xffff_ffff_ff00_0000;
    pub const FIXMAP_END: u64 = 0xffff_ffff_ff20_0000;
}

static PAGE_OFFSET_BASE: AtomicU64 = AtomicU64::new(crate::arch::x86_64::boot::PAGE_OFFSET);
static VMALLOC_BASE: AtomicU64 = AtomicU64::new(kaslr::NOKASLR_BASES[1]);
static VMEMMAP_BASE: AtomicU64 = AtomicU64::new(kaslr::NOKASLR_BASES[2]);
static DIRECT_MAP_SIZE: AtomicU64 = AtomicU64::new(1 << 46);
static RANDOMIZED: AtomicBool = AtomicBool::new(false);

/// Virtual address of physical 0 in the direct map (Linux's `PAGE_OFFSET`, randomized).
#[inline]
pub fn page_offset() -> u64 {
    PAGE_OFFSET_BASE.load(Ordering::Relaxed)
}

/// Start of the page-descriptor array (Linux's `VMEMMAP_START`).
#[inline]
pub fn vmemmap_base() -> u64 {
    VMEMMAP_BASE.load(Ordering::Relaxed)
}

/// `[VMALLOC_START, VMALLOC_END)`.
pub fn vmalloc_range() -> (u64, u64) {
    let start = VMALLOC_BASE.load(Ordering::Relaxed);
    (start, start + regions::VMALLOC_SIZE)
}

/// Whether the region bases were randomized.
pub fn randomized() -> bool {
    RANDOMIZED.load(Ordering::Relaxed)
}

/// Chooses the region bases: the direct map gets room for all the physical address bits of the CPU, the
/// vmemmap room for their descriptors. Returns the direct map base.
pub fn choose_bases(nokaslr: bool, phys_addr_bits: u8) -> u64 {
    let direct = 1u64 << phys_addr_bits.clamp(32, 46);
    let vmemmap = ((direct >> PAGE_SHIFT) * size_of::<Page>() as u64).next_multiple_of(1 << 40);
    let sizes = [direct, regions::VMALLOC_SIZE, vmemmap];
    let bases = if nokaslr {
        kaslr::NOKASLR_BASES
    } else {
        match kaslr::place(kaslr::KASLR_START, kaslr::KASLR_END, sizes, crate::random::next_u64) {
            Ok(bases) => bases,
            Err(_) => {
                pr_warn!("KASLR: the memory regions do not fit the window; using fixed bases");
                kaslr::NOKASLR_BASES
            }
        }
    };
    RANDOMIZED.store(bases != kaslr::NOKASLR_BASES, Ordering::Relaxed);
    DIRECT_MAP_SIZE.store(direct, Ordering::Relaxed);
    VMALLOC_BASE.store(bases[1], Ordering::Relaxed);
    VMEMMAP_BASE.store(bases[2], Ordering::Relaxed);
    bases[0]
}

/// Publishes the direct map base once the kernel runs on the page tables that map it.
pub fn set_page_offset(base: u64) {
    PAGE_OFFSET_BASE.store(base, Ordering::Relaxed);
}

fn human(bytes: u64) -> (u64, &'static str) {
    [(40, "TB"), (30, "GB"), (20, "MB"), (10, "kB")]
        .iter()
        .find(|(shift, _)| bytes >= 1 << shift && bytes.is_multiple_of(1 << shift))
        .map_or((bytes, "B"), |&(shift, unit)| (bytes >> shift, unit))
}

/// Prints the layout as Linux's "Virtual kernel memory layout" (at debug level when randomized, so the
/// bases stay out of ordinary logs).
pub fn print_layout() {
    let level = if randomized() { Level::Debug } else { Level::Info };
    let image = kernel_image();
    let (vmalloc_start, vmalloc_end) = vmalloc_range();
    let direct = DIRECT_MAP_SIZE.load(Ordering::Relaxed);
    let vmemmap = ((direct >> PAGE_SHIFT) * size_of::<Page>() as u64).next_multiple_of(1 << 40);
    let text = symbol_addr!(__text_start);
    let rows: [(&str, u64, u64); 8] = [
        ("fixmap", regions::FIXMAP_START, regions::FIXMAP_END),
        ("pkmap", regions::PKMAP_BASE, regions::PKMAP_BASE + regions::LAST_PKMAP * 4096),
        ("kernel", text, symbol_addr!(__bss_end)),
        ("vmemmap", vmemmap_base(), vmemmap_base() + vmemmap),
        ("vmalloc", vmalloc_start, vmalloc_end),
        ("directmap", page_offset(), page_offset() + direct),
        ("  .text", text, text + image.text_bytes),
        ("  .data", symbol_addr!(__rodata_start), symbol_addr!(__bss_end)),
    ];
    printk::printk(
        level,
        format_args!("Virtual kernel memory layout{}:", if randomized() { " (KASLR)" } else { "" }),
    );
    for (name, start, end) in rows {
        let (n, unit) = human(end - start);
        printk::printk(level, format_args!("    {name:<9} : {start:#018x} - {end:#018x}   ({n:>4} {unit})"));
    }
}
