//! A futex-based mutex: ptmalloc-rs's [`RawLock`], the lock of the stdio streams and of
//! `pthread_mutex_t`.
//!
//! The classic three-state futex mutex (Drepper, "Futexes Are Tricky", mutex #2): the word is 0 (unlocked),
//! 1 (locked, nobody waits) or 2 (locked, maybe waiters). Lock: CAS 0→1; failing that, swap in 2 and sleep in
//! `FUTEX_WAIT` while the word stays 2, until a swap finds 0. Unlock: swap in 0, and `FUTEX_WAKE` one waiter
//! if the old value was 2. The uncontended paths make no syscall. Not recursive, no owner checks.
//!
//! On the host (tests) the futex is emulated by spinning: a wait returns at once, as a spurious wake-up may.

use core::sync::atomic::AtomicU32;
use core::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use ptmalloc_rs::RawLock;

const UNLOCKED: u32 = 0;
const LOCKED: u32 = 1;
const CONTENDED: u32 = 2;

/// A futex mutex (4 bytes, like glibc's `__libc_lock`).
#[derive(Debug)]
#[repr(transparent)]
pub struct FutexLock(AtomicU32);

const _: () = assert!(core::mem::size_of::<FutexLock>() == 4);

impl FutexLock {
    /// An unlocked lock.
    pub const fn new() -> FutexLock {
        FutexLock(AtomicU32::new(UNLOCKED))
    }

    /// The lock over a C `int` word (the first field of `pthread_mutex_t`).
    ///
    /// # Safety
    /// `word` is valid, 4-byte aligned, lives as long as the returned reference, and is accessed only
    /// atomically (through `FutexLock`s) meanwhile.
    pub unsafe fn from_word<'a>(word: *mut u32) -> &'a FutexLock {
        // SAFETY: the caller's contract; `FutexLock` is a transparent `AtomicU32`, which has the size and
        // alignment of `u32`.
        unsafe { &*(AtomicU32::from_ptr(word) as *const AtomicU32 as *const FutexLock) }
    }

    /// Whether the lock is held (for tests and diagnostics).
    pub fn is_locked(&self) -> bool {
        self.0.load(Relaxed) != UNLOCKED
    }

    #[cold]
    fn lock_contended(&self) {
        // Spin briefly: the holder may be about to release (cheap on 2 CPUs, short critical sections).
        for _ in 0..64 {
            if self.0.load(Relaxed) == UNLOCKED
                && self.0.compare_exchange(UNLOCKED, LOCKED, Acquire, Relaxed).is_ok()
            {
                return;
            }
            core::hint::spin_loop();
        }
        // Announce a waiter; whoever swaps 0 out of the word owns the lock (and keeps "contended", so its
        // unlock wakes the next waiter).
        while self.0.swap(CONTENDED, Acquire) != UNLOCKED {
            futex_wait(&self.0, CONTENDED);
        }
    }
}

impl Default for FutexLock {
    fn default() -> Self {
        Self::new()
    }
}

impl RawLock for FutexLock {
    const INIT: Self = FutexLock::new();

    #[inline]
    fn lock(&self) {
        if self.0.compare_exchange(UNLOCKED, LOCKED, Acquire, Relaxed).is_err() {
            self.lock_contended();
        }
    }

    #[inline]
    fn try_lock(&self) -> bool {
        self.0.compare_exchange(UNLOCKED, LOCKED, Acquire, Relaxed).is_ok()
    }

    #[inline]
    unsafe fn unlock(&self) {
        if self.0.swap(UNLOCKED, Release) == CONTENDED {
            futex_wake(&self.0);
        }
    }

    unsafe fn reinit(&self) {
        self.0.store(UNLOCKED, Relaxed);
    }
}

/// Sleeps while `*word == expected` (returns at once if it differs, or on a spurious wake-up).
#[cfg(target_os = "none")]
fn futex_wait(word: &AtomicU32, expected: u32) {
    // EAGAIN (the word changed) and EINTR both mean "look again", which the caller's loop does.
    let _ = crate::sys::futex_wait(word, expected);
}

/// Wakes one waiter of `word`.
#[cfg(target_os = "none")]
fn futex_wake(word: &AtomicU32) {
    let _ = crate::sys::futex_wake(word, 1);
}

#[cfg(not(target_os = "none"))]
fn futex_wait(_word: &AtomicU32, _expected: u32) {
    core::hint::spin_loop();
}

#[cfg(not(target_os = "none"))]
fn futex_wake(_word: &AtomicU32) {}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::AtomicUsize;

    #[test]
    fn lock_unlock_try_lock() {
        let lock = FutexLock::new();
        assert!(!lock.is_locked());
        lock.lock();
        assert!(lock.is_locked());
        assert!(!lock.try_lock());
        // SAFETY: held.
        unsafe { lock.unlock() };
        assert!(lock.try_lock());
        // SAFETY: held.
        unsafe { lock.unlock() };
        assert!(!lock.is_locked());
    }

    #[test]
    fn from_word_shares_the_c_int() {
        let mut word: u32 = 0;
        // SAFETY: `word` outlives `lock` and is only used through it meanwhile.
        let lock = unsafe { FutexLock::from_word(&mut word) };
        lock.lock();
        assert!(lock.is_locked());
        // SAFETY: held.
        unsafe { lock.unlock() };
        assert_eq!(word, 0);
    }

    #[test]
    fn excludes_under_contention() {
        struct Shared {
            lock: FutexLock,
            // Updated non-atomically (load + store) under the lock: lost updates would show a broken lock.
            counter: AtomicUsize,
        }
        let shared = Arc::new(Shared { lock: FutexLock::new(), counter: AtomicUsize::new(0) });
        let threads: std::vec::Vec<_> = (0..4)
            .map(|_| {
                let shared = Arc::clone(&shared);
                std::thread::spawn(move || {
                    for _ in 0..10_000 {
                        shared.lock.lock();
                        let value = shared.counter.load(Relaxed);
                        std::hint::spin_loop();
                        shared.counter.store(value + 1, Relaxed);
                        // SAFETY: held.
                        unsafe { shared.lock.unlock() };
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        assert_eq!(shared.counter.load(Relaxed), 40_000);
        assert!(!shared.lock.is_locked());
    }
}
