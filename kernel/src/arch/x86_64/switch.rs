//! The context switch: saving one task's callee-saved registers and stack pointer, loading another's.
//!
//! A task that is not running is parked inside `switch_context` (or, before its first run, looks as if it
//! were): its kernel stack holds RBP, RBX, R12–R15 and a return address. A new task's return address is
//! `task_first_entry`, which finishes the switch and leaves through `trap_return` with the user frame the
//! spawner wrote; a kernel thread's is `kthread_first_entry`, which calls the function in R12 with the
//! argument in R13.

use core::arch::global_asm;

global_asm!(
    r#"
    .section .text.switch, "ax"
    .balign 16
    .global switch_context
switch_context:
    push %rbp
    push %rbx
    push %r12
    push %r13
    push %r14
    push %r15
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %rbx
    pop %rbp
    ret

    .global task_first_entry
task_first_entry:
    call sched_finish_switch
    jmp trap_return

    .global kthread_first_entry
kthread_first_entry:
    call sched_finish_switch
    mov %r13, %rdi
    call *%r12
    ud2
"#,
    options(att_syntax)
);

unsafe extern "C" {
    fn switch_context(prev_rsp: *mut u64, next_rsp: u64);
    fn task_first_entry();
    fn kthread_first_entry();
}

/// Words of the frame `switch_context` pops: R15, R14, R13, R12, RBX, RBP, return address.
pub const SWITCH_FRAME_WORDS: usize = 7;

/// Saves the current context into `*prev_rsp` and resumes the one whose stack pointer is `next_rsp`.
/// Returns when something switches back to the saved context.
///
/// # Safety
/// Interrupts are disabled; `next_rsp` is a stack pointer saved by `switch_context` or built by
/// [`initial_frame`] on a live kernel stack; `prev_rsp` stays valid until the context is resumed.
pub unsafe fn switch(prev_rsp: *mut u64, next_rsp: u64) {
    // The trap depth belongs to the context: this one gets its own back when it resumes here, a
    // context that starts fresh runs in task context (depth 0). The idle task switches from inside a
    // timer interrupt that hit its HLT; the task it switches to was not interrupted.
    let depth = super::traps::kernel_trap_depth();
    super::traps::set_kernel_trap_depth(0);
    // SAFETY: as the caller guarantees.
    unsafe { switch_context(prev_rsp, next_rsp) };
    super::traps::set_kernel_trap_depth(depth);
}

/// The switch frame a new context starts from, to be written just below `top`: for a user task (its
/// user-mode [`super::traps::TrapFrame`] lies at `top`), or a kernel thread running `entry(arg)`.
pub fn initial_frame(kthread: Option<(extern "C" fn(u64) -> !, u64)>) -> [u64; SWITCH_FRAME_WORDS] {
    match kthread {
        None => [0, 0, 0, 0, 0, 0, task_first_entry as *const () as u64],
        Some((entry, arg)) => {
            [0, 0, arg, entry as *const () as u64, 0, 0, kthread_first_entry as *const () as u64]
        }
    }
}
