//! The per-thread cache (`tcache_perthread_struct`): 64 singly linked, safe-linked bins of up to 7 chunks.
//!
//! The cache itself is an ordinary 640-byte allocation from the thread's arena (as in glibc, so heap figures
//! match). A cached chunk keeps its in-use bits; its user memory holds a `tcache_entry`: the safe-linked
//! `next` pointer and the process-wide `key` that marks it as cached (the double-free check in `free`).

use crate::chunk::{Chunk, load, protect_ptr, store};
use crate::constants::{MALLOC_ALIGN_MASK, TCACHE_MAX_BINS};
use core::ptr::addr_of_mut;

/// The in-memory layout of a thread cache.
#[repr(C)]
pub(crate) struct TcacheStruct {
    counts: [u16; TCACHE_MAX_BINS],
    entries: [usize; TCACHE_MAX_BINS],
}

/// Size of the cache allocation (640 bytes, a 0x290 chunk).
pub(crate) const TCACHE_STRUCT_SIZE: usize = core::mem::size_of::<TcacheStruct>();
const _: () = assert!(TCACHE_STRUCT_SIZE == 640);

/// A handle on a thread cache; null when the thread has none.
///
/// Invariant: non-null handles point to a live, zero-initialized-then-maintained `TcacheStruct` owned by one
/// thread (the one holding the `ThreadState` it came from).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Tc(pub(crate) usize);

/// Outcome of popping an entry: the entry or the corruption that was detected.
pub(crate) enum TcacheGet {
    Entry(usize),
    Unaligned,
}

impl Tc {
    pub(crate) const NULL: Tc = Tc(0);

    pub(crate) fn is_null(self) -> bool {
        self.0 == 0
    }

    fn raw(self) -> *mut TcacheStruct {
        core::ptr::with_exposed_provenance_mut(self.0)
    }

    /// Number of chunks in bin `index`.
    pub(crate) fn count(self, index: usize) -> usize {
        // SAFETY: type invariant (non-null, live); the index is bounds-checked.
        unsafe { (*self.raw()).counts[index] as usize }
    }

    fn set_count(self, index: usize, count: usize) {
        // SAFETY: type invariant.
        unsafe { (*self.raw()).counts[index] = count as u16 }
    }

    /// First entry (user pointer) of bin `index`, 0 when empty.
    pub(crate) fn head(self, index: usize) -> usize {
        // SAFETY: type invariant.
        unsafe { (*self.raw()).entries[index] }
    }

    fn set_head(self, index: usize, entry: usize) {
        // SAFETY: type invariant.
        unsafe { (*self.raw()).entries[index] = entry }
    }

    /// Zeroes the whole cache (right after its allocation).
    pub(crate) fn clear(self) {
        // SAFETY: type invariant; the struct is plain data.
        unsafe { addr_of_mut!(*self.raw()).write_bytes(0, 1) }
    }

    /// `tcache_put`: pushes `chunk` on bin `index`, marking it with `key`.
    pub(crate) fn put(self, chunk: Chunk, index: usize, key: usize) {
        let entry = chunk.mem();
        // SAFETY: `chunk` is an in-use chunk of at least MINSIZE bytes, so its first two user words exist.
        unsafe {
            store(entry + 8, key);
            store(entry, protect_ptr(entry, self.head(index)));
        }
        self.set_head(index, entry);
        self.set_count(index, self.count(index) + 1);
    }

    /// `tcache_get`: pops the first entry of the non-empty bin `index` and clears its key.
    pub(crate) fn get(self, index: usize) -> TcacheGet {
        let entry = self.head(index);
        if entry & MALLOC_ALIGN_MASK != 0 {
            return TcacheGet::Unaligned;
        }
        // SAFETY: `entry` is the user memory of a cached chunk (module invariant), aligned as just checked.
        unsafe {
            self.set_head(index, protect_ptr(entry, load(entry)));
            store(entry + 8, 0);
        }
        self.set_count(index, self.count(index) - 1);
        TcacheGet::Entry(entry)
    }

    /// The entry after `entry` in its bin (revealing the safe-linked pointer).
    pub(crate) fn next_of(entry: usize) -> usize {
        // SAFETY: `entry` is a cached entry (aligned, checked by callers before following it).
        protect_ptr(entry, unsafe { load(entry) })
    }

    /// The key word of a would-be entry (user memory of a chunk being freed).
    pub(crate) fn key_of(entry: usize) -> usize {
        // SAFETY: `entry` is the user memory of a chunk of at least MINSIZE bytes.
        unsafe { load(entry + 8) }
    }
}
