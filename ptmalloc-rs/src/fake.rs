//! A deterministic fake of system memory for host tests: one zero-filled `Vec`-backed region split into a
//! brk area and an mmap area, with Linux's semantics (fresh and `MADV_DONTNEED` pages read as zero,
//! `mremap` may move, `PROT_NONE` reservations) and switches to make brk or mmap fail.
//!
//! Layout: `[base, base + brk_size)` is the brk area (the break starts at `base + brk_offset`), the rest is
//! the mmap area, handed out first-fit by page. `base` is 64 MiB aligned so arena heaps can be aligned.
//! Corruption reports (`fatal`) panic with glibc's message so tests can assert on it.

use crate::allocator::Malloc;
use crate::constants::HEAP_MAX_SIZE;
use crate::system::{Protection, RawLock, SystemMemory};
use std::boxed::Box;
use std::pin::Pin;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::vec;
use std::vec::Vec;

const PAGE_SIZE: usize = 4096;
const UNMAPPED: u8 = 0;
const RESERVED: u8 = 1;
const READ_WRITE: u8 = 2;

/// Shape of a fake address space.
#[derive(Clone, Debug)]
pub struct FakeConfig {
    /// Bytes of the brk area.
    pub brk_size: usize,
    /// Bytes of the mmap area.
    pub mmap_size: usize,
    /// Initial break offset from the (page-aligned) start of the brk area.
    pub brk_offset: usize,
    /// What `nr_cpus` reports.
    pub nr_cpus: usize,
    /// The tcache key.
    pub random: u64,
}

impl Default for FakeConfig {
    fn default() -> Self {
        FakeConfig {
            brk_size: 256 << 20,
            mmap_size: 768 << 20,
            brk_offset: 0,
            nr_cpus: 2,
            random: 0x5eed_1234_abcd_0001,
        }
    }
}

/// Counters of the calls the allocator made.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FakeCounters {
    /// Calls to `morecore` with a non-zero increment.
    pub sbrk_calls: usize,
    /// Successful `mmap` calls.
    pub mmap_calls: usize,
    /// `munmap` calls.
    pub munmap_calls: usize,
    /// `mremap` calls.
    pub mremap_calls: usize,
    /// `madvise(MADV_DONTNEED)` calls.
    pub madvise_calls: usize,
    /// Bytes passed to `madvise(MADV_DONTNEED)`.
    pub madvise_bytes: usize,
}

struct State {
    brk: usize,
    pages: Vec<u8>,
    brk_fails: bool,
    mmap_fails: bool,
    counters: FakeCounters,
}

/// The fake system (see the module docs).
pub struct FakeSystem {
    storage: *mut [u8],
    base: usize,
    config: FakeConfig,
    state: Mutex<State>,
    errno: AtomicI32,
    clock: AtomicU64,
}

// SAFETY: the storage is only reached through raw pointers by the allocator (which serializes as it must) and
// the bookkeeping is behind a mutex.
unsafe impl Send for FakeSystem {}
// SAFETY: as above.
unsafe impl Sync for FakeSystem {}

impl FakeSystem {
    /// A fake address space of the given shape.
    pub fn new(config: FakeConfig) -> FakeSystem {
        let total = config.brk_size + config.mmap_size + HEAP_MAX_SIZE;
        let storage = Box::into_raw(vec![0u8; total].into_boxed_slice());
        let start = storage.cast::<u8>().expose_provenance();
        let base = start.next_multiple_of(HEAP_MAX_SIZE);
        let pages = vec![UNMAPPED; config.mmap_size / PAGE_SIZE];
        let state = State {
            brk: base + config.brk_offset,
            pages,
            brk_fails: false,
            mmap_fails: false,
            counters: FakeCounters::default(),
        };
        FakeSystem {
            storage,
            base,
            config,
            state: Mutex::new(state),
            errno: AtomicI32::new(0),
            clock: AtomicU64::new(1),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Makes positive `morecore` calls fail (or succeed again).
    pub fn set_brk_fails(&self, fails: bool) {
        self.state().brk_fails = fails;
    }

    /// Makes `mmap` fail (or succeed again).
    pub fn set_mmap_fails(&self, fails: bool) {
        self.state().mmap_fails = fails;
    }

    /// Moves the fake clock (`now_ms`, starting at 1) forward.
    pub fn advance_clock_ms(&self, ms: u64) {
        self.clock.fetch_add(ms, Ordering::Relaxed);
    }

    /// The calls made so far.
    pub fn counters(&self) -> FakeCounters {
        self.state().counters
    }

    /// The current break.
    pub fn current_brk(&self) -> usize {
        self.state().brk
    }

    /// Bytes currently mapped in the mmap area (any protection).
    pub fn mapped_bytes(&self) -> usize {
        self.state().pages.iter().filter(|&&page| page != UNMAPPED).count() * PAGE_SIZE
    }

    /// The last errno the allocator set.
    pub fn last_errno(&self) -> i32 {
        self.errno.load(Ordering::Relaxed)
    }

    /// Clears the recorded errno.
    pub fn clear_errno(&self) {
        self.errno.store(0, Ordering::Relaxed)
    }

    /// Whether `[addr, addr + len)` lies in the fake address space (brk area or mmap area).
    pub fn contains(&self, addr: usize, len: usize) -> bool {
        addr >= self.base && addr.saturating_add(len) <= self.mmap_base() + self.config.mmap_size
    }

    fn mmap_base(&self) -> usize {
        self.base + self.config.brk_size
    }

    fn zero(&self, addr: usize, len: usize) {
        // SAFETY: callers pass ranges inside the storage that hold no live allocation.
        unsafe { std::ptr::write_bytes(std::ptr::with_exposed_provenance_mut::<u8>(addr), 0, len) }
    }

    /// Page indexes of `[addr, addr + len)` in the mmap area, if it lies there.
    fn page_range(&self, addr: usize, len: usize) -> Option<std::ops::Range<usize>> {
        let start = addr.checked_sub(self.mmap_base())?;
        if start % PAGE_SIZE != 0 || start + len > self.config.mmap_size {
            return None;
        }
        Some(start / PAGE_SIZE..(start + len).div_ceil(PAGE_SIZE))
    }

    /// Zeroes the read-write pages of a page range (what the kernel does when pages are dropped).
    fn drop_pages(&self, pages: &[u8], range: std::ops::Range<usize>) {
        for page in range {
            if pages[page] == READ_WRITE {
                self.zero(self.mmap_base() + page * PAGE_SIZE, PAGE_SIZE);
            }
        }
    }

    fn find_free(&self, pages: &[u8], hint: usize, count: usize) -> Option<usize> {
        if let Some(range) = self.page_range(hint, count * PAGE_SIZE)
            && hint != 0
            && pages[range.clone()].iter().all(|&page| page == UNMAPPED)
        {
            return Some(range.start);
        }
        let mut run = 0;
        for (index, &page) in pages.iter().enumerate() {
            run = if page == UNMAPPED { run + 1 } else { 0 };
            if run == count {
                return Some(index + 1 - count);
            }
        }
        None
    }
}

impl Drop for FakeSystem {
    fn drop(&mut self) {
        // SAFETY: `storage` came from `Box::into_raw` in `new` and is dropped once.
        drop(unsafe { Box::from_raw(self.storage) });
    }
}

impl SystemMemory for FakeSystem {
    fn page_size(&self) -> usize {
        PAGE_SIZE
    }

    fn morecore(&self, increment: isize) -> Option<usize> {
        let mut state = self.state();
        let old = state.brk;
        if increment == 0 {
            return Some(old);
        }
        state.counters.sbrk_calls += 1;
        if increment > 0 && state.brk_fails {
            return None;
        }
        let new = old.checked_add_signed(increment)?;
        if new < self.base + self.config.brk_offset || new > self.base + self.config.brk_size {
            return None;
        }
        if new < old {
            self.zero(new, old - new);
        }
        state.brk = new;
        Some(old)
    }

    fn mmap(&self, hint: usize, len: usize, protection: Protection, _noreserve: bool) -> Option<usize> {
        let mut state = self.state();
        if state.mmap_fails || len == 0 {
            return None;
        }
        let count = len.div_ceil(PAGE_SIZE);
        let first = self.find_free(&state.pages, hint, count)?;
        let value = if protection == Protection::ReadWrite { READ_WRITE } else { RESERVED };
        state.pages[first..first + count].fill(value);
        state.counters.mmap_calls += 1;
        Some(self.mmap_base() + first * PAGE_SIZE)
    }

    unsafe fn munmap(&self, addr: usize, len: usize) -> bool {
        let mut state = self.state();
        state.counters.munmap_calls += 1;
        let Some(range) = self.page_range(addr, len) else { return false };
        self.drop_pages(&state.pages, range.clone());
        state.pages[range].fill(UNMAPPED);
        true
    }

    unsafe fn mremap(&self, addr: usize, old_len: usize, new_len: usize) -> Option<usize> {
        let mut state = self.state();
        state.counters.mremap_calls += 1;
        let old = self.page_range(addr, old_len)?;
        if state.pages[old.clone()].iter().any(|&page| page != READ_WRITE) {
            return None;
        }
        let new_count = new_len.div_ceil(PAGE_SIZE);
        if new_count <= old.len() {
            let tail = old.start + new_count..old.end;
            self.drop_pages(&state.pages, tail.clone());
            state.pages[tail].fill(UNMAPPED);
            return Some(addr);
        }
        let grow = old.end..old.start + new_count;
        if grow.end <= state.pages.len() && state.pages[grow.clone()].iter().all(|&page| page == UNMAPPED) {
            state.pages[grow].fill(READ_WRITE);
            return Some(addr);
        }
        if state.mmap_fails {
            return None;
        }
        let first = self.find_free(&state.pages, 0, new_count)?;
        state.pages[first..first + new_count].fill(READ_WRITE);
        let new_addr = self.mmap_base() + first * PAGE_SIZE;
        // SAFETY: both ranges are inside the storage and disjoint (the new one was unmapped).
        unsafe {
            std::ptr::copy_nonoverlapping(
                std::ptr::with_exposed_provenance::<u8>(addr),
                std::ptr::with_exposed_provenance_mut::<u8>(new_addr),
                old.len() * PAGE_SIZE,
            )
        };
        self.drop_pages(&state.pages, old.clone());
        state.pages[old].fill(UNMAPPED);
        Some(new_addr)
    }

    unsafe fn mprotect(&self, addr: usize, len: usize, protection: Protection) -> bool {
        let mut state = self.state();
        let Some(range) = self.page_range(addr, len) else { return false };
        if state.pages[range.clone()].contains(&UNMAPPED) {
            return false;
        }
        let value = if protection == Protection::ReadWrite { READ_WRITE } else { RESERVED };
        state.pages[range].fill(value);
        true
    }

    unsafe fn madvise_dontneed(&self, addr: usize, len: usize) {
        let mut state = self.state();
        state.counters.madvise_calls += 1;
        state.counters.madvise_bytes += len;
        if let Some(range) = self.page_range(addr, len) {
            self.drop_pages(&state.pages, range);
        } else if addr >= self.base && addr + len <= state.brk {
            self.zero(addr, len);
        }
    }

    fn nr_cpus(&self) -> usize {
        self.config.nr_cpus
    }

    fn now_ms(&self) -> u64 {
        self.clock.load(Ordering::Relaxed)
    }

    fn random_u64(&self) -> u64 {
        self.config.random
    }

    fn set_errno(&self, errno: i32) {
        self.errno.store(errno, Ordering::Relaxed);
    }

    fn fatal(&self, message: &str) -> ! {
        panic!("{message}")
    }
}

impl<S: SystemMemory, L: RawLock> Malloc<S, L> {
    /// An allocator in a pinned box (it must not move once used).
    pub fn boxed(sys: S) -> Pin<Box<Self>> {
        // SAFETY: the pinned box never moves its content.
        Box::pin(unsafe { Malloc::new(sys) })
    }
}
