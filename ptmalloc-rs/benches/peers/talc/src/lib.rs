//! talc as an LD_PRELOAD malloc: a benchmark peer of ptmalloc-rs.
//!
//! talc frees with the allocation's layout, so each block carries a 16-byte header (its size and alignment)
//! in front of the user pointer; the header area is `max(16, align)` bytes so that the user pointer keeps
//! the alignment. Memory comes from mmap in regions of at least 64 MiB (talc's out-of-memory handler) and is
//! never returned to the system (talc has no such facility).

#[path = "../../c_abi.rs"]
#[macro_use]
mod c_abi;

use c_abi::PeerHeap;
use core::alloc::Layout;
use core::ptr::{NonNull, null_mut};
use std::sync::Mutex;
use talc::{OomHandler, Span, Talc};

/// Smallest region asked from the system at a time.
const REGION: usize = 64 << 20;

struct MmapOnOom;

impl OomHandler for MmapOnOom {
    fn handle_oom(talc: &mut Talc<Self>, layout: Layout) -> Result<(), ()> {
        let len = (layout.size() + layout.align() + 4096).next_multiple_of(4096).max(REGION);
        // SAFETY: an anonymous private mapping.
        let base = unsafe {
            libc::mmap(
                null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(());
        }
        // SAFETY: fresh memory owned by nobody else.
        unsafe { talc.claim(Span::from_base_size(base.cast(), len)) }.map(|_| ())
    }
}

struct Tc(Talc<MmapOnOom>);

const HEADER: usize = 16;

fn header_len(align: usize) -> usize {
    align.max(HEADER)
}

/// The layout talc knows a block by, from its header.
///
/// # Safety
/// `ptr` is a live user pointer of this heap.
unsafe fn block_of(ptr: *mut u8) -> (NonNull<u8>, Layout, usize) {
    // SAFETY: the header words precede every user pointer.
    let (size, align) = unsafe { (ptr.cast::<usize>().sub(2).read(), ptr.cast::<usize>().sub(1).read()) };
    let hdr = header_len(align);
    // SAFETY: the block starts `hdr` bytes before the user pointer; the layout was valid at allocation.
    unsafe {
        (NonNull::new_unchecked(ptr.sub(hdr)), Layout::from_size_align_unchecked(hdr + size, align), size)
    }
}

impl PeerHeap for Tc {
    unsafe fn allocate(&mut self, size: usize, align: usize) -> *mut u8 {
        let hdr = header_len(align);
        let Some(total) = size.checked_add(hdr) else { return null_mut() };
        let Ok(layout) = Layout::from_size_align(total.max(1), align) else { return null_mut() };
        // SAFETY: a valid non-zero layout.
        match unsafe { self.0.malloc(layout) } {
            Ok(base) => {
                // SAFETY: the block is `hdr + size` bytes; the header lies inside it.
                unsafe {
                    let user = base.as_ptr().add(hdr);
                    user.cast::<usize>().sub(2).write(size);
                    user.cast::<usize>().sub(1).write(align);
                    user
                }
            }
            Err(()) => null_mut(),
        }
    }

    unsafe fn release(&mut self, ptr: *mut u8) {
        // SAFETY: a live pointer of this heap.
        let (base, layout, _) = unsafe { block_of(ptr) };
        // SAFETY: the block and layout talc handed out.
        unsafe { self.0.free(base, layout) }
    }

    unsafe fn resize(&mut self, ptr: *mut u8, size: usize) -> *mut u8 {
        // SAFETY: a live pointer of this heap.
        let (base, layout, old_size) = unsafe { block_of(ptr) };
        let hdr = layout.size() - old_size;
        let Some(total) = size.checked_add(hdr) else { return null_mut() };
        let base = if total <= layout.size() {
            // SAFETY: shrinking a live block to a non-zero size.
            unsafe { self.0.shrink(base, layout, total) };
            base
        } else {
            // SAFETY: growing a live block.
            match unsafe { self.0.grow(base, layout, total) } {
                Ok(base) => base,
                Err(()) => return null_mut(),
            }
        };
        // SAFETY: the (possibly moved) block keeps its header in front of the user pointer.
        unsafe {
            let user = base.as_ptr().add(hdr);
            user.cast::<usize>().sub(2).write(size);
            user
        }
    }

    unsafe fn usable(&self, ptr: *mut u8) -> usize {
        // SAFETY: a live pointer of this heap.
        unsafe { block_of(ptr).2 }
    }
}

// SAFETY: the heap is only used under the mutex.
unsafe impl Send for Tc {}

static HEAP: Mutex<Tc> = Mutex::new(Tc(Talc::new(MmapOnOom)));

export_c_abi!(HEAP);
