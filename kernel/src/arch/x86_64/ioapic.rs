//! The I/O APIC (Intel 82093AA data sheet): where the ACPI MADT says it is, and how it routes one
//! legacy ISA interrupt to a vector on the boot CPU.
//!
//! Registers are reached through an index (IOREGSEL, +0x00) and a window (IOWIN, +0x10), both 32-bit.
//! Register 0x01 holds the version and, in bits 23–16, the highest redirection entry; entry `n` is the
//! 64-bit pair 0x10 + 2n (low) and 0x11 + 2n (high). Low word: vector (7–0), delivery mode (10–8, 0 =
//! fixed), destination mode (11, 0 = physical), polarity (13, 1 = active low), trigger (15, 1 = level),
//! mask (16); high word: destination APIC ID (31–24).
//!
//! Where the I/O APIC is and how ISA IRQs map to its inputs come from the MADT (`mm_core::madt`, parsed
//! while the ACPI tables are still mapped); an ISA IRQ without an override is GSI = IRQ, edge-triggered,
//! active high.

use core::ptr::NonNull;

use mm_core::madt::MadtInfo;

use crate::mm::PAGE_SIZE;
use crate::sync::SpinLock;

const IOREGSEL: usize = 0x00;
const IOWIN: usize = 0x10;
const REG_VERSION: u32 = 0x01;
const REDIRECTION_BASE: u32 = 0x10;
const ENTRY_ACTIVE_LOW: u32 = 1 << 13;
const ENTRY_LEVEL: u32 = 1 << 15;
const ENTRY_MASKED: u32 = 1 << 16;

/// MADT interrupt source override flags (ACPI MPS INTI flags): polarity bits 1–0, trigger bits 3–2.
const INTI_POLARITY_LOW: u16 = 0b11;
const INTI_TRIGGER_LEVEL: u16 = 0b11 << 2;

/// The mapped I/O APIC.
struct IoApic {
    registers: NonNull<u32>,
    gsi_base: u32,
    entries: u32,
}

// SAFETY: the register page is device memory with no thread affinity; access goes through `IOAPIC`'s lock.
unsafe impl Send for IoApic {}

impl IoApic {
    fn read(&self, register: u32) -> u32 {
        // SAFETY: `registers` maps the I/O APIC's page (uncached); IOREGSEL and IOWIN are 32-bit
        // registers at offsets 0 and 0x10, accessed as aligned dwords as the data sheet requires.
        unsafe {
            self.registers.byte_add(IOREGSEL).write_volatile(register);
            self.registers.byte_add(IOWIN).read_volatile()
        }
    }

    fn write(&self, register: u32, value: u32) {
        // SAFETY: as in `read`.
        unsafe {
            self.registers.byte_add(IOREGSEL).write_volatile(register);
            self.registers.byte_add(IOWIN).write_volatile(value);
        }
    }
}

static IOAPIC: SpinLock<Option<IoApic>> = SpinLock::new(None);
static MADT: SpinLock<Option<MadtInfo>> = SpinLock::new(None);

/// Keeps what the MADT said, for [`route_isa_irq`] (the table itself may not stay mapped).
pub fn set_madt(info: MadtInfo) {
    *MADT.lock() = Some(info);
}

/// Whether the MADT listed an I/O APIC.
pub fn present() -> bool {
    MADT.lock().is_some_and(|m| m.ioapic.is_some())
}

/// Routes ISA `irq` to `vector` on the CPU with local APIC `apic_id`; returns the GSI it arrives on.
pub fn route_isa_irq(irq: u8, vector: u8, apic_id: u8) -> Result<u32, &'static str> {
    let madt = (*MADT.lock()).ok_or("no MADT")?;
    let (address, gsi_base) = madt.ioapic.ok_or("the MADT lists no I/O APIC")?;
    let mut ioapic = IOAPIC.lock();
    if ioapic.is_none() {
        let page = crate::mm::vmalloc::ioremap(u64::from(address), PAGE_SIZE)
            .ok_or("cannot map the I/O APIC's registers")?;
        let mapped = IoApic { registers: page.cast(), gsi_base, entries: 0 };
        let entries = ((mapped.read(REG_VERSION) >> 16) & 0xff) + 1;
        *ioapic = Some(IoApic { entries, ..mapped });
    }
    let chip = ioapic.as_ref().ok_or("no I/O APIC")?;
    let (gsi, flags) = madt.overrides.get(usize::from(irq)).copied().flatten().unwrap_or((u32::from(irq), 0));
    let pin =
        gsi.checked_sub(chip.gsi_base).filter(|&p| p < chip.entries).ok_or("GSI outside the I/O APIC")?;
    let mut low = u32::from(vector);
    if flags & INTI_POLARITY_LOW == INTI_POLARITY_LOW {
        low |= ENTRY_ACTIVE_LOW;
    }
    if flags & INTI_TRIGGER_LEVEL == INTI_TRIGGER_LEVEL {
        low |= ENTRY_LEVEL;
    }
    let register = REDIRECTION_BASE + 2 * pin;
    // Masked while the destination is written, then unmasked with the vector.
    chip.write(register, ENTRY_MASKED);
    chip.write(register + 1, u32::from(apic_id) << 24);
    chip.write(register, low);
    Ok(gsi)
}
