//! Linux (x86-64) system memory: brk and the mmap family through raw syscalls, a futex lock, and the CPU
//! count (glibc's `__get_nprocs`: /sys/devices/system/cpu/online, else the affinity mask), optionally capped
//! by the cgroup v2 CPU quota.

mod cpus;
mod env;
mod futex;
mod syscall;

pub use cpus::{parse_cfs_quota, parse_cgroup_paths, parse_cpu_list, parse_cpu_max};
pub use env::{EnvSetting, parse_entry, parse_number, parse_tunables};
pub use futex::{FutexLock, set_fork_owner, use_single_threaded_flag};

use crate::system::{Protection, SystemMemory};
use core::sync::atomic::{AtomicBool, Ordering::Relaxed};
use syscall::*;

/// The real thing: the process's break and anonymous mappings.
pub struct LinuxSystem {
    errno_hook: fn(i32),
    fatal_hook: fn(&str) -> !,
    cpu_quota: AtomicBool,
}

impl core::fmt::Debug for LinuxSystem {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("LinuxSystem")
    }
}

/// Writes `message` and a newline to stderr and raises SIGABRT (for users without libc).
pub fn abort_with_message(message: &str) -> ! {
    let newline = b"\n";
    // SAFETY: writing our own buffers to fd 2; signalling our own process; exit_group never returns.
    unsafe {
        syscall6(SYS_WRITE, [2, message.as_ptr() as usize, message.len(), 0, 0, 0]);
        syscall6(SYS_WRITE, [2, newline.as_ptr() as usize, 1, 0, 0, 0]);
        let pid = syscall6(SYS_GETPID, [0; 6]);
        syscall6(SYS_KILL, [pid as usize, SIGABRT, 0, 0, 0, 0]);
        syscall6(SYS_EXIT_GROUP, [127, 0, 0, 0, 0, 0]);
    }
    loop {
        core::hint::spin_loop();
    }
}

fn ignore_errno(_errno: i32) {}

/// The file [`for_each_initial_env`] reads. Every process reads it at start-up, so the LD_PRELOAD library
/// keeps it in its always-resident read-only data rather than in `.rodata` (see preload.ld).
#[cfg_attr(feature = "preload", unsafe(link_section = ".rodata_hot"))]
static INITIAL_ENVIRON_PATH: [u8; 19] = *b"/proc/self/environ\0";

/// Calls `f` with each `NUL`-separated entry of the process's initial environment (/proc/self/environ),
/// streamed through a stack buffer (entries longer than 255 bytes are skipped: no malloc variable is).
pub fn for_each_initial_env(mut f: impl FnMut(&[u8])) {
    // SAFETY: the path is NUL-terminated.
    let fd = unsafe {
        syscall6(SYS_OPENAT, [AT_FDCWD, INITIAL_ENVIRON_PATH.as_ptr() as usize, O_RDONLY_CLOEXEC, 0, 0, 0])
    };
    if is_error(fd) {
        return;
    }
    let mut chunk = [0u8; 512];
    let mut entry = [0u8; 256];
    let mut entry_len = 0usize;
    let mut too_long = false;
    loop {
        // SAFETY: `chunk` is writable for its length.
        let read =
            unsafe { syscall6(SYS_READ, [fd as usize, chunk.as_mut_ptr() as usize, chunk.len(), 0, 0, 0]) };
        if read <= 0 {
            break;
        }
        for &byte in &chunk[..read as usize] {
            if byte == 0 {
                if !too_long {
                    f(&entry[..entry_len]);
                }
                entry_len = 0;
                too_long = false;
            } else if entry_len < entry.len() {
                entry[entry_len] = byte;
                entry_len += 1;
            } else {
                too_long = true;
            }
        }
    }
    // SAFETY: closing the descriptor we opened.
    unsafe { syscall6(SYS_CLOSE, [fd as usize, 0, 0, 0, 0, 0]) };
}

impl LinuxSystem {
    /// A system whose errno and fatal-error reporting go through the given hooks (libc's `errno` and
    /// `abort` in the LD_PRELOAD build).
    pub const fn new(errno_hook: fn(i32), fatal_hook: fn(&str) -> !) -> LinuxSystem {
        LinuxSystem { errno_hook, fatal_hook, cpu_quota: AtomicBool::new(false) }
    }

    /// A system without libc: errno is not reported, fatal errors go to [`abort_with_message`].
    pub const fn without_libc() -> LinuxSystem {
        LinuxSystem::new(ignore_errno, abort_with_message)
    }

    /// Caps the CPU count (and so the arena limit) by what the process may use: its affinity mask and its
    /// cgroup's CPU quota (v2 `cpu.max` or v1 CFS quota, the smallest along the ancestors).
    pub fn set_cpu_quota_limit(&self, enabled: bool) {
        self.cpu_quota.store(enabled, Relaxed);
    }

    fn brk(address: usize) -> usize {
        // SAFETY: brk only moves the break; the kernel validates the address.
        unsafe { syscall6(SYS_BRK, [address, 0, 0, 0, 0, 0]) as usize }
    }
}

fn result_address(result: isize) -> Option<usize> {
    if is_error(result) { None } else { Some(result as usize) }
}

fn protection_bits(protection: Protection) -> usize {
    match protection {
        Protection::None => PROT_NONE,
        Protection::ReadWrite => PROT_READ_WRITE,
    }
}

impl SystemMemory for LinuxSystem {
    fn page_size(&self) -> usize {
        4096
    }

    fn morecore(&self, increment: isize) -> Option<usize> {
        let current = Self::brk(0);
        if increment == 0 {
            return Some(current);
        }
        let wanted = current.checked_add_signed(increment)?;
        if Self::brk(wanted) != wanted {
            return None;
        }
        Some(current)
    }

    fn mmap(&self, hint: usize, len: usize, protection: Protection, noreserve: bool) -> Option<usize> {
        let flags = MAP_PRIVATE_ANONYMOUS | if noreserve { MAP_NORESERVE } else { 0 };
        let args = [hint, len, protection_bits(protection), flags, usize::MAX, 0];
        // SAFETY: an anonymous mapping without MAP_FIXED cannot disturb existing mappings.
        result_address(unsafe { syscall6(SYS_MMAP, args) })
    }

    unsafe fn munmap(&self, addr: usize, len: usize) -> bool {
        // SAFETY: the caller owns the mapping.
        !is_error(unsafe { syscall6(SYS_MUNMAP, [addr, len, 0, 0, 0, 0]) })
    }

    unsafe fn mremap(&self, addr: usize, old_len: usize, new_len: usize) -> Option<usize> {
        // SAFETY: the caller owns the mapping and uses only the result afterwards.
        result_address(unsafe { syscall6(SYS_MREMAP, [addr, old_len, new_len, MREMAP_MAYMOVE, 0, 0]) })
    }

    unsafe fn mprotect(&self, addr: usize, len: usize, protection: Protection) -> bool {
        // SAFETY: the caller owns the range.
        !is_error(unsafe { syscall6(SYS_MPROTECT, [addr, len, protection_bits(protection), 0, 0, 0]) })
    }

    unsafe fn madvise_dontneed(&self, addr: usize, len: usize) {
        // SAFETY: the caller owns the range and keeps no data in it.
        unsafe { syscall6(SYS_MADVISE, [addr, len, MADV_DONTNEED, 0, 0, 0]) };
    }

    /// Called once the process has more arenas than `arena_test` allows without counting CPUs.
    #[inline(never)]
    #[cfg_attr(feature = "preload", unsafe(link_section = ".text.rare"))]
    fn nr_cpus(&self) -> usize {
        let online = cpus::online_cpus();
        if !self.cpu_quota.load(Relaxed) {
            return online;
        }
        let affinity = cpus::affinity_cpus().unwrap_or(online);
        let quota = cpus::cgroup_cpu_quota().unwrap_or(online);
        online.min(affinity).min(quota).max(1)
    }

    fn now_ms(&self) -> u64 {
        let mut time = [0u64; 2];
        // SAFETY: clock_gettime writes one `struct timespec` (two 64-bit words) into `time`.
        let result = unsafe {
            syscall6(SYS_CLOCK_GETTIME, [CLOCK_MONOTONIC_COARSE, time.as_mut_ptr() as usize, 0, 0, 0, 0])
        };
        if is_error(result) { 0 } else { time[0] * 1000 + time[1] / 1_000_000 }
    }

    fn random_u64(&self) -> u64 {
        let mut value = 0u64;
        // SAFETY: getrandom writes at most 8 bytes into `value`.
        let got = unsafe { syscall6(SYS_GETRANDOM, [&mut value as *mut u64 as usize, 8, 1, 0, 0, 0]) };
        if got != 8 {
            // SAFETY: rdtsc has no memory effects.
            value = unsafe { core::arch::x86_64::_rdtsc() }.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
        value
    }

    fn set_errno(&self, errno: i32) {
        (self.errno_hook)(errno)
    }

    #[cold]
    fn fatal(&self, message: &str) -> ! {
        (self.fatal_hook)(message)
    }
}
