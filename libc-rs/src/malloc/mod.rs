//! The process's allocator: one ptmalloc-rs [`Malloc`] over [`KernelSystem`] (brk and mmap syscalls, which
//! the kernel forwards to memd) with [`FutexLock`]s; each thread's cache and arena are the `malloc` field of
//! its TLS block. [`exports`] holds the C malloc family, [`global`] the optional Rust `#[global_allocator]`.

pub mod exports;
pub mod global;
mod system;

pub use system::KernelSystem;

use crate::mutex::FutexLock;
use crate::tls;
use core::alloc::Layout;
use ptmalloc_rs::{Malloc, ThreadState};

/// malloc's alignment on x86-64 (`MALLOC_ALIGNMENT`, 2 × size_t).
pub const MALLOC_ALIGNMENT: usize = 16;

/// The allocator of the process.
// SAFETY: a static never moves, as `Malloc::new` requires.
pub static MALLOC: Malloc<KernelSystem, FutexLock> = unsafe { Malloc::new(KernelSystem) };

/// Runs `f` with the calling thread's malloc state.
#[inline(always)]
fn with_thread<R>(f: impl FnOnce(&mut ThreadState) -> R) -> R {
    // SAFETY: the state is the calling thread's own (its TLS block) and this is the only borrow of it: the
    // allocator never calls back into code that could reach it (a signal-handler-like re-entry cannot happen:
    // the kernel has no signal handlers).
    f(unsafe { &mut (*tls::current()).malloc })
}

/// Gives a thread's cache back to the arenas and detaches it from its arena (called as the thread ends).
pub fn thread_exit(state: &mut ThreadState) {
    MALLOC.thread_exit(state);
}

/// Memory for `layout` (null on failure), from malloc or memalign.
pub fn allocate(layout: Layout) -> *mut u8 {
    // SAFETY: the calling thread's state (`with_thread`); a fresh allocation has no further contract.
    with_thread(|state| unsafe {
        if layout.align() <= MALLOC_ALIGNMENT {
            MALLOC.malloc(state, layout.size())
        } else {
            MALLOC.memalign(state, layout.align(), layout.size())
        }
    })
}

/// Frees memory from [`allocate`] (or any block of this allocator).
///
/// # Safety
/// `pointer` is null or a live block of [`MALLOC`], not used afterwards.
pub unsafe fn deallocate(pointer: *mut u8) {
    // SAFETY: the caller's contract; the calling thread's state.
    with_thread(|state| unsafe { MALLOC.free(state, pointer) })
}
