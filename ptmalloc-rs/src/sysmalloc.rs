//! Getting memory from the system and giving it back: `sysmalloc` (direct mmap, brk growth of the main
//! arena with its alignment corrections and fenceposts, heap growth of other arenas), `systrim`,
//! `munmap_chunk` and `mremap_chunk`.

use crate::allocator::Malloc;
use crate::arena::Av;
use crate::chunk::Chunk;
use crate::constants::*;
use crate::heap::{HEAP_INFO_SIZE, HeapInfo};
use crate::system::{ENOMEM, Protection, RawLock, SystemMemory};
use crate::tcache::Tc;
use core::sync::atomic::Ordering::Relaxed;

impl<S: SystemMemory, L: RawLock> Malloc<S, L> {
    /// `sysmalloc_mmap`: a chunk of its own mapping (`IS_MMAPPED`), returned as a user pointer (0: failed).
    fn sysmalloc_mmap(&self, nb: usize, pagesize: usize) -> usize {
        let size = align_up(nb.wrapping_add(SIZE_SZ), pagesize);
        if size <= nb {
            return 0;
        }
        let Some(mm) = self.sys.mmap(0, size, Protection::ReadWrite, false) else {
            return 0;
        };
        // SAFETY: a fresh read-write mapping of `size` bytes.
        let p = unsafe { Chunk::at(mm) };
        p.set_prev_size(0);
        p.set_head(size | IS_MMAPPED);
        let count = self.mp.n_mmaps.fetch_add(1, Relaxed) + 1;
        self.mp.max_n_mmaps.fetch_max(count, Relaxed);
        let sum = self.mp.mmapped_mem.fetch_add(size, Relaxed) + size;
        self.mp.max_mmapped_mem.fetch_max(sum, Relaxed);
        p.mem()
    }

    /// `sysmalloc`: `nb` does not fit in the top chunk of the arena at `arena` (0: no arena); extend or
    /// replace the top, or mmap the request directly. Returns a user pointer or 0 with errno = ENOMEM.
    pub(crate) fn sysmalloc(&self, nb: usize, arena: usize, tc: Tc) -> usize {
        let pagesize = self.sys.page_size();
        let mut tried_mmap = false;
        if arena == 0
            || (nb >= self.mp.mmap_threshold.load(Relaxed)
                && self.mp.n_mmaps.load(Relaxed) < self.mp.n_mmaps_max.load(Relaxed))
        {
            let mm = self.sysmalloc_mmap(nb, pagesize);
            if mm != 0 {
                return mm;
            }
            tried_mmap = true;
        }
        if arena == 0 {
            self.set_errno(ENOMEM);
            return 0;
        }
        let av = self.arena_ref(arena).av();
        if self.is_main(av) {
            self.grow_main_arena(av, nb, pagesize, tc);
        } else if let Some(mm) = self.grow_non_main_arena(arena, av, nb, tried_mmap, pagesize, tc) {
            return mm;
        }

        if av.system_mem() > av.max_system_mem() {
            av.set_max_system_mem(av.system_mem());
        }
        let p = av.top();
        let size = p.size();
        if size >= nb + MINSIZE {
            let remainder = p.plus(nb);
            av.set_top(remainder);
            p.set_head(nb | PREV_INUSE | self.arena_bit(av));
            remainder.set_head((size - nb) | PREV_INUSE);
            return p.mem();
        }
        self.set_errno(ENOMEM);
        0
    }

    /// Non-main arena: grow the current heap, else start a new heap (fenceposting and freeing the old top),
    /// else mmap the request directly (returned as `Some`).
    fn grow_non_main_arena(
        &self,
        arena: usize,
        av: Av,
        nb: usize,
        tried_mmap: bool,
        pagesize: usize,
        tc: Tc,
    ) -> Option<usize> {
        let old_top = av.top();
        let mut old_size = old_top.size();
        let old_heap = HeapInfo::for_ptr(old_top.addr());
        let old_heap_size = old_heap.size();
        let wanted = (MINSIZE + nb) as isize - old_size as isize;
        if wanted > 0 && self.grow_heap(old_heap, wanted as usize) {
            av.set_system_mem(av.system_mem() + old_heap.size() - old_heap_size);
            old_top.set_head((old_heap.0 + old_heap.size() - old_top.addr()) | PREV_INUSE);
        } else if let Some(heap) = self.new_heap(nb + MINSIZE + HEAP_INFO_SIZE, self.mp.top_pad.load(Relaxed))
        {
            heap.set_ar_ptr(arena);
            heap.set_prev(old_heap.0);
            av.set_system_mem(av.system_mem() + heap.size());
            let top = heap.first_chunk();
            av.set_top(top);
            top.set_head((heap.size() - HEAP_INFO_SIZE) | PREV_INUSE);
            old_size = (old_size - MINSIZE) & !MALLOC_ALIGN_MASK;
            old_top.plus(old_size + CHUNK_HDR_SZ).set_head(PREV_INUSE);
            if old_size >= MINSIZE {
                old_top.plus(old_size).set_head(CHUNK_HDR_SZ | PREV_INUSE);
                old_top.plus(old_size).set_foot(CHUNK_HDR_SZ);
                old_top.set_head(old_size | PREV_INUSE | NON_MAIN_ARENA);
                self.int_free(arena, old_top, tc, true);
            } else {
                old_top.set_head((old_size + CHUNK_HDR_SZ) | PREV_INUSE);
                old_top.set_foot(old_size + CHUNK_HDR_SZ);
            }
        } else if !tried_mmap {
            let mm = self.sysmalloc_mmap(nb, pagesize);
            if mm != 0 {
                return Some(mm);
            }
        }
        None
    }

    /// Main arena: extend the break by `nb + top_pad + MINSIZE` (page rounded, less the old top when
    /// contiguous); when brk fails, map at least 1 MiB instead and mark the arena non-contiguous. Handles a
    /// foreign sbrk or a non-contiguous region with alignment corrections and a double fencepost.
    fn grow_main_arena(&self, av: Av, nb: usize, pagesize: usize, tc: Tc) {
        let old_top = av.top();
        let mut old_size = old_top.size();
        let old_end = old_top.addr() + old_size;

        let mut size = (nb + self.mp.top_pad.load(Relaxed) + MINSIZE) as isize;
        if av.contiguous() {
            size -= old_size as isize;
        }
        size = align_up(size as usize, pagesize) as isize;

        let mut brk = None;
        let mut snd_brk = None;
        if size > 0 {
            brk = self.sys.morecore(size);
        }
        if brk.is_none() {
            let mut fallback = size as usize;
            if av.contiguous() {
                fallback = align_up(fallback.wrapping_add(old_size), pagesize);
            }
            if fallback < MMAP_AS_MORECORE_SIZE {
                fallback = MMAP_AS_MORECORE_SIZE;
            }
            if fallback > nb
                && let Some(mbrk) = self.sys.mmap(0, fallback, Protection::ReadWrite, false)
            {
                av.set_noncontiguous();
                size = fallback as isize;
                brk = Some(mbrk);
                snd_brk = Some(mbrk + fallback);
            }
        }
        let Some(brk) = brk else { return };
        let size = size as usize;

        if self.mp.sbrk_base.load(Relaxed) == 0 {
            self.mp.sbrk_base.store(brk, Relaxed);
        }
        av.set_system_mem(av.system_mem() + size);

        if brk == old_end && snd_brk.is_none() {
            old_top.set_head((size + old_size) | PREV_INUSE);
            return;
        }
        if av.contiguous() && old_size != 0 && brk < old_end {
            self.printerr("break adjusted to free malloc space");
        }

        let mut correction = 0usize;
        let mut aligned_brk = brk;
        if av.contiguous() {
            if old_size != 0 {
                av.set_system_mem(av.system_mem() + (brk - old_end));
            }
            let front_misalign = (brk + CHUNK_HDR_SZ) & MALLOC_ALIGN_MASK;
            if front_misalign > 0 {
                correction = MALLOC_ALIGNMENT - front_misalign;
                aligned_brk += correction;
            }
            correction += old_size;
            let end_misalign = brk + size + correction;
            correction += align_up(end_misalign, pagesize) - end_misalign;
            snd_brk = self.sys.morecore(correction as isize);
            if snd_brk.is_none() {
                correction = 0;
                snd_brk = self.sys.morecore(0);
            }
        } else if snd_brk.is_none() {
            snd_brk = self.sys.morecore(0);
        }

        if let Some(snd_brk) = snd_brk {
            // SAFETY: `aligned_brk` starts the memory we just obtained.
            let top = unsafe { Chunk::at(aligned_brk) };
            av.set_top(top);
            top.set_head((snd_brk - aligned_brk + correction) | PREV_INUSE);
            av.set_system_mem(av.system_mem() + correction);
            if old_size != 0 {
                old_size = (old_size - 2 * CHUNK_HDR_SZ) & !MALLOC_ALIGN_MASK;
                old_top.set_head(old_size | PREV_INUSE);
                old_top.plus(old_size).set_head(CHUNK_HDR_SZ | PREV_INUSE);
                old_top.plus(old_size + CHUNK_HDR_SZ).set_head(CHUNK_HDR_SZ | PREV_INUSE);
                if old_size >= MINSIZE {
                    self.int_free(self.main_arena_addr(), old_top, tc, true);
                }
            }
        }
    }

    /// `systrim`: shrinks the break when the top chunk has more than `pad` spare bytes (whole pages only,
    /// and only if nobody else moved the break). Returns whether memory was released.
    pub(crate) fn systrim(&self, pad: usize, av: Av) -> bool {
        let pagesize = self.sys.page_size();
        let top = av.top();
        let top_size = top.size();
        let top_area = top_size as isize - MINSIZE as isize - 1;
        if top_area <= 0 || top_area as usize <= pad {
            return false;
        }
        let extra = align_down(top_area as usize - pad, pagesize);
        if extra == 0 {
            return false;
        }
        let Some(current_brk) = self.sys.morecore(0) else { return false };
        if current_brk != top.addr() + top_size {
            return false;
        }
        let _ = self.sys.morecore(-(extra as isize));
        if let Some(new_brk) = self.sys.morecore(0) {
            let released = current_brk.wrapping_sub(new_brk);
            if released != 0 {
                av.set_system_mem(av.system_mem() - released);
                top.set_head((top_size - released) | PREV_INUSE);
                return true;
            }
        }
        false
    }

    /// Checks that `p` looks like a chunk at the start of its own mapping; returns (block, total length).
    fn mmapped_extent(&self, p: Chunk, message: &str) -> (usize, usize) {
        let pagesize = self.sys.page_size();
        let offset = p.prev_size();
        let block = p.addr().wrapping_sub(offset);
        let total = offset.wrapping_add(p.size());
        let in_page = p.mem() & (pagesize - 1);
        if (block | total) & (pagesize - 1) != 0 || in_page & in_page.wrapping_sub(1) != 0 {
            self.printerr(message);
        }
        (block, total)
    }

    /// `munmap_chunk`: unmaps an mmapped chunk.
    pub(crate) fn munmap_chunk(&self, p: Chunk) {
        let (block, total) = self.mmapped_extent(p, "munmap_chunk(): invalid pointer");
        self.mp.n_mmaps.fetch_sub(1, Relaxed);
        self.mp.mmapped_mem.fetch_sub(total, Relaxed);
        // SAFETY: the chunk's own mapping (checked above); the user gave it up.
        unsafe { self.sys.munmap(block, total) };
    }

    /// `mremap_chunk`: resizes an mmapped chunk to hold `new_size` chunk bytes; None when mremap fails.
    pub(crate) fn mremap_chunk(&self, p: Chunk, new_size: usize) -> Option<Chunk> {
        let pagesize = self.sys.page_size();
        let (block, total) = self.mmapped_extent(p, "mremap_chunk(): invalid pointer");
        let offset = p.prev_size();
        let size = p.size();
        let new_total = align_up(new_size + offset + SIZE_SZ, pagesize);
        if total == new_total {
            return Some(p);
        }
        // SAFETY: the chunk's own mapping, as checked; the caller uses only the returned chunk afterwards.
        let cp = unsafe { self.sys.mremap(block, total, new_total) }?;
        // SAFETY: the moved mapping keeps the offset and header.
        let p = unsafe { Chunk::at(cp + offset) };
        p.set_head((new_total - offset) | IS_MMAPPED);
        let delta = new_total.wrapping_sub(size).wrapping_sub(offset);
        let sum = self.mp.mmapped_mem.fetch_add(delta, Relaxed).wrapping_add(delta);
        self.mp.max_mmapped_mem.fetch_max(sum, Relaxed);
        Some(p)
    }
}
