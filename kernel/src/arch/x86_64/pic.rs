//! The legacy 8259A interrupt controllers: remapped away from the exception vectors and fully masked.
//!
//! The BIOS leaves the master PIC on vectors 8–15, which are CPU exceptions in protected mode. Even while
//! the kernel keeps interrupts off, it moves the PICs to vectors 0x20–0x2f (ICW1–ICW4 as in the 8259A data
//! sheet) and masks every line, so a stray IRQ can never pass for a double fault. Interrupt delivery
//! comes from the APIC in a later issue.

use x86::io::{inb, outb};

const MASTER_COMMAND: u16 = 0x20;
const MASTER_DATA: u16 = 0x21;
const SLAVE_COMMAND: u16 = 0xa0;
const SLAVE_DATA: u16 = 0xa1;
/// First vector of the master PIC after remapping; the slave follows at +8.
pub const PIC_VECTOR_BASE: u8 = 0x20;

/// Remaps both PICs to 0x20–0x2f and masks all 16 lines.
pub fn remap_and_mask() {
    // SAFETY: ports 0x20/0x21/0xa0/0xa1 are the 8259A pair; the sequence below is the documented
    // initialization and leaves every line masked. Port 0x80 is the POST port, written only to wait.
    unsafe {
        let io_wait = || outb(0x80, 0);
        outb(MASTER_COMMAND, 0x11); // ICW1: edge triggered, cascade, ICW4 follows
        io_wait();
        outb(SLAVE_COMMAND, 0x11);
        io_wait();
        outb(MASTER_DATA, PIC_VECTOR_BASE); // ICW2: vector base
        io_wait();
        outb(SLAVE_DATA, PIC_VECTOR_BASE + 8);
        io_wait();
        outb(MASTER_DATA, 1 << 2); // ICW3: slave on line 2
        io_wait();
        outb(SLAVE_DATA, 2); // ICW3: slave identity
        io_wait();
        outb(MASTER_DATA, 0x01); // ICW4: 8086 mode
        io_wait();
        outb(SLAVE_DATA, 0x01);
        io_wait();
        outb(MASTER_DATA, 0xff); // OCW1: mask everything
        outb(SLAVE_DATA, 0xff);
    }
}

/// Unmasks `irq` (0–15) on its PIC; for the slave's lines the cascade line 2 of the master too.
pub fn unmask(irq: u8) {
    let (port, bit) = if irq < 8 { (MASTER_DATA, irq) } else { (SLAVE_DATA, irq - 8) };
    // SAFETY: reading and writing the interrupt mask register (OCW1) of an initialized 8259A changes only
    // which lines are delivered.
    unsafe {
        outb(port, inb(port) & !(1 << bit));
        if irq >= 8 {
            outb(MASTER_DATA, inb(MASTER_DATA) & !(1 << 2));
        }
    }
}

/// Non-specific end of interrupt (OCW2 0x20) to the PIC(s) that delivered `irq`.
pub fn eoi(irq: u8) {
    // SAFETY: OCW2 on the command ports only ends the in-service interrupt.
    unsafe {
        if irq >= 8 {
            outb(SLAVE_COMMAND, 0x20);
        }
        outb(MASTER_COMMAND, 0x20);
    }
}
