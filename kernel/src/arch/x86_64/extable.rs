//! The exception table: instructions that may fault on purpose, and where to continue when they do
//! (Linux's `__ex_table` and `fixup_exception`).
//!
//! A probe writes its risky instruction at a local label, records `(label, fixup)` in the `__ex_table`
//! section, and the fault handler, finding the faulting RIP there, resumes at the fixup, which reports
//! failure. This is how the kernel touches memory that may not be mapped or writable — and how later
//! issues copy from and to user space — without an oops.

use core::arch::asm;
use core::sync::atomic::{AtomicU64, Ordering};

#[repr(C)]
struct Entry {
    insn: u64,
    fixup: u64,
}

unsafe extern "C" {
    static __start___ex_table: Entry;
    static __stop___ex_table: Entry;
}

/// The fixup for a faulting instruction, if it has one.
pub fn search(rip: u64) -> Option<u64> {
    let start = &raw const __start___ex_table;
    let stop = &raw const __stop___ex_table;
    let len = (stop as usize - start as usize) / size_of::<Entry>();
    // SAFETY: the linker script brackets the table with these symbols; it is read-only data of `len`
    // entries written by the probes below.
    let table = unsafe { core::slice::from_raw_parts(start, len) };
    table.iter().find(|e| e.insn == rip).map(|e| e.fixup)
}

/// What the last fixed-up fault was.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fault {
    pub vector: u64,
    pub address: u64,
    pub error_code: u64,
}

static LAST_VECTOR: AtomicU64 = AtomicU64::new(0);
static LAST_ADDRESS: AtomicU64 = AtomicU64::new(0);
static LAST_ERROR: AtomicU64 = AtomicU64::new(0);

/// Called by the trap handler before resuming at a fixup.
pub fn record(vector: u64, address: u64, error_code: u64) {
    LAST_VECTOR.store(vector, Ordering::Relaxed);
    LAST_ADDRESS.store(address, Ordering::Relaxed);
    LAST_ERROR.store(error_code, Ordering::Relaxed);
}

fn last_fault() -> Fault {
    Fault {
        vector: LAST_VECTOR.load(Ordering::Relaxed),
        address: LAST_ADDRESS.load(Ordering::Relaxed),
        error_code: LAST_ERROR.load(Ordering::Relaxed),
    }
}

/// Reads a byte at `addr`; a fault (unmapped, non-canonical) is returned instead of taken.
#[inline(never)]
pub fn probe_read_u8(addr: u64) -> Result<u8, Fault> {
    let value: u8;
    let failed: u32;
    // SAFETY: the load may fault; its exception-table entry makes the trap handler resume at the fixup,
    // which sets `failed`. Nothing else is touched.
    unsafe {
        asm!(
            "2: mov {value}, byte ptr [{addr}]",
            "xor {failed:e}, {failed:e}",
            "3:",
            ".pushsection __ex_table, \"a\"",
            ".balign 8",
            ".quad 2b, 4f",
            ".popsection",
            ".pushsection .text.fixup, \"ax\"",
            "4: mov {failed:e}, 1",
            "jmp 3b",
            ".popsection",
            addr = in(reg) addr,
            value = out(reg_byte) value,
            failed = out(reg) failed,
            options(nostack, readonly),
        );
    }
    if failed == 0 { Ok(value) } else { Err(last_fault()) }
}

/// Writes a byte at `addr`; a fault (unmapped, read-only) is returned instead of taken.
#[inline(never)]
pub fn probe_write_u8(addr: u64, value: u8) -> Result<(), Fault> {
    let failed: u32;
    // SAFETY: as `probe_read_u8`; the store either happens (the caller chose the address) or faults and
    // is fixed up.
    unsafe {
        asm!(
            "2: mov byte ptr [{addr}], {value}",
            "xor {failed:e}, {failed:e}",
            "3:",
            ".pushsection __ex_table, \"a\"",
            ".balign 8",
            ".quad 2b, 4f",
            ".popsection",
            ".pushsection .text.fixup, \"ax\"",
            "4: mov {failed:e}, 1",
            "jmp 3b",
            ".popsection",
            addr = in(reg) addr,
            value = in(reg_byte) value,
            failed = out(reg) failed,
            options(nostack),
        );
    }
    if failed == 0 { Ok(()) } else { Err(last_fault()) }
}
