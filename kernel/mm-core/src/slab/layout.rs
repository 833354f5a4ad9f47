//! A cache's object layout and slab size (Linux's `calculate_sizes` and `calculate_order`).
//!
//! Slot layout, low to high: the object (`object_size` bytes, rounded up to a word); with red zoning, a
//! red zone of at least one word right after it; then, when the object cannot hold the free pointer
//! (poisoning, red zoning or a constructor keep the object's bytes meaningful while it is free), the
//! free pointer; the slot is rounded up to the cache's alignment. Without those features the free
//! pointer lives in the middle of the free object, where small overflows from the previous object are
//! less likely to reach it (as Linux since 5.7).
//!
//! The slab order is the smallest in 0..=3 that holds enough objects (4 × (log2 CPUs + 1)) with little
//! waste (≤ 1/16 of the slab, relaxed to 1/8 and 1/4, then fewer objects).

use core::fmt;

use crate::page::PAGE_SIZE;

/// Largest slab order (Linux's default `slub_max_order`).
pub const SLUB_MAX_ORDER: usize = 3;
/// Largest object a cache may hold: one object in a slab of the largest order.
pub const MAX_OBJECT_SIZE: usize = (PAGE_SIZE as usize) << SLUB_MAX_ORDER;
/// Most objects in one slab (a 4 KiB slab of 8-byte objects); larger orders are only chosen for
/// objects big enough to stay under it.
pub const MAX_OBJECTS_PER_SLAB: usize = 512;
/// Word size: the free pointer and the minimum alignment.
pub const WORD: usize = 8;
/// Cache line, for `HWCACHE_ALIGN`.
pub const CACHE_LINE: usize = 64;

/// Cache creation flags.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SlabFlags(pub u32);

impl SlabFlags {
    /// Red zones around objects, checked on free (`slub_debug=Z`).
    pub const RED_ZONE: SlabFlags = SlabFlags(1 << 0);
    /// Free objects filled with 0x6b (last byte 0xa5), checked on allocation (`slub_debug=P`).
    pub const POISON: SlabFlags = SlabFlags(1 << 1);
    /// Double-free and pointer checks on every free (`slub_debug=F`).
    pub const CONSISTENCY_CHECKS: SlabFlags = SlabFlags(1 << 2);
    /// Align objects to cache lines.
    pub const HWCACHE_ALIGN: SlabFlags = SlabFlags(1 << 3);
    /// The objects are reclaimable caches (their slabs come from reclaimable pageblocks).
    pub const RECLAIM_ACCOUNT: SlabFlags = SlabFlags(1 << 4);
    /// Everything `slub_debug` turns on.
    pub const DEBUG: SlabFlags = SlabFlags(Self::RED_ZONE.0 | Self::POISON.0 | Self::CONSISTENCY_CHECKS.0);

    pub fn contains(self, other: SlabFlags) -> bool {
        self.0 & other.0 == other.0
    }

    pub fn union(self, other: SlabFlags) -> SlabFlags {
        SlabFlags(self.0 | other.0)
    }
}

/// Why a cache cannot be created.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CacheError {
    ZeroSize,
    TooLarge,
    BadAlignment,
}

impl fmt::Display for CacheError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CacheError::ZeroSize => "object size 0",
            CacheError::TooLarge => "object larger than the largest slab",
            CacheError::BadAlignment => "alignment not a power of two or larger than a page",
        })
    }
}

/// Where everything sits in a slot, and the slab geometry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    /// Bytes the user asked for.
    pub object_size: usize,
    /// End of the red zone (== rounded object size without red zoning).
    pub red_zone_end: usize,
    /// Offset of the free pointer in a free slot.
    pub free_pointer: usize,
    /// Slot size (stride).
    pub size: usize,
    pub align: usize,
    pub order: usize,
    /// Objects per slab.
    pub objects: usize,
    /// ⌈2^32 / size⌉: `offset × reciprocal >> 32` is `offset / size` for every offset inside a slab
    /// (slabs are at most 2^15 bytes, so the rounding error never reaches the next integer).
    pub reciprocal: u64,
    /// `size × objects`: the bytes the slots cover.
    pub span: usize,
    /// log2(size) when the size is a power of two (most kmalloc classes): a shift and a mask then
    /// replace the multiplications.
    pub size_shift: Option<u32>,
    /// `size - 1` when the size is a power of two no larger than a page, else 0. Slabs start on page
    /// boundaries and such slots tile the whole slab, so an address inside a slab starts an object
    /// exactly when `addr & slot_mask == 0` (no slab base needed).
    pub slot_mask: usize,
}

/// Linux's `calculate_alignment`.
fn alignment(flags: SlabFlags, align: usize, size: usize) -> usize {
    let mut ralign = align.max(WORD);
    if flags.contains(SlabFlags::HWCACHE_ALIGN) {
        let mut line = CACHE_LINE;
        while size <= line / 2 && line > WORD {
            line /= 2;
        }
        ralign = ralign.max(line);
    }
    ralign
}

fn objects_in(order: usize, size: usize) -> usize {
    ((PAGE_SIZE as usize) << order) / size
}

/// Smallest order ≥ what `min_objects` objects need whose leftover is at most 1/`fraction` of the slab.
fn slab_order(size: usize, min_objects: usize, fraction: usize) -> Option<usize> {
    let needed =
        (min_objects * size).div_ceil(PAGE_SIZE as usize).next_power_of_two().trailing_zeros() as usize;
    (needed..=SLUB_MAX_ORDER).find(|&order| {
        let slab = (PAGE_SIZE as usize) << order;
        slab / size > 0 && slab % size <= slab / fraction
    })
}

/// Linux's `calculate_order` for `nr_cpus` CPUs.
fn calculate_order(size: usize, nr_cpus: usize) -> Option<usize> {
    let fls = usize::BITS as usize - nr_cpus.max(1).leading_zeros() as usize;
    let mut min_objects = (4 * (fls + 1)).min(objects_in(SLUB_MAX_ORDER, size));
    while min_objects > 1 {
        for fraction in [16, 8, 4] {
            if let Some(order) = slab_order(size, min_objects, fraction) {
                return Some(order);
            }
        }
        min_objects -= 1;
    }
    (0..=SLUB_MAX_ORDER).find(|&order| objects_in(order, size) >= 1)
}

impl Layout {
    /// The layout of a cache of `object_size`-byte objects aligned to `align`.
    pub fn new(
        object_size: usize,
        align: usize,
        flags: SlabFlags,
        has_ctor: bool,
        nr_cpus: usize,
    ) -> Result<Layout, CacheError> {
        if object_size == 0 {
            return Err(CacheError::ZeroSize);
        }
        if !align.is_power_of_two() && align != 0 || align > PAGE_SIZE as usize {
            return Err(CacheError::BadAlignment);
        }
        let mut size = object_size.next_multiple_of(WORD);
        if flags.contains(SlabFlags::RED_ZONE) && size == object_size {
            size += WORD;
        }
        let red_zone_end = size;
        let pointer_outside =
            has_ctor || flags.contains(SlabFlags::POISON) || flags.contains(SlabFlags::RED_ZONE);
        let free_pointer = if pointer_outside {
            let at = size;
            size += WORD;
            at
        } else {
            (object_size / 2) & !(WORD - 1)
        };
        let align = alignment(flags, align, object_size);
        size = size.next_multiple_of(align);
        if size > MAX_OBJECT_SIZE {
            return Err(CacheError::TooLarge);
        }
        let mut order = calculate_order(size, nr_cpus).ok_or(CacheError::TooLarge)?;
        while order > 0 && objects_in(order, size) > MAX_OBJECTS_PER_SLAB {
            order -= 1;
        }
        Ok(Layout {
            object_size,
            red_zone_end,
            free_pointer,
            size,
            align,
            order,
            objects: objects_in(order, size),
            reciprocal: (1u64 << 32).div_ceil(size as u64),
            span: size * objects_in(order, size),
            size_shift: size.is_power_of_two().then(|| size.trailing_zeros()),
            slot_mask: if size.is_power_of_two() && size <= PAGE_SIZE as usize { size - 1 } else { 0 },
        })
    }

    /// Index of the slot at byte `offset` of a slab, if `offset` is a slot start (no division).
    #[inline]
    pub fn slot_index(&self, offset: usize) -> Option<usize> {
        if offset >= self.span {
            return None;
        }
        if let Some(shift) = self.size_shift {
            return (offset & (self.size - 1) == 0).then_some(offset >> shift);
        }
        let index = ((offset as u64 * self.reciprocal) >> 32) as usize;
        (index * self.size == offset).then_some(index)
    }

    /// Whether `addr`, inside the slab at `base`, starts an object: [`Layout::slot_index`] of the
    /// offset, or the mask alone when the layout has one.
    #[inline]
    pub fn is_slot_start(&self, addr: usize, base: usize) -> bool {
        if self.slot_mask != 0 {
            return addr & self.slot_mask == 0;
        }
        self.slot_index(addr - base).is_some()
    }

    /// Bytes of the slab.
    pub fn slab_bytes(&self) -> usize {
        (PAGE_SIZE as usize) << self.order
    }
}
