//! CPU exceptions: the saved register frame, decoding, and the Linux-style oops report.
//!
//! Every vector lands in [`trap_dispatch`] with a [`TrapFrame`]. An NMI is reported and the CPU resumes;
//! the local APIC's timer and spurious vectors go to `apic`, routed device IRQs to `irq`; an interrupt on
//! any other vector above 31 is reported as unexpected;
//! every other exception is fatal: the report names it (for a page fault: the address from CR2 and the
//! decoded error code, Intel SDM vol. 3A §5.7), dumps registers and the call trace like Linux's
//! `__die`/`show_regs`, and stops the kernel through [`crate::panic::die`].

use core::fmt;
use core::sync::atomic::{AtomicU32, Ordering, compiler_fence};

use super::cpu;
use crate::ksyms::Sym;
use crate::mm::mmzone::{NR_CPUS, current_cpu};
use crate::{pr_emerg, pr_warn};

/// Registers as `trap_common` pushes them, followed by what the stub and the CPU pushed.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct TrapFrame {
    pub r15: u64,
    pub r14: u64,
    pub r13: u64,
    pub r12: u64,
    pub r11: u64,
    pub r10: u64,
    pub r9: u64,
    pub r8: u64,
    pub rbp: u64,
    pub rdi: u64,
    pub rsi: u64,
    pub rdx: u64,
    pub rcx: u64,
    pub rbx: u64,
    pub rax: u64,
    pub vector: u64,
    pub error_code: u64,
    pub rip: u64,
    pub cs: u64,
    pub rflags: u64,
    pub rsp: u64,
    pub ss: u64,
}

const _: () = assert!(size_of::<TrapFrame>() == 22 * 8);

pub const VECTOR_NMI: u64 = 2;
pub const VECTOR_DOUBLE_FAULT: u64 = 8;
pub const VECTOR_GENERAL_PROTECTION: u64 = 13;
pub const VECTOR_PAGE_FAULT: u64 = 14;

/// Page-fault error code bits (SDM vol. 3A, Figure 5-12).
pub mod pf {
    pub const PROTECTION: u64 = 1 << 0;
    pub const WRITE: u64 = 1 << 1;
    pub const USER: u64 = 1 << 2;
    pub const RESERVED_BIT: u64 = 1 << 3;
    pub const INSTRUCTION: u64 = 1 << 4;
    pub const PROTECTION_KEY: u64 = 1 << 5;
    pub const SHADOW_STACK: u64 = 1 << 6;
}

/// The exception's name as Linux's oops header prints it.
pub fn exception_name(vector: u64) -> &'static str {
    match vector {
        0 => "divide error",
        1 => "debug",
        2 => "NMI",
        3 => "int3",
        4 => "overflow",
        5 => "bounds",
        6 => "invalid opcode",
        7 => "device not available",
        8 => "double fault",
        9 => "coprocessor segment overrun",
        10 => "invalid TSS",
        11 => "segment not present",
        12 => "stack segment",
        13 => "general protection fault",
        14 => "page fault",
        16 => "coprocessor error",
        17 => "alignment check",
        18 => "machine check",
        19 => "SIMD coprocessor error",
        20 => "virtualization exception",
        21 => "control protection fault",
        28 => "hypervisor injection",
        29 => "VMM communication",
        30 => "security exception",
        _ => "reserved exception",
    }
}

impl TrapFrame {
    /// Whether the CPU was in user mode (CPL 3) when the trap happened.
    pub fn is_from_user(&self) -> bool {
        self.cs & 3 == 3
    }
}

/// Traps taken from kernel mode whose handlers are still running, per CPU (the hard-interrupt part of
/// Linux's `preempt_count`). Zero means task context: the code running is a task's own kernel code,
/// entered from user mode or started by the scheduler, which nothing else on this CPU can be in the
/// middle of (the kernel is not preemptible). A trap from user mode leaves it alone: what it
/// interrupted was not kernel code. A context switch keeps it per context (`switch::switch`).
static KERNEL_TRAP_DEPTH: [AtomicU32; NR_CPUS] = [const { AtomicU32::new(0) }; NR_CPUS];

/// Whether this CPU runs in task context: no trap handler has interrupted kernel code below us
/// (Linux's `in_task()`). Per-CPU data that is touched only in task context needs no lock and no CLI.
#[inline]
pub fn in_task() -> bool {
    KERNEL_TRAP_DEPTH[current_cpu()].load(Ordering::Relaxed) == 0
}

/// This CPU's trap depth, and setting it: for the context switch only.
pub(super) fn kernel_trap_depth() -> u32 {
    KERNEL_TRAP_DEPTH[current_cpu()].load(Ordering::Relaxed)
}

pub(super) fn set_kernel_trap_depth(depth: u32) {
    KERNEL_TRAP_DEPTH[current_cpu()].store(depth, Ordering::Relaxed);
}

/// Runs `f` as if in a trap handler that interrupted kernel code (for in-kernel tests of the paths such
/// handlers take).
pub fn as_if_in_trap<R>(f: impl FnOnce() -> R) -> R {
    set_kernel_trap_depth(kernel_trap_depth() + 1);
    compiler_fence(Ordering::SeqCst);
    let result = f();
    compiler_fence(Ordering::SeqCst);
    set_kernel_trap_depth(kernel_trap_depth() - 1);
    result
}

/// Entered from `trap_common` with interrupts disabled. A trap from kernel mode counts in
/// [`KERNEL_TRAP_DEPTH`] while its handler runs.
#[unsafe(no_mangle)]
extern "C" fn trap_dispatch(frame: &mut TrapFrame) {
    if frame.is_from_user() {
        return dispatch(frame);
    }
    as_if_in_trap(|| dispatch(frame));
}

fn dispatch(frame: &mut TrapFrame) {
    match frame.vector {
        super::syscall::SYSCALL_VECTOR => crate::syscall::dispatch(frame),
        VECTOR_NMI => {
            pr_warn!("Uhhuh. NMI received for unknown reason on CPU 0, continuing.");
        }
        0..=31 if frame.is_from_user() => user_exception(frame),
        VECTOR_PAGE_FAULT if cr2() < abi::layout::USER_END => {
            // A kernel access to a user address: legitimate only inside the user-copy routines (which
            // have exception-table entries). Resolve demand-zero/COW and retry; else fix up (-EFAULT).
            let address = cr2();
            let Some(fixup) = super::extable::search(frame.rip) else {
                pr_emerg!(
                    "BUG: kernel access to user address {address:#x} outside the user-copy routines (SMAP or a stray pointer)"
                );
                die(frame)
            };
            let write = frame.error_code & pf::WRITE != 0;
            if crate::mm::fault::handle_user_fault(address, write, false).is_ok() {
                return;
            }
            super::extable::record(frame.vector, address, frame.error_code);
            frame.rip = fixup;
        }
        VECTOR_PAGE_FAULT | VECTOR_GENERAL_PROTECTION if !frame.is_from_user() => {
            if let Some(fixup) = super::extable::search(frame.rip) {
                let address = if frame.vector == VECTOR_PAGE_FAULT { cr2() } else { 0 };
                super::extable::record(frame.vector, address, frame.error_code);
                frame.rip = fixup;
                return;
            }
            die(frame)
        }
        0..=31 => die(frame),
        v if v == u64::from(super::apic::TIMER_VECTOR) => super::apic::timer_interrupt(frame),
        // Spurious: no EOI, the APIC did not set an ISR bit for it (SDM vol. 3A §11.9).
        v if v == u64::from(super::apic::SPURIOUS_VECTOR) => {}
        vector => match super::irq::irq_of_vector(vector) {
            Some(irq) => super::irq::dispatch(irq),
            None => pr_warn!("unexpected interrupt on vector {vector:#x} at {}, ignored", Sym(frame.rip)),
        },
    }
}

/// An exception in user mode: a page fault the address space resolves, or a fatal signal for the task
/// with Linux's report line (`segfault at …`, `traps: … general protection fault …`).
fn user_exception(frame: &mut TrapFrame) {
    use crate::task::exit::force_fatal_signal;
    use abi::signal::{SIGBUS, SIGFPE, SIGILL, SIGSEGV, SIGTRAP};
    match frame.vector {
        VECTOR_PAGE_FAULT => {
            let address = cr2();
            let write = frame.error_code & pf::WRITE != 0;
            let exec = frame.error_code & pf::INSTRUCTION != 0;
            match crate::mm::fault::handle_user_fault(address, write, exec) {
                Ok(()) => crate::mm::memcontrol::handle_over_high(),
                Err(crate::mm::aspace::FaultError::GroupOom(group)) => {
                    // The task's memory group is at memory.max: oomd (or, failing it, the kernel's
                    // group OOM killer) picks a victim in it. If that was someone else, the fault is
                    // retried with their memory back.
                    if let crate::mm::oom::Outcome::KillMe = crate::mm::oom::out_of_memory(Some(group)) {
                        force_fatal_signal(
                            frame,
                            abi::signal::SIGKILL,
                            "killed by the memory-group OOM killer",
                            Some(address),
                        )
                    }
                }
                Err(crate::mm::aspace::FaultError::OutOfMemory) => {
                    // No free page at all: oomd or the system OOM killer frees some (the fault is
                    // retried), or the faulting task itself is the victim.
                    if let crate::mm::oom::Outcome::KillMe = crate::mm::oom::out_of_memory(None) {
                        force_fatal_signal(
                            frame,
                            abi::signal::SIGKILL,
                            "killed by the OOM killer",
                            Some(address),
                        )
                    }
                }
                Err(_) => force_fatal_signal(frame, SIGSEGV, "segfault", Some(address)),
            }
        }
        0 => force_fatal_signal(frame, SIGFPE, "trap divide error", None),
        3 => force_fatal_signal(frame, SIGTRAP, "int3", None),
        6 => force_fatal_signal(frame, SIGILL, "trap invalid opcode", None),
        16 | 19 => force_fatal_signal(frame, SIGFPE, "floating-point exception", None),
        17 => force_fatal_signal(frame, SIGBUS, "alignment check", None),
        VECTOR_GENERAL_PROTECTION => force_fatal_signal(frame, SIGSEGV, "general protection fault", None),
        _ => force_fatal_signal(frame, SIGSEGV, exception_name(frame.vector), None),
    }
}

fn die(frame: &TrapFrame) -> ! {
    crate::printk::emergency_unlock();
    if frame.vector == VECTOR_PAGE_FAULT {
        report_page_fault(frame, cr2());
    }
    let mut name = exception_name(frame.vector);
    if frame.vector == VECTOR_DOUBLE_FAULT {
        // A push onto a vmalloc'd stack's guard page faults, and so does pushing that #PF's frame: the CPU
        // raises #DF with CR2 in the guard page (Linux's `handle_stack_overflow`).
        let address = cr2();
        if let Some((owner, bottom, top)) = crate::mm::vmalloc::stack_guard_hit(address) {
            pr_emerg!(
                "BUG: TASK stack guard page was hit at {address:#018x} (stack is {bottom:#018x}..{top:#018x}, task {owner})"
            );
            name = "kernel stack overflow (double-fault)";
        }
    }
    pr_emerg!("Oops: {}: {:04x} [#1]", name, frame.error_code);
    show_regs(frame);
    crate::panic::die(name);
}

fn cr2() -> u64 {
    // SAFETY: reading CR2 has no side effects.
    unsafe { x86::controlregs::cr2() as u64 }
}

fn report_page_fault(frame: &TrapFrame, address: u64) {
    let code = frame.error_code;
    if address < 4096 && code & pf::USER == 0 {
        pr_emerg!("BUG: kernel NULL pointer dereference, address: {address:016x}");
    } else {
        pr_emerg!("BUG: unable to handle page fault for address: {address:016x}");
    }
    let access = if code & pf::INSTRUCTION != 0 {
        "instruction fetch"
    } else if code & pf::WRITE != 0 {
        "write access"
    } else {
        "read access"
    };
    pr_emerg!(
        "#PF: {} {} in {} mode",
        if code & pf::USER != 0 { "user" } else { "supervisor" },
        access,
        if frame.is_from_user() { "user" } else { "kernel" }
    );
    let reason = if code & pf::PROTECTION == 0 {
        "not-present page"
    } else if code & pf::RESERVED_BIT != 0 {
        "reserved bit violation"
    } else if code & pf::PROTECTION_KEY != 0 {
        "protection keys violation"
    } else if code & pf::SHADOW_STACK != 0 {
        "shadow stack violation"
    } else {
        "permissions violation"
    };
    pr_emerg!("#PF: error_code({code:#06x}) - {reason}");
}

/// The register dump of Linux's `show_regs`, then the call trace.
pub fn show_regs(f: &TrapFrame) {
    // SAFETY: reading control registers has no side effects.
    let (cr0, cr3, cr4) = unsafe {
        (
            x86::controlregs::cr0().bits() as u64,
            x86::controlregs::cr3(),
            x86::controlregs::cr4().bits() as u64,
        )
    };
    pr_emerg!("RIP: {:04x}:{}", f.cs, Sym(f.rip));
    pr_emerg!("RSP: {:04x}:{:016x} EFLAGS: {:08x}", f.ss, f.rsp, f.rflags);
    pr_emerg!("RAX: {:016x} RBX: {:016x} RCX: {:016x}", f.rax, f.rbx, f.rcx);
    pr_emerg!("RDX: {:016x} RSI: {:016x} RDI: {:016x}", f.rdx, f.rsi, f.rdi);
    pr_emerg!("RBP: {:016x} R08: {:016x} R09: {:016x}", f.rbp, f.r8, f.r9);
    pr_emerg!("R10: {:016x} R11: {:016x} R12: {:016x}", f.r10, f.r11, f.r12);
    pr_emerg!("R13: {:016x} R14: {:016x} R15: {:016x}", f.r13, f.r14, f.r15);
    pr_emerg!("CS:  {:04x} CR0: {:016x} vector: {} error: {:#x}", f.cs, cr0, f.vector, f.error_code);
    pr_emerg!("CR2: {:016x} CR3: {:016x} CR4: {:016x}", cr2(), cr3, cr4);
    print_call_trace(Some(f.rip), f.rbp);
}

/// Prints `Call Trace:` from an optional first address and a frame pointer.
pub fn print_call_trace(first: Option<u64>, rbp: u64) {
    pr_emerg!("Call Trace:");
    pr_emerg!(" <TASK>");
    if let Some(rip) = first {
        pr_emerg!(" {}", Sym(rip));
    }
    super::backtrace::walk(rbp, |return_address| pr_emerg!(" {}", ReturnAddress(return_address)));
    pr_emerg!(" </TASK>");
}

/// A return address, symbolized by the call instruction before it (the return address itself may already
/// belong to the next function when the call was a function's last instruction).
struct ReturnAddress(u64);

impl fmt::Display for ReturnAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match crate::ksyms::lookup(self.0 - 1) {
            Some(sym) => write!(f, "{}+{:#x}/{:#x}", sym.name, sym.offset + 1, sym.size),
            None => write!(f, "{:#018x}", self.0),
        }
    }
}

/// Prints the call trace of the current context (used by the panic handler).
pub fn dump_stack() {
    print_call_trace(None, cpu::frame_pointer());
}

/// Prints the call trace of the current context at `level` (for non-fatal reports).
pub fn dump_stack_at(level: crate::printk::Level) {
    crate::printk::printk(level, format_args!("Call Trace:"));
    super::backtrace::walk(cpu::frame_pointer(), |ra| {
        crate::printk::printk(level, format_args!(" {}", ReturnAddress(ra)))
    });
}

/// Calls `f(arg)` on the stack whose top is `top` and returns its result (Linux's `call_on_stack`).
///
/// # Safety
/// `[top - n, top)` must be mapped, writable memory no one else uses, for as many bytes `n` as `f` needs
/// (or, for a test of the guard page, deliberately not: the overflow then ends the kernel).
pub unsafe fn call_on_stack(top: u64, f: extern "C" fn(u64) -> u64, arg: u64) -> u64 {
    let result: u64;
    // SAFETY: the caller vouches for the stack; R12 (callee-saved) keeps the old RSP across the call,
    // the new RSP is 16-byte aligned before the call as the ABI wants, and every caller-saved register
    // is declared clobbered.
    unsafe {
        core::arch::asm!(
            "mov r12, rsp",
            "mov rsp, {top}",
            "call {f}",
            "mov rsp, r12",
            top = in(reg) top & !0xf,
            f = in(reg) f,
            in("rdi") arg,
            lateout("rax") result,
            out("r12") _,
            clobber_abi("C"),
        )
    }
    result
}

/// Switches to a stack no page table maps and executes UD2: delivering #UD faults on the stack, so does
/// delivering that #PF, and the CPU raises a double fault, which runs on its own IST stack. Only the
/// `doublefault` test calls this.
pub fn provoke_double_fault(unmapped_stack_top: u64) -> ! {
    // SAFETY: deliberately fatal: the double-fault handler reports and stops the kernel, nothing returns.
    unsafe { core::arch::asm!("mov rsp, {top}", "ud2", top = in(reg) unmapped_stack_top, options(noreturn)) }
}
