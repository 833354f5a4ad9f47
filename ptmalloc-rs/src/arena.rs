//! One arena (`struct malloc_state`): fastbins, the top chunk, the regular bins with their binmap, and the
//! links that chain arenas together.
//!
//! The main arena lives inside [`crate::Malloc`]; every other arena sits at the start of its first mmap'd heap,
//! right after the `HeapInfo` (see `heap.rs`). The field order is glibc's, so that `top` and
//! `last_remainder` lie just before `bins` and the unsorted bin header, read as a chunk, has size 0 until the
//! first `sysmalloc` (glibc's `initial_top` trick).
//!
//! Lock order: `list_lock` → arena mutex → `free_list_lock` (the latter is taken last and alone).

use crate::chunk::Chunk;
use crate::constants::{BINMAPSIZE, NBINS, NFASTBINS, SIZE_SZ, idx2bit, idx2block};
use core::cell::UnsafeCell;
use core::ptr::addr_of_mut;
use core::sync::atomic::AtomicUsize;
use core::sync::atomic::Ordering::{Acquire, Release};

/// `NONCONTIGUOUS_BIT` of `flags`: MORECORE space is not contiguous (always for non-main arenas).
const NONCONTIGUOUS_BIT: u32 = 2;

/// The mutable state of an arena, guarded by the arena's mutex.
#[repr(C)]
pub(crate) struct ArenaState {
    flags: u32,
    have_fastchunks: u32,
    fastbins: [usize; NFASTBINS],
    top: usize,
    last_remainder: usize,
    bins: [usize; NBINS * 2 - 2],
    binmap: [u32; BINMAPSIZE],
    next: AtomicUsize,
    next_free: usize,
    attached_threads: usize,
    system_mem: usize,
    max_system_mem: usize,
}

/// An arena: a mutex and the state it guards.
#[repr(C)]
pub struct Arena<L> {
    pub(crate) mutex: L,
    state: UnsafeCell<ArenaState>,
}

impl<L: crate::system::RawLock> Arena<L> {
    /// An all-zero arena (glibc relies on zeroed `malloc_state`); `init_state` makes it usable.
    #[expect(clippy::declare_interior_mutable_const, reason = "an initializer, written into each new arena")]
    pub(crate) const ZEROED: Arena<L> = Arena {
        mutex: L::INIT,
        state: UnsafeCell::new(ArenaState {
            flags: 0,
            have_fastchunks: 0,
            fastbins: [0; NFASTBINS],
            top: 0,
            last_remainder: 0,
            bins: [0; NBINS * 2 - 2],
            binmap: [0; BINMAPSIZE],
            next: AtomicUsize::new(0),
            next_free: 0,
            attached_threads: 0,
            system_mem: 0,
            max_system_mem: 0,
        }),
    };
}

impl<L> Arena<L> {
    /// The state handle of this arena.
    pub(crate) fn av(&self) -> Av {
        Av(self.state.get())
    }
}

/// A handle on an arena's state.
///
/// Invariant: the pointer designates a live `ArenaState` (the main arena inside a `Malloc` that never moves,
/// or a non-main arena inside a mapped heap, which is never unmapped). Fields are read and written through
/// the raw pointer, never through references, because bin links point into `bins` from chunk memory. Callers
/// hold the arena mutex for everything except the statistics fields that glibc also reads racily.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Av(*mut ArenaState);

macro_rules! field {
    ($get:ident, $set:ident, $field:ident, $ty:ty) => {
        #[inline(always)]
        pub(crate) fn $get(self) -> $ty {
            // SAFETY: type invariant: the state is live; raw place access creates no reference.
            unsafe { (*self.0).$field }
        }
        #[inline(always)]
        pub(crate) fn $set(self, value: $ty) {
            // SAFETY: type invariant, as above; the caller holds the arena mutex.
            unsafe { (*self.0).$field = value }
        }
    };
}

impl Av {
    field!(flags, set_flags, flags, u32);
    field!(system_mem, set_system_mem, system_mem, usize);
    field!(max_system_mem, set_max_system_mem, max_system_mem, usize);
    field!(next_free, set_next_free, next_free, usize);
    field!(attached_threads, set_attached_threads, attached_threads, usize);

    /// Next arena on the ring of all arenas (read without locks, as glibc does, hence atomic).
    pub(crate) fn next(self) -> usize {
        // SAFETY: type invariant; a shared reference to an atomic is fine alongside raw accesses.
        unsafe { (*self.0).next.load(Acquire) }
    }
    pub(crate) fn set_next(self, arena: usize) {
        // SAFETY: type invariant; writers hold `list_lock`.
        unsafe { (*self.0).next.store(arena, Release) }
    }

    pub(crate) fn top(self) -> Chunk {
        // SAFETY: type invariant; `top` always holds a chunk of this arena (or the initial pseudo-chunk).
        unsafe { Chunk::at((*self.0).top) }
    }
    pub(crate) fn set_top(self, chunk: Chunk) {
        // SAFETY: type invariant.
        unsafe { (*self.0).top = chunk.addr() }
    }
    pub(crate) fn last_remainder(self) -> Chunk {
        // SAFETY: type invariant; only compared, never dereferenced unless it is in the unsorted bin.
        unsafe { Chunk::at((*self.0).last_remainder) }
    }
    pub(crate) fn set_last_remainder(self, chunk: Chunk) {
        // SAFETY: type invariant.
        unsafe { (*self.0).last_remainder = chunk.addr() }
    }

    pub(crate) fn have_fastchunks(self) -> bool {
        // SAFETY: type invariant.
        unsafe { (*self.0).have_fastchunks != 0 }
    }
    pub(crate) fn set_have_fastchunks(self, value: bool) {
        // SAFETY: type invariant.
        unsafe { (*self.0).have_fastchunks = value as u32 }
    }

    /// Head of fastbin `index` (a chunk or null; its `fd` links are safe-linked).
    pub(crate) fn fastbin(self, index: usize) -> Chunk {
        // SAFETY: type invariant; `index < NFASTBINS` is checked by the array access.
        unsafe { Chunk::at((*self.0).fastbins[index]) }
    }
    pub(crate) fn set_fastbin(self, index: usize, chunk: Chunk) {
        // SAFETY: type invariant.
        unsafe { (*self.0).fastbins[index] = chunk.addr() }
    }

    /// The header of regular bin `index` seen as a chunk whose `fd`/`bk` are the bin's two words (`bin_at`).
    pub(crate) fn bin_at(self, index: usize) -> Chunk {
        debug_assert!((1..NBINS).contains(&index));
        // SAFETY: type invariant; the pseudo-chunk's `fd`/`bk` are `bins[2i-2]`/`bins[2i-1]`, and its
        // `prev_size`/`size` words are the preceding fields of the same struct (`top`/`last_remainder` for
        // bin 1), so every word an accessor touches lies inside the state.
        unsafe {
            let fd = addr_of_mut!((*self.0).bins[(index - 1) * 2]).expose_provenance();
            Chunk::at(fd - 2 * SIZE_SZ)
        }
    }
    /// The unsorted bin (bin 1), which is also the initial top.
    pub(crate) fn unsorted(self) -> Chunk {
        self.bin_at(1)
    }

    pub(crate) fn binmap(self, block: usize) -> u32 {
        // SAFETY: type invariant.
        unsafe { (*self.0).binmap[block] }
    }
    pub(crate) fn set_binmap(self, block: usize, value: u32) {
        // SAFETY: type invariant.
        unsafe { (*self.0).binmap[block] = value }
    }
    pub(crate) fn mark_bin(self, index: usize) {
        self.set_binmap(idx2block(index), self.binmap(idx2block(index)) | idx2bit(index));
    }

    pub(crate) fn contiguous(self) -> bool {
        self.flags() & NONCONTIGUOUS_BIT == 0
    }
    pub(crate) fn set_noncontiguous(self) {
        self.set_flags(self.flags() | NONCONTIGUOUS_BIT);
    }

    /// `malloc_init_state`: empty circular bins, no fastchunks, top = the unsorted pseudo-chunk.
    pub(crate) fn init_state(self, is_main: bool) {
        for index in 1..NBINS {
            let bin = self.bin_at(index);
            bin.set_fd(bin);
            bin.set_bk(bin);
        }
        if !is_main {
            self.set_noncontiguous();
        }
        self.set_have_fastchunks(false);
        self.set_top(self.unsorted());
    }
}

const _: () = assert!(core::mem::size_of::<ArenaState>() == 2192);
