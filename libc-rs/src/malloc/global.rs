//! A Rust global allocator over the C malloc: [`LibcAllocator`]. With the `global-allocator` feature (on by
//! default) libc-rs installs it as the `#[global_allocator]` of target builds, so a Rust program that links
//! libc-rs can `extern crate alloc` and use `Box`, `Vec`, `String`; programs that bring their own allocator
//! turn the feature off (`default-features = false`).

use super::{MALLOC_ALIGNMENT, allocate, deallocate, exports};
use core::alloc::{GlobalAlloc, Layout};

/// `GlobalAlloc` over malloc/memalign/realloc/free.
#[derive(Debug)]
pub struct LibcAllocator;

// SAFETY: malloc and memalign return blocks of at least `size` bytes aligned to at least
// `max(align, MALLOC_ALIGNMENT)` or null; blocks stay valid until freed; free takes any block they returned.
unsafe impl GlobalAlloc for LibcAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        allocate(layout)
    }

    unsafe fn dealloc(&self, pointer: *mut u8, _layout: Layout) {
        // SAFETY: GlobalAlloc's contract: `pointer` came from this allocator and is not used afterwards.
        unsafe { deallocate(pointer) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if layout.align() <= MALLOC_ALIGNMENT {
            // SAFETY: calloc has no further contract.
            return unsafe { exports::calloc(1, layout.size()) }.cast();
        }
        let pointer = allocate(layout);
        if !pointer.is_null() {
            // SAFETY: a fresh block of at least `layout.size()` bytes.
            unsafe { pointer.write_bytes(0, layout.size()) };
        }
        pointer
    }

    unsafe fn realloc(&self, pointer: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if layout.align() <= MALLOC_ALIGNMENT {
            // SAFETY: GlobalAlloc's contract: `pointer` is a live block of this allocator.
            return unsafe { exports::realloc(pointer.cast(), new_size) }.cast();
        }
        // Over-aligned: realloc might lose the alignment; allocate, copy and free instead.
        // SAFETY: GlobalAlloc's contract: the new layout is valid (new_size rounded to align fits isize).
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        let new_pointer = allocate(new_layout);
        if !new_pointer.is_null() {
            // SAFETY: both blocks are live and distinct; the smaller size is in bounds of both.
            unsafe {
                core::ptr::copy_nonoverlapping(pointer, new_pointer, layout.size().min(new_size));
                deallocate(pointer);
            }
        }
        new_pointer
    }
}

#[cfg(feature = "global-allocator")]
#[global_allocator]
static GLOBAL_ALLOCATOR: LibcAllocator = LibcAllocator;
