//! `fault KIND`: makes one invalid memory access that the kernel must answer by killing the task with
//! SIGSEGV (the `faults` runner checks the wait status). Surviving is a failure: it prints `FAIL` and
//! exits 1.
//!
//! KIND is one of:
//! - `null`      write to address 0 (nothing is mapped below `abi::layout::USER_MIN`);
//! - `text`      write to our own code (text is mapped read + execute, never writable: W^X);
//! - `stack`     copy a `ret` (0xc3) into a stack buffer and call it (the stack is no-execute);
//! - `kernel`    read the kernel's image at 0xffffffff80000000 (supervisor pages, U/S clear);
//! - `exec_data` call into a `static mut` buffer in .data (data is no-execute).
//!
//! The accesses are written in inline assembly so the compiler cannot reason about (or remove) them.
#![no_std]
#![no_main]

use core::arch::asm;
use userland::{Args, fail, println};

userland::entry!(main);

/// The kernel's higher-half image (DESIGN §5).
const KERNEL_ADDRESS: u64 = 0xffff_ffff_8000_0000;

/// A `ret` instruction followed by padding, in writable data (.data).
static mut DATA_CODE: [u8; 16] = [0xc3; 16];

/// A function whose first byte the `text` fault tries to overwrite.
#[inline(never)]
fn text_target() -> u64 {
    core::hint::black_box(42)
}

fn main(args: &Args) -> i32 {
    let Some(kind) = args.get(1) else { fail!("usage: fault null|text|stack|kernel|exec_data") };
    println!("fault {kind}: before invalid access");
    match kind {
        "null" => write_byte(0),
        "text" => write_byte(text_target as fn() -> u64 as usize as u64),
        "stack" => {
            let mut buffer = [0u8; 16];
            buffer[0] = 0xc3;
            call(core::hint::black_box(buffer.as_mut_ptr()) as u64);
        }
        "kernel" => read_byte(KERNEL_ADDRESS),
        "exec_data" => call(&raw mut DATA_CODE as u64),
        _ => fail!("fault: unknown kind {kind}"),
    }
    println!("fault {kind}: after invalid access");
    fail!("fault {kind}: the task survived an invalid access")
}

/// Stores one byte at `address`.
fn write_byte(address: u64) {
    // SAFETY: `address` is never memory a Rust object lives in (null, our read-only text): the store
    // faults and the kernel ends the task; were it to succeed, only a byte of code we never run again
    // (`text_target` stays uncalled) would change.
    unsafe { asm!("mov byte ptr [{0}], 0x90", in(reg) address, options(nostack)) };
}

/// Loads one byte from `address`.
fn read_byte(address: u64) {
    // SAFETY: a load changes no memory; a kernel address faults and ends the task.
    unsafe { asm!("mov {1}, byte ptr [{0}]", in(reg) address, out(reg_byte) _, options(nostack, readonly)) };
}

/// Calls `address` as a function.
fn call(address: u64) {
    // SAFETY: `address` holds a lone `ret`, so if the CPU ever executed it the call would return at once
    // with no register changed but the ones `clobber_abi("C")` declares; NX should stop it first.
    unsafe { asm!("call {0}", in(reg) address, clobber_abi("C")) };
}
