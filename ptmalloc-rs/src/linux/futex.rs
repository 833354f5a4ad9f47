//! A futex-based mutex (the three-state lock of Drepper's "Futexes Are Tricky"): 0 free, 1 locked,
//! 2 locked with waiters. Uncontended lock and unlock are one atomic instruction each.

use super::syscall::{FUTEX_WAIT_PRIVATE, FUTEX_WAKE_PRIVATE, SYS_FUTEX, syscall6};
use crate::system::RawLock;
use core::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use core::sync::atomic::{AtomicPtr, AtomicU32};

/// Where the process says whether it is single-threaded (glibc's `__libc_single_threaded`); null: unknown.
static SINGLE_THREADED: AtomicPtr<u8> = AtomicPtr::new(core::ptr::null_mut());

/// Makes every [`FutexLock`] a no-op while `*flag` is non-zero (glibc's malloc takes no locks in a
/// single-threaded process). The flag may only go from non-zero to zero while no lock is held by the only
/// thread (pthread_create clears it before a second thread exists), and back to non-zero only in a fork
/// child, whose locks are re-initialized.
///
/// # Safety
/// `flag` must stay readable for the life of the process.
pub unsafe fn use_single_threaded_flag(flag: *const core::ffi::c_char) {
    SINGLE_THREADED.store(flag as *mut u8, Relaxed);
}

#[inline(always)]
fn single_threaded() -> bool {
    let flag = SINGLE_THREADED.load(Relaxed);
    // SAFETY: a flag registered with `use_single_threaded_flag`, readable for the life of the process.
    !flag.is_null() && unsafe { flag.read_volatile() } != 0
}

/// A futex lock (4 bytes, like glibc's `__libc_lock`).
#[derive(Debug)]
pub struct FutexLock(AtomicU32);

impl FutexLock {
    #[cold]
    fn lock_contended(&self) {
        for _ in 0..64 {
            if self.0.load(Relaxed) == 0 && self.0.compare_exchange(0, 1, Acquire, Relaxed).is_ok() {
                return;
            }
            core::hint::spin_loop();
        }
        while self.0.swap(2, Acquire) != 0 {
            // SAFETY: FUTEX_WAIT on our own atomic word; the kernel only reads it.
            unsafe { syscall6(SYS_FUTEX, [self.0.as_ptr() as usize, FUTEX_WAIT_PRIVATE, 2, 0, 0, 0]) };
        }
    }
}

impl RawLock for FutexLock {
    const INIT: Self = FutexLock(AtomicU32::new(0));

    #[inline(always)]
    fn lock(&self) {
        if single_threaded() {
            return;
        }
        if self.0.compare_exchange(0, 1, Acquire, Relaxed).is_err() {
            self.lock_contended();
        }
    }

    #[inline(always)]
    fn try_lock(&self) -> bool {
        single_threaded() || self.0.compare_exchange(0, 1, Acquire, Relaxed).is_ok()
    }

    #[inline(always)]
    unsafe fn unlock(&self) {
        if single_threaded() {
            return;
        }
        if self.0.swap(0, Release) == 2 {
            // SAFETY: FUTEX_WAKE on our own atomic word.
            unsafe { syscall6(SYS_FUTEX, [self.0.as_ptr() as usize, FUTEX_WAKE_PRIVATE, 1, 0, 0, 0]) };
        }
    }

    unsafe fn reinit(&self) {
        self.0.store(0, Relaxed);
    }
}

const _: () = assert!(core::mem::size_of::<FutexLock>() == 4);
