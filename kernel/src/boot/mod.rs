//! Boot information: the multiboot2 block GRUB hands over, validated, parsed and printed.
//!
//! The block is checked with `mbcheck` before the `multiboot2` crate reads it, so a malformed block is
//! rejected with a message instead of a panic. Everything the kernel needs from it (command line, memory
//! map, modules, ACPI RSDP, framebuffer, EFI system table) is reached through [`BootInfo`].

use core::fmt;

use multiboot2::{BootInformation, BootInformationHeader, FramebufferType};

use crate::mm::early;
use crate::sync::OnceLock;
use crate::{pr_info, pr_warn};

static BOOT_INFO: OnceLock<BootInfo> = OnceLock::new();

/// The value GRUB leaves in EAX (multiboot2 spec §3.3).
pub const MULTIBOOT2_BOOTLOADER_MAGIC: u32 = 0x36d7_6289;

/// Why the boot information cannot be used.
#[derive(Clone, Copy, Debug)]
pub enum BootError {
    BadMagic(u32),
    Unreachable(u64),
    Malformed(mbcheck::MbiError),
    Rejected(multiboot2::LoadError),
}

impl fmt::Display for BootError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadMagic(m) => write!(f, "not loaded by a multiboot2 boot loader (magic {m:#x})"),
            Self::Unreachable(a) => {
                write!(f, "boot information at {a:#x} is misaligned or outside low memory")
            }
            Self::Malformed(e) => write!(f, "malformed boot information: {e}"),
            Self::Rejected(e) => write!(f, "boot information rejected: {e}"),
        }
    }
}

/// The kernel command line read straight from the block (validated) through the boot map, without
/// keeping anything: for the few decisions taken before the kernel's own page tables exist.
pub fn peek_cmdline(magic: u32, mbi_phys: u64) -> Option<&'static str> {
    if magic != MULTIBOOT2_BOOTLOADER_MAGIC || !mbi_phys.is_multiple_of(8) {
        return None;
    }
    let total = mbcheck::total_size(early::phys_bytes(mbi_phys, 8)?)? as usize;
    let bytes = early::phys_bytes(mbi_phys, total.min(mbcheck::MAX_MBI_BYTES))?;
    mbcheck::validate(bytes).ok()?;
    Some(mbcheck::cmdline(bytes))
}

/// A boot module: `[start, end)` physical, and the text after its path in `module2`.
#[derive(Clone, Copy, Debug)]
pub struct Module {
    pub start: u64,
    pub end: u64,
    pub name: &'static str,
}

/// The validated boot information.
pub struct BootInfo {
    info: BootInformation<'static>,
    /// Physical range of the block itself.
    pub phys_start: u64,
    pub phys_end: u64,
}

impl BootInfo {
    /// Validates and opens the block at physical `mbi_phys`, once; the result lives for the whole run.
    pub fn load(magic: u32, mbi_phys: u64) -> Result<&'static Self, BootError> {
        let info = Self::open(magic, mbi_phys)?;
        Ok(BOOT_INFO.set(info).unwrap_or_else(|_| panic!("boot information loaded twice")))
    }

    fn open(magic: u32, mbi_phys: u64) -> Result<Self, BootError> {
        if magic != MULTIBOOT2_BOOTLOADER_MAGIC {
            return Err(BootError::BadMagic(magic));
        }
        let header = early::phys_bytes(mbi_phys, 8)
            .filter(|_| mbi_phys.is_multiple_of(8))
            .ok_or(BootError::Unreachable(mbi_phys))?;
        let total = mbcheck::total_size(header).unwrap_or(0) as usize;
        let bytes = early::phys_bytes(mbi_phys, total.min(mbcheck::MAX_MBI_BYTES))
            .ok_or(BootError::Unreachable(mbi_phys))?;
        mbcheck::validate(bytes).map_err(BootError::Malformed)?;
        // SAFETY: the block is mapped (early direct map), 8-aligned, validated by mbcheck, and reserved
        // in memblock before any allocator runs, so it stays unmodified for the kernel's lifetime.
        let info = unsafe { BootInformation::load(bytes.as_ptr().cast::<BootInformationHeader>()) }
            .map_err(BootError::Rejected)?;
        Ok(Self { info, phys_start: mbi_phys, phys_end: mbi_phys + total as u64 })
    }

    pub fn info(&'static self) -> &'static BootInformation<'static> {
        &self.info
    }

    /// The kernel command line ("" when there is none).
    pub fn cmdline(&'static self) -> &'static str {
        self.info.command_line_tag().and_then(|t| t.cmdline().ok()).unwrap_or("")
    }

    /// The boot loader's name, if it gave one.
    pub fn loader_name(&'static self) -> Option<&'static str> {
        self.info.boot_loader_name_tag().and_then(|t| t.name().ok())
    }

    /// The modules, in the order of the GRUB configuration.
    pub fn modules(&'static self) -> impl Iterator<Item = Module> {
        self.info.module_tags().map(|m| Module {
            start: u64::from(m.start_address()),
            end: u64::from(m.end_address()),
            name: m.cmdline().unwrap_or(""),
        })
    }

    /// The bytes of the first module named `name`, when it lies in mapped memory.
    pub fn module_bytes(&'static self, name: &str) -> Option<&'static [u8]> {
        let m = self.modules().find(|m| m.name == name)?;
        early::phys_bytes(m.start, (m.end - m.start) as usize)
    }

    /// Prints what the boot loader handed over, as the first lines of a Linux boot do.
    pub fn print(&'static self) {
        if let Some(name) = self.loader_name() {
            pr_info!("Boot loader: {name}");
        }
        pr_info!(
            "multiboot2: boot information at [mem {:#018x}-{:#018x}]",
            self.phys_start,
            self.phys_end - 1
        );
        if let Some(basic) = self.info.basic_memory_info_tag() {
            pr_info!(
                "multiboot2: lower memory {}K, upper memory {}K",
                basic.memory_lower(),
                basic.memory_upper()
            );
        }
        for m in self.modules() {
            pr_info!("module: [mem {:#018x}-{:#018x}] {}", m.start, m.end.max(m.start + 1) - 1, m.name);
        }
        self.print_acpi();
        self.print_framebuffer();
        if let Some(t) = self.info.efi_sdt64_tag() {
            pr_info!("efi: EFI v2 64-bit, system table at {:#x}", t.sdt_address());
        }
        if let Some(t) = self.info.efi_memory_map_tag() {
            pr_info!("efi: EFI memory map with {} descriptors", t.memory_areas().count());
        }
    }

    fn print_acpi(&'static self) {
        if let Some(v2) = self.info.rsdp_v2_tag() {
            pr_info!(
                "ACPI: RSDP (copy in boot info) v{:02} {:<6} XSDT {:#010x}{}",
                v2.revision(),
                v2.oem_id().unwrap_or("?"),
                v2.xsdt_address(),
                if v2.checksum_is_valid() { "" } else { " (bad checksum)" }
            );
        }
        if let Some(v1) = self.info.rsdp_v1_tag() {
            pr_info!(
                "ACPI: RSDP (copy in boot info) v{:02} {:<6} RSDT {:#010x}{}",
                v1.revision(),
                v1.oem_id().unwrap_or("?"),
                v1.rsdt_address(),
                if v1.checksum_is_valid() { "" } else { " (bad checksum)" }
            );
        }
        if self.info.rsdp_v1_tag().is_none() && self.info.rsdp_v2_tag().is_none() {
            pr_warn!("ACPI: no RSDP from the boot loader");
        }
    }

    fn print_framebuffer(&'static self) {
        match self.info.framebuffer_tag() {
            Some(Ok(fb)) => {
                let kind = match fb.buffer_type() {
                    Ok(FramebufferType::Text) => "EGA text",
                    Ok(FramebufferType::RGB { .. }) => "RGB",
                    Ok(FramebufferType::Indexed { .. }) => "indexed",
                    Err(_) => "unknown type",
                };
                pr_info!(
                    "framebuffer: {} {}x{} {}bpp pitch {} at {:#x}",
                    kind,
                    fb.width(),
                    fb.height(),
                    fb.bpp(),
                    fb.pitch(),
                    fb.address()
                );
            }
            Some(Err(_)) => pr_warn!("framebuffer: of a type this kernel does not know"),
            None => pr_info!("framebuffer: none"),
        }
    }
}
