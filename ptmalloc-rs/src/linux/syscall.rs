//! Raw Linux x86-64 system calls used by the allocator (no libc): brk, mmap family, futex, files, signals.
//!
//! Numbers and flag values are Linux's x86-64 ABI (arch/x86/entry/syscalls/syscall_64.tbl, uapi headers).

use core::arch::asm;

pub(crate) const SYS_READ: usize = 0;
pub(crate) const SYS_WRITE: usize = 1;
pub(crate) const SYS_CLOSE: usize = 3;
pub(crate) const SYS_MMAP: usize = 9;
pub(crate) const SYS_MPROTECT: usize = 10;
pub(crate) const SYS_MUNMAP: usize = 11;
pub(crate) const SYS_BRK: usize = 12;
pub(crate) const SYS_MREMAP: usize = 25;
pub(crate) const SYS_MADVISE: usize = 28;
pub(crate) const SYS_GETPID: usize = 39;
pub(crate) const SYS_KILL: usize = 62;
pub(crate) const SYS_FUTEX: usize = 202;
pub(crate) const SYS_SCHED_GETAFFINITY: usize = 204;
pub(crate) const SYS_CLOCK_GETTIME: usize = 228;
pub(crate) const SYS_EXIT_GROUP: usize = 231;
pub(crate) const SYS_OPENAT: usize = 257;
pub(crate) const SYS_GETRANDOM: usize = 318;

pub(crate) const PROT_NONE: usize = 0;
pub(crate) const PROT_READ_WRITE: usize = 0x1 | 0x2;
pub(crate) const MAP_PRIVATE_ANONYMOUS: usize = 0x02 | 0x20;
pub(crate) const MAP_NORESERVE: usize = 0x4000;
pub(crate) const MREMAP_MAYMOVE: usize = 1;
pub(crate) const MADV_DONTNEED: usize = 4;
pub(crate) const FUTEX_WAIT_PRIVATE: usize = 128;
pub(crate) const FUTEX_WAKE_PRIVATE: usize = 128 | 1;
pub(crate) const AT_FDCWD: usize = -100isize as usize;
pub(crate) const O_RDONLY_CLOEXEC: usize = 0o2000000;
pub(crate) const SIGABRT: usize = 6;
pub(crate) const CLOCK_MONOTONIC_COARSE: usize = 6;

/// Issues system call `number` with six arguments; returns the raw result (negative errno on failure).
///
/// # Safety
/// The call and its arguments must be valid for the process (memory arguments point to what the kernel
/// will read or write).
#[inline(always)]
pub(crate) unsafe fn syscall6(number: usize, args: [usize; 6]) -> isize {
    let result: isize;
    // SAFETY: the x86-64 syscall convention; rcx and r11 are clobbered by the instruction; the caller
    // guarantees the call's own requirements.
    unsafe {
        asm!(
            "syscall",
            inlateout("rax") number as isize => result,
            in("rdi") args[0],
            in("rsi") args[1],
            in("rdx") args[2],
            in("r10") args[3],
            in("r8") args[4],
            in("r9") args[5],
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
    }
    result
}

/// Whether a raw result is an error (-4095..=-1).
pub(crate) fn is_error(result: isize) -> bool {
    (-4095..0).contains(&result)
}

/// Reads up to `buffer.len()` bytes of a small file (for /sys and /proc); returns the bytes read.
pub(crate) fn read_small_file(path: &core::ffi::CStr, buffer: &mut [u8]) -> Option<usize> {
    // SAFETY: `path` is NUL-terminated and outlives the call.
    let fd = unsafe { syscall6(SYS_OPENAT, [AT_FDCWD, path.as_ptr() as usize, O_RDONLY_CLOEXEC, 0, 0, 0]) };
    if is_error(fd) {
        return None;
    }
    // SAFETY: `buffer` is writable for its length.
    let read =
        unsafe { syscall6(SYS_READ, [fd as usize, buffer.as_mut_ptr() as usize, buffer.len(), 0, 0, 0]) };
    // SAFETY: closing the descriptor we opened.
    unsafe { syscall6(SYS_CLOSE, [fd as usize, 0, 0, 0, 0, 0]) };
    if is_error(read) { None } else { Some(read as usize) }
}
