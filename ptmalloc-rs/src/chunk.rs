//! Chunks and their boundary tags: the words malloc keeps in front of (and inside free) user memory.
//!
//! Layout of a chunk at address `p` (glibc's `struct malloc_chunk`, all fields `usize`):
//! ```text
//! p+0   prev_size    size of the previous chunk, valid only while that chunk is free
//! p+8   size         chunk size | NON_MAIN_ARENA | IS_MMAPPED | PREV_INUSE
//! p+16  fd           free chunks: next in bin     <- user memory starts here (chunk2mem)
//! p+24  bk           free chunks: previous in bin
//! p+32  fd_nextsize  free large chunks: next smaller size in the bin's skip list
//! p+40  bk_nextsize  free large chunks: next larger size
//! ```
//!
//! # Invariant (why the accessors are safe functions)
//! A [`Chunk`] is an address that the allocator *believes* is a chunk of memory it owns: it is made only from
//! memory the system handed to the allocator, from bin headers inside an arena, or from links stored in such
//! memory. Reading and writing its header words is then in bounds. A user who corrupts the heap (writes past an
//! allocation, frees a foreign pointer) breaks this belief exactly as with C malloc; the hardening checks in
//! `free.rs`/`malloc.rs` catch the common cases and abort with glibc's messages. This is the contract of the
//! whole C allocator API and the reason the public entry points are `unsafe fn`.

use crate::constants::{CHUNK_HDR_SZ, IS_MMAPPED, NON_MAIN_ARENA, PREV_INUSE, SIZE_BITS, SIZE_SZ};
use core::ptr;

/// Reads the word at `addr`.
///
/// # Safety
/// `addr` must be 8-byte aligned and inside memory the allocator owns.
#[inline(always)]
pub(crate) unsafe fn load(addr: usize) -> usize {
    // SAFETY: the caller guarantees `addr` is an aligned word of owned memory; provenance was exposed when the
    // memory was obtained from the system.
    unsafe { ptr::with_exposed_provenance::<usize>(addr).read() }
}

/// Writes the word at `addr`.
///
/// # Safety
/// `addr` must be 8-byte aligned and inside memory the allocator owns that nothing else borrows.
#[inline(always)]
pub(crate) unsafe fn store(addr: usize, value: usize) {
    // SAFETY: as for `load`, and the caller guarantees no live Rust reference covers the word.
    unsafe { ptr::with_exposed_provenance_mut::<usize>(addr).write(value) }
}

/// Copies `len` bytes between two non-overlapping ranges of owned memory.
///
/// # Safety
/// Both ranges must be owned by the allocator (or be the user's live allocations) and must not overlap.
pub(crate) unsafe fn copy_bytes(dst: usize, src: usize, len: usize) {
    // SAFETY: guaranteed by the caller.
    unsafe {
        ptr::copy_nonoverlapping(
            ptr::with_exposed_provenance::<u8>(src),
            ptr::with_exposed_provenance_mut::<u8>(dst),
            len,
        )
    }
}

/// Fills `len` bytes of owned memory with `byte`.
///
/// # Safety
/// The range must be owned by the allocator or be a live allocation being handed out.
pub(crate) unsafe fn fill_bytes(dst: usize, byte: u8, len: usize) {
    // SAFETY: guaranteed by the caller.
    unsafe { ptr::write_bytes(ptr::with_exposed_provenance_mut::<u8>(dst), byte, len) }
}

/// A chunk address (see the module invariant).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Chunk(usize);

impl Chunk {
    /// The null chunk (used for empty fastbins and unset links).
    pub(crate) const NULL: Chunk = Chunk(0);

    /// A chunk at `addr`.
    ///
    /// # Safety
    /// `addr` must satisfy the module invariant before any accessor is used.
    #[inline(always)]
    pub(crate) const unsafe fn at(addr: usize) -> Chunk {
        Chunk(addr)
    }

    /// The chunk of a user pointer (`mem2chunk`).
    ///
    /// # Safety
    /// `mem` must be a pointer malloc returned (or the module invariant must otherwise hold).
    #[inline(always)]
    pub(crate) const unsafe fn from_mem(mem: usize) -> Chunk {
        Chunk(mem.wrapping_sub(CHUNK_HDR_SZ))
    }

    #[inline(always)]
    pub(crate) const fn addr(self) -> usize {
        self.0
    }

    #[inline(always)]
    pub(crate) const fn is_null(self) -> bool {
        self.0 == 0
    }

    /// User memory of this chunk (`chunk2mem`).
    #[inline(always)]
    pub(crate) const fn mem(self) -> usize {
        self.0.wrapping_add(CHUNK_HDR_SZ)
    }

    #[inline(always)]
    fn word(self, offset: usize) -> usize {
        // SAFETY: module invariant: the header and link words of a chunk are owned memory.
        unsafe { load(self.0.wrapping_add(offset)) }
    }

    #[inline(always)]
    fn set_word(self, offset: usize, value: usize) {
        // SAFETY: module invariant, as in `word`.
        unsafe { store(self.0.wrapping_add(offset), value) }
    }

    #[inline(always)]
    pub(crate) fn prev_size(self) -> usize {
        self.word(0)
    }
    #[inline(always)]
    pub(crate) fn set_prev_size(self, size: usize) {
        self.set_word(0, size)
    }
    /// Size field with its flag bits (`chunksize_nomask`).
    #[inline(always)]
    pub(crate) fn size_nomask(self) -> usize {
        self.word(SIZE_SZ)
    }
    /// Size without flag bits (`chunksize`).
    #[inline(always)]
    pub(crate) fn size(self) -> usize {
        self.size_nomask() & !SIZE_BITS
    }
    /// Sets the whole size field (`set_head`).
    #[inline(always)]
    pub(crate) fn set_head(self, head: usize) {
        self.set_word(SIZE_SZ, head)
    }
    /// Sets the size keeping the flag bits (`set_head_size`).
    #[inline(always)]
    pub(crate) fn set_head_size(self, size: usize) {
        self.set_head((self.size_nomask() & SIZE_BITS) | size)
    }
    /// Writes `size` into the `prev_size` of the chunk `size` bytes further (`set_foot`).
    #[inline(always)]
    pub(crate) fn set_foot(self, size: usize) {
        self.plus(size).set_prev_size(size)
    }
    #[inline(always)]
    pub(crate) fn prev_inuse(self) -> bool {
        self.size_nomask() & PREV_INUSE != 0
    }
    #[inline(always)]
    pub(crate) fn is_mmapped(self) -> bool {
        self.size_nomask() & IS_MMAPPED != 0
    }
    #[inline(always)]
    pub(crate) fn is_main_arena(self) -> bool {
        self.size_nomask() & NON_MAIN_ARENA == 0
    }
    #[inline(always)]
    pub(crate) fn set_non_main_arena(self) {
        self.set_head(self.size_nomask() | NON_MAIN_ARENA)
    }
    /// Whether this chunk is in use (the next chunk's PREV_INUSE bit).
    #[inline(always)]
    pub(crate) fn inuse(self) -> bool {
        self.plus(self.size()).prev_inuse()
    }
    #[inline(always)]
    pub(crate) fn inuse_bit_at_offset(self, offset: usize) -> bool {
        self.plus(offset).prev_inuse()
    }
    #[inline(always)]
    pub(crate) fn set_inuse_bit_at_offset(self, offset: usize) {
        let next = self.plus(offset);
        next.set_head(next.size_nomask() | PREV_INUSE)
    }
    #[inline(always)]
    pub(crate) fn clear_inuse_bit_at_offset(self, offset: usize) {
        let next = self.plus(offset);
        next.set_head(next.size_nomask() & !PREV_INUSE)
    }

    /// The chunk `offset` bytes after this one (`chunk_at_offset`).
    #[inline(always)]
    pub(crate) const fn plus(self, offset: usize) -> Chunk {
        Chunk(self.0.wrapping_add(offset))
    }
    /// The chunk `offset` bytes before this one.
    #[inline(always)]
    pub(crate) const fn minus(self, offset: usize) -> Chunk {
        Chunk(self.0.wrapping_sub(offset))
    }
    /// The physically next chunk (`next_chunk`).
    #[inline(always)]
    pub(crate) fn next(self) -> Chunk {
        self.plus(self.size())
    }

    #[inline(always)]
    pub(crate) fn fd(self) -> Chunk {
        Chunk(self.word(2 * SIZE_SZ))
    }
    #[inline(always)]
    pub(crate) fn bk(self) -> Chunk {
        Chunk(self.word(3 * SIZE_SZ))
    }
    #[inline(always)]
    pub(crate) fn fd_nextsize(self) -> Chunk {
        Chunk(self.word(4 * SIZE_SZ))
    }
    #[inline(always)]
    pub(crate) fn bk_nextsize(self) -> Chunk {
        Chunk(self.word(5 * SIZE_SZ))
    }
    #[inline(always)]
    pub(crate) fn set_fd(self, chunk: Chunk) {
        self.set_word(2 * SIZE_SZ, chunk.0)
    }
    #[inline(always)]
    pub(crate) fn set_bk(self, chunk: Chunk) {
        self.set_word(3 * SIZE_SZ, chunk.0)
    }
    #[inline(always)]
    pub(crate) fn set_fd_nextsize(self, chunk: Chunk) {
        self.set_word(4 * SIZE_SZ, chunk.0)
    }
    #[inline(always)]
    pub(crate) fn set_bk_nextsize(self, chunk: Chunk) {
        self.set_word(5 * SIZE_SZ, chunk.0)
    }
    /// Raw `fd` word (safe-linked in fastbins).
    #[inline(always)]
    pub(crate) fn fd_word(self) -> usize {
        self.word(2 * SIZE_SZ)
    }
    #[inline(always)]
    pub(crate) fn set_fd_word(self, value: usize) {
        self.set_word(2 * SIZE_SZ, value)
    }
    /// Address of the `fd` word (the position safe-linking mixes in).
    #[inline(always)]
    pub(crate) const fn fd_addr(self) -> usize {
        self.0.wrapping_add(2 * SIZE_SZ)
    }
}

/// Safe-linking: hides `pointer` stored at address `position` (`PROTECT_PTR`).
#[inline(always)]
pub(crate) const fn protect_ptr(position: usize, pointer: usize) -> usize {
    (position >> 12) ^ pointer
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boundary_tags_round_trip() {
        let mut memory = [0usize; 16];
        let base = memory.as_mut_ptr().expose_provenance();
        // SAFETY: `memory` is a live, aligned buffer big enough for two 64-byte chunks' headers.
        let chunk = unsafe { Chunk::at(base) };
        chunk.set_head(64 | PREV_INUSE);
        chunk.set_foot(64);
        assert_eq!(chunk.size(), 64);
        assert!(chunk.prev_inuse());
        assert!(!chunk.is_mmapped());
        assert!(chunk.is_main_arena());
        assert_eq!(chunk.next().prev_size(), 64);
        chunk.next().set_head(32);
        assert!(!chunk.inuse());
        chunk.set_inuse_bit_at_offset(64);
        assert!(chunk.inuse());
        chunk.set_non_main_arena();
        assert!(!chunk.is_main_arena());
        assert_eq!(chunk.size(), 64);
        chunk.set_head_size(48);
        assert_eq!(chunk.size_nomask(), 48 | PREV_INUSE | NON_MAIN_ARENA);
        assert_eq!(memory[1], 48 | PREV_INUSE | NON_MAIN_ARENA);
    }

    #[test]
    fn safe_linking_is_an_involution() {
        let position = 0x5555_5555_9000usize;
        let pointer = 0x5555_5555_92a0usize;
        let hidden = protect_ptr(position, pointer);
        assert_ne!(hidden, pointer);
        assert_eq!(protect_ptr(position, hidden), pointer);
    }
}
