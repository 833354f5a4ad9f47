//! Typed syscall wrappers returning `Result<_, Errno>` (RAX in `-4095..=-1` is an error): I/O, tasks and
//! threads, time, kernel information; the memory calls are in [`memory`]. Numbers and semantics: `abi::nr`.

pub mod memory;

pub use memory::*;

use crate::errno::Errno;
use crate::syscall::{syscall0, syscall1, syscall2, syscall3, syscall4, syscall5};
use crate::time::Timespec;
use abi::{MemInfo, SpawnAttr, nr};
use core::mem::size_of;
use core::sync::atomic::AtomicU32;

/// `write(fd, buf, len)`: bytes written (the kernel's console takes fds 1 and 2).
pub fn write(fd: i32, buf: &[u8]) -> Result<usize, Errno> {
    // SAFETY: the kernel only reads `buf`, a valid slice.
    Errno::result(unsafe { syscall3(nr::WRITE, fd as u64, buf.as_ptr() as u64, buf.len() as u64) })
        .map(|n| n as usize)
}

/// `read(fd, buf, len)`: bytes read.
pub fn read(fd: i32, buf: &mut [u8]) -> Result<usize, Errno> {
    // SAFETY: the kernel writes at most `buf.len()` bytes into `buf`, which we borrow exclusively.
    Errno::result(unsafe { syscall3(nr::READ, fd as u64, buf.as_mut_ptr() as u64, buf.len() as u64) })
        .map(|n| n as usize)
}

/// `exit(code)` (nr 60): ends the calling *thread*; the process ends with its last thread.
pub fn exit(code: i32) -> ! {
    // SAFETY: no pointers; the call does not return.
    unsafe { syscall1(nr::EXIT, code as u64) };
    halt()
}

/// `exit_group(code)` (nr 231): ends every thread of the process; the parent's `wait4` sees `code & 0xff`.
pub fn exit_group(code: i32) -> ! {
    // SAFETY: no pointers; the call does not return.
    unsafe { syscall1(nr::EXIT_GROUP, code as u64) };
    halt()
}

/// Should an exit call ever return, never run on.
fn halt() -> ! {
    loop {
        core::hint::spin_loop();
    }
}

/// `getpid()`: the process id (the main thread's task id).
pub fn getpid() -> Result<u32, Errno> {
    // SAFETY: no arguments, no memory touched.
    Errno::result(unsafe { syscall0(nr::GETPID) }).map(|id| id as u32)
}

/// `getppid()`.
pub fn getppid() -> Result<u32, Errno> {
    // SAFETY: no arguments, no memory touched.
    Errno::result(unsafe { syscall0(nr::GETPPID) }).map(|id| id as u32)
}

/// `gettid()`: the calling thread's task id.
pub fn gettid() -> Result<u32, Errno> {
    // SAFETY: no arguments, no memory touched.
    Errno::result(unsafe { syscall0(nr::GETTID) }).map(|id| id as u32)
}

/// `kill(pid, signal)`: every signal but 0 ends the target (no handlers, `abi::signal`).
pub fn kill(pid: i32, signal: i32) -> Result<(), Errno> {
    // SAFETY: no pointers; ending a task is not a memory-safety matter for the caller.
    Errno::result(unsafe { syscall2(nr::KILL, pid as i64 as u64, signal as i64 as u64) }).map(drop)
}

/// `sched_yield()`.
pub fn sched_yield() -> Result<(), Errno> {
    // SAFETY: no arguments, no memory touched.
    Errno::result(unsafe { syscall0(nr::SCHED_YIELD) }).map(drop)
}

/// `nanosleep(request, NULL)`.
pub fn nanosleep(request: &Timespec) -> Result<(), Errno> {
    // SAFETY: the kernel reads one Timespec; the remainder pointer is NULL.
    Errno::result(unsafe { syscall2(nr::NANOSLEEP, request as *const Timespec as u64, 0) }).map(drop)
}

/// `clock_gettime(clock)`.
pub fn clock_gettime(clock: i32) -> Result<Timespec, Errno> {
    let mut time = Timespec::default();
    // SAFETY: the kernel writes one Timespec into `time`, which we own.
    Errno::result(unsafe { syscall2(nr::CLOCK_GETTIME, clock as u64, &mut time as *mut Timespec as u64) })?;
    Ok(time)
}

/// `wait4(pid, &status, options, NULL)`: `(id, status)` of an ended child task (a child process, or a thread
/// this thread created); `pid` -1 means any. With `abi::wait::WNOHANG` the id is 0 when none has ended.
pub fn wait4(pid: i32, options: u64) -> Result<(u32, i32), Errno> {
    let mut status: i32 = 0;
    // SAFETY: the kernel writes one i32 into `status`, which we own; no rusage pointer.
    let id = Errno::result(unsafe {
        syscall4(nr::WAIT4, pid as i64 as u64, &mut status as *mut i32 as u64, options, 0)
    })?;
    Ok((id as u32, status))
}

/// `spawn(name, args, attr)`: starts the multiboot2 module `name` with argv = [name, args…]; the child's pid.
/// `None` means the defaults (caller's priority, no capabilities, no handles).
pub fn spawn(name: &str, args: &[&str], attr: Option<&SpawnAttr>) -> Result<u32, Errno> {
    // The kernel wants the arguments after argv[0] as NUL-terminated strings, back to back.
    let mut packed = [0u8; abi::SPAWN_ARGS_MAX as usize];
    let len = crate::args::pack_spawn_args(args, &mut packed)?;
    let attr_pointer = attr.map_or(0, |attr| attr as *const SpawnAttr as u64);
    // SAFETY: the kernel only reads `name`, `packed[..len]` and `*attr`, all valid for the call.
    Errno::result(unsafe {
        syscall5(
            nr::SPAWN,
            name.as_ptr() as u64,
            name.len() as u64,
            packed.as_ptr() as u64,
            len as u64,
            attr_pointer,
        )
    })
    .map(|pid| pid as u32)
}

/// `arch_prctl(code, value)` (`abi::arch_prctl`).
///
/// # Safety
/// `SET_FS` changes the thread pointer: `value` must be a valid [`crate::tls::ThreadBlock`] for the calling
/// thread. `GET_FS` writes 8 bytes at `value`, which must be memory the caller owns.
pub unsafe fn arch_prctl(code: u64, value: u64) -> Result<u64, Errno> {
    // SAFETY: the caller keeps the contract above.
    Errno::result(unsafe { syscall2(nr::ARCH_PRCTL, code, value) })
}

/// Linux futex operations (uapi/linux/futex.h) and the private flag (threads of one process).
pub const FUTEX_WAIT: u64 = 0;
pub const FUTEX_WAKE: u64 = 1;
pub const FUTEX_PRIVATE_FLAG: u64 = 128;

/// `futex(word, FUTEX_WAIT_PRIVATE, expected, NULL)`: sleeps while `*word == expected` until woken;
/// `EAGAIN` when the word already differs.
pub fn futex_wait(word: &AtomicU32, expected: u32) -> Result<(), Errno> {
    // SAFETY: the kernel only reads the word (an atomic we borrow); no timeout.
    Errno::result(unsafe {
        syscall4(nr::FUTEX, word.as_ptr() as u64, FUTEX_WAIT | FUTEX_PRIVATE_FLAG, u64::from(expected), 0)
    })
    .map(drop)
}

/// `futex(word, FUTEX_WAKE_PRIVATE, count)`: wakes up to `count` waiters; how many it woke.
pub fn futex_wake(word: &AtomicU32, count: u32) -> Result<u32, Errno> {
    // SAFETY: the kernel does not touch the word's memory for a wake.
    Errno::result(unsafe {
        syscall3(nr::FUTEX, word.as_ptr() as u64, FUTEX_WAKE | FUTEX_PRIVATE_FLAG, u64::from(count))
    })
    .map(|woken| woken as u32)
}

/// `thread_create(entry, stack_top, arg, tls)`: a new thread of this process entered at `entry` with
/// RDI = `arg`, RSP = `stack_top` (16-byte aligned) and FS base = `tls`; its task id. The caller is its parent
/// (`wait4` joins it).
///
/// # Safety
/// `entry` is code that never returns and runs correctly on that stack with that TLS block; the stack and
/// the block belong to the new thread alone from now on (until it has ended).
pub unsafe fn thread_create(entry: u64, stack_top: u64, arg: u64, tls: u64) -> Result<u32, Errno> {
    // SAFETY: the caller keeps the contract above.
    Errno::result(unsafe { syscall4(nr::THREAD_CREATE, entry, stack_top, arg, tls) }).map(|tid| tid as u32)
}

/// `kernel_info(what, buf, len)`: bytes written into `buf` (`abi::kinfo`).
pub fn kernel_info(what: u64, buf: &mut [u8]) -> Result<usize, Errno> {
    // SAFETY: the kernel writes at most `buf.len()` bytes into `buf`, which we borrow exclusively.
    Errno::result(unsafe { syscall3(nr::KERNEL_INFO, what, buf.as_mut_ptr() as u64, buf.len() as u64) })
        .map(|n| n as usize)
}

/// Reads a `u64` selector of `kernel_info` (TSC_KHZ, RANDOMIZE_VA_SPACE).
fn kernel_info_u64(what: u64) -> Result<u64, Errno> {
    let mut bytes = [0u8; 8];
    kernel_info(what, &mut bytes)?;
    Ok(u64::from_ne_bytes(bytes))
}

/// `kernel_info(RANDOM)`: 16 random bytes from the kernel's generator.
pub fn random_bytes() -> Result<[u8; 16], Errno> {
    let mut bytes = [0u8; 16];
    kernel_info(abi::kinfo::RANDOM, &mut bytes)?;
    Ok(bytes)
}

/// `kernel_info(TSC_KHZ)`.
pub fn tsc_khz() -> Result<u64, Errno> {
    kernel_info_u64(abi::kinfo::TSC_KHZ)
}

/// `kernel_info(RANDOMIZE_VA_SPACE)`: 0, 1 or 2.
pub fn randomize_va_space() -> Result<u64, Errno> {
    kernel_info_u64(abi::kinfo::RANDOMIZE_VA_SPACE)
}

/// `kernel_info(MEMINFO)`.
pub fn meminfo() -> Result<MemInfo, Errno> {
    let mut info = MemInfo::default();
    // SAFETY: at most size_of::<MemInfo>() bytes into `info`, which we own; any bit pattern is a valid MemInfo
    // (integers only).
    Errno::result(unsafe {
        syscall3(
            nr::KERNEL_INFO,
            abi::kinfo::MEMINFO,
            &mut info as *mut MemInfo as u64,
            size_of::<MemInfo>() as u64,
        )
    })?;
    Ok(info)
}
