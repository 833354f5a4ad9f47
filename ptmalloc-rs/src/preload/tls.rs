//! The per-thread block of the LD_PRELOAD library in *initial-exec* TLS.
//!
//! Rust's `thread_local!` in a cdylib uses the general-dynamic model (a `__tls_get_addr` call per access),
//! which costs more than a whole tcache hit; glibc's malloc reads its TLS with one `%fs`-relative load. Stable
//! Rust cannot choose the TLS model, so the block is defined in `.tbss` with `global_asm!` and addressed with
//! the x86-64 initial-exec sequence (`%fs:0` plus the offset the dynamic linker puts in the GOT). A library
//! loaded with LD_PRELOAD (or linked at start-up) always gets static TLS, which is what this model needs.

use core::arch::{asm, global_asm};

/// Bytes reserved per thread.
pub(super) const BLOCK_SIZE: usize = 64;

global_asm!(
    ".section .tbss,\"awT\",@nobits",
    ".p2align 4",
    ".globl ptmalloc_rs_thread_block",
    ".hidden ptmalloc_rs_thread_block",
    ".type ptmalloc_rs_thread_block, @object",
    ".size ptmalloc_rs_thread_block, 64",
    "ptmalloc_rs_thread_block:",
    ".zero 64",
    ".text",
);

/// Address of the calling thread's zero-initialized, 16-byte aligned block of [`BLOCK_SIZE`] bytes.
#[inline(always)]
pub(super) fn thread_block() -> *mut u8 {
    let address: usize;
    // SAFETY: the initial-exec TLS access sequence for a symbol of this object: reads the thread pointer and
    // the symbol's TLS offset from the GOT; no memory is written.
    unsafe {
        asm!(
            "mov {address}, qword ptr [rip + ptmalloc_rs_thread_block@GOTTPOFF]",
            "add {address}, qword ptr fs:[0]",
            address = out(reg) address,
            options(nostack, readonly, preserves_flags),
        );
    }
    core::ptr::with_exposed_provenance_mut(address)
}
