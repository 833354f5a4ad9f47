//! A small allocator over one pre-faulted arena, for servers that must never call brk/mmap (memd: it would
//! wait for itself). Power-of-two size classes from 16 bytes to 1 MiB, one free list each, carved from
//! the arena with a bump pointer; blocks go back to their class's list on free (no coalescing: a server's
//! allocation sizes repeat, so the lists are reused). Single-threaded use only.

use core::alloc::{GlobalAlloc, Layout};
use core::cell::UnsafeCell;
use core::ptr;
use core::sync::atomic::{AtomicBool, Ordering};

/// A server's heap memory: `N` bytes of its own .bss (page-aligned), handed to an [`Arena`] once with
/// [`Arena::init_prefaulted`].
#[repr(C, align(4096))]
pub struct Reserve<const N: usize> {
    bytes: UnsafeCell<[u8; N]>,
    taken: AtomicBool,
}

// SAFETY: the bytes are reached only through `Arena::init_prefaulted`, which hands them out once.
unsafe impl<const N: usize> Sync for Reserve<N> {}

impl<const N: usize> Reserve<N> {
    pub const fn new() -> Self {
        Reserve { bytes: UnsafeCell::new([0; N]), taken: AtomicBool::new(false) }
    }
}

impl<const N: usize> Default for Reserve<N> {
    fn default() -> Self {
        Self::new()
    }
}

const MIN_SHIFT: usize = 4;
const MAX_SHIFT: usize = 20;
const CLASSES: usize = MAX_SHIFT - MIN_SHIFT + 1;

struct State {
    next: usize,
    end: usize,
    free: [usize; CLASSES],
}

/// The allocator; give it memory with [`Arena::init`] before the first allocation.
pub struct Arena(UnsafeCell<State>);

// SAFETY: used by single-threaded programs only (documented above); there is no concurrent access.
unsafe impl Sync for Arena {}

impl Arena {
    pub const fn new() -> Self {
        Arena(UnsafeCell::new(State { next: 0, end: 0, free: [0; CLASSES] }))
    }

    /// Hands `[base, base + len)` to the allocator.
    ///
    /// # Safety
    /// The memory must be mapped, writable, unused by anything else for the rest of the program, and
    /// `init` must be called once, before any allocation.
    pub unsafe fn init(&self, base: usize, len: usize) {
        // SAFETY: single-threaded, before any allocation (the caller's promise).
        let state = unsafe { &mut *self.0.get() };
        state.next = base;
        state.end = base + len;
    }

    /// Touches every page of `reserve` — so that a server never waits for a page fault of its own, and
    /// keeps working when memory is gone — and gives it to the allocator. Returns false (and does
    /// nothing) if the reserve was handed out before or the arena already has memory.
    pub fn init_prefaulted<const N: usize>(&self, reserve: &'static Reserve<N>) -> bool {
        // SAFETY: a read of plain fields; single-threaded.
        let empty = unsafe { (*self.0.get()).end == 0 };
        if !empty || reserve.taken.swap(true, Ordering::Relaxed) {
            return false;
        }
        let base = reserve.bytes.get() as usize;
        for page in (0..N).step_by(4096) {
            // SAFETY: in bounds of the reserve, which nothing else uses (it was not taken before).
            unsafe { ((base + page) as *mut u8).write_volatile(0) };
        }
        // SAFETY: the reserve is mapped (static), writable, used by nothing else from now on (taken), and
        // this arena had no memory yet, so no allocation happened.
        unsafe { self.init(base, N) };
        true
    }

    /// Bytes not yet carved from the arena (the reserve left).
    pub fn unused(&self) -> usize {
        // SAFETY: a read of plain fields; single-threaded.
        let state = unsafe { &*self.0.get() };
        state.end - state.next
    }
}

impl Default for Arena {
    fn default() -> Self {
        Self::new()
    }
}

fn class_of(layout: Layout) -> Option<usize> {
    let size = layout.size().max(layout.align()).max(1 << MIN_SHIFT).next_power_of_two();
    let shift = size.trailing_zeros() as usize;
    (shift <= MAX_SHIFT).then(|| shift - MIN_SHIFT)
}

// SAFETY: blocks of one class never overlap (carved once from the arena, or reused after free); a block of
// 2^k bytes carved at a 2^k-aligned address satisfies any alignment up to its size.
unsafe impl GlobalAlloc for Arena {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let Some(class) = class_of(layout) else { return ptr::null_mut() };
        // SAFETY: single-threaded; no other reference to the state is alive.
        let state = unsafe { &mut *self.0.get() };
        let head = state.free[class];
        if head != 0 {
            // SAFETY: a free block stores the next free block's address in its first word.
            state.free[class] = unsafe { *(head as *const usize) };
            return head as *mut u8;
        }
        let size = 1usize << (class + MIN_SHIFT);
        let start = state.next.next_multiple_of(size);
        if start + size > state.end {
            return ptr::null_mut();
        }
        state.next = start + size;
        start as *mut u8
    }

    unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
        let Some(class) = class_of(layout) else { return };
        // SAFETY: single-threaded; the block came from `alloc` with the same layout (GlobalAlloc's rule)
        // and is at least 16 bytes, room for the link.
        unsafe {
            let state = &mut *self.0.get();
            *(block as *mut usize) = state.free[class];
            state.free[class] = block as usize;
        }
    }
}
