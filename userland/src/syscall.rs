//! Raw `syscall` instructions (abi crate doc, DESIGN §7): number in RAX, arguments in RDI, RSI, RDX, R10,
//! R8, R9; the CPU clobbers RCX (return RIP) and R11 (RFLAGS); the result comes back in RAX. As on Linux the
//! kernel preserves every other register. The IPC variant also returns message words in RSI, RDX, R10, R8.
//!
//! These are `unsafe` because the kernel reads and writes memory through pointer arguments and can change
//! the caller's address space; the typed wrappers in [`crate::sys`] are the safe interface.

use core::arch::asm;

// One shared contract for every function below, so it is written once.
macro_rules! raw_syscall {
    ($(#[$doc:meta])* $name:ident($($arg:ident => $reg:tt),*)) => {
        $(#[$doc])*
        ///
        /// # Safety
        /// The call must keep Rust's memory model intact: every pointer argument the kernel writes through
        /// must point to memory the caller owns exclusively (or to memory no Rust object occupies, such as
        /// unmapped or kernel addresses), and the call must not unmap, remap or re-protect memory that Rust
        /// code still uses.
        #[inline(always)]
        pub unsafe fn $name(nr: u64 $(, $arg: u64)*) -> u64 {
            let rax: u64;
            // SAFETY: the caller upholds the contract above. `syscall` changes only RAX, RCX and R11
            // (declared here), does not touch the user stack (`nostack`), and may read or write memory
            // (so no `nomem`/`readonly`).
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

/// What an IPC syscall returns: RAX (badge, reply status or negative errno) and the words in RSI, RDX,
/// R10, R8.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RawIpc {
    pub rax: u64,
    pub words: [u64; 4],
}

/// An IPC syscall (`ipc_send/recv/call/reply/reply_recv`): `a0` in RDI (handle or status), the four
/// message words in RSI, RDX, R10, R8, the bulk descriptor address in R9; returns RAX and the four words
/// the kernel left in RSI, RDX, R10, R8.
///
/// # Safety
/// As for [`syscall6`]; in addition `bulk` is 0 or the address of an `abi::IpcBulk` whose `send_ptr`
/// range is readable and whose `recv_ptr` range is memory the caller owns exclusively.
#[inline(always)]
pub unsafe fn syscall_ipc(nr: u64, a0: u64, words: [u64; 4], bulk: u64) -> RawIpc {
    let rax: u64;
    let (w0, w1, w2, w3): (u64, u64, u64, u64);
    // SAFETY: the caller upholds the contract above. Besides RAX and the four word registers (outputs),
    // the kernel may change RCX and R11 (the `syscall` instruction); RDI and R9 are declared clobbered
    // too, as the ABI does not promise to preserve argument registers of IPC calls.
    unsafe {
        asm!(
            "syscall",
            inlateout("rax") nr => rax,
            inlateout("rdi") a0 => _,
            inlateout("rsi") words[0] => w0,
            inlateout("rdx") words[1] => w1,
            inlateout("r10") words[2] => w2,
            inlateout("r8") words[3] => w3,
            inlateout("r9") bulk => _,
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
    }
    RawIpc { rax, words: [w0, w1, w2, w3] }
}
