//! Zone watermarks, the lowmem reserve and the watermark check (Linux's `__setup_per_zone_wmarks`,
//! `setup_per_zone_lowmem_reserve` and `__zone_watermark_ok`), plus the per-CPU list sizes.
//!
//! `min_free_kbytes` = √(16 × lowmem KiB), clamped to [128, 262144]; each zone gets a share of it as its
//! `min` watermark in proportion to its managed pages; `low` and `high` add a quarter of `min` each (or
//! 0.1% of the zone if larger, `watermark_scale_factor` = 10). Normal allocations must leave `low` pages
//! free, and in the slow path `min`; high-priority ones (`__GFP_HIGH`) may go to half of `min`, atomic ones
//! a quarter lower still. A lower zone also keeps `lowmem_reserve[z]` pages away from allocations that
//! could have used a higher zone `z`.

use crate::page::MAX_ORDER;
use crate::zone::{LOWMEM_RESERVE_RATIO, MAX_NR_ZONES};

/// `watermark_scale_factor` (in 1/10000 of a zone).
pub const WATERMARK_SCALE_FACTOR: u64 = 10;

/// Integer square root (floor).
pub fn int_sqrt(x: u64) -> u64 {
    if x < 2 {
        return x;
    }
    // Newton's iteration from above converges to the floor of the root.
    let mut r = x;
    let mut next = x / 2 + 1;
    while next < r {
        r = next;
        next = (r + x / r) / 2;
    }
    r
}

/// Linux's default `min_free_kbytes` for `lowmem_kbytes` of low memory.
pub fn min_free_kbytes(lowmem_kbytes: u64) -> u64 {
    int_sqrt(lowmem_kbytes * 16).clamp(128, 262_144)
}

/// A zone's three watermarks, in pages.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Watermarks {
    pub min: u64,
    pub low: u64,
    pub high: u64,
}

/// Watermarks of every zone of the system from their managed pages (`zones[i] = (managed, is_highmem)`).
pub fn zone_watermarks(min_free_kbytes: u64, zones: &[(u64, bool)], out: &mut [Watermarks]) {
    let pages_min = min_free_kbytes >> 2; // KiB to 4 KiB pages
    let lowmem_pages: u64 = zones.iter().filter(|z| !z.1).map(|z| z.0).sum();
    for (&(managed, highmem), wm) in zones.iter().zip(out.iter_mut()) {
        let share = (pages_min * managed).checked_div(lowmem_pages).unwrap_or(0);
        wm.min = if highmem && managed > 0 { (managed / 1024).clamp(32, 128) } else { share };
        let step = (share >> 2).max(managed * WATERMARK_SCALE_FACTOR / 10_000);
        wm.low = wm.min + step;
        wm.high = wm.low + step;
    }
}

/// `lowmem_reserve` of each zone of one node, from the managed pages of its zones.
pub fn lowmem_reserve(managed: &[u64; MAX_NR_ZONES]) -> [[u64; MAX_NR_ZONES]; MAX_NR_ZONES] {
    let mut reserve = [[0; MAX_NR_ZONES]; MAX_NR_ZONES];
    for i in 0..MAX_NR_ZONES - 1 {
        let ratio = LOWMEM_RESERVE_RATIO[i];
        let clear = ratio == 0 || managed[i] == 0;
        let mut upper = 0;
        for j in i + 1..MAX_NR_ZONES {
            upper += managed[j];
            reserve[i][j] = if clear { 0 } else { upper / ratio };
        }
    }
    reserve
}

/// Which watermark an allocation attempt must respect and how far below it may go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AllocFlags {
    /// The mark: `min`, `low` or `high` of the zone.
    pub mark: Mark,
    /// `__GFP_HIGH`: half of the mark.
    pub high: bool,
    /// Atomic context: a further quarter.
    pub harder: bool,
    /// `__GFP_MEMALLOC`: no watermark at all.
    pub no_watermarks: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mark {
    Min,
    Low,
    High,
}

impl Watermarks {
    pub fn get(&self, mark: Mark) -> u64 {
        match mark {
            Mark::Min => self.min,
            Mark::Low => self.low,
            Mark::High => self.high,
        }
    }
}

/// Linux's `__zone_watermark_ok`: may a zone with `free_pages` free (and a free block of at least `order`
/// somewhere, `has_block(order)`) serve an allocation of `order` whose highest usable zone is
/// `highest_zone` without dropping below its mark?
pub fn watermark_ok(
    free_pages: u64,
    order: usize,
    mark_pages: u64,
    lowmem_reserve: u64,
    flags: AllocFlags,
    has_block: impl Fn(usize) -> bool,
) -> bool {
    if flags.no_watermarks {
        return order < MAX_ORDER && has_block(order);
    }
    let free = free_pages as i64 - ((1i64 << order) - 1);
    let mut min = mark_pages as i64;
    if flags.high {
        min -= min / 2;
    }
    if flags.harder {
        min -= min / 4;
    }
    if free <= min + lowmem_reserve as i64 {
        return false;
    }
    order == 0 || has_block(order)
}

/// Per-CPU list batch size of a zone (Linux's `zone_batchsize`, at least 1).
pub fn pcp_batch(managed_pages: u64) -> u64 {
    let mut batch = (managed_pages >> 10).min(256) / 4;
    if batch < 1 {
        batch = 1;
    }
    let sum = batch + batch / 2;
    let pow2 = 1u64 << (63 - sum.leading_zeros());
    (pow2 - 1).max(1)
}

/// Per-CPU list high mark (Linux's `zone_highsize`): the low watermark shared by the node's CPUs, at
/// least four batches.
pub fn pcp_high(low_watermark: u64, batch: u64, cpus_on_node: u64) -> u64 {
    (low_watermark / cpus_on_node.max(1)).max(batch << 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn min_free_kbytes_matches_linux_examples() {
        // Linux's own table in mm/page_alloc.c: 16MB: 512k, 128MB: 1448k, 1GB: 4096k, 16GB: 16384k.
        assert_eq!(min_free_kbytes(16 * 1024), 512);
        assert_eq!(min_free_kbytes(128 * 1024), 1448);
        assert_eq!(min_free_kbytes(1024 * 1024), 4096);
        assert_eq!(min_free_kbytes(16 * 1024 * 1024), 16384);
        assert_eq!(min_free_kbytes(10), 128);
        assert_eq!(min_free_kbytes(u64::MAX / 32), 262_144);
        assert_eq!(int_sqrt(99), 9);
        assert_eq!(int_sqrt(100), 10);
    }

    #[test]
    fn watermarks_are_shared_by_managed_pages() {
        // A 1 GiB machine: DMA with 3840 managed pages, DMA32 with the rest.
        let zones = [(3840, false), (250_000, false)];
        let mut wm = [Watermarks::default(); 2];
        zone_watermarks(4096, &zones, &mut wm);
        let pages_min = 4096 / 4;
        assert_eq!(wm[0].min, pages_min * 3840 / 253_840);
        assert_eq!(wm[1].min, pages_min * 250_000 / 253_840);
        assert_eq!(wm[1].low - wm[1].min, (wm[1].min / 4).max(250));
        assert_eq!(wm[1].high - wm[1].low, wm[1].low - wm[1].min);
        assert!(wm[0].min + wm[1].min <= pages_min);
    }

    #[test]
    fn lowmem_reserve_protects_lower_zones() {
        let r = lowmem_reserve(&[3840, 500_000, 1_000_000, 0]);
        assert_eq!(r[0], [0, 500_000 / 256, 1_500_000 / 256, 1_500_000 / 256]);
        assert_eq!(r[1], [0, 0, 1_000_000 / 256, 1_000_000 / 256]);
        assert_eq!(r[2], [0, 0, 0, 0]);
        // An empty zone reserves nothing.
        assert_eq!(lowmem_reserve(&[0, 10, 10, 0])[0], [0; 4]);
    }

    #[test]
    fn watermark_check_honours_priority() {
        let normal = AllocFlags { mark: Mark::Min, high: false, harder: false, no_watermarks: false };
        let any = |_| true;
        assert!(!watermark_ok(100, 0, 100, 0, normal, any));
        assert!(watermark_ok(101, 0, 100, 0, normal, any));
        assert!(!watermark_ok(101, 1, 100, 0, normal, any), "an order-1 block needs one more page");
        assert!(!watermark_ok(150, 0, 100, 50, normal, any), "lowmem reserve counts");
        let high = AllocFlags { high: true, ..normal };
        assert!(watermark_ok(51, 0, 100, 0, high, any));
        let atomic = AllocFlags { high: true, harder: true, ..normal };
        assert!(watermark_ok(39, 0, 100, 0, atomic, any));
        assert!(!watermark_ok(38, 0, 100, 0, atomic, any));
        assert!(!watermark_ok(1000, 3, 100, 0, normal, |_| false), "no block of that order");
        let memalloc = AllocFlags { no_watermarks: true, ..normal };
        assert!(watermark_ok(1, 0, 100, 0, memalloc, any));
    }

    #[test]
    fn pcp_sizes_follow_linux() {
        assert_eq!(pcp_batch(3840), 1);
        assert_eq!(pcp_batch(250_000), 63);
        assert_eq!(pcp_batch(4_000_000), 63);
        assert_eq!(pcp_high(1000, 63, 1), 1000);
        assert_eq!(pcp_high(10, 1, 2), 5);
        assert_eq!(pcp_high(10, 3, 2), 12, "at least four batches");
    }
}
