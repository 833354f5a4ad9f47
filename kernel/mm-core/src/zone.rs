//! Zones: the physical address ranges an allocation may come from (seed 000 §18, seed 002 "zones").
//!
//! On x86-64: ZONE_DMA is [0, 16 MiB) for ISA devices, ZONE_DMA32 [16 MiB, 4 GiB) for 32-bit devices,
//! ZONE_NORMAL everything above. ZONE_HIGHMEM exists only when the direct map is limited (`highmem=`), the
//! 32-bit concept shown on 64-bit; its frames are never addressed directly by the kernel.

use crate::page::PAGE_SHIFT;

/// The zone types, in increasing address order; an allocation may use its zone and every lower one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum ZoneType {
    Dma = 0,
    Dma32 = 1,
    Normal = 2,
    HighMem = 3,
}

pub const MAX_NR_ZONES: usize = 4;

/// End of ZONE_DMA.
pub const DMA_END: u64 = 16 << 20;
/// End of ZONE_DMA32.
pub const DMA32_END: u64 = 4 << 30;

/// `vm.lowmem_reserve_ratio`: how much of the zones above a zone protects it from their allocations.
pub const LOWMEM_RESERVE_RATIO: [u64; MAX_NR_ZONES] = [256, 256, 32, 0];

impl ZoneType {
    pub const ALL: [ZoneType; MAX_NR_ZONES] =
        [ZoneType::Dma, ZoneType::Dma32, ZoneType::Normal, ZoneType::HighMem];

    pub fn from_index(i: usize) -> ZoneType {
        Self::ALL[i.min(MAX_NR_ZONES - 1)]
    }

    /// The name Linux prints (`Zone ranges:`, `/proc/zoneinfo`, `/proc/buddyinfo`).
    pub fn name(self) -> &'static str {
        match self {
            ZoneType::Dma => "DMA",
            ZoneType::Dma32 => "DMA32",
            ZoneType::Normal => "Normal",
            ZoneType::HighMem => "HighMem",
        }
    }

    pub fn is_highmem(self) -> bool {
        self == ZoneType::HighMem
    }
}

/// The page-frame range `[start, end)` of each zone type, given the first frame of high memory (if the
/// direct map is limited) and the end of RAM. Empty zones have `start == end`.
///
/// High memory starts at `highmem_start` (never inside ZONE_DMA); the zones below it end there, so with
/// high memory below 4 GiB ZONE_DMA32 stops at it and ZONE_NORMAL is empty, as on a 32-bit machine whose
/// low memory ends at 896 MiB.
pub fn zone_pfn_ranges(highmem_start: Option<u64>, max_pfn: u64) -> [(u64, u64); MAX_NR_ZONES] {
    let clamp = |addr: u64| (addr >> PAGE_SHIFT).min(max_pfn);
    let dma_end = clamp(DMA_END);
    let low_end = highmem_start.map_or(max_pfn, |h| h.clamp(dma_end, max_pfn));
    let dma32_end = clamp(DMA32_END).min(low_end);
    [(0, dma_end), (dma_end, dma32_end), (dma32_end, low_end), (low_end, max_pfn)]
}

/// The first frame of high memory for `highmem=SIZE` (Linux's meaning: the top `size` bytes of RAM form
/// ZONE_HIGHMEM), rounded down to a 2 MiB boundary; `None` if that leaves less than `min_low` bytes of low
/// memory or no high memory at all.
pub fn highmem_start(size: u64, max_pfn: u64, min_low: u64) -> Option<u64> {
    let start = max_pfn.checked_sub(size >> PAGE_SHIFT)? & !((1 << (21 - PAGE_SHIFT)) - 1);
    (start << PAGE_SHIFT >= min_low && start < max_pfn).then_some(start)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_split_at_16m_and_4g() {
        let gib = (1u64 << 30) >> PAGE_SHIFT;
        assert_eq!(
            zone_pfn_ranges(None, 6 * gib),
            [(0, 4096), (4096, 4 * gib), (4 * gib, 6 * gib), (6 * gib, 6 * gib)]
        );
        // Small machine: DMA32 and Normal are empty.
        assert_eq!(zone_pfn_ranges(None, 2048), [(0, 2048), (2048, 2048), (2048, 2048), (2048, 2048)]);
        // highmem= moves the top of NORMAL down, never below DMA32's end.
        assert_eq!(zone_pfn_ranges(Some(5 * gib), 6 * gib)[3], (5 * gib, 6 * gib));
        assert_eq!(zone_pfn_ranges(Some(5 * gib), 6 * gib)[2], (4 * gib, 5 * gib));
        // High memory below 4 GiB: DMA32 ends at it, Normal is empty (the 32-bit picture).
        assert_eq!(
            zone_pfn_ranges(Some(gib / 2), gib),
            [(0, 4096), (4096, gib / 2), (gib / 2, gib / 2), (gib / 2, gib)]
        );
        assert_eq!(zone_pfn_ranges(Some(gib), 6 * gib), [(0, 4096), (4096, gib), (gib, gib), (gib, 6 * gib)]);
        // Never inside ZONE_DMA.
        assert_eq!(zone_pfn_ranges(Some(100), gib)[0], (0, 4096));
        assert_eq!(zone_pfn_ranges(Some(100), gib)[3], (4096, gib));
    }

    #[test]
    fn zones_tile_ram_for_any_highmem_start() {
        for max_pfn in [1000u64, 4096, 300_000, 1 << 20, 3 << 20] {
            for h in [None, Some(0), Some(2048), Some(5000), Some(1 << 19), Some(1 << 20), Some(u64::MAX)] {
                let r = zone_pfn_ranges(h, max_pfn);
                assert_eq!(r[0].0, 0);
                assert_eq!(r[3].1, max_pfn);
                for w in r.windows(2) {
                    assert_eq!(w[0].1, w[1].0, "{h:?} {max_pfn}: {r:?}");
                    assert!(w[0].0 <= w[0].1);
                }
                if h.is_none() {
                    assert_eq!(r[3].0, r[3].1, "no high memory without highmem=");
                }
            }
        }
    }

    #[test]
    fn highmem_size_becomes_a_start_frame() {
        let mib = (1u64 << 20) >> PAGE_SHIFT;
        // -m 1G highmem=512M: high memory from 512 MiB.
        assert_eq!(highmem_start(512 << 20, 1024 * mib, 64 << 20), Some(512 * mib));
        // Rounded down to 2 MiB.
        assert_eq!(highmem_start(511 << 20, 1024 * mib, 64 << 20), Some(512 * mib));
        assert_eq!(highmem_start(513 << 20, 1024 * mib, 64 << 20), Some(510 * mib));
        // Too much: less than the minimum of low memory is left.
        assert_eq!(highmem_start(1000 << 20, 1024 * mib, 64 << 20), None);
        assert_eq!(highmem_start(2 << 30, 1024 * mib, 64 << 20), None);
        // Nothing left to be high.
        assert_eq!(highmem_start(0, 1024 * mib, 64 << 20), None);
        assert_eq!(highmem_start(1 << 20, 1024 * mib, 64 << 20), Some(1022 * mib), "at least what was asked");
    }
}
