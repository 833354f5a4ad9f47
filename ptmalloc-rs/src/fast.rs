//! The tcache fast paths of `malloc` and `free`: a cache hit or a cache put, fully inlined into the caller.
//!
//! They do exactly what the first steps of glibc's `__libc_malloc` and `_int_free` do for a thread that has a
//! cache (same checks, same messages, same order), and nothing else: whenever the fast path cannot finish, it
//! returns without having changed anything and the caller takes the general entry point ([`Malloc::malloc`],
//! [`Malloc::free`]), which starts over from the top. A thread's cache exists only after its first call went
//! through the general path, so a non-null cache also means "allocator initialized, thread registered".

use crate::allocator::{Malloc, ThreadState};
use crate::chunk::Chunk;
use crate::constants::*;
use crate::system::{RawLock, SystemMemory};
use crate::tcache::Tc;
use core::ptr;
use core::sync::atomic::Ordering::Relaxed;

/// What the tcache step of `free` achieved.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum FreeStep {
    /// The chunk is in the thread's cache.
    Done,
    /// The chunk passed `_int_free`'s checks and goes to its arena ([`Malloc::free_to_arena`]).
    Arena,
    /// Take the general path ([`Malloc::free_slow`]), which starts over.
    General,
}

impl<S: SystemMemory, L: RawLock> Malloc<S, L> {
    /// `malloc`'s tcache hit: the first cached chunk of the size class of `bytes`, or null (nothing changed)
    /// when the thread has no cache, the class is not cached or its bin is empty.
    #[inline(always)]
    pub(crate) fn malloc_from_tcache(&self, thread: &ThreadState, bytes: usize) -> *mut u8 {
        let tc = thread.tcache;
        if bytes > MAX_TCACHE_SIZE || tc.is_null() {
            return ptr::null_mut();
        }
        let tc_idx = csize2tidx(request2size(bytes));
        if tc_idx >= self.tcache_bins() || tc.count(tc_idx) == 0 {
            return ptr::null_mut();
        }
        ptr::with_exposed_provenance_mut(self.tcache_get(tc, tc_idx))
    }

    /// `free`'s tcache put: caches the chunk of `mem` ([`FreeStep::Done`]), or says which path must finish the
    /// job without having changed anything: [`FreeStep::Arena`] when the chunk passed the checks but its
    /// class is not cached or its bin is full (the next step of `_int_free`), [`FreeStep::General`] for
    /// everything else (no cache yet, mmapped chunk, a chunk that may already be cached).
    ///
    /// # Safety
    /// `mem` is a non-null block of this allocator, not yet freed (the C contract of `free`).
    #[inline(always)]
    pub(crate) unsafe fn free_to_tcache(&self, thread: &ThreadState, mem: *mut u8) -> FreeStep {
        let tc = thread.tcache;
        if tc.is_null() {
            return FreeStep::General;
        }
        // SAFETY: `mem` came from this allocator (contract).
        let p = unsafe { Chunk::from_mem(mem.expose_provenance()) };
        let head = p.size_nomask();
        if head & IS_MMAPPED != 0 {
            return FreeStep::General;
        }
        let size = head & !SIZE_BITS;
        self.check_freed_chunk(p, size);
        let tc_idx = csize2tidx(size);
        if tc_idx >= self.tcache_bins() {
            return FreeStep::Arena;
        }
        let entry = p.mem();
        let key = self.tcache_key.load(Relaxed);
        // A chunk that carries the key is probably cached already: the general path walks the bin (glibc's
        // double-free check) before going on.
        if Tc::key_of(entry) == key {
            return FreeStep::General;
        }
        if tc.count(tc_idx) >= self.mp.tcache_count.load(Relaxed) {
            return FreeStep::Arena;
        }
        tc.put(p, tc_idx, key);
        FreeStep::Done
    }

    /// The rest of `_int_free` for a chunk that [`Malloc::free_to_tcache`] answered [`FreeStep::Arena`] for:
    /// fastbin, or coalesce and bin, under the owning arena's lock.
    ///
    /// # Safety
    /// As for [`Malloc::free_to_tcache`], which must have returned [`FreeStep::Arena`] for `mem`; `thread` is
    /// the caller's own state.
    #[inline(never)]
    pub(crate) unsafe fn free_to_arena(&self, thread: &mut ThreadState, mem: *mut u8) {
        // SAFETY: `mem` came from this allocator (contract).
        let p = unsafe { Chunk::from_mem(mem.expose_provenance()) };
        let arena = self.arena_ref(self.arena_for_chunk(p));
        arena.mutex.lock();
        self.int_free_locked(arena.av(), p, p.size());
        // SAFETY: taken above.
        unsafe { arena.mutex.unlock() };
        self.purge_tick(thread);
    }

    /// `mp_.tcache_bins`, which is at most `TCACHE_MAX_BINS` (saying so lets the compiler drop the bounds checks
    /// of the cache's arrays).
    #[inline(always)]
    pub(crate) fn tcache_bins(&self) -> usize {
        self.mp.tcache_bins.load(Relaxed).min(TCACHE_MAX_BINS)
    }

    /// The first checks of `_int_free`: the chunk does not wrap around the address space, is aligned, and
    /// has a plausible size.
    #[inline(always)]
    pub(crate) fn check_freed_chunk(&self, p: Chunk, size: usize) {
        if p.addr() > size.wrapping_neg() || p.mem() & MALLOC_ALIGN_MASK != 0 {
            self.printerr("free(): invalid pointer");
        }
        if size < MINSIZE || size & MALLOC_ALIGN_MASK != 0 {
            self.printerr("free(): invalid size");
        }
    }
}
