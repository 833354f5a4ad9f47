//! Typed syscall wrappers for tasks, time and memory (`abi::nr`); IPC and notifications are in
//! [`crate::sys::ipc`]. Each returns `Result<_, Errno>` (RAX in `-4095..=-1` is an error).

pub mod ipc;

use crate::errno::Errno;
use crate::syscall::{syscall0, syscall1, syscall2, syscall3, syscall4, syscall5, syscall6};
use abi::{MemInfo, SpawnAttr, TaskInfo, nr};
use core::fmt;
use core::mem::size_of;

pub use ipc::*;

/// Linux's `CLOCK_MONOTONIC` (`abi` names no clocks; the POSIX subset uses Linux's numbers).
pub const CLOCK_MONOTONIC: u64 = 1;

/// Linux's `struct timespec` (x86-64: two 64-bit fields).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Timespec {
    pub tv_sec: i64,
    pub tv_nsec: i64,
}

impl Timespec {
    pub const fn from_nanos(nanos: u64) -> Timespec {
        Timespec { tv_sec: (nanos / 1_000_000_000) as i64, tv_nsec: (nanos % 1_000_000_000) as i64 }
    }
    pub const fn as_nanos(&self) -> u64 {
        self.tv_sec as u64 * 1_000_000_000 + self.tv_nsec as u64
    }
}

/// `write(fd, buf, len)`: bytes written.
pub fn write(fd: u64, buf: &[u8]) -> Result<u64, Errno> {
    // SAFETY: the kernel only reads `buf`, which is a valid slice.
    Errno::result(unsafe { syscall3(nr::WRITE, fd, buf.as_ptr() as u64, buf.len() as u64) })
}

/// `exit(code)`: ends the task; the parent's `wait4` sees `code & 0xff`.
pub fn exit(code: i32) -> ! {
    // SAFETY: exit takes no pointers and does not return.
    unsafe { syscall1(nr::EXIT, code as u64) };
    // Not reached; should the kernel return anyway, never run on.
    loop {
        core::hint::spin_loop();
    }
}

/// `getpid()`.
pub fn getpid() -> Result<u64, Errno> {
    // SAFETY: no arguments, no memory touched.
    Errno::result(unsafe { syscall0(nr::GETPID) })
}

/// `getppid()`.
pub fn getppid() -> Result<u64, Errno> {
    // SAFETY: no arguments, no memory touched.
    Errno::result(unsafe { syscall0(nr::GETPPID) })
}

/// `kill(pid, signal)`: every signal but 0 ends the target (abi::signal).
pub fn kill(pid: i64, signal: u64) -> Result<u64, Errno> {
    // SAFETY: no pointers; ending a task is not a memory-safety matter.
    Errno::result(unsafe { syscall2(nr::KILL, pid as u64, signal) })
}

/// `sched_yield()`.
pub fn sched_yield() -> Result<u64, Errno> {
    // SAFETY: no arguments, no memory touched.
    Errno::result(unsafe { syscall0(nr::SCHED_YIELD) })
}

/// `nanosleep(req, NULL)`.
pub fn nanosleep(request: &Timespec) -> Result<u64, Errno> {
    // SAFETY: the kernel reads one valid Timespec; the remainder pointer is NULL.
    Errno::result(unsafe { syscall2(nr::NANOSLEEP, request as *const Timespec as u64, 0) })
}

/// Sleeps for `ms` milliseconds.
pub fn sleep_ms(ms: u64) -> Result<u64, Errno> {
    nanosleep(&Timespec::from_nanos(ms * 1_000_000))
}

/// `clock_gettime(clock)`.
pub fn clock_gettime(clock: u64) -> Result<Timespec, Errno> {
    let mut time = Timespec::default();
    // SAFETY: the kernel writes one Timespec into `time`, which we own.
    Errno::result(unsafe { syscall2(nr::CLOCK_GETTIME, clock, &mut time as *mut Timespec as u64) })?;
    Ok(time)
}

/// `wait4(pid, &status, options, NULL)`: `(pid, status)` of an ended child; `pid` -1 means any child.
/// With `abi::wait::WNOHANG` the pid is 0 when no child has ended yet. Decode the status with `abi::wait`
/// or print it with [`WaitStatus`].
pub fn wait4(pid: i64, options: u64) -> Result<(u64, i32), Errno> {
    let mut status: i32 = 0;
    // SAFETY: the kernel writes one i32 into `status`, which we own; no rusage pointer.
    let pid = Errno::result(unsafe {
        syscall4(nr::WAIT4, pid as u64, &mut status as *mut i32 as u64, options, 0)
    })?;
    Ok((pid, status))
}

/// A wait status that prints as `exited with code 7` or `killed by signal 11`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WaitStatus(pub i32);

impl fmt::Display for WaitStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if abi::wait::if_exited(self.0) {
            write!(f, "exited with code {}", abi::wait::exit_status(self.0))
        } else {
            write!(f, "killed by signal {}", abi::wait::term_sig(self.0))
        }
    }
}

/// `spawn(name, args, attr)`: starts the multiboot2 module `name` with argv = [name, args…]; returns the
/// child's pid. `None` means the defaults (caller's priority, no capabilities, no handles).
pub fn spawn(name: &str, args: &[&str], attr: Option<&SpawnAttr>) -> Result<u64, Errno> {
    // The kernel wants the arguments after argv[0] as NUL-terminated strings, back to back.
    let mut packed = [0u8; abi::SPAWN_ARGS_MAX as usize];
    let mut len = 0;
    for arg in args {
        let bytes = arg.as_bytes();
        if bytes.contains(&0) {
            return Err(Errno::EINVAL);
        }
        let end = len + bytes.len();
        if end + 1 > packed.len() {
            return Err(Errno::E2BIG);
        }
        packed[len..end].copy_from_slice(bytes);
        packed[end] = 0;
        len = end + 1;
    }
    let attr_ptr = attr.map_or(0, |attr| attr as *const SpawnAttr as u64);
    // SAFETY: the kernel only reads `name`, `packed[..len]` and `*attr`, all valid for the call.
    Errno::result(unsafe {
        syscall5(
            nr::SPAWN,
            name.as_ptr() as u64,
            name.len() as u64,
            packed.as_ptr() as u64,
            len as u64,
            attr_ptr,
        )
    })
}

/// Builds a `SpawnAttr` passing `handles` (the child sees them as handles 1, 2, … in this order).
///
/// # Panics
/// If more than `abi::SPAWN_HANDLES_MAX` handles are given or a handle does not fit in 32 bits.
pub fn spawn_attr(priority: u32, caps: u32, handles: &[u64]) -> SpawnAttr {
    assert!(handles.len() <= abi::SPAWN_HANDLES_MAX, "too many handles for spawn");
    let mut attr = SpawnAttr { priority, caps, nr_handles: handles.len() as u32, ..SpawnAttr::default() };
    for (slot, &handle) in attr.handles.iter_mut().zip(handles) {
        *slot = u32::try_from(handle).expect("handle does not fit the SpawnAttr");
    }
    attr
}

/// `set_priority(pid, priority)`; pid 0 is the caller.
pub fn set_priority(pid: u64, priority: u32) -> Result<u64, Errno> {
    // SAFETY: no pointers.
    Errno::result(unsafe { syscall2(nr::SET_PRIORITY, pid, u64::from(priority)) })
}

/// `task_info(pid)`; pid 0 is the caller.
pub fn task_info(pid: u64) -> Result<TaskInfo, Errno> {
    let mut info = TaskInfo::default();
    // SAFETY: the kernel writes at most size_of::<TaskInfo>() bytes into `info`, which we own; every bit
    // pattern is a valid TaskInfo (integers only).
    Errno::result(unsafe {
        syscall3(nr::TASK_INFO, pid, &mut info as *mut TaskInfo as u64, size_of::<TaskInfo>() as u64)
    })?;
    Ok(info)
}

/// `kernel_info(what, buf, len)`: bytes written into `buf`.
pub fn kernel_info(what: u64, buf: &mut [u8]) -> Result<u64, Errno> {
    // SAFETY: the kernel writes at most `buf.len()` bytes into `buf`, which we own.
    Errno::result(unsafe { syscall3(nr::KERNEL_INFO, what, buf.as_mut_ptr() as u64, buf.len() as u64) })
}

/// `kernel_info(MEMINFO)`.
pub fn meminfo() -> Result<MemInfo, Errno> {
    let mut info = MemInfo::default();
    // SAFETY: as in `task_info`: at most size_of::<MemInfo>() bytes into a MemInfo we own.
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

/// The kernel's free page count, given up to `tries` more looks 10 ms apart to come back to `expected`:
/// the last pieces of a reaped task (its kernel stack) may be freed a moment later from another context.
pub fn settled_free_pages(expected: u64, tries: u32) -> Result<u64, Errno> {
    let mut free = meminfo()?.free_pages;
    for _ in 0..tries {
        if free == expected {
            break;
        }
        let _ = sleep_ms(10);
        free = meminfo()?.free_pages;
    }
    Ok(free)
}

/// `kernel_info(TSC_KHZ)`: the TSC frequency in kHz.
pub fn tsc_khz() -> Result<u64, Errno> {
    let mut khz: u64 = 0;
    // SAFETY: at most 8 bytes into `khz`, which we own.
    Errno::result(unsafe {
        syscall3(nr::KERNEL_INFO, abi::kinfo::TSC_KHZ, &mut khz as *mut u64 as u64, size_of::<u64>() as u64)
    })?;
    Ok(khz)
}

/// `vm_map(pid, addr, len, prot, flags)`: a demand-zero range (`abi::prot`, `abi::vm` bits); returns its
/// address. It never replaces existing memory (`vm::FIXED` needs a free range), hence safe.
pub fn vm_map(pid: u64, addr: u64, len: u64, prot: u64, flags: u64) -> Result<u64, Errno> {
    // SAFETY: the kernel only adds a new, unused range; no Rust object changes.
    Errno::result(unsafe { syscall5(nr::VM_MAP, pid, addr, len, prot, flags) })
}

/// `vm_unmap(pid, addr, len)`.
///
/// # Safety
/// When `pid` is the caller (0 or its own pid), no Rust object or reference may live in the range.
pub unsafe fn vm_unmap(pid: u64, addr: u64, len: u64) -> Result<u64, Errno> {
    // SAFETY: the caller guarantees nothing Rust uses is in the range.
    Errno::result(unsafe { syscall3(nr::VM_UNMAP, pid, addr, len) })
}

/// `vm_protect(pid, addr, len, prot)`.
///
/// # Safety
/// When `pid` is the caller, the new protection must not break Rust code that still uses the range.
pub unsafe fn vm_protect(pid: u64, addr: u64, len: u64, prot: u64) -> Result<u64, Errno> {
    // SAFETY: the caller guarantees the range's users cope with the new protection.
    Errno::result(unsafe { syscall4(nr::VM_PROTECT, pid, addr, len, prot) })
}

/// Reads the time-stamp counter, serialised on both sides (`lfence; rdtsc; lfence`: qemu64 has no rdtscp,
/// DESIGN §12) so the timed region neither leaks out nor in.
#[inline(always)]
pub fn rdtsc() -> u64 {
    let (low, high): (u32, u32);
    // SAFETY: lfence and rdtsc only read the counter into EDX:EAX (CR4.TSD is clear for user mode).
    unsafe {
        core::arch::asm!("lfence", "rdtsc", "lfence", out("eax") low, out("edx") high, options(nostack));
    }
    (u64::from(high) << 32) | u64::from(low)
}

/// `server_register(kind, endpoint)`: become the server of `kind` (memd: `abi::memd::SERVER_KIND`).
pub fn server_register(kind: u64, endpoint: u64) -> Result<u64, Errno> {
    // SAFETY: plain integer arguments; no user memory is touched.
    Errno::result(unsafe { syscall2(nr::SERVER_REGISTER, kind, endpoint) })
}

/// `vm_ranges(pid, buf)`: fills `buf` with pid's ranges; returns how many there are in all.
pub fn vm_ranges(pid: u64, buf: &mut [abi::RangeInfo]) -> Result<u64, Errno> {
    let bytes = core::mem::size_of_val(buf) as u64;
    // SAFETY: the kernel writes at most `bytes` bytes of plain data into the caller's buffer.
    Errno::result(unsafe { syscall3(nr::VM_RANGES, pid, buf.as_mut_ptr() as u64, bytes) })
}

/// `vm_move(pid, old, len, new)`.
///
/// # Safety
/// When `pid` is the caller, nothing Rust uses may live in either range.
pub unsafe fn vm_move(pid: u64, old: u64, len: u64, new: u64) -> Result<u64, Errno> {
    // SAFETY: the caller guarantees the moved memory is not in use by Rust code.
    Errno::result(unsafe { syscall4(nr::VM_MOVE, pid, old, len, new) })
}

/// Linux `brk(addr)` (raw: returns the new break, or the old one when the kernel/memd refused).
pub fn brk(addr: u64) -> Result<u64, Errno> {
    // SAFETY: growing the break adds memory no Rust object uses; callers shrink only what they grew.
    Errno::result(unsafe { syscall1(nr::BRK, addr) })
}

/// Linux `mmap(addr, len, prot, flags, fd, offset)`.
pub fn mmap(addr: u64, len: u64, prot: u64, flags: u64, fd: i64, offset: u64) -> Result<u64, Errno> {
    // SAFETY: without MAP_FIXED the new mapping goes where nothing is mapped; with MAP_FIXED the caller
    // chose the range (see `munmap` for the rule).
    Errno::result(unsafe { syscall6(nr::MMAP, addr, len, prot, flags, fd as u64, offset) })
}

/// Linux `munmap(addr, len)`.
///
/// # Safety
/// No Rust object or reference may live in the range.
pub unsafe fn munmap(addr: u64, len: u64) -> Result<u64, Errno> {
    // SAFETY: the caller's promise.
    Errno::result(unsafe { syscall2(nr::MUNMAP, addr, len) })
}

/// Linux `mprotect(addr, len, prot)`.
///
/// # Safety
/// Code using the range must cope with the new protection.
pub unsafe fn mprotect(addr: u64, len: u64, prot: u64) -> Result<u64, Errno> {
    // SAFETY: the caller's promise.
    Errno::result(unsafe { syscall3(nr::MPROTECT, addr, len, prot) })
}

/// Linux `mremap(old, old_len, new_len, flags)`.
///
/// # Safety
/// The old range is gone (moved) after success: no reference into it may remain.
pub unsafe fn mremap(old: u64, old_len: u64, new_len: u64, flags: u64) -> Result<u64, Errno> {
    // SAFETY: the caller's promise.
    Errno::result(unsafe { syscall4(nr::MREMAP, old, old_len, new_len, flags) })
}

/// A memd-owned text (`abi::memd::OP_MAPS`/`OP_SMAPS`/`OP_STATUS`) of process `pid` (0: this one), from
/// byte `offset` on, into `buf`; returns the bytes written (0 at the end).
pub fn memd_text(op: u64, pid: u64, buf: &mut [u8], offset: u64) -> Result<u64, Errno> {
    // SAFETY: the kernel writes at most `buf.len()` bytes into the caller's buffer.
    Errno::result(unsafe {
        syscall5(nr::MEMD_TEXT, op, pid, buf.as_mut_ptr() as u64, buf.len() as u64, offset)
    })
}

/// A kernel-owned /proc text (`abi::proc_text`), from byte `offset` on, into `buf`.
pub fn proc_text(which: u64, buf: &mut [u8], offset: u64) -> Result<u64, Errno> {
    // SAFETY: as `memd_text`.
    Errno::result(unsafe {
        syscall4(nr::PROC_TEXT, which, buf.as_mut_ptr() as u64, buf.len() as u64, offset)
    })
}

/// Prints a whole /proc text (kernel- or memd-owned) to standard output, page by page.
pub fn print_text(mut read: impl FnMut(&mut [u8], u64) -> Result<u64, Errno>) -> Result<u64, Errno> {
    let mut page = [0u8; 4096];
    let mut offset = 0;
    loop {
        let n = read(&mut page, offset)? as usize;
        if n == 0 {
            return Ok(offset);
        }
        write(1, &page[..n])?;
        offset += n as u64;
    }
}

/// `group_ctl(request, buf, offset)`: memory-group control (see `abi::group_op`); `buf` receives what a
/// READ returns.
pub fn group_ctl(
    op: u64,
    path: &str,
    pid: u64,
    file: &str,
    value: &str,
    buf: &mut [u8],
    offset: u64,
) -> Result<u64, Errno> {
    let mut request = abi::GroupRequest { op, pid, ..Default::default() };
    let copy = |dst: &mut [u8], src: &str| {
        let n = src.len().min(dst.len() - 1);
        dst[..n].copy_from_slice(&src.as_bytes()[..n]);
    };
    copy(&mut request.path, path);
    copy(&mut request.file, file);
    copy(&mut request.value, value);
    // SAFETY: the kernel reads the request and writes at most `buf.len()` bytes into `buf`.
    Errno::result(unsafe {
        syscall4(
            nr::GROUP_CTL,
            &request as *const abi::GroupRequest as u64,
            buf.as_mut_ptr() as u64,
            buf.len() as u64,
            offset,
        )
    })
}

/// `task_list(buf)`: a `TaskInfo` for every task (as many as fit); returns the total count.
pub fn task_list(buf: &mut [TaskInfo]) -> Result<u64, Errno> {
    let bytes = core::mem::size_of_val(buf) as u64;
    // SAFETY: the kernel writes at most `bytes` bytes of whole `TaskInfo`s into `buf`.
    Errno::result(unsafe { syscall2(nr::TASK_LIST, buf.as_mut_ptr() as u64, bytes) })
}

/// The pid of a live process named `name` (the first in the task table), if there is one.
pub fn find_process(name: &str) -> Option<u64> {
    let mut tasks = [TaskInfo::default(); 64];
    let n = task_list(&mut tasks).map_or(0, |n| (n as usize).min(tasks.len()));
    tasks[..n]
        .iter()
        .find(|t| t.pid == t.tgid && t.comm() == name && t.state != u64::from(b'Z'))
        .map(|t| t.pid)
}

/// `oom_score_adj(pid, value)`: pid 0 is the caller.
pub fn set_oom_score_adj(pid: u64, value: i64) -> Result<u64, Errno> {
    // SAFETY: no memory is passed.
    Errno::result(unsafe { syscall2(nr::OOM_SCORE_ADJ, pid, value as u64) })
}

/// `oom_register(notify)`: become the OOM service (needs `cap::KILL`).
pub fn oom_register(notify: u64) -> Result<u64, Errno> {
    // SAFETY: no memory is passed.
    Errno::result(unsafe { syscall1(nr::OOM_REGISTER, notify) })
}

/// `oom_events(buf)`: the pending OOM events (as many as fit); returns the total count.
pub fn oom_events(buf: &mut [abi::OomEvent]) -> Result<u64, Errno> {
    let bytes = core::mem::size_of_val(buf) as u64;
    // SAFETY: the kernel writes at most `bytes` bytes of whole events into `buf`.
    Errno::result(unsafe { syscall2(nr::OOM_EVENTS, buf.as_mut_ptr() as u64, bytes) })
}

/// `oom_done(seq, killed)`.
pub fn oom_done(seq: u64, killed: u64) -> Result<u64, Errno> {
    // SAFETY: no memory is passed.
    Errno::result(unsafe { syscall2(nr::OOM_DONE, seq, killed) })
}

/// `oom_kill(pid, signal, oom_group)`: oomd's kill, counted in the group's `memory.events`.
pub fn oom_kill(pid: u64, signal: u64, oom_group: u32) -> Result<u64, Errno> {
    // SAFETY: no memory is passed.
    Errno::result(unsafe { syscall3(nr::OOM_KILL, pid, signal, u64::from(oom_group)) })
}

/// `psi_trigger(path, spec, notify, bits)`: signal `bits` on `notify` when the pressure file's stall
/// passes `spec` (`some|full THRESHOLD_US WINDOW_US`).
pub fn psi_trigger(path: &str, spec: &str, notify: u64, bits: u64) -> Result<u64, Errno> {
    // SAFETY: the kernel only reads the two strings.
    Errno::result(unsafe {
        syscall6(
            nr::PSI_TRIGGER,
            path.as_ptr() as u64,
            path.len() as u64,
            spec.as_ptr() as u64,
            spec.len() as u64,
            notify,
            bits,
        )
    })
}

/// `group_ctl(TREE)`: every memory group (as many as fit); returns the total count.
pub fn group_tree(buf: &mut [abi::GroupNode]) -> Result<u64, Errno> {
    let request = abi::GroupRequest { op: abi::group_op::TREE, ..Default::default() };
    let bytes = core::mem::size_of_val(buf) as u64;
    // SAFETY: the kernel reads the request and writes at most `bytes` bytes of whole nodes into `buf`.
    Errno::result(unsafe {
        syscall4(
            nr::GROUP_CTL,
            &request as *const abi::GroupRequest as u64,
            buf.as_mut_ptr() as u64,
            bytes,
            0,
        )
    })
}
