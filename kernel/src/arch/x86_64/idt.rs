//! The interrupt descriptor table and the 256 entry stubs that feed [`super::traps`].
//!
//! Every vector gets a 16-byte stub (so stub `n` is at `trap_stubs + 16 n`) that pushes a zero in place of
//! an error code when the CPU pushes none (Intel SDM vol. 3A §7.13 lists the vectors with one), then the
//! vector number, and jumps to `trap_common` (at most 2 + 5 + 5 = 12 bytes, so `.balign 16` keeps every
//! stub in its slot), which saves the general registers as a [`TrapFrame`] and calls
//! `trap_dispatch`. All gates are interrupt gates (IF cleared on entry), DPL 0; the double fault, NMI and
//! machine check run on their own IST stacks.
//!
//! GS discipline: in the kernel, GS.base points to the per-CPU area ([`super::percpu`]); in user mode it
//! holds the user's value. `trap_common` executes SWAPGS when the frame says the trap came from ring 3,
//! and `trap_return` (shared with the syscall path) does so again before IRETQ back to ring 3.
//!
//! [`TrapFrame`]: super::traps::TrapFrame

use core::arch::global_asm;
use core::cell::UnsafeCell;
use x86::bits64::segmentation::Descriptor64;
use x86::dtables::DescriptorTablePointer;
use x86::segmentation::{BuildDescriptor, DescriptorBuilder, GateDescriptorBuilder};

use super::gdt;

const STUB_BYTES: u64 = 16;

global_asm!(
    r#"
    .section .text.trap_entry, "ax"
    .balign 16
    .global trap_stubs
trap_stubs:
    .set vector, 0
    .rept 256
    .balign 16
    .if !(vector == 8 || (vector >= 10 && vector <= 14) || vector == 17 || vector == 21 || vector == 29 || vector == 30)
    pushq $0
    .endif
    pushq $vector
    jmp trap_common
    .set vector, vector + 1
    .endr

trap_common:
    # From user mode (CS.RPL = 3 in the frame the CPU pushed): switch GS to the per-CPU area.
    testb $3, 24(%rsp)
    jz 1f
    swapgs
1:
    # The SYSCALL entry (`syscall.rs`) joins here with its frame built and GS already swapped.
    .global trap_save
trap_save:
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
    call trap_dispatch
    .global trap_return
trap_return:
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
    # RSP points at `vector`, followed by error, RIP, CS, RFLAGS, RSP, SS. A syscall frame (the first
    # entry of a task is one too) goes back with SYSRETQ when its RIP is a canonical user address (SYSRET
    # with a non-canonical RCX would fault in ring 0: the SYSRET #GP erratum). SYSRET takes RIP from RCX
    # and RFLAGS from R11, which SYSCALL clobbers anyway.
    cmpq ${syscall_vector}, (%rsp)
    jne 3f
    movq 16(%rsp), %rcx
    movq %rcx, %r11
    shrq $47, %r11
    jnz 4f
    movq 32(%rsp), %r11
    movq 40(%rsp), %rsp
    swapgs
    sysretq
4:
    # Not a user address: IRETQ, which faults in ring 3 where the task gets the signal. RCX and R11 as
    # SYSCALL left them (the return address and the flags).
    movq 16(%rsp), %rcx
    movq 32(%rsp), %r11
3:
    add $16, %rsp
    # Back to user mode: give user GS back.
    testb $3, 8(%rsp)
    jz 2f
    swapgs
2:
    iretq
"#,
    syscall_vector = const super::syscall::SYSCALL_VECTOR,
    options(att_syntax)
);

unsafe extern "C" {
    static trap_stubs: u8;
}

#[repr(C, align(16))]
struct Idt(UnsafeCell<[Descriptor64; 256]>);

// SAFETY: written once by `init` on the boot CPU before the IDT is loaded; afterwards only read by the CPU.
unsafe impl Sync for Idt {}

static IDT: Idt = Idt(UnsafeCell::new([Descriptor64::NULL; 256]));

/// Fills and loads the IDT.
pub fn init() {
    let stubs = &raw const trap_stubs as u64;
    // SAFETY: boot CPU, before interrupts are enabled and before the IDT is loaded: nothing else reads it.
    let idt = unsafe { &mut *IDT.0.get() };
    for (vector, gate) in idt.iter_mut().enumerate() {
        let handler = stubs + vector as u64 * STUB_BYTES;
        let ist = match vector {
            2 => gdt::IST_NMI,
            8 => gdt::IST_DOUBLE_FAULT,
            18 => gdt::IST_MACHINE_CHECK,
            _ => 0,
        };
        *gate =
            <DescriptorBuilder as GateDescriptorBuilder<u64>>::interrupt_descriptor(gdt::KERNEL_CS, handler)
                .present()
                .dpl(x86::Ring::Ring0)
                .ist(ist)
                .finish();
    }
    let pointer = DescriptorTablePointer::new(&*idt);
    // SAFETY: the IDT is static, complete, and every gate points at a stub in this image.
    unsafe { x86::dtables::lidt(&pointer) };
}

/// Loads a zero-length IDT and executes INT3: with no usable gate the CPU escalates to a triple fault,
/// which resets it (QEMU with `-no-reboot` exits). Only the `triplefault` test calls this.
pub fn load_empty_and_trap() {
    let empty: DescriptorTablePointer<Descriptor64> =
        DescriptorTablePointer { limit: 0, base: core::ptr::null() };
    // SAFETY: deliberately fatal: after LIDT with limit 0 every interrupt or exception is a triple
    // fault. Nothing runs afterwards.
    unsafe {
        x86::dtables::lidt(&empty);
        core::arch::asm!("int3");
    }
}
