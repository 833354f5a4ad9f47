//! GFP ("get free pages") flags: what an allocation may do and where its memory may come from.
//!
//! The flags and the combinations have Linux's meanings (`include/linux/gfp_types.h`): zone modifiers pick
//! the highest zone an allocation may use, mobility modifiers pick its migrate type, and the rest say how
//! hard it may try. Bit values are our own.

use core::fmt;
use core::ops::BitOr;

use crate::page::MigrateType;
use crate::zone::ZoneType;

/// A set of GFP flags.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Gfp(pub u32);

impl BitOr for Gfp {
    type Output = Gfp;
    fn bitor(self, rhs: Gfp) -> Gfp {
        Gfp(self.0 | rhs.0)
    }
}

impl Gfp {
    /// Only ZONE_DMA (below 16 MiB).
    pub const __GFP_DMA: Gfp = Gfp(1 << 0);
    /// ZONE_DMA32 at most (below 4 GiB).
    pub const __GFP_DMA32: Gfp = Gfp(1 << 1);
    /// ZONE_HIGHMEM allowed (the highest zone; NORMAL on this 64-bit kernel unless `highmem=` is given).
    pub const __GFP_HIGHMEM: Gfp = Gfp(1 << 2);
    /// The memory can be migrated: movable pageblocks.
    pub const __GFP_MOVABLE: Gfp = Gfp(1 << 3);
    /// The memory can be reclaimed (caches): reclaimable pageblocks.
    pub const __GFP_RECLAIMABLE: Gfp = Gfp(1 << 4);
    /// High priority: may dip below the min watermark (by half).
    pub const __GFP_HIGH: Gfp = Gfp(1 << 5);
    /// Cannot sleep or reclaim: may dip a little further (Linux's `ALLOC_HARDER`).
    pub const __GFP_ATOMIC: Gfp = Gfp(1 << 6);
    pub const __GFP_IO: Gfp = Gfp(1 << 7);
    pub const __GFP_FS: Gfp = Gfp(1 << 8);
    pub const __GFP_DIRECT_RECLAIM: Gfp = Gfp(1 << 9);
    pub const __GFP_KSWAPD_RECLAIM: Gfp = Gfp(1 << 10);
    /// Only from the caller's memory policy's nodes (cpuset hardwall), for user memory.
    pub const __GFP_HARDWALL: Gfp = Gfp(1 << 11);
    /// Charge the memory to the caller's memory group.
    pub const __GFP_ACCOUNT: Gfp = Gfp(1 << 12);
    /// Fill the memory with zeroes.
    pub const __GFP_ZERO: Gfp = Gfp(1 << 13);
    /// Do not print a warning when the allocation fails.
    pub const __GFP_NOWARN: Gfp = Gfp(1 << 14);
    /// Fail rather than retry after draining the per-CPU lists.
    pub const __GFP_NORETRY: Gfp = Gfp(1 << 15);
    /// Ignore the watermarks entirely (Linux's `__GFP_MEMALLOC`, for the allocator's own tests and for
    /// freeing memory under pressure).
    pub const __GFP_MEMALLOC: Gfp = Gfp(1 << 16);

    pub const __GFP_RECLAIM: Gfp = Gfp(Self::__GFP_DIRECT_RECLAIM.0 | Self::__GFP_KSWAPD_RECLAIM.0);
    /// Interrupts and other contexts that cannot sleep.
    pub const GFP_ATOMIC: Gfp = Gfp(Self::__GFP_HIGH.0 | Self::__GFP_ATOMIC.0 | Self::__GFP_KSWAPD_RECLAIM.0);
    /// Ordinary kernel allocations.
    pub const GFP_KERNEL: Gfp = Gfp(Self::__GFP_RECLAIM.0 | Self::__GFP_IO.0 | Self::__GFP_FS.0);
    /// Kernel allocations charged to the task's memory group.
    pub const GFP_KERNEL_ACCOUNT: Gfp = Gfp(Self::GFP_KERNEL.0 | Self::__GFP_ACCOUNT.0);
    /// Memory the kernel hands to user space and must reach directly.
    pub const GFP_USER: Gfp = Gfp(Self::GFP_KERNEL.0 | Self::__GFP_HARDWALL.0);
    pub const GFP_HIGHUSER: Gfp = Gfp(Self::GFP_USER.0 | Self::__GFP_HIGHMEM.0);
    /// User pages the kernel never needs to address and which may move: anonymous memory.
    pub const GFP_HIGHUSER_MOVABLE: Gfp = Gfp(Self::GFP_HIGHUSER.0 | Self::__GFP_MOVABLE.0);
    pub const GFP_DMA: Gfp = Self::__GFP_DMA;
    pub const GFP_DMA32: Gfp = Self::__GFP_DMA32;

    pub fn contains(self, other: Gfp) -> bool {
        self.0 & other.0 == other.0
    }

    /// The highest zone this allocation may use (Linux's `gfp_zone`); `highmem` says whether a HIGHMEM zone
    /// exists on this boot.
    pub fn zone(self, highmem: bool) -> ZoneType {
        if self.contains(Self::__GFP_DMA) {
            ZoneType::Dma
        } else if self.contains(Self::__GFP_DMA32) {
            ZoneType::Dma32
        } else if highmem && self.contains(Self::__GFP_HIGHMEM) {
            ZoneType::HighMem
        } else {
            ZoneType::Normal
        }
    }

    /// The migrate type of the memory (Linux's `gfp_migratetype`).
    pub fn migratetype(self) -> MigrateType {
        if self.contains(Self::__GFP_MOVABLE) {
            MigrateType::Movable
        } else if self.contains(Self::__GFP_RECLAIMABLE) {
            MigrateType::Reclaimable
        } else {
            MigrateType::Unmovable
        }
    }
}

/// Prints flags as Linux's `%pGg`: `GFP_KERNEL|__GFP_ZERO`.
impl fmt::Debug for Gfp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const NAMES: &[(Gfp, &str)] = &[
            (Gfp::GFP_HIGHUSER_MOVABLE, "GFP_HIGHUSER_MOVABLE"),
            (Gfp::GFP_HIGHUSER, "GFP_HIGHUSER"),
            (Gfp::GFP_USER, "GFP_USER"),
            (Gfp::GFP_KERNEL_ACCOUNT, "GFP_KERNEL_ACCOUNT"),
            (Gfp::GFP_KERNEL, "GFP_KERNEL"),
            (Gfp::GFP_ATOMIC, "GFP_ATOMIC"),
            (Gfp::__GFP_DMA, "__GFP_DMA"),
            (Gfp::__GFP_DMA32, "__GFP_DMA32"),
            (Gfp::__GFP_HIGHMEM, "__GFP_HIGHMEM"),
            (Gfp::__GFP_MOVABLE, "__GFP_MOVABLE"),
            (Gfp::__GFP_RECLAIMABLE, "__GFP_RECLAIMABLE"),
            (Gfp::__GFP_HIGH, "__GFP_HIGH"),
            (Gfp::__GFP_ATOMIC, "__GFP_ATOMIC"),
            (Gfp::__GFP_IO, "__GFP_IO"),
            (Gfp::__GFP_FS, "__GFP_FS"),
            (Gfp::__GFP_DIRECT_RECLAIM, "__GFP_DIRECT_RECLAIM"),
            (Gfp::__GFP_KSWAPD_RECLAIM, "__GFP_KSWAPD_RECLAIM"),
            (Gfp::__GFP_HARDWALL, "__GFP_HARDWALL"),
            (Gfp::__GFP_ACCOUNT, "__GFP_ACCOUNT"),
            (Gfp::__GFP_ZERO, "__GFP_ZERO"),
            (Gfp::__GFP_NOWARN, "__GFP_NOWARN"),
            (Gfp::__GFP_NORETRY, "__GFP_NORETRY"),
            (Gfp::__GFP_MEMALLOC, "__GFP_MEMALLOC"),
        ];
        let mut rest = self.0;
        let mut first = true;
        for &(flag, name) in NAMES {
            if flag.0 != 0 && rest & flag.0 == flag.0 {
                if !first {
                    f.write_str("|")?;
                }
                f.write_str(name)?;
                first = false;
                rest &= !flag.0;
            }
        }
        if first {
            f.write_str("0")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zones_and_types_follow_linux() {
        assert_eq!(Gfp::GFP_KERNEL.zone(false), ZoneType::Normal);
        assert_eq!(Gfp::GFP_DMA.zone(false), ZoneType::Dma);
        assert_eq!((Gfp::GFP_KERNEL | Gfp::GFP_DMA32).zone(false), ZoneType::Dma32);
        assert_eq!(Gfp::GFP_HIGHUSER_MOVABLE.zone(false), ZoneType::Normal);
        assert_eq!(Gfp::GFP_HIGHUSER_MOVABLE.zone(true), ZoneType::HighMem);
        assert_eq!(Gfp::GFP_KERNEL.migratetype(), MigrateType::Unmovable);
        assert_eq!(Gfp::GFP_HIGHUSER_MOVABLE.migratetype(), MigrateType::Movable);
        assert_eq!((Gfp::GFP_KERNEL | Gfp::__GFP_RECLAIMABLE).migratetype(), MigrateType::Reclaimable);
        assert_eq!(Gfp::GFP_ATOMIC.migratetype(), MigrateType::Unmovable);
    }

    #[test]
    fn prints_like_pgg() {
        assert_eq!(format!("{:?}", Gfp::GFP_KERNEL | Gfp::__GFP_ZERO), "GFP_KERNEL|__GFP_ZERO");
        assert_eq!(format!("{:?}", Gfp::GFP_HIGHUSER_MOVABLE), "GFP_HIGHUSER_MOVABLE");
        assert_eq!(format!("{:?}", Gfp::GFP_ATOMIC | Gfp::__GFP_NOWARN), "GFP_ATOMIC|__GFP_NOWARN");
        assert_eq!(format!("{:?}", Gfp(0)), "0");
    }
}
