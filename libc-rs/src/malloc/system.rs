//! ptmalloc-rs's host on Pagoda ([`SystemMemory`]): MORECORE is `sbrk` over the brk syscall, the mapping calls
//! are the mmap family (all forwarded by the kernel to memd), time is `clock_gettime(CLOCK_MONOTONIC)`,
//! randomness `kernel_info(RANDOM)`, and a fatal error prints to stderr and raises SIGABRT.
//!
//! `madvise(MADV_DONTNEED)` does not exist on our kernel. Its contract (drop the pages; they read as zero
//! afterwards) is kept this way:
//! - outside the brk heap (non-main arenas' heaps, mmap fallbacks of the main arena): a fresh demand-zero
//!   `mmap(MAP_FIXED | MAP_NORESERVE)` over the range, which frees the pages as Linux does (glibc itself
//!   shrinks non-main heaps with a MAP_FIXED mmap when it may);
//! - inside the brk heap (memd's `[heap]` range must stay one range), or if memd refuses the fixed mapping:
//!   the range is filled with zeros — correct, but the pages stay resident.
//!
//! The CPU count is 1: the kernel reports no CPU count (`kernel_info` has no such selector), so the arena
//! limit is glibc's 8 arenas per CPU = 8.

use crate::mman::{
    self, MAP_ANONYMOUS, MAP_FIXED, MAP_NORESERVE, MAP_PRIVATE, PAGE_SIZE, PROT_NONE, PROT_READ, PROT_WRITE,
};
use crate::sys;
use crate::time::CLOCK_MONOTONIC;
use ptmalloc_rs::{Protection, SystemMemory};

/// The kernel (and memd) as ptmalloc-rs's system.
#[derive(Debug)]
pub struct KernelSystem;

fn protection_bits(protection: Protection) -> i32 {
    match protection {
        Protection::None => PROT_NONE,
        Protection::ReadWrite => PROT_READ | PROT_WRITE,
    }
}

impl SystemMemory for KernelSystem {
    fn page_size(&self) -> usize {
        PAGE_SIZE
    }

    fn morecore(&self, increment: isize) -> Option<usize> {
        mman::sbrk(increment).ok()
    }

    fn mmap(&self, hint: usize, len: usize, protection: Protection, noreserve: bool) -> Option<usize> {
        let flags = MAP_PRIVATE | MAP_ANONYMOUS | if noreserve { MAP_NORESERVE } else { 0 };
        // SAFETY: no MAP_FIXED: the hint is only a preference, so no existing memory changes.
        unsafe { sys::mmap(hint, len, protection_bits(protection), flags, -1, 0) }.ok()
    }

    unsafe fn munmap(&self, addr: usize, len: usize) -> bool {
        // SAFETY: the caller (the allocator) owns the range and no longer uses it.
        unsafe { sys::munmap(addr, len) }.is_ok()
    }

    unsafe fn mremap(&self, addr: usize, old_len: usize, new_len: usize) -> Option<usize> {
        // SAFETY: the caller owns the mapping and uses only the result afterwards.
        unsafe { sys::mremap(addr, old_len, new_len, mman::MREMAP_MAYMOVE, 0) }.ok()
    }

    unsafe fn mprotect(&self, addr: usize, len: usize, protection: Protection) -> bool {
        // SAFETY: the caller owns the range and copes with the new protection.
        unsafe { sys::mprotect(addr, len, protection_bits(protection)) }.is_ok()
    }

    unsafe fn madvise_dontneed(&self, addr: usize, len: usize) {
        if !in_brk_heap(addr, len) {
            let flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE;
            // SAFETY: the caller owns the page-aligned range and keeps no data in it; a fixed anonymous
            // mapping replaces it with zero pages of the same protection (read-write: only in-use heap
            // ranges are advised).
            if unsafe { sys::mmap(addr, len, PROT_READ | PROT_WRITE, flags, -1, 0) } == Ok(addr) {
                return;
            }
        }
        // SAFETY: the range is owned by the allocator, mapped read-write and holds no live data.
        unsafe { core::ptr::write_bytes(addr as *mut u8, 0, len) };
    }

    fn nr_cpus(&self) -> usize {
        1
    }

    fn now_ms(&self) -> u64 {
        sys::clock_gettime(CLOCK_MONOTONIC).map_or(0, |time| time.as_millis())
    }

    fn random_u64(&self) -> u64 {
        match sys::random_bytes() {
            Ok(bytes) => u64::from_ne_bytes([
                bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
            ]),
            // SAFETY: rdtsc only reads the time-stamp counter.
            Err(_) => unsafe { core::arch::x86_64::_rdtsc() }.wrapping_mul(0x9e37_79b9_7f4a_7c15),
        }
    }

    fn set_errno(&self, errno: i32) {
        crate::errno::set_errno(errno);
    }

    fn fatal(&self, message: &str) -> ! {
        crate::process::abort_with_message(message)
    }
}

/// Whether `[addr, addr + len)` lies in the brk heap, `[initial break, current break)`.
fn in_brk_heap(addr: usize, len: usize) -> bool {
    match (mman::initial_break(), mman::current_break()) {
        (Some(start), Ok(end)) => addr >= start && addr.saturating_add(len) <= end,
        _ => false,
    }
}
