//! The public malloc family (glibc's `__libc_malloc`, `__libc_free`, … wrappers): tcache fast paths,
//! arena selection and locking, retries in another arena, and the argument rules of each call.
//!
//! # Safety contract shared by every method
//! `thread` is the calling thread's own [`ThreadState`] for this allocator (never shared between threads, never
//! used with another allocator); pointers passed in were returned by this allocator and not yet freed.

use crate::allocator::{Malloc, ThreadState};
use crate::chunk::{Chunk, copy_bytes, fill_bytes};
use crate::constants::*;
use crate::fast::FreeStep;
use crate::heap::HeapInfo;
use crate::system::{EINVAL, ENOMEM, RawLock, SystemMemory};
use crate::tcache::TCACHE_STRUCT_SIZE;
use core::ptr;
use core::sync::atomic::Ordering::Relaxed;

fn to_ptr(addr: usize) -> *mut u8 {
    ptr::with_exposed_provenance_mut(addr)
}

impl<S: SystemMemory, L: RawLock> Malloc<S, L> {
    /// Unlocks the arena at `arena` if there is one.
    fn arena_unlock(&self, arena: usize) {
        if arena != 0 {
            // SAFETY: callers pass the arena `arena_get`/`arena_get_retry` returned locked.
            unsafe { self.arena_ref(arena).mutex.unlock() };
        }
    }

    /// `MAYBE_INIT_TCACHE`/`tcache_init`: gives the thread its cache, allocated from its arena.
    #[inline(always)]
    fn maybe_init_tcache(&self, thread: &mut ThreadState) {
        if thread.tcache.is_null() && !thread.tcache_shutting_down {
            self.tcache_init(thread);
        }
    }

    #[cold]
    fn tcache_init(&self, thread: &mut ThreadState) {
        let mut arena = self.arena_get(thread, TCACHE_STRUCT_SIZE);
        let mut victim = self.int_malloc(arena, thread.tcache, TCACHE_STRUCT_SIZE);
        if victim == 0 && arena != 0 {
            arena = self.arena_get_retry(thread, arena, TCACHE_STRUCT_SIZE);
            victim = self.int_malloc(arena, thread.tcache, TCACHE_STRUCT_SIZE);
        }
        self.arena_unlock(arena);
        if victim != 0 {
            thread.tcache = crate::tcache::Tc(victim);
            thread.tcache.clear();
        }
    }

    /// Runs `op` in the thread's arena, retrying in another arena once when it fails in a multi-threaded
    /// process (glibc's single-threaded path does not retry).
    fn with_arena(
        &self,
        thread: &mut ThreadState,
        size: usize,
        mut op: impl FnMut(&Self, usize) -> usize,
    ) -> usize {
        let mut arena = self.arena_get(thread, size);
        let mut result = op(self, arena);
        if result == 0 && arena != 0 && self.multi_threaded.load(Relaxed) {
            arena = self.arena_get_retry(thread, arena, size);
            result = op(self, arena);
        }
        self.arena_unlock(arena);
        result
    }

    /// `malloc`: at least `bytes` bytes aligned to 16, or null with errno = ENOMEM.
    ///
    /// # Safety
    /// See the module's safety contract.
    #[inline]
    pub unsafe fn malloc(&self, thread: &mut ThreadState, bytes: usize) -> *mut u8 {
        let p = self.malloc_from_tcache(thread, bytes);
        if !p.is_null() {
            return p;
        }
        // SAFETY: contract.
        unsafe { self.malloc_slow(thread, bytes) }
    }

    /// `malloc` after a tcache miss: initialization, the cache itself, then an arena. (A cache created here is
    /// empty, so there is no second tcache look-up.)
    ///
    /// # Safety
    /// See the module's safety contract.
    #[inline(never)]
    pub(crate) unsafe fn malloc_slow(&self, thread: &mut ThreadState, bytes: usize) -> *mut u8 {
        self.ensure_init();
        if checked_request2size(bytes).is_none() {
            self.set_errno(ENOMEM);
            return ptr::null_mut();
        }
        self.maybe_init_tcache(thread);
        let tc = thread.tcache;
        let p = self.with_arena(thread, bytes, |m, arena| m.int_malloc(arena, tc, bytes));
        self.purge_tick(thread);
        to_ptr(p)
    }

    /// `free`: releases a block (null is ignored). Large freed mmapped blocks raise the dynamic mmap
    /// threshold (up to 32 MiB) and set the trim threshold to twice it, unless the user set either.
    ///
    /// # Safety
    /// See the module's safety contract.
    #[inline]
    pub unsafe fn free(&self, thread: &mut ThreadState, mem: *mut u8) {
        if mem.is_null() {
            return;
        }
        // SAFETY: contract.
        let step = unsafe { self.free_to_tcache(thread, mem) };
        match step {
            FreeStep::Done => {}
            // SAFETY: contract; the tcache step sent the chunk to its arena.
            FreeStep::Arena => unsafe { self.free_to_arena(thread, mem) },
            // SAFETY: contract.
            FreeStep::General => unsafe { self.free_slow(thread, mem) },
        }
    }

    /// `free` of a non-null block when the tcache fast path did not take it: mmapped chunks, the cache's
    /// creation, full bins, and the arena.
    ///
    /// # Safety
    /// See the module's safety contract; `mem` is not null.
    #[inline(never)]
    pub(crate) unsafe fn free_slow(&self, thread: &mut ThreadState, mem: *mut u8) {
        // SAFETY: `mem` came from this allocator (contract).
        let p = unsafe { Chunk::from_mem(mem.expose_provenance()) };
        if p.is_mmapped() {
            if !self.mp.no_dyn_threshold.load(Relaxed)
                && p.size_nomask() > self.mp.mmap_threshold.load(Relaxed)
                && p.size_nomask() <= DEFAULT_MMAP_THRESHOLD_MAX
            {
                self.mp.mmap_threshold.store(p.size(), Relaxed);
                self.mp.trim_threshold.store(2 * p.size(), Relaxed);
            }
            self.munmap_chunk(p);
        } else {
            self.maybe_init_tcache(thread);
            let arena = self.arena_for_chunk(p);
            self.int_free(arena, p, thread.tcache, false);
            self.purge_tick(thread);
        }
    }

    /// `calloc`: zeroed memory for `count * size` bytes (ENOMEM on overflow). Memory that comes fresh from
    /// the top chunk's never-used part or from mmap is known to be zero and is not cleared again.
    ///
    /// # Safety
    /// See the module's safety contract.
    pub unsafe fn calloc(&self, thread: &mut ThreadState, count: usize, size: usize) -> *mut u8 {
        let bytes = match count.checked_mul(size) {
            Some(bytes) if bytes <= PTRDIFF_MAX => bytes,
            _ => {
                self.set_errno(ENOMEM);
                return ptr::null_mut();
            }
        };
        self.ensure_init();
        self.maybe_init_tcache(thread);
        let mut arena = self.arena_get(thread, bytes);
        let (oldtop, mut oldtopsize) = if arena != 0 {
            let av = self.arena_ref(arena).av();
            let oldtop = av.top();
            let mut oldtopsize = oldtop.size();
            if self.is_main(av) {
                let fresh =
                    (self.mp.sbrk_base.load(Relaxed) + av.max_system_mem()).wrapping_sub(oldtop.addr());
                if oldtopsize < fresh {
                    oldtopsize = fresh;
                }
            } else {
                let heap = HeapInfo::for_ptr(oldtop.addr());
                let fresh = heap.0 + heap.mprotect_size() - oldtop.addr();
                if oldtopsize < fresh {
                    oldtopsize = fresh;
                }
            }
            (oldtop, oldtopsize)
        } else {
            (Chunk::NULL, 0)
        };
        let tc = thread.tcache;
        let mut mem = self.int_malloc(arena, tc, bytes);
        if mem == 0 && arena != 0 && self.multi_threaded.load(Relaxed) {
            arena = self.arena_get_retry(thread, arena, bytes);
            mem = self.int_malloc(arena, tc, bytes);
        }
        self.arena_unlock(arena);
        if mem == 0 {
            return ptr::null_mut();
        }
        // SAFETY: just allocated.
        let p = unsafe { Chunk::from_mem(mem) };
        let perturb = self.mp.perturb_byte.load(Relaxed) != 0;
        if p.is_mmapped() {
            if perturb {
                // SAFETY: the block has at least `bytes` usable bytes.
                unsafe { fill_bytes(mem, 0, bytes) };
            }
            return to_ptr(mem);
        }
        let mut csz = p.size();
        if !perturb && p == oldtop && csz > oldtopsize {
            csz = oldtopsize;
            oldtopsize = 0;
        }
        let _ = oldtopsize;
        // SAFETY: the chunk's usable part is `chunksize - SIZE_SZ` bytes (its successor's prev_size included).
        unsafe { fill_bytes(mem, 0, csz - SIZE_SZ) };
        to_ptr(mem)
    }

    /// `realloc`: resizes in place when possible (mmapped blocks via mremap); `realloc(p, 0)` frees and
    /// returns null; `realloc(null, n)` is `malloc(n)`.
    ///
    /// # Safety
    /// See the module's safety contract.
    pub unsafe fn realloc(&self, thread: &mut ThreadState, old: *mut u8, bytes: usize) -> *mut u8 {
        self.ensure_init();
        if bytes == 0 && !old.is_null() {
            // SAFETY: contract.
            unsafe { self.free(thread, old) };
            return ptr::null_mut();
        }
        if old.is_null() {
            // SAFETY: contract.
            return unsafe { self.malloc(thread, bytes) };
        }
        let oldmem = old.expose_provenance();
        // SAFETY: `old` came from this allocator (contract).
        let oldp = unsafe { Chunk::from_mem(oldmem) };
        let oldsize = oldp.size();
        let arena = if oldp.is_mmapped() {
            0
        } else {
            self.maybe_init_tcache(thread);
            self.arena_for_chunk(oldp)
        };
        if oldp.addr() > oldsize.wrapping_neg() || oldp.mem() & MALLOC_ALIGN_MASK != 0 {
            self.printerr("realloc(): invalid pointer");
        }
        let Some(nb) = checked_request2size(bytes) else {
            self.set_errno(ENOMEM);
            return ptr::null_mut();
        };
        if oldp.is_mmapped() {
            if let Some(newp) = self.mremap_chunk(oldp, nb) {
                return to_ptr(newp.mem());
            }
            if oldsize - SIZE_SZ >= nb {
                return old;
            }
            // SAFETY: contract.
            let newmem = unsafe { self.malloc(thread, bytes) };
            if newmem.is_null() {
                return newmem;
            }
            // SAFETY: the old block has `oldsize - 16` usable bytes, the new one more; they are distinct.
            unsafe { copy_bytes(newmem.expose_provenance(), oldmem, oldsize - CHUNK_HDR_SZ) };
            self.munmap_chunk(oldp);
            return newmem;
        }
        let tc = thread.tcache;
        self.arena_ref(arena).mutex.lock();
        let newp = self.int_realloc(arena, oldp, oldsize, nb, tc);
        self.arena_unlock(arena);
        if newp == 0 && self.multi_threaded.load(Relaxed) {
            // SAFETY: contract.
            let newmem = unsafe { self.malloc(thread, bytes) };
            if !newmem.is_null() {
                // SAFETY: distinct live blocks; the old one has `oldsize - 8` usable bytes.
                unsafe { copy_bytes(newmem.expose_provenance(), oldmem, oldsize - SIZE_SZ) };
                self.int_free(arena, oldp, thread.tcache, false);
            }
            return newmem;
        }
        to_ptr(newp)
    }

    /// `reallocarray`: `realloc(old, count * size)` with ENOMEM on overflow.
    ///
    /// # Safety
    /// See the module's safety contract.
    pub unsafe fn reallocarray(
        &self,
        thread: &mut ThreadState,
        old: *mut u8,
        count: usize,
        size: usize,
    ) -> *mut u8 {
        match count.checked_mul(size) {
            // SAFETY: contract.
            Some(bytes) => unsafe { self.realloc(thread, old, bytes) },
            None => {
                self.set_errno(ENOMEM);
                ptr::null_mut()
            }
        }
    }

    /// `memalign`/`aligned_alloc` (`_mid_memalign`): alignments up to 16 are plain malloc, others are raised to
    /// at least 32 and to the next power of two; above `SIZE_MAX / 2 + 1` is EINVAL.
    ///
    /// # Safety
    /// See the module's safety contract.
    pub unsafe fn memalign(&self, thread: &mut ThreadState, alignment: usize, bytes: usize) -> *mut u8 {
        self.ensure_init();
        if alignment <= MALLOC_ALIGNMENT {
            // SAFETY: contract.
            return unsafe { self.malloc(thread, bytes) };
        }
        let mut alignment = alignment.max(MINSIZE);
        if alignment > usize::MAX / 2 + 1 {
            self.set_errno(EINVAL);
            return ptr::null_mut();
        }
        if !alignment.is_power_of_two() {
            let mut a = MALLOC_ALIGNMENT * 2;
            while a < alignment {
                a <<= 1;
            }
            alignment = a;
        }
        let tc = thread.tcache;
        let size = bytes.wrapping_add(alignment).wrapping_add(MINSIZE);
        to_ptr(self.with_arena(thread, size, |m, arena| m.int_memalign(arena, alignment, bytes, tc)))
    }

    /// `aligned_alloc` (glibc 2.36: the same as `memalign`).
    ///
    /// # Safety
    /// See the module's safety contract.
    pub unsafe fn aligned_alloc(&self, thread: &mut ThreadState, alignment: usize, bytes: usize) -> *mut u8 {
        // SAFETY: contract.
        unsafe { self.memalign(thread, alignment, bytes) }
    }

    /// `posix_memalign`: EINVAL unless `alignment` is a power-of-two multiple of 8; ENOMEM on failure.
    ///
    /// # Safety
    /// See the module's safety contract.
    pub unsafe fn posix_memalign(
        &self,
        thread: &mut ThreadState,
        out: &mut *mut u8,
        alignment: usize,
        size: usize,
    ) -> i32 {
        self.ensure_init();
        let word = core::mem::size_of::<usize>();
        if !alignment.is_multiple_of(word) || !(alignment / word).is_power_of_two() || alignment == 0 {
            return EINVAL;
        }
        // SAFETY: contract.
        let mem = unsafe { self.memalign(thread, alignment, size) };
        if mem.is_null() {
            return ENOMEM;
        }
        *out = mem;
        0
    }

    /// `valloc`: page-aligned memory.
    ///
    /// # Safety
    /// See the module's safety contract.
    pub unsafe fn valloc(&self, thread: &mut ThreadState, bytes: usize) -> *mut u8 {
        // SAFETY: contract.
        unsafe { self.memalign(thread, self.sys.page_size(), bytes) }
    }

    /// `pvalloc`: page-aligned memory, the size rounded up as glibc 2.36 does it
    /// (`(bytes + pagesize - 1) & -(pagesize - 1)`).
    ///
    /// # Safety
    /// See the module's safety contract.
    pub unsafe fn pvalloc(&self, thread: &mut ThreadState, bytes: usize) -> *mut u8 {
        let pagesize = self.sys.page_size();
        let Some(rounded) = bytes.checked_add(pagesize - 1) else {
            self.set_errno(ENOMEM);
            return ptr::null_mut();
        };
        let rounded = rounded & (pagesize - 1).wrapping_neg();
        // SAFETY: contract.
        unsafe { self.memalign(thread, pagesize, rounded) }
    }

    /// `malloc_usable_size`: bytes usable in the block (0 for null or a block that is not in use).
    ///
    /// # Safety
    /// `mem` is null or a live block of this allocator.
    pub unsafe fn usable_size(&self, mem: *mut u8) -> usize {
        if mem.is_null() {
            return 0;
        }
        // SAFETY: contract.
        let p = unsafe { Chunk::from_mem(mem.expose_provenance()) };
        if p.is_mmapped() {
            p.size() - CHUNK_HDR_SZ
        } else if p.inuse() {
            p.size() - SIZE_SZ
        } else {
            0
        }
    }
}
