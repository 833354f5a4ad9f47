//! `_int_realloc` and `_int_memalign`: resizing in place (shrink, grow into top or a free successor) or by
//! allocate-copy-free, and carving an aligned chunk out of an oversized one.

use crate::allocator::Malloc;
use crate::chunk::{Chunk, copy_bytes};
use crate::constants::*;
use crate::system::{ENOMEM, RawLock, SystemMemory};
use crate::tcache::Tc;

impl<S: SystemMemory, L: RawLock> Malloc<S, L> {
    /// Resizes non-mmapped chunk `oldp` (of `oldsize` bytes) of the locked arena `arena` to chunk size `nb`.
    /// Returns the user pointer or 0 (the old chunk is then untouched).
    pub(crate) fn int_realloc(&self, arena: usize, oldp: Chunk, oldsize: usize, nb: usize, tc: Tc) -> usize {
        let av = self.arena_ref(arena).av();
        let arena_bit = self.arena_bit(av);
        if oldp.size_nomask() <= CHUNK_HDR_SZ || oldsize >= av.system_mem() {
            self.printerr("realloc(): invalid old size");
        }
        let next = oldp.plus(oldsize);
        let nextsize = next.size();
        if next.size_nomask() <= CHUNK_HDR_SZ || nextsize >= av.system_mem() {
            self.printerr("realloc(): invalid next size");
        }

        let newp;
        let newsize;
        if oldsize >= nb {
            newp = oldp;
            newsize = oldsize;
        } else if next == av.top() && oldsize + nextsize >= nb + MINSIZE {
            oldp.set_head_size(nb | arena_bit);
            let top = oldp.plus(nb);
            av.set_top(top);
            top.set_head((oldsize + nextsize - nb) | PREV_INUSE);
            return oldp.mem();
        } else if next != av.top() && !next.inuse() && oldsize + nextsize >= nb {
            newp = oldp;
            newsize = oldsize + nextsize;
            self.unlink_chunk(av, next);
        } else {
            let newmem = self.int_malloc(arena, tc, nb - MALLOC_ALIGN_MASK);
            if newmem == 0 {
                return 0;
            }
            // SAFETY: a chunk int_malloc just handed out.
            let candidate = unsafe { Chunk::from_mem(newmem) };
            if candidate == next {
                newp = oldp;
                newsize = candidate.size() + oldsize;
            } else {
                let copy = oldsize - CHUNK_HDR_SZ + SIZE_SZ;
                // SAFETY: both are live chunks of this arena with at least `copy` usable bytes, distinct.
                unsafe { copy_bytes(newmem, oldp.mem(), copy) };
                self.int_free(arena, oldp, tc, true);
                return newmem;
            }
        }

        let remainder_size = newsize - nb;
        if remainder_size < MINSIZE {
            newp.set_head_size(newsize | arena_bit);
            newp.set_inuse_bit_at_offset(newsize);
        } else {
            let remainder = newp.plus(nb);
            newp.set_head_size(nb | arena_bit);
            remainder.set_head(remainder_size | PREV_INUSE | arena_bit);
            remainder.set_inuse_bit_at_offset(remainder_size);
            self.int_free(arena, remainder, tc, true);
        }
        newp.mem()
    }

    /// Allocates `bytes` aligned to the power of two `alignment` (> 16) from the locked arena `arena`: over
    /// allocate by `alignment + MINSIZE`, free the leading and trailing slack.
    pub(crate) fn int_memalign(&self, arena: usize, alignment: usize, bytes: usize, tc: Tc) -> usize {
        let nb = match checked_request2size(bytes) {
            Some(nb) if alignment <= PTRDIFF_MAX => nb,
            _ => {
                self.set_errno(ENOMEM);
                return 0;
            }
        };
        let m = self.int_malloc(arena, tc, nb + alignment + MINSIZE);
        if m == 0 {
            return 0;
        }
        let bit = if arena != 0 { self.arena_bit(self.arena_ref(arena).av()) } else { 0 };
        // SAFETY: a chunk int_malloc just handed out.
        let mut p = unsafe { Chunk::from_mem(m) };
        if !m.is_multiple_of(alignment) {
            // SAFETY: an aligned spot inside the chunk (the request was padded by `alignment + MINSIZE`).
            let mut brk = unsafe { Chunk::from_mem((m + alignment - 1) & alignment.wrapping_neg()) };
            if brk.addr() - p.addr() < MINSIZE {
                brk = brk.plus(alignment);
            }
            let newp = brk;
            let leadsize = newp.addr() - p.addr();
            let newsize = p.size() - leadsize;
            if p.is_mmapped() {
                newp.set_prev_size(p.prev_size() + leadsize);
                newp.set_head(newsize | IS_MMAPPED);
                return newp.mem();
            }
            newp.set_head(newsize | PREV_INUSE | bit);
            newp.set_inuse_bit_at_offset(newsize);
            p.set_head_size(leadsize | bit);
            self.int_free(arena, p, tc, true);
            p = newp;
        }
        if !p.is_mmapped() {
            let size = p.size();
            if size > nb + MINSIZE {
                let remainder = p.plus(nb);
                remainder.set_head((size - nb) | PREV_INUSE | bit);
                p.set_head_size(nb);
                self.int_free(arena, remainder, tc, true);
            }
        }
        p.mem()
    }
}
