//! The local APIC in xAPIC mode and its timer: the kernel's periodic tick, calibrated against the PIT.
//!
//! Follows Intel SDM vol. 3A chapter 11. [`init`] enables the boot CPU's local APIC globally
//! (IA32_APIC_BASE, §11.4.4) and by software (spurious-interrupt vector register, §11.4.7.2, §11.9), maps
//! its 4 KiB register page uncached with `ioremap`, and sets the local vector table (§11.5.1) as Linux's
//! `setup_local_APIC` does on the boot CPU: LINT0 masked (the 8259 PICs are masked, so nothing comes
//! through ExtINT), LINT1 delivering NMIs, the error, performance-counter, thermal and CMCI entries
//! masked. The timer (§11.5.4) is then calibrated — divide by 16, count down from 0xffffffff while PIT
//! channel 2 times 10 ms (`pit.rs`) — and left running periodic at the asked rate on [`TIMER_VECTOR`].
//!
//! Every timer interrupt counts a tick, signals EOI (§11.8.5), then calls the tick handler (the
//! scheduler's). EOI comes first because the handler may switch to another task and not return for a
//! while; that cannot nest a second timer interrupt into the first, since the interrupt gate keeps
//! RFLAGS.IF clear until `iretq` or until the context switched to enables interrupts itself.
//!
//! [`ticks`] counts interrupts taken, not time: when a virtual CPU does not run for longer than a period,
//! QEMU merges the next tick into the one still pending, so time comes from `tsc::uptime_ns`.
//!
//! Invariants: `REGISTERS` is null or points at the mapped register page, which is never unmapped. One
//! CPU for now: every CPU sees its own local APIC at the same physical page, so the mapping stays global
//! when more CPUs come up, while the tick count will become per CPU.

use core::ptr::NonNull;
use core::sync::atomic::{AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering};

use x86::apic::xapic;
use x86::msr::{IA32_APIC_BASE, rdmsr, wrmsr};

use super::cpu::cpuid;
use super::pit;
use super::traps::TrapFrame;
use crate::mm::PAGE_SIZE;
use crate::mm::vmalloc::ioremap;
use crate::pr_info;

/// The timer's vector: high priority class 0xe, below the spurious vector (Linux uses 0xec too).
pub const TIMER_VECTOR: u8 = 0xec;
/// The spurious-interrupt vector (§11.9); its low four bits must be 1 on older processors.
pub const SPURIOUS_VECTOR: u8 = 0xff;

/// Register offsets in the xAPIC page (§11.4.1, Table 11-1 "Local APIC Register Address Map"); every
/// register is 32 bits wide at a 16-byte-aligned offset.
mod reg {
    use super::xapic;
    /// Local APIC ID Register (§11.4.6): the ID in bits 31–24.
    pub const ID: u32 = xapic::XAPIC_ID;
    /// Local APIC Version Register (§11.4.8): version in bits 7–0, highest LVT entry in bits 23–16.
    pub const VERSION: u32 = xapic::XAPIC_VERSION;
    /// Task Priority Register (§11.8.3.1).
    pub const TASK_PRIORITY: u32 = xapic::XAPIC_TPR;
    /// EOI Register (§11.8.5).
    pub const EOI: u32 = xapic::XAPIC_EOI;
    /// Spurious Interrupt Vector Register (§11.9).
    pub const SPURIOUS_INTERRUPT_VECTOR: u32 = xapic::XAPIC_SVR;
    /// Error Status Register (§11.5.3).
    pub const ERROR_STATUS: u32 = xapic::XAPIC_ESR;
    /// LVT Corrected Machine Check Interrupt (CMCI) Register (§11.5.1).
    pub const LVT_CMCI: u32 = xapic::XAPIC_LVT_CMCI;
    /// LVT Timer Register (§11.5.1).
    pub const LVT_TIMER: u32 = xapic::XAPIC_LVT_TIMER;
    /// LVT Thermal Sensor Register (§11.5.1).
    pub const LVT_THERMAL_SENSOR: u32 = xapic::XAPIC_LVT_THERMAL;
    /// LVT Performance Monitoring Counters Register (§11.5.1).
    pub const LVT_PERFORMANCE_MONITORING: u32 = xapic::XAPIC_LVT_PMI;
    /// LVT LINT0 Register (§11.5.1).
    pub const LVT_LINT0: u32 = xapic::XAPIC_LVT_LINT0;
    /// LVT LINT1 Register (§11.5.1).
    pub const LVT_LINT1: u32 = xapic::XAPIC_LVT_LINT1;
    /// LVT Error Register (§11.5.1).
    pub const LVT_ERROR: u32 = xapic::XAPIC_LVT_ERROR;
    /// Initial Count Register for the timer (§11.5.4); writing it (re)starts the count-down, 0 stops it.
    pub const TIMER_INITIAL_COUNT: u32 = xapic::XAPIC_TIMER_INIT_COUNT;
    /// Current Count Register for the timer (§11.5.4), read only.
    pub const TIMER_CURRENT_COUNT: u32 = xapic::XAPIC_TIMER_CURRENT_COUNT;
    /// Divide Configuration Register for the timer (§11.5.4).
    pub const TIMER_DIVIDE_CONFIGURATION: u32 = xapic::XAPIC_TIMER_DIV_CONF;
}

/// CPUID.01H:EDX bit 9: the processor has a local APIC (§11.4.2).
const CPUID_01_EDX_APIC: u32 = 1 << 9;
/// IA32_APIC_BASE bit 10: x2APIC mode (§11.12.1).
const APIC_BASE_X2APIC_ENABLE: u64 = 1 << 10;
/// IA32_APIC_BASE bit 11: APIC global enable (§11.4.3).
const APIC_BASE_GLOBAL_ENABLE: u64 = 1 << 11;
/// IA32_APIC_BASE bits 12 to MAXPHYADDR − 1: the register page's physical address (§11.4.4).
const APIC_BASE_ADDRESS_MASK: u64 = 0x000f_ffff_ffff_f000;
/// Spurious-interrupt vector register bit 8: APIC software enable (§11.9).
const SVR_APIC_SOFTWARE_ENABLE: u32 = 1 << 8;
/// LVT bit 16: the entry is masked (§11.5.1).
const LVT_MASKED: u32 = 1 << 16;
/// LVT delivery mode (bits 10–8) NMI (§11.5.1).
const LVT_DELIVERY_NMI: u32 = 0b100 << 8;
/// LVT delivery mode (bits 10–8) ExtINT (§11.5.1).
const LVT_DELIVERY_EXTINT: u32 = 0b111 << 8;
/// LVT timer mode (bits 18–17): one-shot is 00, periodic 01 (§11.5.4).
const LVT_TIMER_PERIODIC: u32 = 0b01 << 17;
/// Divide configuration (bits 3, 1, 0) for divide by 16 (§11.5.4).
const DIVIDE_BY_16: u32 = 0b0011;
const DIVIDER: u64 = 16;
/// How long the PIT times the calibration count-down.
const CALIBRATE_MS: u64 = 10;

/// What [`init`] found and programmed.
#[derive(Clone, Copy, Debug)]
#[expect(dead_code, reason = "for the scheduler and SMP bring-up; `init` logs it, boot reads no field yet")]
pub struct ApicInfo {
    /// This CPU's local APIC ID.
    pub id: u8,
    /// Physical address of the register page.
    pub phys_base: u64,
    pub version: u8,
    /// Number of local vector table entries.
    pub lvt_entries: u8,
    /// The timer's input clock (the bus or core crystal clock), as calibrated, in kHz.
    pub bus_khz: u64,
    /// The rate the timer counts at (bus clock divided by 16), in kHz.
    pub timer_khz: u64,
    /// Timer interrupts per second.
    pub hz: u32,
    /// The count the periodic timer reloads.
    pub initial_count: u32,
}

static REGISTERS: AtomicPtr<u32> = AtomicPtr::new(core::ptr::null_mut());
static TICKS: AtomicU64 = AtomicU64::new(0);
static TICK_HZ: AtomicU32 = AtomicU32::new(0);
/// The tick handler as a `fn(&mut TrapFrame)` cast to `usize`; 0 when none is set.
static TICK_HANDLER: AtomicUsize = AtomicUsize::new(0);

/// The mapped register page.
#[derive(Clone, Copy)]
struct Registers(NonNull<u32>);

impl Registers {
    /// The register page, once [`init`] mapped it.
    fn get() -> Option<Self> {
        NonNull::new(REGISTERS.load(Ordering::Acquire)).map(Registers)
    }

    fn read(self, offset: u32) -> u32 {
        // SAFETY: `self.0` is the register page, mapped uncached and never unmapped (module invariant);
        // `offset` is one of the `reg` offsets, 16-byte aligned and inside the page, and xAPIC registers
        // are read as aligned 32-bit accesses (§11.4.1).
        unsafe { self.0.byte_add(offset as usize).read_volatile() }
    }

    fn write(self, offset: u32, value: u32) {
        // SAFETY: as in `read`; the callers write values valid for the register (reserved bits kept).
        unsafe { self.0.byte_add(offset as usize).write_volatile(value) }
    }
}

/// Enables the local APIC in xAPIC mode, routes its local interrupts and starts its timer, periodic at
/// `hz` on [`TIMER_VECTOR`]. Interrupts stay as they are (off during boot): ticks are delivered once the
/// caller enables them.
pub fn init(hz: u32) -> Result<ApicInfo, &'static str> {
    if hz == 0 {
        return Err("a tick rate of 0 Hz");
    }
    if cpuid(1, 0).3 & CPUID_01_EDX_APIC == 0 {
        return Err("CPUID reports no local APIC");
    }
    let phys_base = enable_xapic();
    let regs = match Registers::get() {
        Some(regs) => regs,
        None => {
            let page = ioremap(phys_base, PAGE_SIZE).ok_or("cannot map the local APIC's registers")?;
            REGISTERS.store(page.as_ptr().cast(), Ordering::Release);
            Registers(page.cast())
        }
    };
    let id = (regs.read(reg::ID) >> 24) as u8;
    let version_register = regs.read(reg::VERSION);
    let version = version_register as u8;
    let lvt_entries = ((version_register >> 16) as u8).wrapping_add(1);
    pr_info!("APIC: local APIC id {id} at {phys_base:#x} (xAPIC), version {version:#x}");
    route_local_interrupts(regs, lvt_entries);

    let timer_hz = calibrate(regs)?;
    let initial_count = (timer_hz + u64::from(hz) / 2) / u64::from(hz);
    let initial_count = u32::try_from(initial_count)
        .ok()
        .filter(|&count| count > 0)
        .ok_or("the timer cannot tick at that rate")?;
    let info = ApicInfo {
        id,
        phys_base,
        version,
        lvt_entries,
        bus_khz: timer_hz * DIVIDER / 1000,
        timer_khz: timer_hz / 1000,
        hz,
        initial_count,
    };
    TICKS.store(0, Ordering::Relaxed);
    TICK_HZ.store(hz, Ordering::Relaxed);
    regs.write(reg::LVT_TIMER, LVT_TIMER_PERIODIC | u32::from(TIMER_VECTOR));
    regs.write(reg::TIMER_DIVIDE_CONFIGURATION, DIVIDE_BY_16);
    regs.write(reg::TIMER_INITIAL_COUNT, initial_count);
    pr_info!(
        "APIC: timer calibrated against the PIT: {}.{:03} MHz bus clock / {DIVIDER}, periodic at {hz} Hz ({initial_count} counts)",
        info.bus_khz / 1000,
        info.bus_khz % 1000
    );
    Ok(info)
}

/// Sets IA32_APIC_BASE's global enable bit, leaving x2APIC mode if the firmware chose it; returns the
/// register page's physical address.
fn enable_xapic() -> u64 {
    // SAFETY: IA32_APIC_BASE exists on every processor CPUID reports a local APIC on (§11.4.4).
    let base = unsafe { rdmsr(IA32_APIC_BASE) };
    if base & APIC_BASE_X2APIC_ENABLE != 0 {
        pr_info!("APIC: leaving the x2APIC mode the firmware chose, through the disabled state");
        // SAFETY: x2APIC → xAPIC is legal only through the disabled state (§11.12.5); disabling resets
        // the APIC, which nothing uses yet (interrupts are off and `init` programs it from scratch).
        unsafe { wrmsr(IA32_APIC_BASE, base & !(APIC_BASE_X2APIC_ENABLE | APIC_BASE_GLOBAL_ENABLE)) };
    }
    let base = (base & !APIC_BASE_X2APIC_ENABLE) | APIC_BASE_GLOBAL_ENABLE;
    // SAFETY: enabling the APIC at the address it already has; it delivers nothing until its LVT entries
    // are unmasked, and nothing at all while RFLAGS.IF is clear.
    unsafe { wrmsr(IA32_APIC_BASE, base) };
    base & APIC_BASE_ADDRESS_MASK
}

/// Software-enables the APIC and sets every local vector table entry but the timer's.
fn route_local_interrupts(regs: Registers, lvt_entries: u8) {
    // Software enable first: while the APIC is software-disabled every LVT mask bit reads as set and
    // cannot be cleared (§11.4.7.2).
    let svr = regs.read(reg::SPURIOUS_INTERRUPT_VECTOR) & !0xff;
    regs.write(reg::SPURIOUS_INTERRUPT_VECTOR, svr | SVR_APIC_SOFTWARE_ENABLE | u32::from(SPURIOUS_VECTOR));
    regs.write(reg::TASK_PRIORITY, 0);
    regs.write(reg::LVT_TIMER, LVT_MASKED | u32::from(TIMER_VECTOR));
    regs.write(reg::LVT_LINT0, LVT_MASKED | LVT_DELIVERY_EXTINT);
    regs.write(reg::LVT_LINT1, LVT_DELIVERY_NMI);
    regs.write(reg::LVT_ERROR, LVT_MASKED);
    // The version register says which of the optional entries exist (Linux's `clear_local_APIC`).
    if lvt_entries > 4 {
        regs.write(reg::LVT_PERFORMANCE_MONITORING, LVT_MASKED);
    }
    if lvt_entries > 5 {
        regs.write(reg::LVT_THERMAL_SENSOR, LVT_MASKED);
    }
    if lvt_entries > 6 {
        regs.write(reg::LVT_CMCI, LVT_MASKED);
    }
    // Writing the ESR latches the errors logged so far; the second write clears them (§11.5.3).
    regs.write(reg::ERROR_STATUS, 0);
    regs.write(reg::ERROR_STATUS, 0);
}

/// Lets the masked, one-shot timer count down from 0xffffffff (divided by 16) while the PIT times
/// [`CALIBRATE_MS`]; returns the timer's rate in counts per second.
fn calibrate(regs: Registers) -> Result<u64, &'static str> {
    regs.write(reg::LVT_TIMER, LVT_MASKED | u32::from(TIMER_VECTOR));
    regs.write(reg::TIMER_DIVIDE_CONFIGURATION, DIVIDE_BY_16);
    regs.write(reg::TIMER_INITIAL_COUNT, u32::MAX);
    let counted = || u64::from(u32::MAX - regs.read(reg::TIMER_CURRENT_COUNT));
    let timer_hz = pit::measure_hz(CALIBRATE_MS, counted);
    let ran_out = regs.read(reg::TIMER_CURRENT_COUNT) == 0;
    regs.write(reg::TIMER_INITIAL_COUNT, 0);
    match timer_hz {
        None => Err("the PIT did not answer; cannot calibrate the timer"),
        Some(_) if ran_out => Err("the timer ran out while the PIT ran"),
        Some(0) => Err("the timer did not count down while the PIT ran"),
        Some(timer_hz) => Ok(timer_hz),
    }
}

/// Signals the end of the interrupt being serviced (§11.8.5). Not for the spurious vector.
pub fn eoi() {
    if let Some(regs) = Registers::get() {
        regs.write(reg::EOI, 0);
    }
}

/// This CPU's local APIC ID (0 before [`init`]).
pub fn id() -> u8 {
    Registers::get().map_or(0, |regs| (regs.read(reg::ID) >> 24) as u8)
}

/// Lets LINT0 deliver the 8259 PIC's interrupts (ExtINT), for devices routed through the PIC when the
/// board has no I/O APIC.
pub fn enable_extint() {
    if let Some(regs) = Registers::get() {
        regs.write(reg::LVT_LINT0, LVT_DELIVERY_EXTINT);
    }
}

/// Timer interrupts taken since [`init`].
pub fn ticks() -> u64 {
    TICKS.load(Ordering::Relaxed)
}

/// The rate [`init`] set the timer to, or 0 when the timer is not running.
pub fn tick_hz() -> u32 {
    TICK_HZ.load(Ordering::Relaxed)
}

/// Makes `handler` run on every timer interrupt, after the tick was counted and EOI signalled, with
/// interrupts still disabled. It replaces any earlier handler.
pub fn set_tick_handler(handler: fn(&mut TrapFrame)) {
    TICK_HANDLER.store(handler as usize, Ordering::Release);
}

/// Stops the timer: masks its LVT entry and clears the initial count (§11.5.4). An interrupt already
/// pending is still delivered when interrupts are enabled.
pub fn stop() {
    if let Some(regs) = Registers::get() {
        regs.write(reg::LVT_TIMER, LVT_MASKED | u32::from(TIMER_VECTOR));
        regs.write(reg::TIMER_INITIAL_COUNT, 0);
    }
    TICK_HZ.store(0, Ordering::Relaxed);
}

/// [`TIMER_VECTOR`]'s handler, called by `trap_dispatch` with interrupts disabled.
pub(super) fn timer_interrupt(frame: &mut TrapFrame) {
    TICKS.fetch_add(1, Ordering::Relaxed);
    eoi();
    let handler = TICK_HANDLER.load(Ordering::Acquire);
    if handler != 0 {
        // SAFETY: `set_tick_handler` is the only writer of a non-zero value, always a
        // `fn(&mut TrapFrame)` cast to `usize`, so this turns it back into the same function pointer.
        let handler = unsafe { core::mem::transmute::<usize, fn(&mut TrapFrame)>(handler) };
        handler(frame);
    }
}
