//! Device interrupts: an ISA IRQ routed through the I/O APIC when the MADT lists one, else through the
//! legacy 8259 PIC (delivered by the local APIC's LINT0 as ExtINT), and the handler each vector calls.
//!
//! Vectors: I/O APIC routes use [`IOAPIC_VECTOR_BASE`] + IRQ (priority class 3, below the timer's 0xec);
//! PIC routes use the PIC's own 0x20 + IRQ. The end of interrupt goes to the chip that delivered it.

use core::sync::atomic::{AtomicU8, AtomicUsize, Ordering};

use super::{apic, ioapic, pic};

/// First vector of ISA IRQs routed through the I/O APIC.
pub const IOAPIC_VECTOR_BASE: u8 = 0x30;
const ISA_IRQS: usize = 16;

/// Per ISA IRQ: the handler as a `fn()` cast to `usize` (0: none).
static HANDLERS: [AtomicUsize; ISA_IRQS] = [const { AtomicUsize::new(0) }; ISA_IRQS];
/// Per ISA IRQ: 0 not routed, 1 through the I/O APIC, 2 through the PIC.
static ROUTE: [AtomicU8; ISA_IRQS] = [const { AtomicU8::new(0) }; ISA_IRQS];
const ROUTE_IOAPIC: u8 = 1;
const ROUTE_PIC: u8 = 2;

/// How an IRQ reaches the CPU.
#[derive(Clone, Copy, Debug)]
pub enum Route {
    IoApic { gsi: u32, vector: u8 },
    Pic { vector: u8 },
}

/// Makes ISA `irq` call `handler` (with interrupts disabled) from now on.
pub fn request_isa_irq(irq: u8, handler: fn()) -> Result<Route, &'static str> {
    let index = usize::from(irq);
    if index >= ISA_IRQS {
        return Err("not an ISA IRQ");
    }
    HANDLERS[index].store(handler as usize, Ordering::Release);
    if ioapic::present() {
        let vector = IOAPIC_VECTOR_BASE + irq;
        let gsi = ioapic::route_isa_irq(irq, vector, apic::id())?;
        ROUTE[index].store(ROUTE_IOAPIC, Ordering::Release);
        Ok(Route::IoApic { gsi, vector })
    } else {
        apic::enable_extint();
        pic::unmask(irq);
        ROUTE[index].store(ROUTE_PIC, Ordering::Release);
        Ok(Route::Pic { vector: pic::PIC_VECTOR_BASE + irq })
    }
}

/// The ISA IRQ a device vector stands for, if any routed IRQ uses it.
pub fn irq_of_vector(vector: u64) -> Option<u8> {
    let irq = match vector {
        v if (u64::from(IOAPIC_VECTOR_BASE)..u64::from(IOAPIC_VECTOR_BASE) + 16).contains(&v) => {
            (v - u64::from(IOAPIC_VECTOR_BASE)) as u8
        }
        v if (u64::from(pic::PIC_VECTOR_BASE)..u64::from(pic::PIC_VECTOR_BASE) + 16).contains(&v) => {
            (v - u64::from(pic::PIC_VECTOR_BASE)) as u8
        }
        _ => return None,
    };
    let route = ROUTE[usize::from(irq)].load(Ordering::Acquire);
    let expected = if vector >= u64::from(IOAPIC_VECTOR_BASE) { ROUTE_IOAPIC } else { ROUTE_PIC };
    (route == expected).then_some(irq)
}

/// Runs the handler of `irq` and signals the end of the interrupt (from `trap_dispatch`).
pub(super) fn dispatch(irq: u8) {
    let index = usize::from(irq);
    let handler = HANDLERS[index].load(Ordering::Acquire);
    if handler != 0 {
        // SAFETY: `request_isa_irq` is the only writer of a non-zero value, always a `fn()` cast to
        // `usize`, so this turns it back into the same function pointer.
        let handler = unsafe { core::mem::transmute::<usize, fn()>(handler) };
        handler();
    }
    match ROUTE[index].load(Ordering::Acquire) {
        ROUTE_IOAPIC => apic::eoi(),
        ROUTE_PIC => pic::eoi(irq),
        _ => {}
    }
}
