//! `stdlib.h` and `errno.h` functions besides malloc: exit, abort, getenv, `__errno_location`, and gcc's
//! `__stack_chk_fail`.

use crate::{crt0, process, tls};
use core::ffi::{CStr, c_char, c_int};

/// `exit(status)`: flushes stdio and ends the process (every thread) with `status`.
#[unsafe(no_mangle)]
pub extern "C" fn exit(status: c_int) -> ! {
    process::exit(status)
}

/// `abort()`: ends the process with SIGABRT.
#[unsafe(no_mangle)]
pub extern "C" fn abort() -> ! {
    process::abort()
}

/// `getenv(name)`: the value in the initial environment, or NULL.
///
/// # Safety
/// `name` is NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn getenv(name: *const c_char) -> *mut c_char {
    // SAFETY: NUL-terminated (contract).
    let Ok(name) = unsafe { CStr::from_ptr(name) }.to_str() else { return core::ptr::null_mut() };
    // The value is the tail of a NUL-terminated environment string, so it is a C string itself.
    crt0::args().getenv(name).map_or(core::ptr::null_mut(), |value| value.as_ptr().cast_mut().cast())
}

/// `int *__errno_location(void)`: the calling thread's `errno` (`errno.h` defines `errno` over it).
#[unsafe(no_mangle)]
pub extern "C" fn __errno_location() -> *mut c_int {
    tls::errno_slot()
}

/// Called by code built with `-fstack-protector` when the canary at `%fs:0x28` was overwritten.
#[unsafe(no_mangle)]
pub extern "C" fn __stack_chk_fail() -> ! {
    process::abort_with_message("*** stack smashing detected ***: terminated")
}
