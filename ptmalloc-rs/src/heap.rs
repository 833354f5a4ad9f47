//! Heaps of non-main arenas (`heap_info`, arena.c): 64 MiB-aligned mappings, reserved `PROT_NONE` and made
//! read-write as they grow, so that `heap_for_ptr` is a mask of the chunk address.
//!
//! Layout of a heap: `HeapInfo` (48 bytes), then for the first heap of an arena the `Arena` itself, then
//! chunks up to `size`; the last heap's tail is the arena's top chunk. When an arena gets a new heap, the old
//! heap ends with fenceposts (a `CHUNK_HDR_SZ | PREV_INUSE` chunk and a `0 | PREV_INUSE` one).

use crate::allocator::Malloc;
use crate::chunk::{Chunk, load, store};
use crate::constants::*;
use crate::system::{Protection, RawLock, SystemMemory};
use core::sync::atomic::Ordering::Relaxed;

/// Size of the heap header (`sizeof (heap_info)`), padded so that header + 16 is 16-aligned.
pub(crate) const HEAP_INFO_SIZE: usize = 6 * SIZE_SZ;
const _: () = assert!((HEAP_INFO_SIZE + 2 * SIZE_SZ).is_multiple_of(MALLOC_ALIGNMENT));

const AR_PTR: usize = 0;
const PREV: usize = 8;
const SIZE: usize = 16;
const MPROTECT_SIZE: usize = 24;
const PAGESIZE: usize = 32;

/// A handle on a heap header (`heap_info *`).
///
/// Invariant: the address is the start of a live heap mapping made by `new_heap` (its first page is always
/// read-write), or it is only compared and never read.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct HeapInfo(pub(crate) usize);

impl HeapInfo {
    /// `heap_for_ptr`: the heap holding `addr` (a chunk of a non-main arena).
    pub(crate) fn for_ptr(addr: usize) -> HeapInfo {
        HeapInfo(addr & !(HEAP_MAX_SIZE - 1))
    }

    fn get(self, offset: usize) -> usize {
        // SAFETY: type invariant: the header page of a live heap is mapped read-write.
        unsafe { load(self.0 + offset) }
    }

    fn set(self, offset: usize, value: usize) {
        // SAFETY: type invariant.
        unsafe { store(self.0 + offset, value) }
    }

    /// Address of the owning `Arena<L>`.
    pub(crate) fn ar_ptr(self) -> usize {
        self.get(AR_PTR)
    }
    pub(crate) fn set_ar_ptr(self, arena: usize) {
        self.set(AR_PTR, arena)
    }
    /// The arena's previous heap (0 for its first).
    pub(crate) fn prev(self) -> usize {
        self.get(PREV)
    }
    pub(crate) fn set_prev(self, heap: usize) {
        self.set(PREV, heap)
    }
    /// Bytes in use from the start of the heap.
    pub(crate) fn size(self) -> usize {
        self.get(SIZE)
    }
    fn set_size(self, size: usize) {
        self.set(SIZE, size)
    }
    /// Bytes made read-write so far.
    pub(crate) fn mprotect_size(self) -> usize {
        self.get(MPROTECT_SIZE)
    }
    fn set_mprotect_size(self, size: usize) {
        self.set(MPROTECT_SIZE, size)
    }
    pub(crate) fn pagesize(self) -> usize {
        self.get(PAGESIZE)
    }
    /// The first chunk position after the header.
    pub(crate) fn first_chunk(self) -> Chunk {
        // SAFETY: inside the heap's first page.
        unsafe { Chunk::at(self.0 + HEAP_INFO_SIZE) }
    }
}

impl<S: SystemMemory, L: RawLock> Malloc<S, L> {
    /// `alloc_new_heap`/`new_heap`: maps a 64 MiB-aligned heap and makes its first `size + top_pad` bytes
    /// (bounded to `[HEAP_MIN_SIZE, HEAP_MAX_SIZE]`, page aligned) read-write.
    pub(crate) fn new_heap(&self, size: usize, top_pad: usize) -> Option<HeapInfo> {
        let pagesize = self.sys.page_size();
        let max_size = HEAP_MAX_SIZE;
        let mut size = size;
        if size.wrapping_add(top_pad) < HEAP_MIN_SIZE {
            size = HEAP_MIN_SIZE;
        } else if size.wrapping_add(top_pad) <= max_size {
            size += top_pad;
        } else if size > max_size {
            return None;
        } else {
            size = max_size;
        }
        let size = align_up(size, pagesize);

        let mut start = None;
        let hint = self.aligned_heap_area.swap(0, Relaxed);
        if hint != 0
            && let Some(p2) = self.sys.mmap(hint, max_size, Protection::None, true)
        {
            if p2 & (max_size - 1) != 0 {
                // SAFETY: `p2` was just mapped with this length and is not used.
                unsafe { self.sys.munmap(p2, max_size) };
            } else {
                start = Some(p2);
            }
        }
        if start.is_none() {
            if let Some(p1) = self.sys.mmap(0, max_size << 1, Protection::None, true) {
                let p2 = align_up(p1, max_size);
                let lead = p2 - p1;
                if lead != 0 {
                    // SAFETY: the leading part of our own fresh mapping, unused.
                    unsafe { self.sys.munmap(p1, lead) };
                } else {
                    self.aligned_heap_area.store(p2 + max_size, Relaxed);
                }
                // SAFETY: the trailing part of our own fresh mapping, unused.
                unsafe { self.sys.munmap(p2 + max_size, max_size - lead) };
                start = Some(p2);
            } else {
                let p2 = self.sys.mmap(0, max_size, Protection::None, true)?;
                if p2 & (max_size - 1) != 0 {
                    // SAFETY: our own fresh mapping, unused.
                    unsafe { self.sys.munmap(p2, max_size) };
                    return None;
                }
                start = Some(p2);
            }
        }
        let p2 = start?;
        // SAFETY: `[p2, p2 + size)` lies in the reservation we just made.
        if !unsafe { self.sys.mprotect(p2, size, Protection::ReadWrite) } {
            // SAFETY: our own fresh mapping, unused.
            unsafe { self.sys.munmap(p2, max_size) };
            return None;
        }
        let heap = HeapInfo(p2);
        heap.set_size(size);
        heap.set_mprotect_size(size);
        heap.set(PAGESIZE, pagesize);
        Some(heap)
    }

    /// `grow_heap`: extends the heap by `diff` bytes (page rounded); false when it would exceed 64 MiB or
    /// mprotect fails.
    pub(crate) fn grow_heap(&self, heap: HeapInfo, diff: usize) -> bool {
        let diff = align_up(diff, heap.pagesize());
        let new_size = heap.size() + diff;
        if new_size > HEAP_MAX_SIZE {
            return false;
        }
        if new_size > heap.mprotect_size() {
            let start = heap.0 + heap.mprotect_size();
            // SAFETY: the range lies inside the heap's 64 MiB reservation.
            if !unsafe { self.sys.mprotect(start, new_size - heap.mprotect_size(), Protection::ReadWrite) } {
                return false;
            }
            heap.set_mprotect_size(new_size);
        }
        heap.set_size(new_size);
        true
    }

    /// `shrink_heap`: gives the last `diff` bytes back (MADV_DONTNEED; the pages stay read-write).
    fn shrink_heap(&self, heap: HeapInfo, diff: usize) -> bool {
        let new_size = heap.size() as isize - diff as isize;
        if new_size < HEAP_INFO_SIZE as isize {
            return false;
        }
        // SAFETY: the tail of the heap above the shrunken top holds no live data.
        unsafe { self.sys.madvise_dontneed(heap.0 + new_size as usize, diff) };
        heap.set_size(new_size as usize);
        true
    }

    /// `heap_trim`: unmaps whole heaps whose only content is the top chunk, then trims the top of the last
    /// heap above `trim_threshold`, keeping `pad` bytes. Called with the arena locked.
    pub(crate) fn heap_trim(&self, mut heap: HeapInfo, pad: usize) -> bool {
        let arena_addr = heap.ar_ptr();
        let av = self.arena_ref(arena_addr).av();
        let max_size = HEAP_MAX_SIZE;
        let mut top_chunk = av.top();
        while top_chunk == heap.first_chunk() {
            let prev_heap = HeapInfo(heap.prev());
            let prev_size = prev_heap.size() - (MINSIZE - 2 * SIZE_SZ);
            // SAFETY: inside the previous heap of the same arena, which is mapped.
            let fence = unsafe { Chunk::at(prev_heap.0 + prev_size) };
            let misalign = fence.addr() & MALLOC_ALIGN_MASK;
            let fence = fence.minus(misalign);
            debug_assert_eq!(fence.size_nomask(), PREV_INUSE);
            let p = fence.minus(fence.prev_size());
            let mut new_size = p.size() + (MINSIZE - 2 * SIZE_SZ) + misalign;
            if !p.prev_inuse() {
                new_size += p.prev_size();
            }
            if new_size + (max_size - prev_heap.size()) < pad + MINSIZE + heap.pagesize() {
                break;
            }
            av.set_system_mem(av.system_mem() - heap.size());
            if heap.0 + max_size == self.aligned_heap_area.load(Relaxed) {
                self.aligned_heap_area.store(0, Relaxed);
            }
            // SAFETY: the heap holds nothing but the top chunk, which we replace below.
            unsafe { self.sys.munmap(heap.0, max_size) };
            heap = prev_heap;
            let mut p = p;
            if !p.prev_inuse() {
                p = p.minus(p.prev_size());
                self.unlink_chunk(av, p);
            }
            av.set_top(p);
            top_chunk = p;
            top_chunk.set_head(new_size | PREV_INUSE);
        }

        let top_size = top_chunk.size();
        if top_size < self.mp.trim_threshold.load(Relaxed) {
            return false;
        }
        let top_area = top_size as isize - MINSIZE as isize - 1;
        if top_area < 0 || top_area as usize <= pad {
            return false;
        }
        let extra = align_down(top_area as usize - pad, heap.pagesize());
        if extra == 0 || !self.shrink_heap(heap, extra) {
            return false;
        }
        av.set_system_mem(av.system_mem() - extra);
        top_chunk.set_head((top_size - extra) | PREV_INUSE);
        true
    }
}
