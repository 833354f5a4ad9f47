//! Program entry and exit: `_start`, the initial stack (argc, argv, envp, auxv; System V x86-64 psABI
//! §3.4.1 "Initial Stack and Register State"), the [`entry!`](crate::entry) macro and the panic handler.
//!
//! Initial stack, from the RSP the kernel hands to `_start` upwards:
//! ```text
//! rsp →  argc
//!        argv[0] … argv[argc-1]   pointers to NUL-terminated strings
//!        NULL
//!        envp[0] … envp[n-1]
//!        NULL
//!        auxv: (type, value) pairs … (AT_NULL = 0, _)
//! ```

use crate::sys;
use core::panic::PanicInfo;

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
    // The psABI wants RSP 16-byte aligned at a call (the kernel should give us that; make sure).
    "    and rsp, -16",
    "    call {start}",
    "    ud2",
    ".size _start, . - _start",
    ".popsection",
    start = sym start,
);

/// The program's arguments (and environment and auxiliary vector) as found on the initial stack.
#[repr(C)]
#[derive(Debug)]
pub struct Args {
    argc: usize,
    argv: *const *const u8,
    envp: *const *const u8,
    auxv: *const [u64; 2],
}

impl Args {
    /// argc.
    pub fn len(&self) -> usize {
        self.argc
    }

    /// Whether argc is 0 (a kernel should always pass argv[0]).
    pub fn is_empty(&self) -> bool {
        self.argc == 0
    }

    /// argv[index] as text (`"<non-UTF-8>"` if it is not valid UTF-8).
    pub fn get(&self, index: usize) -> Option<&'static str> {
        if index >= self.argc {
            return None;
        }
        // SAFETY: index < argc, and argv[0..argc] are valid pointers to NUL-terminated strings that live
        // for the whole program (the initial stack is never popped past `start`'s frame).
        let bytes = unsafe { c_string(*self.argv.add(index)) };
        Some(core::str::from_utf8(bytes).unwrap_or("<non-UTF-8>"))
    }

    /// argv[index] parsed as a decimal or `0x` hexadecimal number.
    pub fn get_u64(&self, index: usize) -> Option<u64> {
        self.get(index).and_then(parse_u64)
    }

    /// argv[0], argv[1], ….
    pub fn iter(&self) -> impl Iterator<Item = &'static str> + '_ {
        (0..self.argc).filter_map(|index| self.get(index))
    }

    /// The environment strings (`NAME=value`).
    pub fn env(&self) -> impl Iterator<Item = &'static [u8]> + '_ {
        (0..)
            // SAFETY: envp is a NULL-terminated array; the `take_while` below stops at the NULL, so no
            // element past it is read.
            .map(|index| unsafe { *self.envp.add(index) })
            .take_while(|pointer| !pointer.is_null())
            // SAFETY: non-NULL entries point to NUL-terminated strings on the initial stack.
            .map(|pointer| unsafe { c_string(pointer) })
    }

    /// The value of auxiliary vector entry `key` (`AT_PAGESZ` = 6, `AT_ENTRY` = 9, `AT_RANDOM` = 25, …).
    pub fn aux(&self, key: u64) -> Option<u64> {
        let mut index = 0;
        loop {
            // SAFETY: the vector ends with AT_NULL (0), where the loop stops.
            let [kind, value] = unsafe { *self.auxv.add(index) };
            match kind {
                0 => return None,
                _ if kind == key => return Some(value),
                _ => index += 1,
            }
        }
    }
}

/// Parses a decimal or `0x`-prefixed hexadecimal number.
pub fn parse_u64(text: &str) -> Option<u64> {
    match text.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    }
}

/// A number formatted in decimal without an allocator, e.g. to pass it as a spawn argument:
/// `sys::spawn("x", &[Decimal::new(7).as_str()], None)`.
#[derive(Clone, Copy, Debug)]
pub struct Decimal {
    digits: [u8; 20],
    start: usize,
}

impl Decimal {
    pub fn new(mut value: u64) -> Decimal {
        let mut decimal = Decimal { digits: [0; 20], start: 20 };
        loop {
            decimal.start -= 1;
            decimal.digits[decimal.start] = b'0' + (value % 10) as u8;
            value /= 10;
            if value == 0 {
                return decimal;
            }
        }
    }

    pub fn as_str(&self) -> &str {
        core::str::from_utf8(&self.digits[self.start..]).unwrap_or("0")
    }
}

/// The bytes of a NUL-terminated string, without the NUL.
///
/// # Safety
/// `pointer` points to a NUL-terminated string that stays valid and unchanged for the program's life.
unsafe fn c_string(pointer: *const u8) -> &'static [u8] {
    let mut len = 0;
    // SAFETY: every byte up to and including the NUL belongs to the string (caller's promise).
    while unsafe { *pointer.add(len) } != 0 {
        len += 1;
    }
    // SAFETY: the `len` bytes before the NUL are valid and never change.
    unsafe { core::slice::from_raw_parts(pointer, len) }
}

unsafe extern "C" {
    /// The program's main, defined by [`entry!`](crate::entry) in each binary.
    fn pagoda_main(args: &Args) -> i32;
}

/// Called by `_start` with the initial stack pointer; runs the program's main and exits with its code.
///
/// # Safety
/// `stack` is the initial RSP laid out as described in the module documentation.
unsafe extern "C" fn start(stack: *const u64) -> ! {
    // SAFETY: by the layout: argc at stack[0], argv right after it, envp after argv's NULL, auxv after
    // envp's NULL; the loop stops at envp's NULL.
    let args = unsafe {
        let argc = *stack as usize;
        let argv = stack.add(1) as *const *const u8;
        let envp = argv.add(argc + 1);
        let mut end = envp;
        while !(*end).is_null() {
            end = end.add(1);
        }
        Args { argc, argv, envp, auxv: end.add(1) as *const [u64; 2] }
    };
    // SAFETY: `pagoda_main` is the function `entry!` defined with exactly this signature.
    let code = unsafe { pagoda_main(&args) };
    sys::exit(code)
}

/// Defines the program's entry: `userland::entry!(main)` with `fn main(args: &userland::Args) -> i32`;
/// the return value is the exit code.
#[macro_export]
macro_rules! entry {
    ($main:path) => {
        /// Called by the runtime's `start` (see `userland::rt`).
        #[unsafe(no_mangle)]
        pub extern "C" fn pagoda_main(args: &$crate::Args) -> i32 {
            let main: fn(&$crate::Args) -> i32 = $main;
            main(args)
        }
    };
}

/// Prints `panic: <message> at <file:line>` to standard error and exits with code 101 (as Rust's std does).
#[panic_handler]
fn panic(info: &PanicInfo<'_>) -> ! {
    match info.location() {
        Some(location) => crate::eprintln!("panic: {} at {}", info.message(), location),
        None => crate::eprintln!("panic: {}", info.message()),
    }
    sys::exit(101)
}
