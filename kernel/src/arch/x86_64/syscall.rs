//! The SYSCALL entry: MSR setup (STAR, LSTAR, FMASK, EFER.SCE) and the assembly that turns a `syscall`
//! instruction into a [`TrapFrame`] on the task's kernel stack (Intel SDM vol. 3A §5.8.8).
//!
//! On SYSCALL the CPU saves RIP in RCX and RFLAGS in R11, loads CS/SS from STAR[47:32] and clears the
//! RFLAGS bits set in FMASK (IF, so the entry runs with interrupts off; DF; TF; AC, so SMAP is armed; NT).
//! It switches neither stack nor GS: the entry does SWAPGS, parks the user RSP in the per-CPU area, loads
//! the kernel stack and pushes the part of the frame an interrupt's CPU would, with [`SYSCALL_VECTOR`] as
//! the vector; from there it is the interrupt path (`idt.rs`): the same register save, `trap_dispatch`
//! (which calls the syscall table for that vector), and `trap_return`, which leaves a syscall frame with
//! SYSRETQ (RIP from RCX, RFLAGS from R11, RSP reloaded from the frame) when the return address is a
//! canonical user address, and everything else with IRETQ.
//!
//! [`TrapFrame`]: super::traps::TrapFrame

use core::arch::global_asm;

use super::gdt;

/// The value in `TrapFrame::vector` for a system call (beyond the 256 interrupt vectors).
pub const SYSCALL_VECTOR: u64 = 0x100;

global_asm!(
    r#"
    .section .text.syscall_entry, "ax"
    .balign 16
    .global syscall_entry
syscall_entry:
    swapgs
    movq %rsp, %gs:{user_rsp}
    movq %gs:{kernel_rsp}, %rsp
    pushq ${user_ds}
    pushq %gs:{user_rsp}
    pushq %r11
    pushq ${user_cs}
    pushq %rcx
    pushq $0
    pushq ${vector}
    # The rest is an interrupt's: save the registers, `trap_dispatch` (which hands SYSCALL_VECTOR to the
    # syscall table), and back through `trap_return` (SYSRETQ for a syscall frame).
    jmp trap_save
"#,
    user_rsp = const super::percpu::USER_RSP_OFFSET,
    kernel_rsp = const super::percpu::KERNEL_RSP_OFFSET,
    user_ds = const gdt::USER_DS.bits() as u64,
    user_cs = const gdt::USER_CS.bits() as u64,
    vector = const SYSCALL_VECTOR,
    options(att_syntax)
);

unsafe extern "C" {
    fn syscall_entry();
}

const IA32_EFER: u32 = 0xc000_0080;
const IA32_STAR: u32 = 0xc000_0081;
const IA32_LSTAR: u32 = 0xc000_0082;
const IA32_FMASK: u32 = 0xc000_0084;
const EFER_SCE: u64 = 1 << 0;
/// RFLAGS bits cleared on entry: TF (8), IF (9), DF (10), NT (14), AC (18).
const FMASK: u64 = (1 << 8) | (1 << 9) | (1 << 10) | (1 << 14) | (1 << 18);

/// Enables SYSCALL and points it at the entry.
pub fn init() {
    // STAR[47:32]: SYSCALL's CS (SS = CS + 8). STAR[63:48]: SYSRET's base: CS = base + 16 and SS = base + 8,
    // both with RPL 3 — our GDT has user data at 0x18 and user code at 0x20, so the base is 0x10.
    let star = (u64::from(gdt::KERNEL_CS.bits()) << 32) | (0x10u64 << 48);
    // SAFETY: the MSRs are architectural; the entry point is the assembly above, the GDT has the
    // selectors STAR names, and the per-CPU area is set up (percpu::init) before any task runs.
    unsafe {
        x86::msr::wrmsr(IA32_STAR, star);
        x86::msr::wrmsr(IA32_LSTAR, syscall_entry as *const () as u64);
        x86::msr::wrmsr(IA32_FMASK, FMASK);
        let efer = x86::msr::rdmsr(IA32_EFER);
        x86::msr::wrmsr(IA32_EFER, efer | EFER_SCE);
    }
}
