//! Per-CPU object arrays in front of the SLUB free lists (SLAB's `struct array_cache`; SLUB's per-CPU
//! "sheaves" since Linux 6.18).
//!
//! Each CPU keeps, per cache, a small stack of free objects as plain pointers. Allocating pops it and
//! freeing pushes onto it: neither touches the object's memory or changes its slab (kfree only reads the
//! descriptor that names the cache), so the hot path is a load and a store to memory only this CPU uses.
//! The kernel lets only task context use a CPU's arrays (`sync::PerCpuTask`); a trap handler that
//! interrupted kernel code goes to the CPU slab instead. The array is kernel-private memory, never object
//! memory, so its entries need no obfuscation (as Linux's sheaves); the hardened free lists stay behind
//! it: an empty array is refilled with `batchcount` objects taken from the CPU slab's free list (each
//! free pointer decoded and checked then), and a full one gives its `batchcount` oldest objects back to
//! their slabs, one by one, with the usual checks.
//!
//! Invariants: `entry[..avail]` are distinct objects of this cache that are free to hand out; their slabs
//! count them as in use (the descriptors do not know about the array), so statistics add `avail` to the
//! free objects. `avail <= limit <= ARRAY_CACHE_MAX` and `batchcount <= limit`. A cache with
//! `limit == 0` (every `slub_debug` cache, so each object meets its checks on every allocation and free)
//! has no array.
//!
//! Freeing the object on top of the array again is reported as a double free, as freeing the head of a
//! free list is.

use super::{
    CacheInfo, CpuSlab, SlabBackend, SlabError, SlabFlags, SlabRef, alloc_fast, check_object, find_slab,
    free_to_cpu,
};
use crate::page::PageMap;

/// Most objects an array holds (a power of two).
pub const ARRAY_CACHE_MAX: usize = 64;
const _: () = assert!(ARRAY_CACHE_MAX.is_power_of_two());

/// One CPU's array of free objects of one cache.
#[derive(Clone, Copy, Debug)]
pub struct ArrayCache {
    /// Objects in `entry` (the top is `entry[avail - 1]`).
    pub avail: u32,
    /// Capacity in use (0: no array).
    pub limit: u32,
    /// Objects moved at once by a refill or a flush.
    pub batchcount: u32,
    pub entry: [usize; ARRAY_CACHE_MAX],
}

impl ArrayCache {
    /// No array: every operation goes to the free lists.
    pub const DISABLED: ArrayCache =
        ArrayCache { avail: 0, limit: 0, batchcount: 0, entry: [0; ARRAY_CACHE_MAX] };

    /// An empty array sized for `info` (SLAB's `enable_cpucache` table, scaled to 64 entries: more
    /// small objects than large ones); none for debug caches.
    pub fn for_cache(info: &CacheInfo) -> ArrayCache {
        if info.flags.0 & SlabFlags::DEBUG.0 != 0 {
            return ArrayCache::DISABLED;
        }
        let limit = match info.layout.size {
            0..=256 => 64,
            257..=1024 => 32,
            1025..=4096 => 16,
            _ => 8,
        };
        ArrayCache { limit, batchcount: limit / 2, ..ArrayCache::DISABLED }
    }

    /// Whether this cache has an array at all.
    #[inline]
    pub fn enabled(&self) -> bool {
        self.limit != 0
    }

    /// Takes the most recently freed object.
    #[inline]
    pub fn pop(&mut self) -> Option<usize> {
        let top = self.avail.checked_sub(1)?;
        self.avail = top;
        // `top < limit <= ARRAY_CACHE_MAX`: the mask changes nothing but spares a bounds check.
        Some(self.entry[top as usize & (ARRAY_CACHE_MAX - 1)])
    }

    /// Puts a free object on top; `Ok(false)` when the array is full (flush, then push again).
    #[inline]
    pub fn push(&mut self, object: usize) -> Result<bool, SlabError> {
        let avail = self.avail as usize;
        // Masks as in `pop`: `avail <= limit <= ARRAY_CACHE_MAX`, and the top is read only when
        // `avail != 0`.
        if avail != 0 && self.entry[(avail - 1) & (ARRAY_CACHE_MAX - 1)] == object {
            return Err(SlabError::DoubleFree { object });
        }
        if avail >= self.limit as usize {
            return Ok(false);
        }
        self.entry[avail & (ARRAY_CACHE_MAX - 1)] = object;
        self.avail += 1;
        Ok(true)
    }

    /// The objects it holds.
    pub fn objects(&self) -> &[usize] {
        &self.entry[..self.avail as usize]
    }
}

/// Allocates one object for a caller whose array is empty, and refills the array with up to
/// `batchcount` more (SLAB's `cache_alloc_refill`). The first object comes from the CPU slab's free list
/// or, when that is empty, through `slow` (the caller's [`super::alloc_slow`] under the node lock, which
/// installs another slab); the rest only from the CPU slab's free list, so one refill takes objects of
/// one slab, and they pop in the order that free list gave them. Only the first object's failure is an
/// error.
pub fn refill<B: SlabBackend>(
    array: &mut ArrayCache,
    info: &CacheInfo,
    cpu: &mut CpuSlab,
    backend: &mut B,
    slow: impl FnOnce(&mut CpuSlab, &mut B) -> Result<usize, SlabError>,
) -> Result<usize, SlabError> {
    let first = match alloc_fast(info, cpu, backend) {
        Some(object) => object,
        None => slow(cpu, backend)?,
    };
    let base = array.avail as usize;
    let want = (array.batchcount as usize).min((array.limit as usize).saturating_sub(base));
    let mut taken = 0;
    while taken < want {
        let Some(object) = alloc_fast(info, cpu, backend) else { break };
        array.entry[base + taken] = object;
        taken += 1;
    }
    array.entry[base..base + taken].reverse();
    array.avail += taken as u32;
    Ok(first)
}

/// Gives the `count` oldest objects of the array back to their slabs (SLAB's `cache_flusharray`): to the
/// CPU slab's free list when they belong to it, else through `remote` (the caller's
/// [`super::free_to_node`] under the node lock of the object's slab). A problem found on the way is
/// reported and that object dropped.
pub fn flush<B: SlabBackend, M: PageMap>(
    array: &mut ArrayCache,
    count: usize,
    info: &CacheInfo,
    cpu: &mut CpuSlab,
    backend: &mut B,
    map: &mut M,
    mut remote: impl FnMut(&mut B, &mut M, SlabRef, usize) -> Result<(), SlabError>,
) {
    let avail = array.avail as usize;
    let count = count.min(avail);
    for i in 0..count {
        let object = array.entry[i];
        let result = find_slab(backend, map, object).and_then(|(cache, slab)| {
            check_object(info, cache, slab, object)?;
            if free_to_cpu(info, cpu, backend, slab, object)? {
                return Ok(());
            }
            remote(backend, map, slab, object)
        });
        if let Err(error) = result {
            backend.report(info, error);
        }
    }
    array.entry.copy_within(count..avail, 0);
    array.avail = (avail - count) as u32;
}
