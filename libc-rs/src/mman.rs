//! Memory-management constants (Linux x86-64 `PROT_*`, `MAP_*`, `MREMAP_*`) and the program break: `brk` and
//! `sbrk` with Linux/glibc semantics over the raw brk syscall.
//!
//! The raw syscall returns the new break on success and the unchanged break on failure (it never returns an
//! errno on Linux; our kernel may, if memd refuses outright). `brk(addr)` is then 0 or -1/ENOMEM, and
//! `sbrk(increment)` the *previous* break or `(void *)-1`/ENOMEM. Like glibc, the current break is cached
//! after the first call (`__curbrk`); concurrent `sbrk` calls from several threads race as they do in glibc
//! (malloc calls it only under its main-arena lock).
//!
//! A request succeeds only when the kernel reports exactly the requested break (Linux keeps the break
//! unrounded, and so must memd).

use crate::errno::Errno;

pub const PROT_NONE: i32 = 0;
pub const PROT_READ: i32 = 1;
pub const PROT_WRITE: i32 = 2;
pub const PROT_EXEC: i32 = 4;

pub const MAP_SHARED: i32 = abi::mman::MAP_SHARED as i32;
pub const MAP_PRIVATE: i32 = abi::mman::MAP_PRIVATE as i32;
pub const MAP_FIXED: i32 = abi::mman::MAP_FIXED as i32;
pub const MAP_ANONYMOUS: i32 = abi::mman::MAP_ANONYMOUS as i32;
pub const MAP_GROWSDOWN: i32 = abi::mman::MAP_GROWSDOWN as i32;
pub const MAP_NORESERVE: i32 = abi::mman::MAP_NORESERVE as i32;
pub const MAP_POPULATE: i32 = abi::mman::MAP_POPULATE as i32;
pub const MAP_STACK: i32 = abi::mman::MAP_STACK as i32;
pub const MAP_FIXED_NOREPLACE: i32 = abi::mman::MAP_FIXED_NOREPLACE as i32;
pub const MREMAP_MAYMOVE: i32 = abi::mman::MREMAP_MAYMOVE as i32;
pub const MREMAP_FIXED: i32 = abi::mman::MREMAP_FIXED as i32;
/// `(void *)-1`.
pub const MAP_FAILED: usize = usize::MAX;

/// The page size of x86-64 (AT_PAGESZ).
pub const PAGE_SIZE: usize = 4096;

/// The break `sbrk(increment)` asks for when the break is `current`; `None` when it over- or underflows.
pub const fn sbrk_target(current: usize, increment: isize) -> Option<usize> {
    current.checked_add_signed(increment)
}

/// What the raw brk result `raw` means for a request of `requested`: the new break, or the error (ENOMEM when
/// the kernel left the break elsewhere, the kernel's errno when it refused outright).
pub const fn brk_outcome(requested: usize, raw: u64) -> Result<usize, Errno> {
    match Errno::result(raw) {
        Err(errno) => Err(errno),
        Ok(new_break) if new_break as usize == requested => Ok(requested),
        Ok(_) => Err(Errno::ENOMEM),
    }
}

#[cfg(target_os = "none")]
pub use target::*;

#[cfg(target_os = "none")]
mod target {
    use super::{brk_outcome, sbrk_target};
    use crate::errno::Errno;
    use core::sync::atomic::{AtomicUsize, Ordering::Relaxed};

    /// The break as last reported by the kernel (0: not asked yet).
    static CURRENT_BREAK: AtomicUsize = AtomicUsize::new(0);
    /// The break the first time it was asked for: the start of the brk heap (0: not asked yet).
    static INITIAL_BREAK: AtomicUsize = AtomicUsize::new(0);

    /// The current break (asks the kernel the first time).
    pub fn current_break() -> Result<usize, Errno> {
        match CURRENT_BREAK.load(Relaxed) {
            0 => {
                let current = Errno::result(crate::sys::brk(0) as u64)? as usize;
                let _ = INITIAL_BREAK.compare_exchange(0, current, Relaxed, Relaxed);
                CURRENT_BREAK.store(current, Relaxed);
                Ok(current)
            }
            current => Ok(current),
        }
    }

    /// The start of the brk heap, once the break has been asked for.
    pub fn initial_break() -> Option<usize> {
        match INITIAL_BREAK.load(Relaxed) {
            0 => None,
            start => Some(start),
        }
    }

    /// `brk(addr)`: sets the break to `addr`.
    pub fn brk(addr: usize) -> Result<(), Errno> {
        // Learn where the heap starts before it moves.
        current_break()?;
        let new_break = brk_outcome(addr, crate::sys::brk(addr) as u64)?;
        CURRENT_BREAK.store(new_break, Relaxed);
        Ok(())
    }

    /// `sbrk(increment)`: moves the break by `increment` bytes; the previous break. `sbrk(0)` is the current
    /// break.
    pub fn sbrk(increment: isize) -> Result<usize, Errno> {
        let current = current_break()?;
        if increment == 0 {
            return Ok(current);
        }
        let target = sbrk_target(current, increment).ok_or(Errno::ENOMEM)?;
        brk(target)?;
        Ok(current)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sbrk_target_checks_overflow() {
        assert_eq!(sbrk_target(0x40_0000, 0x1000), Some(0x40_1000));
        assert_eq!(sbrk_target(0x40_1000, -0x1000), Some(0x40_0000));
        assert_eq!(sbrk_target(0x1000, -0x2000), None);
        assert_eq!(sbrk_target(usize::MAX - 1, 2), None);
    }

    #[test]
    fn brk_outcome_follows_linux() {
        // Success: the kernel reports the requested break.
        assert_eq!(brk_outcome(0x40_1000, 0x40_1000), Ok(0x40_1000));
        // Failure: the unchanged (old) break comes back, for growing and for shrinking requests.
        assert_eq!(brk_outcome(0x40_1000, 0x40_0000), Err(Errno::ENOMEM));
        assert_eq!(brk_outcome(0x40_0000, 0x40_1000), Err(Errno::ENOMEM));
        // memd refusing outright.
        assert_eq!(brk_outcome(0x40_1000, (-38i64) as u64), Err(Errno::ENOSYS));
    }

    #[test]
    fn constants_are_linux_x86_64() {
        assert_eq!((MAP_PRIVATE | MAP_ANONYMOUS), 0x22);
        assert_eq!(MAP_FIXED, 0x10);
        assert_eq!(MAP_NORESERVE, 0x4000);
        assert_eq!(MAP_STACK, 0x20000);
        assert_eq!(PROT_READ | PROT_WRITE, 3);
        assert_eq!(MREMAP_MAYMOVE, 1);
    }
}
