//! QEMU's `isa-debug-exit` device (port 0xf4): how an in-kernel test ends the virtual machine.
//!
//! Writing `v` makes QEMU exit with status `(v << 1) | 1`: 0x10 → 33 (pass), 0x11 → 35 (fail), the codes
//! of DESIGN §9. Without the device (a normal `make run`, or a real PC) the write does nothing and the
//! caller halts instead.

/// Exit status requests understood by the test harness.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum ExitCode {
    Pass = 0x10,
    Fail = 0x11,
}

const ISA_DEBUG_EXIT_PORT: u16 = 0xf4;

/// Asks QEMU to exit with `code`; halts if nobody listens on the port.
pub fn exit(code: ExitCode) -> ! {
    // SAFETY: port 0xf4 is QEMU's debug-exit device or unused; writing it touches no memory.
    unsafe { x86::io::outl(ISA_DEBUG_EXIT_PORT, code as u32) };
    super::cpu::halt_forever()
}

/// Switches the machine off: ACPI S5 through the PM1a control register QEMU places at port 0x604 (SLP_TYP
/// 0, SLP_EN), then the debug-exit device, then halting for good.
pub fn power_off() -> ! {
    // SAFETY: port 0x604 is QEMU's ACPI PM1a_CNT (pc and q35 machines); writing SLP_EN|SLP_TYP=S5 turns the
    // machine off, which is what the caller asked for. On other hardware the write does nothing harmful.
    unsafe { x86::io::outw(0x604, 0x2000) };
    exit(ExitCode::Pass)
}
