//! `_int_malloc`: serving a request from one arena, in glibc's order.
//!
//! 1. fastbin of the exact size (stashing the rest of the bin into the tcache);
//! 2. small bin of the exact size (same stashing); for a large request, consolidate fastbins first;
//! 3. the unsorted bin: the last-remainder shortcut for small requests, exact fits (to the tcache first),
//!    everything else sorted into small/large bins (at most `MAX_ITERS` chunks);
//! 4. large request: best fit in its own large bin via the skip list;
//! 5. the next non-empty bin found through the binmap (split, remainder to unsorted);
//! 6. the top chunk; else consolidate and retry once; else `sysmalloc`.

use crate::allocator::Malloc;
use crate::arena::Av;
use crate::chunk::{Chunk, protect_ptr};
use crate::constants::*;
use crate::system::{ENOMEM, RawLock, SystemMemory};
use crate::tcache::{Tc, TcacheGet};
use core::sync::atomic::Ordering::Relaxed;

impl<S: SystemMemory, L: RawLock> Malloc<S, L> {
    /// `tcache_get` with glibc's alignment check.
    pub(crate) fn tcache_get(&self, tc: Tc, index: usize) -> usize {
        match tc.get(index) {
            TcacheGet::Entry(entry) => entry,
            TcacheGet::Unaligned => self.printerr("malloc(): unaligned tcache chunk detected"),
        }
    }

    /// Whether `tc` caches chunk size class `tc_idx`.
    fn tcache_usable(&self, tc: Tc, tc_idx: usize) -> bool {
        !tc.is_null() && tc_idx < self.tcache_bins()
    }

    fn misaligned(chunk: Chunk) -> bool {
        chunk.mem() & MALLOC_ALIGN_MASK != 0
    }

    /// Serves `bytes` from the arena at address `arena` (0: no usable arena, go straight to mmap). Returns
    /// the user pointer or 0 with errno set. The caller holds the arena's mutex.
    pub(crate) fn int_malloc(&self, arena: usize, tc: Tc, bytes: usize) -> usize {
        let Some(nb) = checked_request2size(bytes) else {
            self.set_errno(ENOMEM);
            return 0;
        };
        if arena == 0 {
            let p = self.sysmalloc(nb, 0, tc);
            if p != 0 {
                self.alloc_perturb(p, bytes);
            }
            return p;
        }
        let av = self.arena_ref(arena).av();
        let arena_bit = self.arena_bit(av);

        if nb <= self.mp.max_fast.load(Relaxed) {
            let idx = fastbin_index(nb);
            let victim = av.fastbin(idx);
            if !victim.is_null() {
                if Self::misaligned(victim) {
                    self.printerr("malloc(): unaligned fastbin chunk detected 2");
                }
                av.set_fastbin(idx, self.reveal_fastbin_next(victim));
                if fastbin_index(victim.size()) != idx {
                    self.printerr("malloc(): memory corruption (fast)");
                }
                let tc_idx = csize2tidx(nb);
                if self.tcache_usable(tc, tc_idx) {
                    let limit = self.mp.tcache_count.load(Relaxed);
                    while tc.count(tc_idx) < limit {
                        let tc_victim = av.fastbin(idx);
                        if tc_victim.is_null() {
                            break;
                        }
                        if Self::misaligned(tc_victim) {
                            self.printerr("malloc(): unaligned fastbin chunk detected 3");
                        }
                        av.set_fastbin(idx, self.reveal_fastbin_next(tc_victim));
                        tc.put(tc_victim, tc_idx, self.tcache_key.load(Relaxed));
                    }
                }
                let p = victim.mem();
                self.alloc_perturb(p, bytes);
                return p;
            }
        }

        let mut idx;
        if in_smallbin_range(nb) {
            idx = smallbin_index(nb);
            let bin = av.bin_at(idx);
            let victim = bin.bk();
            if victim != bin {
                let bck = victim.bk();
                if bck.fd() != victim {
                    self.printerr("malloc(): smallbin double linked list corrupted");
                }
                victim.set_inuse_bit_at_offset(nb);
                bin.set_bk(bck);
                bck.set_fd(bin);
                if arena_bit != 0 {
                    victim.set_non_main_arena();
                }
                let tc_idx = csize2tidx(nb);
                if self.tcache_usable(tc, tc_idx) {
                    let limit = self.mp.tcache_count.load(Relaxed);
                    while tc.count(tc_idx) < limit {
                        let tc_victim = bin.bk();
                        if tc_victim == bin {
                            break;
                        }
                        let bck = tc_victim.bk();
                        tc_victim.set_inuse_bit_at_offset(nb);
                        if arena_bit != 0 {
                            tc_victim.set_non_main_arena();
                        }
                        bin.set_bk(bck);
                        bck.set_fd(bin);
                        tc.put(tc_victim, tc_idx, self.tcache_key.load(Relaxed));
                    }
                }
                let p = victim.mem();
                self.alloc_perturb(p, bytes);
                return p;
            }
        } else {
            idx = largebin_index(nb);
            if av.have_fastchunks() {
                self.malloc_consolidate(av);
            }
        }

        let tc_idx = csize2tidx(nb);
        let tcache_nb = if self.tcache_usable(tc, tc_idx) { nb } else { 0 };
        let mut return_cached = false;
        let mut tcache_unsorted_count = 0usize;
        let unsorted = av.unsorted();

        loop {
            let mut iters = 0;
            loop {
                let victim = unsorted.bk();
                if victim == unsorted {
                    break;
                }
                let bck = victim.bk();
                let size = victim.size();
                let next = victim.plus(size);
                if size <= CHUNK_HDR_SZ || size > av.system_mem() {
                    self.printerr("malloc(): invalid size (unsorted)");
                }
                if next.size_nomask() < CHUNK_HDR_SZ || next.size_nomask() > av.system_mem() {
                    self.printerr("malloc(): invalid next size (unsorted)");
                }
                if next.prev_size() & !SIZE_BITS != size {
                    self.printerr("malloc(): mismatching next->prev_size (unsorted)");
                }
                if bck.fd() != victim || victim.fd() != unsorted {
                    self.printerr("malloc(): unsorted double linked list corrupted");
                }
                if next.prev_inuse() {
                    self.printerr("malloc(): invalid next->prev_inuse (unsorted)");
                }

                if in_smallbin_range(nb)
                    && bck == unsorted
                    && victim == av.last_remainder()
                    && size > nb + MINSIZE
                {
                    let remainder_size = size - nb;
                    let remainder = victim.plus(nb);
                    unsorted.set_bk(remainder);
                    unsorted.set_fd(remainder);
                    av.set_last_remainder(remainder);
                    remainder.set_bk(unsorted);
                    remainder.set_fd(unsorted);
                    if !in_smallbin_range(remainder_size) {
                        remainder.set_fd_nextsize(Chunk::NULL);
                        remainder.set_bk_nextsize(Chunk::NULL);
                    }
                    victim.set_head(nb | PREV_INUSE | arena_bit);
                    remainder.set_head(remainder_size | PREV_INUSE);
                    remainder.set_foot(remainder_size);
                    let p = victim.mem();
                    self.alloc_perturb(p, bytes);
                    return p;
                }

                if bck.fd() != victim {
                    self.printerr("malloc(): corrupted unsorted chunks 3");
                }
                unsorted.set_bk(bck);
                bck.set_fd(unsorted);

                if size == nb {
                    victim.set_inuse_bit_at_offset(size);
                    if arena_bit != 0 {
                        victim.set_non_main_arena();
                    }
                    if tcache_nb != 0 && tc.count(tc_idx) < self.mp.tcache_count.load(Relaxed) {
                        tc.put(victim, tc_idx, self.tcache_key.load(Relaxed));
                        return_cached = true;
                        continue;
                    }
                    let p = victim.mem();
                    self.alloc_perturb(p, bytes);
                    return p;
                }

                self.place_in_bin(av, victim, size);

                tcache_unsorted_count += 1;
                let limit = self.mp.tcache_unsorted_limit.load(Relaxed);
                if return_cached && limit > 0 && tcache_unsorted_count > limit {
                    return self.tcache_get(tc, tc_idx);
                }
                iters += 1;
                if iters >= MAX_ITERS {
                    break;
                }
            }

            if return_cached {
                return self.tcache_get(tc, tc_idx);
            }

            if !in_smallbin_range(nb) {
                let bin = av.bin_at(idx);
                let first = bin.fd();
                if first != bin && first.size_nomask() >= nb {
                    let mut victim = first.bk_nextsize();
                    let mut size = victim.size();
                    while size < nb {
                        victim = victim.bk_nextsize();
                        size = victim.size();
                    }
                    if victim != bin.bk() && victim.size_nomask() == victim.fd().size_nomask() {
                        victim = victim.fd();
                    }
                    self.take_and_split(av, victim, size, nb, false, "malloc(): corrupted unsorted chunks");
                    let p = victim.mem();
                    self.alloc_perturb(p, bytes);
                    return p;
                }
            }

            if let Some(p) = self.binmap_search(av, idx + 1, nb) {
                self.alloc_perturb(p, bytes);
                return p;
            }

            let victim = av.top();
            let size = victim.size();
            if size > av.system_mem() {
                self.printerr("malloc(): corrupted top size");
            }
            if size >= nb + MINSIZE {
                let remainder = victim.plus(nb);
                av.set_top(remainder);
                victim.set_head(nb | PREV_INUSE | arena_bit);
                remainder.set_head((size - nb) | PREV_INUSE);
                let p = victim.mem();
                self.alloc_perturb(p, bytes);
                return p;
            } else if av.have_fastchunks() {
                self.malloc_consolidate(av);
                idx = if in_smallbin_range(nb) { smallbin_index(nb) } else { largebin_index(nb) };
            } else {
                let p = self.sysmalloc(nb, arena, tc);
                if p != 0 {
                    self.alloc_perturb(p, bytes);
                }
                return p;
            }
        }
    }

    /// The next chunk of a fastbin list (revealing the safe-linked `fd`), checking its alignment.
    pub(crate) fn reveal_fastbin_next(&self, victim: Chunk) -> Chunk {
        let next = protect_ptr(victim.fd_addr(), victim.fd_word());
        if next != 0 && next & MALLOC_ALIGN_MASK != 0 {
            self.printerr("malloc(): unaligned fastbin chunk detected");
        }
        // SAFETY: a fastbin link written by `free` (alignment checked above).
        unsafe { Chunk::at(next) }
    }

    /// Sorts `victim` (taken off the unsorted bin) into its small or large bin, keeping large bins sorted
    /// by decreasing size with the first chunk of each size on the skip list.
    fn place_in_bin(&self, av: Av, victim: Chunk, size: usize) {
        let victim_index;
        let mut bck;
        let mut fwd;
        if in_smallbin_range(size) {
            victim_index = smallbin_index(size);
            bck = av.bin_at(victim_index);
            fwd = bck.fd();
        } else {
            victim_index = largebin_index(size);
            bck = av.bin_at(victim_index);
            fwd = bck.fd();
            if fwd != bck {
                let size = size | PREV_INUSE;
                if size < bck.bk().size_nomask() {
                    fwd = bck;
                    bck = bck.bk();
                    victim.set_fd_nextsize(fwd.fd());
                    victim.set_bk_nextsize(fwd.fd().bk_nextsize());
                    fwd.fd().set_bk_nextsize(victim);
                    victim.bk_nextsize().set_fd_nextsize(victim);
                } else {
                    while size < fwd.size_nomask() {
                        fwd = fwd.fd_nextsize();
                    }
                    if size == fwd.size_nomask() {
                        fwd = fwd.fd();
                    } else {
                        victim.set_fd_nextsize(fwd);
                        victim.set_bk_nextsize(fwd.bk_nextsize());
                        if fwd.bk_nextsize().fd_nextsize() != fwd {
                            self.printerr("malloc(): largebin double linked list corrupted (nextsize)");
                        }
                        fwd.set_bk_nextsize(victim);
                        victim.bk_nextsize().set_fd_nextsize(victim);
                    }
                    bck = fwd.bk();
                    if bck.fd() != fwd {
                        self.printerr("malloc(): largebin double linked list corrupted (bk)");
                    }
                }
            } else {
                victim.set_fd_nextsize(victim);
                victim.set_bk_nextsize(victim);
            }
        }
        av.mark_bin(victim_index);
        victim.set_bk(bck);
        victim.set_fd(fwd);
        fwd.set_bk(victim);
        bck.set_fd(victim);
    }

    /// Unlinks binned chunk `victim` of `size` bytes and hands out its first `nb` bytes: the whole chunk if the
    /// rest would be smaller than MINSIZE, else the rest goes to the unsorted bin (and becomes the last
    /// remainder when `advertise`).
    fn take_and_split(&self, av: Av, victim: Chunk, size: usize, nb: usize, advertise: bool, message: &str) {
        let arena_bit = self.arena_bit(av);
        let remainder_size = size - nb;
        self.unlink_chunk(av, victim);
        if remainder_size < MINSIZE {
            victim.set_inuse_bit_at_offset(size);
            if arena_bit != 0 {
                victim.set_non_main_arena();
            }
        } else {
            let remainder = victim.plus(nb);
            self.link_unsorted_front(av, remainder, remainder_size, message);
            if advertise {
                av.set_last_remainder(remainder);
            }
            victim.set_head(nb | PREV_INUSE | arena_bit);
            remainder.set_head(remainder_size | PREV_INUSE);
            remainder.set_foot(remainder_size);
        }
    }

    /// Best fit among the bins from `idx` up, found through the binmap; clears bits of bins found empty.
    fn binmap_search(&self, av: Av, idx: usize, nb: usize) -> Option<usize> {
        let mut block = idx2block(idx);
        if block >= BINMAPSIZE {
            return None;
        }
        let mut map = av.binmap(block);
        let mut bit = idx2bit(idx);
        let mut bin_index = idx;
        loop {
            if bit > map || bit == 0 {
                loop {
                    block += 1;
                    if block >= BINMAPSIZE {
                        return None;
                    }
                    map = av.binmap(block);
                    if map != 0 {
                        break;
                    }
                }
                bin_index = block << BINMAPSHIFT;
                bit = 1;
            }
            while bit & map == 0 {
                bin_index += 1;
                bit <<= 1;
            }
            let bin = av.bin_at(bin_index);
            let victim = bin.bk();
            if victim == bin {
                map &= !bit;
                av.set_binmap(block, map);
                bin_index += 1;
                bit <<= 1;
            } else {
                let size = victim.size();
                let advertise = in_smallbin_range(nb);
                self.take_and_split(av, victim, size, nb, advertise, "malloc(): corrupted unsorted chunks 2");
                return Some(victim.mem());
            }
        }
    }
}
