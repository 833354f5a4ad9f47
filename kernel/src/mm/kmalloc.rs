//! kmalloc: the kernel's general-purpose allocator over the slab size classes (seed 000 §38), and the
//! Rust `#[global_allocator]`.
//!
//! Requests up to 8 KiB come from the kmalloc cache of their class (the smallest whose size and
//! alignment fit); larger ones are buddy blocks. `kfree` needs only the pointer: the page descriptor says
//! whether it is a slab object (and of which cache) or a block (and of which order).

use core::alloc::{GlobalAlloc, Layout};
use core::ptr::{self, NonNull};

use mm_core::gfp::Gfp;
use mm_core::page::{PAGE_SHIFT, PageOwner, flags};
use mm_core::slab::SlabError;
use mm_core::slab::kmalloc::{KMALLOC_MAX_CACHE_SIZE, kmalloc_index_aligned};

use super::sparse::{pfn_to_page, pfn_valid};
use super::{PAGE_SIZE, early, page_alloc, slab};
use crate::pr_err;

fn order_for(bytes: usize) -> usize {
    bytes.div_ceil(PAGE_SIZE as usize).next_power_of_two().trailing_zeros() as usize
}

/// Allocates `size` bytes aligned to `align` (at least 8).
pub fn kmalloc_aligned(size: usize, align: usize, gfp: Gfp) -> Option<NonNull<u8>> {
    if size <= KMALLOC_MAX_CACHE_SIZE
        && align <= PAGE_SIZE as usize
        && let Some(cache) = kmalloc_index_aligned(size.max(1), align.max(8)).and_then(slab::kmalloc_cache)
    {
        return cache.alloc(gfp);
    }
    let order = order_for(size.max(align));
    let pages = page_alloc::alloc_pages(gfp, order)?;
    let (pfn, _) = pages.into_raw();
    NonNull::new(early::pfn_to_virt(pfn) as *mut u8)
}

/// Allocates `size` bytes (Linux's `kmalloc`).
pub fn kmalloc(size: usize, gfp: Gfp) -> Option<NonNull<u8>> {
    kmalloc_aligned(size, 8, gfp)
}

/// Allocates `size` zeroed bytes (Linux's `kzalloc`).
pub fn kzalloc(size: usize, gfp: Gfp) -> Option<NonNull<u8>> {
    kmalloc(size, gfp | Gfp::__GFP_ZERO)
}

/// What the memory at `ptr` is: a slab object, the head of a page block, or neither.
enum Owner {
    Slab,
    Pages { pfn: u64, order: usize },
    Invalid,
}

fn owner_of(ptr: NonNull<u8>) -> Owner {
    let addr = ptr.as_ptr() as u64;
    let Some(phys) = early::virt_to_phys_checked(addr) else { return Owner::Invalid };
    let pfn = phys >> PAGE_SHIFT;
    if !pfn_valid(pfn) {
        return Owner::Invalid;
    }
    let page = pfn_to_page(pfn);
    match page.owner() {
        PageOwner::Slab => Owner::Slab,
        PageOwner::KernelAlloc | PageOwner::User
            if phys.is_multiple_of(PAGE_SIZE)
                && page.refcount() > 0
                && (page.order == 0 || page.has(flags::PG_HEAD)) =>
        {
            Owner::Pages { pfn, order: usize::from(page.order) }
        }
        _ => Owner::Invalid,
    }
}

/// Frees memory from `kmalloc` (Linux's `kfree`); a null pointer is ignored, an invalid one reported.
/// Slab objects (the common case) need one descriptor lookup; everything else is sorted out after.
#[inline]
pub fn kfree(ptr: *mut u8) {
    let Some(ptr) = NonNull::new(ptr) else { return };
    match slab::free_slab_object(ptr.as_ptr() as usize) {
        Ok(()) => {}
        Err(SlabError::NotSlabObject { .. }) => kfree_pages(ptr),
        Err(error) => pr_err!("kfree({:p}): {error}", ptr.as_ptr()),
    }
}

/// `kfree` of something that is not a slab object: a page block, or an invalid pointer.
#[cold]
#[inline(never)]
fn kfree_pages(ptr: NonNull<u8>) {
    match owner_of(ptr) {
        Owner::Pages { pfn, order } => page_alloc::free_pages_raw(pfn, order),
        Owner::Slab | Owner::Invalid => {
            pr_err!(
                "kfree({:p}): {}",
                ptr.as_ptr(),
                SlabError::NotSlabObject { addr: ptr.as_ptr() as usize }
            );
        }
    }
}

/// Bytes usable at `ptr` (Linux's `ksize`): the object size of its class, or the whole block.
pub fn ksize(ptr: NonNull<u8>) -> usize {
    match owner_of(ptr) {
        Owner::Slab => slab::slab_object_size(ptr.as_ptr() as usize).unwrap_or(0),
        Owner::Pages { order, .. } => (PAGE_SIZE as usize) << order,
        Owner::Invalid => 0,
    }
}

/// Resizes (Linux's `krealloc`): in place when the class already fits, else a new allocation with the
/// old contents. A null `ptr` allocates; size 0 frees and returns `None`.
pub fn krealloc(ptr: *mut u8, new_size: usize, gfp: Gfp) -> Option<NonNull<u8>> {
    let Some(old) = NonNull::new(ptr) else { return kmalloc(new_size, gfp) };
    if new_size == 0 {
        kfree(ptr);
        return None;
    }
    let old_size = ksize(old);
    if new_size <= old_size {
        return Some(old);
    }
    let new = kmalloc(new_size, gfp)?;
    // SAFETY: `old` holds `old_size` bytes the caller owns; `new` was just allocated with more; they do
    // not overlap.
    unsafe { ptr::copy_nonoverlapping(old.as_ptr(), new.as_ptr(), old_size) };
    kfree(ptr);
    Some(new)
}

/// The kernel heap for Rust's `alloc` (Box, Vec, BTreeMap, …).
pub struct KernelAllocator;

// SAFETY: `alloc` returns memory of at least `layout.size()` bytes aligned to `layout.align()` or null;
// `dealloc` frees exactly what `alloc` returned (kfree finds size and kind from the page descriptor).
unsafe impl GlobalAlloc for KernelAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        kmalloc_aligned(layout.size(), layout.align(), Gfp::GFP_KERNEL)
            .map_or(ptr::null_mut(), NonNull::as_ptr)
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        kmalloc_aligned(layout.size(), layout.align(), Gfp::GFP_KERNEL | Gfp::__GFP_ZERO)
            .map_or(ptr::null_mut(), NonNull::as_ptr)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        kfree(ptr);
    }
}
