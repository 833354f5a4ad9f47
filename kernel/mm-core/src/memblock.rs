//! memblock: the boot-time physical memory allocator (seed 000 §7), as Linux's `mm/memblock.c`.
//!
//! Two region arrays describe physical memory before any page allocator exists: `memory` (RAM the kernel
//! may use, from the usable E820 ranges) and `reserved` (parts of it already taken: page 0, the low 1 MiB,
//! the kernel image, the boot information, modules, early page tables, and every `alloc`). Free memory is
//! `memory` minus `reserved`; [`Memblock::alloc`] hands it out top-down below `current_limit` (the highest
//! address the early page tables map), and the buddy allocator later takes over whatever is still free.
//!
//! Invariants of each [`RegionArray`], kept by every method: regions are sorted by base, have non-zero size,
//! never overlap and never touch (touching regions are merged). Ranges are half-open `[base, base + size)`
//! and are capped at 2^64 − 1 as Linux's `memblock_cap_size` does.
//!
//! The arrays have a fixed capacity (`heapless`, [`MEMBLOCK_REGIONS`]). When an operation would need one
//! more region than fits it fails with [`MemblockError::ArrayFull`] and changes nothing; in particular an
//! allocation that cannot be recorded in `reserved` is not handed out.

use core::fmt;

/// Capacity of each region array (Linux starts with 128 and doubles; we stay fixed).
pub const MEMBLOCK_REGIONS: usize = 128;

/// Highest allocation limit: no limit.
pub const MEMBLOCK_ALLOC_ANYWHERE: u64 = u64::MAX;

/// One region `[base, base + size)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Region {
    pub base: u64,
    pub size: u64,
}

impl Region {
    pub fn end(&self) -> u64 {
        self.base + self.size
    }
}

/// Why a memblock operation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemblockError {
    /// The named array has no room for the region the operation would create.
    ArrayFull(&'static str),
    /// Alignment is zero or not a power of two.
    BadAlignment,
    /// No free range satisfies the request.
    NoMemory,
}

impl fmt::Display for MemblockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ArrayFull(name) => write!(f, "memblock.{name} is full ({MEMBLOCK_REGIONS} regions)"),
            Self::BadAlignment => f.write_str("alignment is not a power of two"),
            Self::NoMemory => f.write_str("out of memory"),
        }
    }
}

/// A sorted, merged set of physical ranges of fixed capacity.
#[derive(Clone, Debug)]
pub struct RegionArray {
    name: &'static str,
    regions: heapless::Vec<Region, MEMBLOCK_REGIONS>,
}

impl RegionArray {
    pub const fn new(name: &'static str) -> Self {
        Self { name, regions: heapless::Vec::new() }
    }

    pub fn name(&self) -> &'static str {
        self.name
    }

    pub fn regions(&self) -> &[Region] {
        &self.regions
    }

    /// Sum of all region sizes.
    pub fn total_size(&self) -> u64 {
        self.regions.iter().map(|r| r.size).sum()
    }

    /// Whether any byte of `[base, end)` lies in a region.
    pub fn overlaps(&self, base: u64, end: u64) -> bool {
        self.regions.iter().any(|r| r.base < end && base < r.end())
    }

    /// Whether `[base, end)` lies wholly inside one region.
    pub fn contains(&self, base: u64, end: u64) -> bool {
        self.regions.iter().any(|r| r.base <= base && end <= r.end())
    }

    /// Adds `[base, base + size)`, merging it with every region it overlaps or touches.
    pub fn add(&mut self, base: u64, size: u64) -> Result<(), MemblockError> {
        let size = cap_size(base, size);
        if size == 0 {
            return Ok(());
        }
        let (mut new_base, mut new_end) = (base, base + size);
        // Regions [first, last) overlap or touch the new range; they are contiguous in the sorted array.
        let first = self.regions.iter().position(|r| r.end() >= new_base).unwrap_or(self.regions.len());
        let last = first + self.regions[first..].iter().take_while(|r| r.base <= new_end).count();
        if first == last && self.regions.is_full() {
            return Err(MemblockError::ArrayFull(self.name));
        }
        if first < last {
            new_base = new_base.min(self.regions[first].base);
            new_end = new_end.max(self.regions[last - 1].end());
            for _ in first + 1..last {
                self.regions.remove(first + 1);
            }
            self.regions[first] = Region { base: new_base, size: new_end - new_base };
        } else {
            // Room was checked above.
            let _ = self.regions.insert(first, Region { base: new_base, size: new_end - new_base });
        }
        Ok(())
    }

    /// Removes `[base, base + size)` from the set; a region strictly containing it is split in two, which
    /// needs a free slot.
    pub fn remove(&mut self, base: u64, size: u64) -> Result<(), MemblockError> {
        let size = cap_size(base, size);
        if size == 0 {
            return Ok(());
        }
        let end = base + size;
        let splits = self.regions.iter().any(|r| r.base < base && end < r.end());
        if splits && self.regions.is_full() {
            return Err(MemblockError::ArrayFull(self.name));
        }
        let mut i = 0;
        while i < self.regions.len() {
            let r = self.regions[i];
            if r.end() <= base || r.base >= end {
                i += 1;
                continue;
            }
            let left = (r.base < base).then(|| Region { base: r.base, size: base - r.base });
            let right = (r.end() > end).then(|| Region { base: end, size: r.end() - end });
            match (left, right) {
                (Some(l), Some(rt)) => {
                    self.regions[i] = l;
                    // Room for the split was checked above.
                    let _ = self.regions.insert(i + 1, rt);
                    i += 2;
                }
                (Some(piece), None) | (None, Some(piece)) => {
                    self.regions[i] = piece;
                    i += 1;
                }
                (None, None) => {
                    self.regions.remove(i);
                }
            }
        }
        Ok(())
    }
}

/// Caps `size` so that `base + size` does not pass 2^64 − 1.
fn cap_size(base: u64, size: u64) -> u64 {
    size.min(u64::MAX - base)
}

/// The memblock allocator: `memory` and `reserved` plus the allocation limit.
#[derive(Clone, Debug)]
pub struct Memblock {
    pub memory: RegionArray,
    pub reserved: RegionArray,
    current_limit: u64,
}

impl Default for Memblock {
    fn default() -> Self {
        Self::new()
    }
}

impl Memblock {
    pub const fn new() -> Self {
        Self {
            memory: RegionArray::new("memory"),
            reserved: RegionArray::new("reserved"),
            current_limit: MEMBLOCK_ALLOC_ANYWHERE,
        }
    }

    /// Registers RAM (`memblock_add`).
    pub fn add(&mut self, base: u64, size: u64) -> Result<(), MemblockError> {
        self.memory.add(base, size)
    }

    /// Forgets RAM (`memblock_remove`).
    pub fn remove(&mut self, base: u64, size: u64) -> Result<(), MemblockError> {
        self.memory.remove(base, size)
    }

    /// Marks a range as taken (`memblock_reserve`). Reserving a range twice is harmless.
    pub fn reserve(&mut self, base: u64, size: u64) -> Result<(), MemblockError> {
        self.reserved.add(base, size)
    }

    /// Gives a reserved range back (`memblock_free` / `memblock_phys_free`).
    pub fn free(&mut self, base: u64, size: u64) -> Result<(), MemblockError> {
        self.reserved.remove(base, size)
    }

    /// Allocations never end above this address (exclusive); set while only part of RAM is mapped.
    pub fn set_current_limit(&mut self, limit: u64) {
        self.current_limit = limit;
    }

    pub fn current_limit(&self) -> u64 {
        self.current_limit
    }

    /// Total RAM (`memblock_phys_mem_size`).
    pub fn phys_mem_size(&self) -> u64 {
        self.memory.total_size()
    }

    /// Bytes of RAM that are reserved (reservations outside RAM, such as firmware areas, do not count).
    pub fn reserved_ram_size(&self) -> u64 {
        self.phys_mem_size() - self.free_size()
    }

    /// Bytes of RAM not reserved.
    pub fn free_size(&self) -> u64 {
        self.free_ranges().map(|(start, end)| end - start).sum()
    }

    /// The free ranges, `memory` minus `reserved`, in ascending order, as `(start, end)` half-open pairs.
    pub fn free_ranges(&self) -> FreeRanges<'_> {
        FreeRanges { memblock: self, memory_index: 0, cursor: 0 }
    }

    /// Allocates `size` bytes aligned to `align` top-down below the current limit (`memblock_phys_alloc`).
    pub fn alloc(&mut self, size: u64, align: u64) -> Result<u64, MemblockError> {
        self.alloc_range(size, align, 0, MEMBLOCK_ALLOC_ANYWHERE)
    }

    /// Allocates `size` bytes aligned to `align` inside `[start, end)`, as high as possible
    /// (`memblock_alloc_range_nid`, top-down). The result is reserved before it is returned.
    pub fn alloc_range(&mut self, size: u64, align: u64, start: u64, end: u64) -> Result<u64, MemblockError> {
        if align == 0 || !align.is_power_of_two() {
            return Err(MemblockError::BadAlignment);
        }
        if size == 0 {
            return Err(MemblockError::NoMemory);
        }
        let end = end.min(self.current_limit);
        let mut best = None;
        for (free_start, free_end) in self.free_ranges() {
            let lo = free_start.max(start);
            let hi = free_end.min(end);
            if hi <= lo || hi - lo < size {
                continue;
            }
            let candidate = (hi - size) & !(align - 1);
            if candidate >= lo {
                best = Some(candidate);
            }
        }
        let base = best.ok_or(MemblockError::NoMemory)?;
        self.reserve(base, size)?;
        Ok(base)
    }
}

/// Iterator over `memory` minus `reserved`.
pub struct FreeRanges<'a> {
    memblock: &'a Memblock,
    memory_index: usize,
    /// Everything below `cursor` inside the current memory region has been produced or skipped.
    cursor: u64,
}

impl Iterator for FreeRanges<'_> {
    type Item = (u64, u64);

    fn next(&mut self) -> Option<(u64, u64)> {
        let memory = self.memblock.memory.regions();
        let reserved = self.memblock.reserved.regions();
        while let Some(region) = memory.get(self.memory_index) {
            let start = self.cursor.max(region.base);
            if start >= region.end() {
                self.memory_index += 1;
                continue;
            }
            // The first reservation that ends after `start` decides where the free part stops.
            match reserved.iter().find(|r| r.end() > start) {
                Some(r) if r.base <= start => {
                    self.cursor = r.end();
                }
                Some(r) if r.base < region.end() => {
                    self.cursor = r.end();
                    return Some((start, r.base));
                }
                _ => {
                    self.cursor = region.end();
                    return Some((start, region.end()));
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests;
