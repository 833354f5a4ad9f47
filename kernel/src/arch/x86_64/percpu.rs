//! The per-CPU area that GS.base points to while the kernel runs (Linux's `struct pcpu_hot` + `cpu_tss`).
//!
//! Only what the assembly entry paths need lives here: the syscall entry reads the running task's
//! kernel-stack top from `%gs:0` and parks the user RSP in `%gs:8` (SYSCALL switches neither the stack nor
//! GS, Intel SDM vol. 3A §5.8.8). In user mode the CPU's GS.base holds the user value and
//! IA32_KERNEL_GS_BASE holds this area's address; SWAPGS exchanges the two on every ring crossing.

use core::cell::UnsafeCell;

/// The per-CPU block, at fixed offsets the entry assembly uses.
#[repr(C)]
pub struct PerCpu {
    /// Offset 0: top of the running task's kernel stack (where a syscall frame goes).
    pub kernel_rsp: u64,
    /// Offset 8: the user RSP while the syscall entry builds its frame.
    pub user_rsp: u64,
}

pub const KERNEL_RSP_OFFSET: usize = 0;
pub const USER_RSP_OFFSET: usize = 8;
const _: () = assert!(core::mem::offset_of!(PerCpu, kernel_rsp) == KERNEL_RSP_OFFSET);
const _: () = assert!(core::mem::offset_of!(PerCpu, user_rsp) == USER_RSP_OFFSET);

struct Area(UnsafeCell<PerCpu>);

// SAFETY: one CPU; the fields are written with interrupts disabled (scheduler) or by the entry assembly
// with interrupts disabled (FMASK clears IF on SYSCALL).
unsafe impl Sync for Area {}

static CPU0: Area = Area(UnsafeCell::new(PerCpu { kernel_rsp: 0, user_rsp: 0 }));

const IA32_FS_BASE: u32 = 0xc000_0100;
const IA32_GS_BASE: u32 = 0xc000_0101;
const IA32_KERNEL_GS_BASE: u32 = 0xc000_0102;

/// Points GS.base at the per-CPU area (kernel mode) and zeroes the user's saved GS.base.
pub fn init() {
    // SAFETY: the MSRs exist on every x86-64 CPU; the kernel does not use GS before this point, and
    // nothing runs in user mode yet.
    unsafe {
        x86::msr::wrmsr(IA32_GS_BASE, CPU0.0.get() as u64);
        x86::msr::wrmsr(IA32_KERNEL_GS_BASE, 0);
    }
}

/// Sets the kernel stack the next syscall entry uses.
pub fn set_kernel_rsp(top: u64) {
    // SAFETY: called with interrupts disabled on the only CPU; the entry assembly reads the field only
    // on a later SYSCALL.
    unsafe { (*CPU0.0.get()).kernel_rsp = top };
}

/// The top of the running task's kernel stack (0 before the first task runs).
pub fn kernel_rsp() -> u64 {
    // SAFETY: a plain read of a field only the scheduler writes, on this CPU.
    unsafe { (*CPU0.0.get()).kernel_rsp }
}

/// Reads the user FS base (thread pointer) of the running task.
pub fn fs_base() -> u64 {
    // SAFETY: reading IA32_FS_BASE has no side effects.
    unsafe { x86::msr::rdmsr(IA32_FS_BASE) }
}

/// Sets the user FS base; the value must be canonical (callers check).
pub fn set_fs_base(value: u64) {
    // SAFETY: FS is not used by the kernel; a canonical value cannot fault.
    unsafe { x86::msr::wrmsr(IA32_FS_BASE, value) };
}
