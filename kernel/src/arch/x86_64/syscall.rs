//! The SYSCALL entry: MSR setup (STAR, LSTAR, FMASK, EFER.SCE) and the assembly that turns a `syscall`
//! instruction into a [`TrapFrame`] on the task's kernel stack (Intel SDM vol. 3A §5.8.8).
//!
//! On SYSCALL the CPU saves RIP in RCX and RFLAGS in R11, loads CS/SS from STAR[47:32] and clears the
//! RFLAGS bits set in FMASK (IF, so the entry runs with interrupts off; DF; TF; AC, so SMAP is armed; NT).
//! It switches neither stack nor GS: the entry does SWAPGS, parks the user RSP in the per-CPU area, loads
//! the kernel stack and pushes a frame shaped exactly like an interrupt's, so a context switch and the
//! first entry to user mode can leave through `trap_return` (IRETQ) like an interrupt does. The syscall
//! itself returns with SYSRETQ (RIP from RCX, RFLAGS from R11, RSP reloaded from the frame) when the
//! return address is a canonical user address. The frame's `vector` field holds [`SYSCALL_VECTOR`].
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
    push %rax
    push %rbx
    push %rcx
    push %rdx
    push %rsi
    push %rdi
    push %rbp
    push %r8
    push %r9
    push %r10
    push %r11
    push %r12
    push %r13
    push %r14
    push %r15
    mov %rsp, %rdi
    cld
    call syscall_dispatch

    # Back to user mode with SYSRET when the return address is canonical and in the user half (SYSRET
    # with a non-canonical RCX would fault in ring 0 — the SYSRET #GP erratum); otherwise IRETQ, which
    # faults in ring 3 where the task gets the signal.
    movq {rip}(%rsp), %rcx
    movq %rcx, %r11
    shrq $47, %r11
    jnz trap_return
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %r11
    pop %r10
    pop %r9
    pop %r8
    pop %rbp
    pop %rdi
    pop %rsi
    pop %rdx
    pop %rcx
    pop %rbx
    pop %rax
    # RSP now points at `vector`; the CPU-frame part follows: error, rip, cs, rflags, rsp, ss.
    movq 16(%rsp), %rcx
    movq 32(%rsp), %r11
    movq 40(%rsp), %rsp
    swapgs
    sysretq
"#,
    user_rsp = const super::percpu::USER_RSP_OFFSET,
    kernel_rsp = const super::percpu::KERNEL_RSP_OFFSET,
    user_ds = const gdt::USER_DS.bits() as u64,
    user_cs = const gdt::USER_CS.bits() as u64,
    vector = const SYSCALL_VECTOR,
    rip = const core::mem::offset_of!(super::traps::TrapFrame, rip),
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
