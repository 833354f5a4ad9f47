//! The kernel image's sections, from the linker script's symbols (`_text`…`__bss_stop` in Linux terms).

use crate::arch::x86_64::boot::KERNEL_VMA;

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
    /// The .boot section (multiboot2 header, 32-bit entry): needed only while booting.
    pub init_bytes: u64,
}

/// Address of a linker-defined symbol (only its address means anything).
macro_rules! symbol_addr {
    ($symbol:ident) => {
        (&raw const $symbol) as u64
    };
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
        init_bytes: symbol_addr!(__boot_end) - symbol_addr!(__boot_start),
    }
}
