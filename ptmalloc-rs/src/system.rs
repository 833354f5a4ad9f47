//! What the allocator needs from its host: system memory (MORECORE and mmap-like calls) and a lock.
//!
//! Implementations: `linux::LinuxSystem` (raw brk/mmap syscalls, futex lock), `fake::FakeSystem` (a Vec-backed
//! address space for deterministic host tests) and, later, libc-rs on our kernel (brk/mmap syscalls to memd).

use core::sync::atomic::{AtomicBool, Ordering};

/// Protection of a mapping.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Protection {
    /// `PROT_NONE`: reserved address space.
    None,
    /// `PROT_READ | PROT_WRITE`.
    ReadWrite,
}

/// The system calls malloc makes. All addresses are plain integers; a failed call returns `None`/`false`
/// (glibc's `MORECORE_FAILURE` / `MAP_FAILED`).
///
/// Contract for implementors: memory handed out by `morecore` (positive increments) and by `mmap` is zero
/// filled on first use (calloc relies on it), stays valid until released by `munmap`, a negative `morecore`
/// or `madvise_dontneed` (which also zero-fills), and is 16-byte aligned (`mmap`: page aligned).
pub trait SystemMemory {
    /// Page size in bytes (a power of two).
    fn page_size(&self) -> usize;

    /// `sbrk`: moves the program break by `increment` bytes and returns the *previous* break; `morecore(0)`
    /// returns the current break. `None` on failure.
    fn morecore(&self, increment: isize) -> Option<usize>;

    /// Anonymous private mapping of `len` bytes (page multiple). `hint` is a preferred address (0 for none),
    /// never a fixed one. `noreserve` asks for `MAP_NORESERVE`.
    fn mmap(&self, hint: usize, len: usize, protection: Protection, noreserve: bool) -> Option<usize>;

    /// Unmaps `[addr, addr + len)`.
    ///
    /// # Safety
    /// The range must have been mapped by `mmap` and nothing may use it afterwards.
    unsafe fn munmap(&self, addr: usize, len: usize) -> bool;

    /// Resizes the mapping at `addr` (may move it, `MREMAP_MAYMOVE`); returns its new address.
    ///
    /// # Safety
    /// `[addr, addr + old_len)` must be a mapping made by `mmap`; on success the old range is no longer valid.
    unsafe fn mremap(&self, addr: usize, old_len: usize, new_len: usize) -> Option<usize>;

    /// Changes the protection of pages of a mapping.
    ///
    /// # Safety
    /// The range must lie in a mapping made by `mmap`; making it `None` invalidates its contents for users.
    unsafe fn mprotect(&self, addr: usize, len: usize, protection: Protection) -> bool;

    /// `madvise(MADV_DONTNEED)`: drops the pages; they read as zero afterwards.
    ///
    /// # Safety
    /// The page-aligned range must be owned by the allocator and hold no live data.
    unsafe fn madvise_dontneed(&self, addr: usize, len: usize);

    /// Number of CPUs the arena limit is computed from (`__get_nprocs`).
    fn nr_cpus(&self) -> usize;

    /// A monotonic clock in milliseconds (coarse is fine): the time base of purging (`purge.rs`).
    fn now_ms(&self) -> u64;

    /// Random bits for the tcache double-free key.
    fn random_u64(&self) -> u64;

    /// Sets the C `errno` (ENOMEM, EINVAL) of the calling thread.
    fn set_errno(&self, errno: i32);

    /// Reports heap corruption: prints `message` and a newline to stderr and aborts (glibc's
    /// `malloc_printerr`).
    fn fatal(&self, message: &str) -> !;
}

/// A raw mutual-exclusion lock (glibc's `__libc_lock`). Arenas embed one; `const INIT` makes static arenas
/// possible.
pub trait RawLock {
    /// An unlocked lock.
    const INIT: Self;
    /// Acquires the lock, waiting as long as needed.
    fn lock(&self);
    /// Acquires the lock if it is free; returns whether it did.
    fn try_lock(&self) -> bool;
    /// Releases the lock.
    ///
    /// # Safety
    /// The caller must hold the lock.
    unsafe fn unlock(&self);
    /// Re-initializes the lock as unlocked (in a child after fork, where the holder no longer exists).
    ///
    /// # Safety
    /// No other thread may use the lock.
    unsafe fn reinit(&self);
}

/// A test-and-test-and-set spin lock: the lock for the fake system and for single-CPU kernels.
#[derive(Debug)]
pub struct SpinLock(AtomicBool);

impl RawLock for SpinLock {
    const INIT: Self = SpinLock(AtomicBool::new(false));

    fn lock(&self) {
        while self.0.compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed).is_err() {
            while self.0.load(Ordering::Relaxed) {
                core::hint::spin_loop();
            }
        }
    }

    fn try_lock(&self) -> bool {
        self.0.compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed).is_ok()
    }

    unsafe fn unlock(&self) {
        self.0.store(false, Ordering::Release);
    }

    unsafe fn reinit(&self) {
        self.0.store(false, Ordering::Relaxed);
    }
}

/// ENOMEM (Linux numbering).
pub const ENOMEM: i32 = 12;
/// EINVAL (Linux numbering).
pub const EINVAL: i32 = 22;
