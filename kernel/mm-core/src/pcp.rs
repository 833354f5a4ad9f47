//! Per-CPU page lists ("pcp"): each CPU keeps a few free order-0 pages per migrate type so that most
//! single-page allocations and frees never touch the zone lock (Linux's `per_cpu_pages`).
//!
//! An empty list is refilled with `batch` pages from the buddy allocator in one go; when a CPU holds more
//! than `high` pages it gives `batch` back. The kernel keeps one `Pcp` per CPU per zone, touched only by
//! its CPU with interrupts off, and takes the zone lock only for [`Pcp::refill`] and [`Pcp::drain`].

use crate::buddy::BuddyZone;
use crate::list::PageList;
use crate::page::{MIGRATE_PCPTYPES, MigrateType, PageMap, PageOwner, flags};

/// One CPU's lists for one zone.
#[derive(Clone, Debug)]
pub struct Pcp {
    lists: [PageList; MIGRATE_PCPTYPES],
    count: u64,
    pub high: u64,
    pub batch: u64,
}

impl Pcp {
    pub const fn new(high: u64, batch: u64) -> Self {
        Self { lists: [PageList::new(); MIGRATE_PCPTYPES], count: 0, high, batch }
    }

    /// Pages held.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Takes a page of `mt` if one is on the list.
    pub fn pop(&mut self, map: &mut impl PageMap, mt: MigrateType) -> Option<u64> {
        let pfn = self.lists[mt as usize].pop_front(map)?;
        map.page_mut(pfn).clear(flags::PG_PCP);
        self.count -= 1;
        Some(pfn)
    }

    /// Puts a freed page on the list of `mt` (a pcp type; callers free other types straight to the buddy).
    pub fn push(&mut self, map: &mut impl PageMap, pfn: u64, mt: MigrateType) {
        let page = map.page_mut(pfn);
        page.set(flags::PG_PCP);
        page.migratetype = mt as u8;
        page.owner = PageOwner::Free as u8;
        self.lists[mt as usize].push_front(map, pfn);
        self.count += 1;
    }

    /// Whether the CPU holds more than it should.
    pub fn over_high(&self) -> bool {
        self.count > self.high
    }

    /// Moves up to `batch` order-0 pages of `mt` from the zone to this list (`rmqueue_bulk`); returns how
    /// many came.
    pub fn refill(&mut self, zone: &mut BuddyZone, map: &mut impl PageMap, mt: MigrateType) -> u64 {
        let mut got = 0;
        while got < self.batch.max(1) {
            let Some(pfn) = zone.alloc(map, 0, mt) else { break };
            // Keep the allocation order: pages taken first are handed out first.
            let page = map.page_mut(pfn);
            page.set(flags::PG_PCP);
            page.migratetype = mt as u8;
            page.owner = PageOwner::Free as u8;
            self.lists[mt as usize].push_back(map, pfn);
            self.count += 1;
            got += 1;
        }
        got
    }

    /// Returns up to `n` pages to the zone, taking from each list in turn (`free_pcppages_bulk`); each
    /// page goes to the free list of its pageblock's current type. Returns the number returned.
    pub fn drain(&mut self, zone: &mut BuddyZone, map: &mut impl PageMap, n: u64) -> u64 {
        let mut freed = 0;
        let mut list = 0;
        while freed < n && self.count > 0 {
            if let Some(pfn) = self.lists[list].pop_front(map) {
                self.count -= 1;
                map.page_mut(pfn).clear(flags::PG_PCP);
                let mt = zone.pageblock_migratetype(map, pfn);
                // Pages on a pcp list were allocated from this zone and are not in the buddy.
                let _ = zone.free(map, pfn, 0, mt);
                freed += 1;
            }
            list = (list + 1) % MIGRATE_PCPTYPES;
        }
        freed
    }

    /// Returns every page to the zone.
    pub fn drain_all(&mut self, zone: &mut BuddyZone, map: &mut impl PageMap) -> u64 {
        self.drain(zone, map, u64::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::page::{Page, SlicePageMap};

    #[test]
    fn refill_hand_out_free_and_drain() {
        let mut store: Vec<Page> = (0..1024).map(|_| Page::new_reserved(0, 0)).collect();
        let mut map = SlicePageMap { base_pfn: 0, pages: &mut store };
        let mut zone = BuddyZone::new(0, 1024);
        zone.free_range(&mut map, 0, 1024);
        let mut pcp = Pcp::new(8, 4);
        assert_eq!(pcp.pop(&mut map, MigrateType::Movable), None);
        assert_eq!(pcp.refill(&mut zone, &mut map, MigrateType::Movable), 4);
        assert_eq!(zone.nr_free_pages(), 1020);
        let first = pcp.pop(&mut map, MigrateType::Movable).unwrap();
        assert_eq!(first, 0, "pages come out in the order the buddy gave them");
        assert!(!map.page(first).has(flags::PG_PCP));
        pcp.push(&mut map, first, MigrateType::Movable);
        assert_eq!(pcp.count(), 4);
        assert!(!pcp.over_high());
        assert_eq!(pcp.drain_all(&mut zone, &mut map), 4);
        assert_eq!(zone.nr_free_pages(), 1024);
        assert_eq!(zone.nr_free_per_order()[10], 1, "everything merged back");
        zone.check(&map).unwrap();
    }
}
