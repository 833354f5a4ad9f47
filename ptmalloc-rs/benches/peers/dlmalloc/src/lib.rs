//! dlmalloc (the Rust port, over mmap) as an LD_PRELOAD malloc: a benchmark peer of ptmalloc-rs.

#[path = "../../c_abi.rs"]
#[macro_use]
mod c_abi;

use c_abi::PeerHeap;
use std::sync::Mutex;

/// dlmalloc's `C_INUSE | P_INUSE` bits of a chunk head; both clear means an mmapped chunk.
const INUSE_BITS: usize = 3;

struct Dl(dlmalloc::Dlmalloc);

impl PeerHeap for Dl {
    unsafe fn allocate(&mut self, size: usize, align: usize) -> *mut u8 {
        // SAFETY: `align` is a power of two (checked by the C layer).
        unsafe { self.0.c_memalign(align, size) }
    }

    unsafe fn release(&mut self, ptr: *mut u8) {
        // SAFETY: a live pointer of this heap.
        unsafe { self.0.c_free(ptr) }
    }

    unsafe fn resize(&mut self, ptr: *mut u8, size: usize) -> *mut u8 {
        // SAFETY: a live pointer of this heap.
        unsafe { self.0.c_realloc(ptr, size) }
    }

    unsafe fn usable(&self, ptr: *mut u8) -> usize {
        // SAFETY: dlmalloc keeps the chunk head (size | flag bits) in the word before user memory.
        let head = unsafe { ptr.cast::<usize>().sub(1).read() };
        let overhead = if head & INUSE_BITS == 0 { 16 } else { 8 };
        (head & !7) - overhead
    }
}

// SAFETY: the heap is only used under the mutex.
unsafe impl Send for Dl {}

static HEAP: Mutex<Dl> = Mutex::new(Dl(dlmalloc::Dlmalloc::new()));

export_c_abi!(HEAP);
