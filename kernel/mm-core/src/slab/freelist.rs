//! Free pointers: how a free object names the next one, obfuscated (seed 000 §36), and how a new slab's
//! free list is laid out, in random order (seed 000 §37).
//!
//! A free pointer is stored as `next ^ cache.random ^ swab(address where it is stored)`, as Linux's
//! `CONFIG_SLAB_FREELIST_HARDENED`: an attacker who overwrites it without knowing the per-cache secret
//! cannot aim it, and a stray copy of it elsewhere decodes to garbage. Decoding is followed by a check
//! that the result is null or a slot of the same slab, so a corrupted pointer is reported and never
//! followed.

use super::SlabBackend;
use super::layout::{Layout, MAX_OBJECTS_PER_SLAB};

/// Linux's `swab`: the byte-swapped address.
pub fn swab(x: u64) -> u64 {
    x.swap_bytes()
}

/// The stored form of `next` (0 for the end of the list) kept at `at`.
pub fn encode(next: usize, at: usize, random: u64) -> u64 {
    next as u64 ^ random ^ swab(at as u64)
}

/// The pointer stored at `at`.
pub fn decode(stored: u64, at: usize, random: u64) -> usize {
    (stored ^ random ^ swab(at as u64)) as usize
}

/// Whether `ptr` is a valid free-list entry of the slab at `base` (null, or the start of one of its
/// slots).
#[inline]
pub fn valid_in_slab(ptr: usize, base: usize, layout: &Layout) -> bool {
    ptr == 0 || (ptr >= base && layout.slot_index(ptr - base).is_some())
}

/// Writes the chain of a new slab: its `objects` slots in order or in a random permutation; returns the
/// first object. The backend's `random` drives a Fisher–Yates shuffle of slot indices.
pub fn build(
    backend: &mut impl SlabBackend,
    base: usize,
    size: usize,
    objects: usize,
    free_pointer: usize,
    random: u64,
    randomize: bool,
) -> usize {
    let mut order = [0u16; MAX_OBJECTS_PER_SLAB];
    let order = &mut order[..objects];
    for (i, slot) in order.iter_mut().enumerate() {
        *slot = i as u16;
    }
    if randomize {
        for i in (1..objects).rev() {
            let j = (backend.random() % (i as u64 + 1)) as usize;
            order.swap(i, j);
        }
    }
    for (k, &slot) in order.iter().enumerate() {
        let object = base + usize::from(slot) * size;
        let next = order.get(k + 1).map_or(0, |&n| base + usize::from(n) * size);
        let at = object + free_pointer;
        backend.write_word(at, encode(next, at, random));
    }
    base + usize::from(order[0]) * size
}
