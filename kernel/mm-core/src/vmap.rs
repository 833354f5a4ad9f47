//! The vmalloc/ioremap virtual-area allocator (seed 000 §41), after Linux's `mm/vmalloc.c` `vmap_area`.
//!
//! [`VmapAreas`] hands out page-aligned ranges of kernel virtual space `[start, end)`. Every area is
//! followed by a guard gap of `guard` bytes that belongs to it while it is busy and is never handed out, so
//! that running off the end of an area (a kernel stack overflow, say) faults instead of corrupting the
//! next one. The caller maps and unmaps the pages; this module only tracks addresses.
//!
//! Structure: busy areas in a tree by start address (for [`VmapAreas::free`] and [`VmapAreas::find`]), and
//! the free blocks twice: by start address (to merge with neighbours on free) and by (size, start) (to
//! find space). Allocation is best fit: the smallest free block that holds the request once its start is
//! aligned, the lowest such block among equals, placed at the block's lowest aligned address.
//!
//! Cost (a design property): every operation does a bounded number of tree searches, inserts and removals,
//! so it is O(log n) in the number of areas. Allocation looks at no more than [`FIT_PROBES`] blocks whose
//! size suffices before alignment; when none of those fits once aligned it takes the smallest block of at
//! least `size + guard + align - PAGE_SIZE` bytes, which always fits. So with page alignment the search is
//! exact (it fails only if no block fits), and with a larger alignment it fails only if no block is that
//! long.
//!
//! Invariants, checked by [`VmapAreas::check`] in tests: busy spans (area plus guard) and free blocks are
//! disjoint and together tile `[start, end)` exactly; free blocks are non-empty and never touch (touching
//! blocks are merged); the two free trees hold the same blocks; all addresses and sizes are page multiples;
//! the byte counters match the trees.

use alloc::collections::{BTreeMap, BTreeSet};
use core::fmt;

use crate::page::PAGE_SIZE;

/// Free blocks looked at for an aligned fit before taking one that surely fits.
pub const FIT_PROBES: usize = 8;

/// A busy area: `size` usable bytes at `start`, then `guard` bytes of guard gap, and the caller's `data`
/// (what `/proc/vmallocinfo` shows: the caller, the pages, vmalloc/ioremap/vmap).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VmapArea<T> {
    pub start: u64,
    pub size: u64,
    pub guard: u64,
    pub data: T,
}

impl<T> VmapArea<T> {
    /// End of the usable part (exclusive).
    pub fn end(&self) -> u64 {
        self.start + self.size
    }

    /// End of the guard gap (exclusive): everything the area holds.
    pub fn guard_end(&self) -> u64 {
        self.end() + self.guard
    }

    pub fn nr_pages(&self) -> u64 {
        self.size / PAGE_SIZE
    }

    /// Whether `addr` is in the usable part.
    pub fn contains(&self, addr: u64) -> bool {
        self.start <= addr && addr < self.end()
    }

    /// Whether `addr` is in the guard gap: a fault there is an overflow of this area.
    pub fn in_guard(&self, addr: u64) -> bool {
        self.end() <= addr && addr < self.guard_end()
    }
}

/// Why a request was refused. Nothing was changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VmapError {
    /// The range given to [`VmapAreas::new`] is empty or not page-aligned.
    BadRange,
    /// A size of zero.
    ZeroSize,
    /// A size or guard that is not a multiple of the page size.
    Misaligned(u64),
    /// An alignment that is not a power of two.
    BadAlign(u64),
    /// No free block can hold the request.
    NoSpace,
    /// No busy area starts at this address: never allocated, or already freed.
    NotAllocated(u64),
    /// The address lies inside (or in the guard of) the busy area starting at `start`, not at its start.
    InsideArea { addr: u64, start: u64 },
}

impl fmt::Display for VmapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::BadRange => f.write_str("empty or unaligned vmap range"),
            Self::ZeroSize => f.write_str("zero size"),
            Self::Misaligned(v) => write!(f, "{v:#x} is not a multiple of the page size"),
            Self::BadAlign(a) => write!(f, "alignment {a:#x} is not a power of two"),
            Self::NoSpace => f.write_str("vmap allocation failed: no free range"),
            Self::NotAllocated(a) => write!(f, "no vmap area at {a:#x} (double free?)"),
            Self::InsideArea { addr, start } => write!(f, "{addr:#x} is inside the vmap area at {start:#x}"),
        }
    }
}

/// The areas of one range of virtual space, each carrying a `T`.
#[derive(Clone, Debug)]
pub struct VmapAreas<T = ()> {
    start: u64,
    end: u64,
    busy: BTreeMap<u64, VmapArea<T>>,
    /// Free blocks: start → end (exclusive).
    free_by_addr: BTreeMap<u64, u64>,
    /// Free blocks: (size, start).
    free_by_size: BTreeSet<(u64, u64)>,
    busy_bytes: u64,
    guard_bytes: u64,
}

impl<T> VmapAreas<T> {
    /// All of `[start, end)` free. Both ends must be page-aligned and `start < end`.
    pub fn new(start: u64, end: u64) -> Result<Self, VmapError> {
        if start >= end || !start.is_multiple_of(PAGE_SIZE) || !end.is_multiple_of(PAGE_SIZE) {
            return Err(VmapError::BadRange);
        }
        let mut areas = Self {
            start,
            end,
            busy: BTreeMap::new(),
            free_by_addr: BTreeMap::new(),
            free_by_size: BTreeSet::new(),
            busy_bytes: 0,
            guard_bytes: 0,
        };
        areas.insert_free(start, end);
        Ok(areas)
    }

    /// The managed range `[start, end)`.
    pub fn range(&self) -> (u64, u64) {
        (self.start, self.end)
    }

    /// Finds room for `size` bytes at an `align`-aligned address with `guard` bytes of gap after them,
    /// records the area with `data` and returns its start. `size` and `guard` must be page multiples,
    /// `align` a power of two (below a page it means a page).
    pub fn alloc(&mut self, size: u64, align: u64, guard: u64, data: T) -> Result<u64, VmapError> {
        if size == 0 {
            return Err(VmapError::ZeroSize);
        }
        for bytes in [size, guard] {
            if !bytes.is_multiple_of(PAGE_SIZE) {
                return Err(VmapError::Misaligned(bytes));
            }
        }
        if !align.is_power_of_two() {
            return Err(VmapError::BadAlign(align));
        }
        let align = align.max(PAGE_SIZE);
        let need = size.checked_add(guard).ok_or(VmapError::NoSpace)?;
        let (block, start) = self.find_fit(need, align).ok_or(VmapError::NoSpace)?;
        let block_end = self.free_by_addr[&block];
        self.remove_free(block);
        if block < start {
            self.insert_free(block, start);
        }
        if start + need < block_end {
            self.insert_free(start + need, block_end);
        }
        self.busy.insert(start, VmapArea { start, size, guard, data });
        self.busy_bytes += size;
        self.guard_bytes += guard;
        Ok(start)
    }

    /// The free block to use for `need` bytes at `align` and the aligned start inside it.
    fn find_fit(&self, need: u64, align: u64) -> Option<(u64, u64)> {
        let aligned_start = |block: u64, len: u64| {
            let start = block.checked_add(align - 1)? & !(align - 1);
            (start - block).checked_add(need).filter(|&used| used <= len).map(|_| start)
        };
        let probed = self.free_by_size.range((need, 0)..).take(FIT_PROBES);
        if let Some(fit) = probed.filter_map(|&(len, block)| Some((block, aligned_start(block, len)?))).next()
        {
            return Some(fit);
        }
        let sure = need.checked_add(align - PAGE_SIZE)?;
        let &(len, block) = self.free_by_size.range((sure, 0)..).next()?;
        Some((block, aligned_start(block, len)?))
    }

    /// Frees the area starting at `start`, guard included, merging the space with free neighbours.
    /// Returns the area (its `size` and `data`).
    pub fn free(&mut self, start: u64) -> Result<VmapArea<T>, VmapError> {
        let Some(area) = self.busy.remove(&start) else {
            return Err(match self.find(start) {
                Some(area) => VmapError::InsideArea { addr: start, start: area.start },
                None => VmapError::NotAllocated(start),
            });
        };
        self.busy_bytes -= area.size;
        self.guard_bytes -= area.guard;
        let (mut first, mut end) = (area.start, area.guard_end());
        if let Some((&left, &left_end)) = self.free_by_addr.range(..first).next_back()
            && left_end == first
        {
            self.remove_free(left);
            first = left;
        }
        if let Some(&right_end) = self.free_by_addr.get(&end) {
            self.remove_free(end);
            end = right_end;
        }
        self.insert_free(first, end);
        Ok(area)
    }

    /// The busy area whose usable part or guard contains `addr` (for vfree, and for telling a guard-page
    /// fault from a stray one).
    pub fn find(&self, addr: u64) -> Option<&VmapArea<T>> {
        self.busy.range(..=addr).next_back().map(|(_, area)| area).filter(|area| addr < area.guard_end())
    }

    pub fn find_mut(&mut self, addr: u64) -> Option<&mut VmapArea<T>> {
        self.busy.range_mut(..=addr).next_back().map(|(_, area)| area).filter(|area| addr < area.guard_end())
    }

    /// Busy areas in address order (for `/proc/vmallocinfo`, whose lines show `start-guard_end` and a size
    /// that includes the guard page, as Linux's `vm_struct` size does).
    pub fn iter(&self) -> impl Iterator<Item = &VmapArea<T>> {
        self.busy.values()
    }

    pub fn nr_areas(&self) -> usize {
        self.busy.len()
    }

    /// Usable bytes of the busy areas, guards excluded (Linux's `VmallocUsed` counts pages like this).
    pub fn busy_bytes(&self) -> u64 {
        self.busy_bytes
    }

    /// Bytes held as guard gaps.
    pub fn guard_bytes(&self) -> u64 {
        self.guard_bytes
    }

    pub fn total_bytes(&self) -> u64 {
        self.end - self.start
    }

    pub fn free_bytes(&self) -> u64 {
        self.total_bytes() - self.busy_bytes - self.guard_bytes
    }

    pub fn nr_free_blocks(&self) -> usize {
        self.free_by_addr.len()
    }

    /// The longest free block (Linux's `VmallocChunk`).
    pub fn largest_free_block(&self) -> u64 {
        self.free_by_size.last().map_or(0, |&(len, _)| len)
    }

    fn insert_free(&mut self, start: u64, end: u64) {
        self.free_by_addr.insert(start, end);
        self.free_by_size.insert((end - start, start));
    }

    fn remove_free(&mut self, start: u64) {
        if let Some(end) = self.free_by_addr.remove(&start) {
            self.free_by_size.remove(&(end - start, start));
        }
    }

    /// Checks the invariants in O(n); for tests and debugging.
    pub fn check(&self) -> Result<(), &'static str> {
        if self.free_by_addr.len() != self.free_by_size.len() {
            return Err("the free trees hold different numbers of blocks");
        }
        // Walk busy spans and free blocks together in address order: they must tile the range.
        let mut spans =
            self.busy.values().map(|a| (a.start, a.guard_end(), true)).collect::<alloc::vec::Vec<_>>();
        spans.extend(self.free_by_addr.iter().map(|(&s, &e)| (s, e, false)));
        spans.sort_unstable();
        let (mut at, mut previous_free, mut busy, mut guard) = (self.start, false, 0, 0);
        for (start, end, is_busy) in spans {
            if start != at {
                return Err("busy spans and free blocks do not tile the range");
            }
            if start >= end || !start.is_multiple_of(PAGE_SIZE) || !end.is_multiple_of(PAGE_SIZE) {
                return Err("an empty or unaligned span");
            }
            if !is_busy {
                if previous_free {
                    return Err("two free blocks touch (they should have merged)");
                }
                if !self.free_by_size.contains(&(end - start, start)) {
                    return Err("a free block is missing from the size tree");
                }
            } else {
                let area = &self.busy[&start];
                if area.size == 0 || !area.guard.is_multiple_of(PAGE_SIZE) {
                    return Err("an empty area or an unaligned guard");
                }
                busy += area.size;
                guard += area.guard;
            }
            previous_free = !is_busy;
            at = end;
        }
        if at != self.end {
            return Err("busy spans and free blocks do not reach the end of the range");
        }
        if (busy, guard) != (self.busy_bytes, self.guard_bytes) {
            return Err("byte counters differ from the areas");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
