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
