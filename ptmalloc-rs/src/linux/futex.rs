//! A futex-based mutex (the three-state lock of Drepper's "Futexes Are Tricky"): 0 free, 1 locked,
//! 2 locked with waiters. Uncontended lock and unlock are one atomic instruction each.

use super::syscall::{FUTEX_WAIT_PRIVATE, FUTEX_WAKE_PRIVATE, SYS_FUTEX, syscall6};
use crate::system::RawLock;
use core::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use core::sync::atomic::{AtomicPtr, AtomicU32, AtomicUsize};

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

/// The thread (its thread pointer) that holds every lock for a `fork` (0: none); see [`set_fork_owner`].
static FORK_OWNER: AtomicUsize = AtomicUsize::new(0);

/// Declares that the calling thread holds every [`FutexLock`] of the allocator (`true`, after taking them in
/// the atfork prepare handler) or no longer (`false`, before releasing them). Meanwhile the locks let this
/// thread through without waiting, so that atfork handlers running after ours may still allocate (glibc
/// takes its malloc locks after every prepare handler; an LD_PRELOAD library can only register one).
pub fn set_fork_owner(owner: bool) {
    FORK_OWNER.store(if owner { thread_pointer() } else { 0 }, Relaxed);
}

/// The calling thread's thread pointer (`%fs:0`, the TCB's pointer to itself): a unique thread identity.
#[inline(always)]
fn thread_pointer() -> usize {
    let pointer: usize;
    // SAFETY: reads the TCB self-pointer that the x86-64 TLS ABI keeps at %fs:0; no memory is written.
    unsafe {
        core::arch::asm!("mov {}, qword ptr fs:[0]", out(reg) pointer, options(nostack, readonly, preserves_flags))
    };
    pointer
}

#[inline(always)]
fn fork_owner_is_me() -> bool {
    let owner = FORK_OWNER.load(Relaxed);
    owner != 0 && owner == thread_pointer()
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
        if fork_owner_is_me() {
            return;
        }
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
        single_threaded() || self.0.compare_exchange(0, 1, Acquire, Relaxed).is_ok() || fork_owner_is_me()
    }

    #[inline(always)]
    unsafe fn unlock(&self) {
        if single_threaded() || (FORK_OWNER.load(Relaxed) != 0 && fork_owner_is_me()) {
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
