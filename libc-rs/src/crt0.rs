//! crt0: `_start`, the first code of every program. It reads the initial stack (argc, argv, envp, auxv:
//! [`crate::args`]), sets up the main thread's TLS block ([`crate::tls::MAIN_THREAD`], FS base via
//! `arch_prctl(ARCH_SET_FS)`), calls the C symbol `main(argc, argv, envp)` and ends with `exit(code)`.
//!
//! C programs define `main` themselves. Rust programs write `libc_rs::entry!(main)` with
//! `fn main(args: &libc_rs::Args) -> i32`; the macro defines the C-ABI `main` that calls it, so both kinds of
//! program start the same way and a program has exactly one `main`.

use crate::args::{AT_RANDOM, Args};
use crate::tls::{self, MAIN_THREAD, ThreadBlock};
use crate::{process, sys};
use core::cell::UnsafeCell;
use core::ffi::{c_char, c_int};

core::arch::global_asm!(
    ".pushsection .text._start, \"ax\", @progbits",
    ".p2align 4",
    ".globl _start",
    ".type _start, @function",
    "_start:",
    // End of the frame-pointer chain for backtraces.
    "    xor ebp, ebp",
    // The initial RSP (pointing at argc) is `start`'s argument.
    "    mov rdi, rsp",
    // The psABI wants RSP 16-byte aligned at a call.
    "    and rsp, -16",
    "    call {start}",
    "    ud2",
    ".size _start, . - _start",
    ".popsection",
    start = sym start,
);

unsafe extern "C" {
    /// The program's main: C's, or the one `entry!` defines.
    fn main(argc: c_int, argv: *const *const c_char, envp: *const *const c_char) -> c_int;
}

/// The program's arguments, written once by `start` before `main` runs.
struct ArgsCell(UnsafeCell<Option<Args>>);

// SAFETY: written only by `start`, before any other thread can exist; read-only afterwards.
unsafe impl Sync for ArgsCell {}

static ARGS: ArgsCell = ArgsCell(UnsafeCell::new(None));

/// The program's arguments, environment and auxiliary vector.
///
/// # Panics
/// Before crt0 has run (never, in a program started by the kernel).
pub fn args() -> &'static Args {
    // SAFETY: `start` wrote the cell before `main`; it is never written again.
    unsafe { (*ARGS.0.get()).as_ref() }.expect("libc-rs: arguments read before crt0 ran")
}

/// The stack-protector canary: the first 8 of the 16 random bytes the kernel passes at AT_RANDOM, with the
/// low byte zeroed as glibc does (a string overread then stops at it); 0 when there are none.
fn stack_guard(args: &Args) -> u64 {
    match args.aux(AT_RANDOM) {
        Some(address) if address != 0 => {
            // SAFETY: AT_RANDOM points at 16 bytes on the initial stack.
            let random = unsafe { (address as *const u64).read_unaligned() };
            random & !0xff
        }
        _ => 0,
    }
}

/// Called by `_start` with the initial stack pointer.
///
/// # Safety
/// `stack` is the initial RSP, laid out as [`crate::args`] describes; called once, first.
unsafe extern "C" fn start(stack: *const u64) -> ! {
    // SAFETY: the kernel's initial stack (contract).
    let args = unsafe { Args::from_initial_stack(stack) };
    // SAFETY: no other thread exists yet and nothing has read the cell.
    unsafe { *ARGS.0.get() = Some(args) };
    let block = MAIN_THREAD.get();
    // SAFETY: the static block is not in use yet (no code has needed TLS so far).
    unsafe { block.write(ThreadBlock::new(block, stack_guard(&args))) };
    // SAFETY: the block is initialized, lives forever, and this thread used no TLS before.
    if unsafe { tls::install(block) }.is_err() {
        let _ = sys::write(2, b"libc-rs: arch_prctl(ARCH_SET_FS) failed\n");
        process::exit_now(127);
    }
    if let Ok(pid) = sys::getpid() {
        // SAFETY: a single atomic field of our own block.
        unsafe { (*block).tid.store(pid, core::sync::atomic::Ordering::Relaxed) };
    }
    // SAFETY: `main` has the C signature declared above; argv and envp are the initial stack's vectors.
    let code = unsafe { main(args.len() as c_int, args.argv(), args.envp()) };
    process::exit(code)
}

/// Defines the program's C `main` to call a Rust main: `libc_rs::entry!(main)` with
/// `fn main(args: &libc_rs::Args) -> i32`; the return value is the exit status.
#[macro_export]
macro_rules! entry {
    ($main:path) => {
        /// The C `main` libc-rs's crt0 calls (a different Rust name, so the program's own `main` can keep
        /// its name): runs the program's Rust main.
        #[unsafe(export_name = "main")]
        pub extern "C" fn libc_rs_c_main(
            _argc: core::ffi::c_int,
            _argv: *const *const core::ffi::c_char,
            _envp: *const *const core::ffi::c_char,
        ) -> core::ffi::c_int {
            let main: fn(&$crate::Args) -> i32 = $main;
            main($crate::crt0::args())
        }
    };
}
