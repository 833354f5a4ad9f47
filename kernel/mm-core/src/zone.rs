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
pub fn zone_pfn_ranges(highmem_start: Option<u64>, max_pfn: u64) -> [(u64, u64); MAX_NR_ZONES] {
    let clamp = |addr: u64| (addr >> PAGE_SHIFT).min(max_pfn);
    let dma_end = clamp(DMA_END);
    let dma32_end = clamp(DMA32_END);
    let normal_end = highmem_start.map_or(max_pfn, |h| h.clamp(dma32_end, max_pfn));
    [(0, dma_end), (dma_end, dma32_end), (dma32_end, normal_end), (normal_end, max_pfn)]
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
        assert_eq!(zone_pfn_ranges(Some(gib), 6 * gib)[2], (4 * gib, 4 * gib));
    }
}
