//! Ending the process: [`exit`] (flush stdio, then `exit_group`), [`abort`] (SIGABRT), the message-and-abort
//! used by malloc's corruption checks, and the panic handler of target builds.
//!
//! `exit_group` (231) ends every thread; the `exit` syscall (60) ends only the calling thread
//! ([`crate::thread::exit`]). Returning from `main` is `exit(code)`.

use crate::{stdio, sys};

/// Linux's SIGABRT (`abi::signal` lists only the signals the kernel raises itself).
pub const SIGABRT: i32 = 6;

/// Ends the process with `code` after writing out the stdio buffers.
pub fn exit(code: i32) -> ! {
    stdio::flush_all();
    sys::exit_group(code)
}

/// Ends the process at once (no stdio flush), as C's `_exit`.
pub fn exit_now(code: i32) -> ! {
    sys::exit_group(code)
}

/// Ends the process by SIGABRT (its parent sees "killed by signal 6"); if the signal did not end it (the
/// kernel refused, or it ended only this thread's leader), `exit_group(127)`.
pub fn abort() -> ! {
    if let Ok(pid) = sys::getpid() {
        let _ = sys::kill(pid as i32, SIGABRT);
    }
    sys::exit_group(127)
}

/// Writes `message` and a newline to stderr in one `write`, then aborts (glibc's `malloc_printerr`). Does
/// not allocate and does not take the stderr lock (the caller may hold anything).
pub fn abort_with_message(message: &str) -> ! {
    let mut line = [0u8; 256];
    let len = message.len().min(line.len() - 1);
    line[..len].copy_from_slice(&message.as_bytes()[..len]);
    line[len] = b'\n';
    let _ = sys::write(2, &line[..=len]);
    abort()
}

/// Prints `panic: <message> at <file:line>` to stderr and ends the process with code 101 (as Rust's std
/// does after a panic in `main`). A panic in any thread ends the whole process (panic = abort).
#[cfg(not(test))]
#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    match info.location() {
        Some(location) => crate::eprintln!("panic: {} at {}", info.message(), location),
        None => crate::eprintln!("panic: {}", info.message()),
    }
    exit(101)
}
