//! `_int_free` and `malloc_consolidate`: giving a chunk back to the tcache, a fastbin, or (coalesced with its
//! free neighbours) the unsorted bin or the top chunk, then trimming when a lot became free.

use crate::allocator::Malloc;
use crate::arena::Av;
use crate::chunk::{Chunk, protect_ptr};
use crate::constants::*;
use crate::heap::HeapInfo;
use crate::system::{RawLock, SystemMemory};
use crate::tcache::Tc;
use core::sync::atomic::Ordering::Relaxed;

impl<S: SystemMemory, L: RawLock> Malloc<S, L> {
    /// Frees chunk `p` of arena `arena_addr`. `have_lock`: the caller already holds the arena mutex
    /// (otherwise it is taken here after the lock-free tcache step).
    #[inline]
    pub(crate) fn int_free(&self, arena_addr: usize, p: Chunk, tc: Tc, have_lock: bool) {
        let size = p.size();
        self.check_freed_chunk(p, size);

        let tc_idx = csize2tidx(size);
        if !tc.is_null() && tc_idx < self.tcache_bins() {
            let entry = p.mem();
            let key = self.tcache_key.load(Relaxed);
            if Tc::key_of(entry) == key {
                self.tcache_double_free_scan(tc, tc_idx, entry);
            }
            if tc.count(tc_idx) < self.mp.tcache_count.load(Relaxed) {
                tc.put(p, tc_idx, key);
                return;
            }
        }

        let arena = self.arena_ref(arena_addr);
        if !have_lock {
            arena.mutex.lock();
        }
        self.int_free_locked(arena.av(), p, size);
        if !have_lock {
            // SAFETY: taken above.
            unsafe { arena.mutex.unlock() };
        }
    }

    /// The key matched: walk the bin to tell a double free from a coincidence.
    #[cold]
    #[inline(never)]
    #[cfg_attr(feature = "preload", unsafe(link_section = ".text.rare"))]
    pub(crate) fn tcache_double_free_scan(&self, tc: Tc, tc_idx: usize, entry: usize) {
        let limit = self.mp.tcache_count.load(Relaxed);
        let mut cursor = tc.head(tc_idx);
        let mut count = 0;
        while cursor != 0 {
            if count >= limit {
                self.printerr("free(): too many chunks detected in tcache");
            }
            if cursor & MALLOC_ALIGN_MASK != 0 {
                self.printerr("free(): unaligned chunk detected in tcache 2");
            }
            if cursor == entry {
                self.printerr("free(): double free detected in tcache 2");
            }
            cursor = Tc::next_of(cursor);
            count += 1;
        }
    }

    /// The part of `_int_free` after the tcache: fastbin, or coalesce and bin, with the arena locked.
    pub(crate) fn int_free_locked(&self, av: Av, p: Chunk, size: usize) {
        if size <= self.mp.max_fast.load(Relaxed) {
            let next = p.plus(size);
            if next.size_nomask() <= CHUNK_HDR_SZ || next.size() >= av.system_mem() {
                self.printerr("free(): invalid next size (fast)");
            }
            self.free_perturb(p.mem(), size - CHUNK_HDR_SZ);
            av.set_have_fastchunks(true);
            let idx = fastbin_index(size);
            let old = av.fastbin(idx);
            if old == p {
                self.printerr("double free or corruption (fasttop)");
            }
            p.set_fd_word(protect_ptr(p.fd_addr(), old.addr()));
            av.set_fastbin(idx, p);
            if !old.is_null() && fastbin_index(old.size()) != idx {
                self.printerr("invalid fastbin entry (free)");
            }
            return;
        }
        if p.is_mmapped() {
            self.munmap_chunk(p);
            return;
        }

        let mut p = p;
        let mut size = size;
        let nextchunk = p.plus(size);
        if p == av.top() {
            self.printerr("double free or corruption (top)");
        }
        if av.contiguous() && nextchunk.addr() >= av.top().addr() + av.top().size() {
            self.printerr("double free or corruption (out)");
        }
        if !nextchunk.prev_inuse() {
            self.printerr("double free or corruption (!prev)");
        }
        let nextsize = nextchunk.size();
        if nextchunk.size_nomask() <= CHUNK_HDR_SZ || nextsize >= av.system_mem() {
            self.printerr("free(): invalid next size (normal)");
        }
        self.free_perturb(p.mem(), size - CHUNK_HDR_SZ);

        if !p.prev_inuse() {
            let prevsize = p.prev_size();
            size += prevsize;
            p = p.minus(prevsize);
            if p.size() != prevsize {
                self.printerr("corrupted size vs. prev_size while consolidating");
            }
            self.unlink_chunk(av, p);
        }

        if nextchunk != av.top() {
            let nextinuse = nextchunk.inuse_bit_at_offset(nextsize);
            if !nextinuse {
                self.unlink_chunk(av, nextchunk);
                size += nextsize;
            } else {
                nextchunk.clear_inuse_bit_at_offset(0);
            }
            self.link_unsorted_front(av, p, size, "free(): corrupted unsorted chunks");
            p.set_head(size | PREV_INUSE);
            p.set_foot(size);
            self.purge_note_free(p, size);
        } else {
            size += nextsize;
            p.set_head(size | PREV_INUSE);
            av.set_top(p);
        }

        if size >= FASTBIN_CONSOLIDATION_THRESHOLD {
            if av.have_fastchunks() {
                self.malloc_consolidate(av);
            }
            if self.is_main(av) {
                if av.top().size() >= self.mp.trim_threshold.load(Relaxed) {
                    self.systrim(self.mp.top_pad.load(Relaxed), av);
                }
            } else {
                let heap = HeapInfo::for_ptr(av.top().addr());
                self.heap_trim(heap, self.mp.top_pad.load(Relaxed));
            }
        }
    }

    /// `malloc_consolidate`: empties every fastbin, coalescing each chunk with free neighbours into the
    /// unsorted bin or the top chunk.
    pub(crate) fn malloc_consolidate(&self, av: Av) {
        av.set_have_fastchunks(false);
        let unsorted = av.unsorted();
        for fb in 0..NFASTBINS {
            let mut p = av.fastbin(fb);
            av.set_fastbin(fb, Chunk::NULL);
            while !p.is_null() {
                if p.mem() & MALLOC_ALIGN_MASK != 0 {
                    self.printerr("malloc_consolidate(): unaligned fastbin chunk detected");
                }
                if fastbin_index(p.size()) != fb {
                    self.printerr("malloc_consolidate(): invalid chunk size");
                }
                // SAFETY: a safe-linked fastbin link written by `free`.
                let nextp = unsafe { Chunk::at(protect_ptr(p.fd_addr(), p.fd_word())) };
                let mut size = p.size();
                let nextchunk = p.plus(size);
                let nextsize = nextchunk.size();
                if !p.prev_inuse() {
                    let prevsize = p.prev_size();
                    size += prevsize;
                    p = p.minus(prevsize);
                    if p.size() != prevsize {
                        self.printerr("corrupted size vs. prev_size in fastbins");
                    }
                    self.unlink_chunk(av, p);
                }
                if nextchunk != av.top() {
                    let nextinuse = nextchunk.inuse_bit_at_offset(nextsize);
                    if !nextinuse {
                        size += nextsize;
                        self.unlink_chunk(av, nextchunk);
                    } else {
                        nextchunk.clear_inuse_bit_at_offset(0);
                    }
                    let first_unsorted = unsorted.fd();
                    unsorted.set_fd(p);
                    first_unsorted.set_bk(p);
                    if !in_smallbin_range(size) {
                        p.set_fd_nextsize(Chunk::NULL);
                        p.set_bk_nextsize(Chunk::NULL);
                    }
                    p.set_head(size | PREV_INUSE);
                    p.set_bk(unsorted);
                    p.set_fd(first_unsorted);
                    p.set_foot(size);
                    self.purge_note_free(p, size);
                } else {
                    size += nextsize;
                    p.set_head(size | PREV_INUSE);
                    av.set_top(p);
                }
                p = nextp;
            }
        }
    }
}
