//! x86-64 support: boot entry, descriptor tables, traps, serial port, PIT/TSC, local APIC, I/O APIC and
//! device IRQs, the i8042 PS/2 controller, video memory, CPU features.
//!
//! This is the only place (with the memory-management core) where the kernel talks to the hardware
//! directly; the layers above use the safe functions exported here.

pub mod apic;
pub mod backtrace;
pub mod boot;
pub mod cpu;
pub mod extable;
pub mod gdt;
pub mod i8042;
pub mod idt;
pub mod ioapic;
pub mod irq;
pub mod paging;
pub mod percpu;
pub mod pic;
pub mod pit;
pub mod qemu;
pub mod serial;
pub mod switch;
pub mod syscall;
pub mod tlb;
pub mod traps;
pub mod tsc;
pub mod vram;

/// Brings up the CPU's descriptor tables and silences the legacy PIC. Call once, early, on the boot CPU.
pub fn init_cpu() {
    gdt::init();
    idt::init();
    pic::remap_and_mask();
}
