//! The raw `syscall` instruction with 0 to 6 arguments (DESIGN §7, `abi` crate): number in RAX, arguments in
//! RDI, RSI, RDX, R10, R8, R9; the CPU clobbers RCX (return RIP) and R11 (RFLAGS); the result (a value, or a
//! negative errno) comes back in RAX and the kernel preserves every other register.
//!
//! These are `unsafe`: the kernel reads and writes memory through pointer arguments and can change the
//! caller's address space. [`crate::sys`] holds the typed, checked wrappers.

use core::arch::asm;

macro_rules! raw_syscall {
    ($(#[$doc:meta])* $name:ident($($arg:ident => $reg:tt),*)) => {
        $(#[$doc])*
        ///
        /// # Safety
        /// The call must keep Rust's memory model intact: pointer arguments the kernel writes through point to
        /// memory the caller owns exclusively, and the call does not unmap, remap or re-protect memory that
        /// live Rust or C objects still use.
        #[inline(always)]
        pub unsafe fn $name(nr: u64 $(, $arg: u64)*) -> u64 {
            let rax: u64;
            // SAFETY: the caller keeps the contract above. `syscall` changes only RAX, RCX and R11 (declared),
            // does not use the user stack (`nostack`) and may read or write memory (no `nomem`).
            unsafe {
                asm!(
                    "syscall",
                    inlateout("rax") nr => rax,
                    $(in($reg) $arg,)*
                    lateout("rcx") _,
                    lateout("r11") _,
                    options(nostack),
                );
            }
            rax
        }
    };
}

raw_syscall!(
    /// A syscall without arguments.
    syscall0()
);
raw_syscall!(
    /// A syscall with one argument (RDI).
    syscall1(a0 => "rdi")
);
raw_syscall!(
    /// A syscall with two arguments (RDI, RSI).
    syscall2(a0 => "rdi", a1 => "rsi")
);
raw_syscall!(
    /// A syscall with three arguments (RDI, RSI, RDX).
    syscall3(a0 => "rdi", a1 => "rsi", a2 => "rdx")
);
raw_syscall!(
    /// A syscall with four arguments (RDI, RSI, RDX, R10).
    syscall4(a0 => "rdi", a1 => "rsi", a2 => "rdx", a3 => "r10")
);
raw_syscall!(
    /// A syscall with five arguments (RDI, RSI, RDX, R10, R8).
    syscall5(a0 => "rdi", a1 => "rsi", a2 => "rdx", a3 => "r10", a4 => "r8")
);
raw_syscall!(
    /// A syscall with six arguments (RDI, RSI, RDX, R10, R8, R9).
    syscall6(a0 => "rdi", a1 => "rsi", a2 => "rdx", a3 => "r10", a4 => "r8", a5 => "r9")
);
