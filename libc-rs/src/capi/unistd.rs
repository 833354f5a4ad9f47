//! `unistd.h`, `sched.h` and `time.h` functions: write, read, _exit, getpid, getppid, gettid, brk, sbrk,
//! sched_yield, nanosleep, usleep, clock_gettime, kill.

use crate::errno::{Errno, c_result, set_errno};
use crate::time::Timespec;
use crate::{mman, process, sys};
use core::ffi::{c_int, c_void};

/// `ssize_t write(int fd, const void *buf, size_t count)`.
///
/// # Safety
/// `buffer` has `count` readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn write(fd: c_int, buffer: *const c_void, count: usize) -> isize {
    if count == 0 {
        return c_result(sys::write(fd, &[]).map(|n| n as u64)) as isize;
    }
    // SAFETY: `count` readable bytes (contract).
    let bytes = unsafe { core::slice::from_raw_parts(buffer.cast::<u8>(), count) };
    c_result(sys::write(fd, bytes).map(|n| n as u64)) as isize
}

/// `ssize_t read(int fd, void *buf, size_t count)`.
///
/// # Safety
/// `buffer` has `count` writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn read(fd: c_int, buffer: *mut c_void, count: usize) -> isize {
    if count == 0 {
        return c_result(sys::read(fd, &mut []).map(|n| n as u64)) as isize;
    }
    // SAFETY: `count` writable bytes (contract), ours for the call.
    let bytes = unsafe { core::slice::from_raw_parts_mut(buffer.cast::<u8>(), count) };
    // An open /proc text (see `capi::fcntl`), else the kernel's read.
    if let Some(result) = super::fcntl::read_proc(fd, bytes) {
        return c_result(result.map(|n| n as u64)) as isize;
    }
    c_result(sys::read(fd, bytes).map(|n| n as u64)) as isize
}

/// `_exit(status)`: ends the process at once (no stdio flush).
#[unsafe(no_mangle)]
pub extern "C" fn _exit(status: c_int) -> ! {
    process::exit_now(status)
}

/// `_Exit(status)` (C99's name of `_exit`).
#[unsafe(no_mangle)]
pub extern "C" fn _Exit(status: c_int) -> ! {
    process::exit_now(status)
}

/// `getpid()`.
#[unsafe(no_mangle)]
pub extern "C" fn getpid() -> c_int {
    c_result(sys::getpid().map(u64::from)) as c_int
}

/// `getppid()`.
#[unsafe(no_mangle)]
pub extern "C" fn getppid() -> c_int {
    c_result(sys::getppid().map(u64::from)) as c_int
}

/// `gettid()`.
#[unsafe(no_mangle)]
pub extern "C" fn gettid() -> c_int {
    c_result(sys::gettid().map(u64::from)) as c_int
}

/// `kill(pid, signal)`.
#[unsafe(no_mangle)]
pub extern "C" fn kill(pid: c_int, signal: c_int) -> c_int {
    c_result(sys::kill(pid, signal).map(|()| 0)) as c_int
}

/// `int brk(void *addr)`: 0, or -1/ENOMEM.
#[unsafe(no_mangle)]
pub extern "C" fn brk(addr: *mut c_void) -> c_int {
    c_result(mman::brk(addr as usize).map(|()| 0)) as c_int
}

/// `void *sbrk(intptr_t increment)`: the previous break, or `(void *)-1`/ENOMEM.
#[unsafe(no_mangle)]
pub extern "C" fn sbrk(increment: isize) -> *mut c_void {
    match mman::sbrk(increment) {
        Ok(previous) => previous as *mut c_void,
        Err(errno) => {
            set_errno(errno.0);
            mman::MAP_FAILED as *mut c_void
        }
    }
}

/// `sched_yield()`.
#[unsafe(no_mangle)]
pub extern "C" fn sched_yield() -> c_int {
    c_result(sys::sched_yield().map(|()| 0)) as c_int
}

/// `nanosleep(request, remaining)`: `remaining` is never written (no signals interrupt a sleep).
///
/// # Safety
/// `request` points to a readable timespec.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nanosleep(request: *const Timespec, _remaining: *mut Timespec) -> c_int {
    // SAFETY: readable (contract); null is refused.
    match unsafe { request.as_ref() } {
        Some(request) if request.is_valid() => c_result(sys::nanosleep(request).map(|()| 0)) as c_int,
        Some(_) => c_result(Err(Errno::EINVAL)) as c_int,
        None => c_result(Err(Errno::EFAULT)) as c_int,
    }
}

/// `usleep(microseconds)`.
#[unsafe(no_mangle)]
pub extern "C" fn usleep(microseconds: u32) -> c_int {
    c_result(sys::nanosleep(&Timespec::from_micros(u64::from(microseconds))).map(|()| 0)) as c_int
}

/// `clock_gettime(clock, out)`.
///
/// # Safety
/// `out` points to a writable timespec.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn clock_gettime(clock: c_int, out: *mut Timespec) -> c_int {
    match sys::clock_gettime(clock) {
        Ok(time) if !out.is_null() => {
            // SAFETY: writable (contract).
            unsafe { out.write(time) };
            0
        }
        Ok(_) => c_result(Err(Errno::EFAULT)) as c_int,
        Err(errno) => c_result(Err(errno)) as c_int,
    }
}
