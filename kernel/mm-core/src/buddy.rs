//! The buddy allocator of one zone (seed 000 §22–§24), as Linux's `mm/page_alloc.c` core.
//!
//! Free memory is kept in blocks of 2^order pages, naturally aligned, in `free_area[order]`, with one list
//! per migrate type. Allocation takes the smallest block that fits from the wanted type's lists and splits
//! it, putting the unused halves back (`expand`). Freeing merges a block with its buddy — the block at
//! `pfn ^ (1 << order)` — for as long as the buddy is free and of the same order.
//!
//! Mobility grouping: every pageblock (2^9 pages) has a migrate type. When a type's lists are empty the
//! allocation falls back to the others in the order of [`MigrateType::fallbacks`], preferring the largest
//! free block, and steals the whole pageblock when the block is big or the request is unmovable or
//! reclaimable (Linux's `__rmqueue_fallback` / `steal_suitable_fallback`); movable requests that cannot
//! steal a whole block take the smallest one instead, so they do not scatter unmovable memory.
//!
//! Invariants, kept by every method and checked by [`BuddyZone::check`] in tests:
//! * a page heads a free block iff it carries `PG_BUDDY`; its `order` and `migratetype` say which list;
//! * free blocks are aligned to their size, lie inside the zone and never overlap;
//! * two free buddies of the same order below the top order never coexist (they would have merged);
//! * `nr_free` of each order and `nr_free_pages` match the lists.

use crate::list::PageList;
use crate::page::{
    MAX_ORDER, MIGRATE_PCPTYPES, MIGRATE_TYPES, MigrateType, PAGEBLOCK_NR_PAGES, PAGEBLOCK_ORDER, PageMap,
    PageOwner, flags,
};

/// The free lists of one order.
#[derive(Clone, Copy, Debug, Default)]
pub struct FreeArea {
    pub lists: [PageList; MIGRATE_TYPES],
    /// Free blocks of this order, all types.
    pub nr_free: u64,
}

/// Why a block could not be freed; the caller reports it as Linux's "Bad page state".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FreeError {
    /// The order is not below `MAX_ORDER`.
    BadOrder,
    /// The frame number is not a multiple of the block size.
    Misaligned,
    /// Part of the block lies outside this zone.
    OutsideZone,
    /// The block's first page already heads a free block: a double free.
    AlreadyFree,
}

/// The free memory of one zone: `[start_pfn, end_pfn)` of node `node`, zone index `zone`.
///
/// Spans of different zones may overlap when nodes interleave; a page belongs to the zone whose
/// node and zone index its descriptor carries, and only such pages ever merge here.
#[derive(Clone, Debug)]
pub struct BuddyZone {
    start_pfn: u64,
    end_pfn: u64,
    node: u8,
    zone: u8,
    pub free_area: [FreeArea; MAX_ORDER],
    nr_free_pages: u64,
}

fn mergeable(mt: MigrateType) -> bool {
    (mt as usize) < MIGRATE_PCPTYPES
}

/// Whether a fallback allocation of `order` may take the whole pageblock (Linux's `can_steal_fallback`).
fn can_steal_fallback(order: usize, start: MigrateType) -> bool {
    order >= PAGEBLOCK_ORDER as usize / 2
        || start == MigrateType::Reclaimable
        || start == MigrateType::Unmovable
}

impl BuddyZone {
    pub const fn new(start_pfn: u64, end_pfn: u64) -> Self {
        Self::with_id(start_pfn, end_pfn, 0, 0)
    }

    /// A zone whose pages carry `node` and `zone` in their descriptors.
    pub const fn with_id(start_pfn: u64, end_pfn: u64, node: u8, zone: u8) -> Self {
        Self {
            start_pfn,
            end_pfn,
            node,
            zone,
            free_area: [FreeArea { lists: [PageList::new(); MIGRATE_TYPES], nr_free: 0 }; MAX_ORDER],
            nr_free_pages: 0,
        }
    }

    pub fn start_pfn(&self) -> u64 {
        self.start_pfn
    }

    pub fn end_pfn(&self) -> u64 {
        self.end_pfn
    }

    pub fn contains(&self, pfn: u64) -> bool {
        self.start_pfn <= pfn && pfn < self.end_pfn
    }

    /// Pages in free blocks.
    pub fn nr_free_pages(&self) -> u64 {
        self.nr_free_pages
    }

    /// The page that stores the migrate type of `pfn`'s pageblock (its first page inside the zone).
    fn pageblock_head(&self, pfn: u64) -> u64 {
        (pfn & !(PAGEBLOCK_NR_PAGES - 1)).max(self.start_pfn)
    }

    pub fn pageblock_migratetype(&self, map: &impl PageMap, pfn: u64) -> MigrateType {
        MigrateType::from_u8(map.page(self.pageblock_head(pfn)).pageblock_migratetype)
    }

    pub fn set_pageblock_migratetype(&self, map: &mut impl PageMap, pfn: u64, mt: MigrateType) {
        map.page_mut(self.pageblock_head(pfn)).pageblock_migratetype = mt as u8;
    }

    fn add(&mut self, map: &mut impl PageMap, pfn: u64, order: usize, mt: MigrateType, tail: bool) {
        let page = map.page_mut(pfn);
        page.set(flags::PG_BUDDY);
        page.order = order as u8;
        page.migratetype = mt as u8;
        page.owner = PageOwner::Free as u8;
        let list = &mut self.free_area[order].lists[mt as usize];
        if tail {
            list.push_back(map, pfn);
        } else {
            list.push_front(map, pfn);
        }
        self.free_area[order].nr_free += 1;
        self.nr_free_pages += 1 << order;
    }

    fn del(&mut self, map: &mut impl PageMap, pfn: u64, order: usize) {
        let mt = map.page(pfn).migratetype as usize;
        self.free_area[order].lists[mt].remove(map, pfn);
        map.page_mut(pfn).clear(flags::PG_BUDDY);
        self.free_area[order].nr_free -= 1;
        self.nr_free_pages -= 1 << order;
    }

    /// Moves a free block to the lists of another migrate type.
    fn move_to(&mut self, map: &mut impl PageMap, pfn: u64, order: usize, mt: MigrateType) {
        let old = map.page(pfn).migratetype as usize;
        self.free_area[order].lists[old].remove(map, pfn);
        map.page_mut(pfn).migratetype = mt as u8;
        self.free_area[order].lists[mt as usize].push_front(map, pfn);
    }

    /// Whether `pfn` heads a free block of exactly `order` in this zone (Linux's `page_is_buddy`).
    fn is_free_block(&self, map: &impl PageMap, pfn: u64, order: usize) -> bool {
        self.contains(pfn) && {
            let page = map.page(pfn);
            page.has(flags::PG_BUDDY)
                && usize::from(page.order) == order
                && page.node == self.node
                && page.zone == self.zone
        }
    }

    /// Returns a block to the free lists of `mt`, merging it with free buddies (Linux's
    /// `__free_one_page`). The block must be allocated: its head must not carry `PG_BUDDY`.
    pub fn free(
        &mut self,
        map: &mut impl PageMap,
        pfn: u64,
        order: usize,
        mt: MigrateType,
    ) -> Result<(), FreeError> {
        if order >= MAX_ORDER {
            return Err(FreeError::BadOrder);
        }
        if !pfn.is_multiple_of(1 << order) {
            return Err(FreeError::Misaligned);
        }
        if pfn < self.start_pfn || pfn + (1 << order) > self.end_pfn {
            return Err(FreeError::OutsideZone);
        }
        if map.page(pfn).has(flags::PG_BUDDY) {
            return Err(FreeError::AlreadyFree);
        }
        let (mut pfn, mut order) = (pfn, order);
        let mut stopped_at_buddy = None;
        while order < MAX_ORDER - 1 {
            let buddy = pfn ^ (1 << order);
            if !self.is_free_block(map, buddy, order) {
                stopped_at_buddy = Some(buddy);
                break;
            }
            if order >= PAGEBLOCK_ORDER as usize {
                let buddy_mt = self.pageblock_migratetype(map, buddy);
                if buddy_mt != mt && (!mergeable(mt) || !mergeable(buddy_mt)) {
                    stopped_at_buddy = Some(buddy);
                    break;
                }
            }
            self.del(map, buddy, order);
            pfn &= buddy;
            order += 1;
        }
        // If the buddy one level up is free, this block's buddy will likely be freed soon and the two will
        // merge into a bigger block: keep this one at the tail so it is not handed out first (Linux's
        // `buddy_merge_likely`).
        let tail = stopped_at_buddy.is_some_and(|buddy| {
            order < MAX_ORDER - 2 && {
                let parent = pfn & buddy;
                self.is_free_block(map, parent ^ (1 << (order + 1)), order + 1)
            }
        });
        self.add(map, pfn, order, mt, tail);
        Ok(())
    }

    /// Allocates a block of `order` for `mt`, falling back to other types when needed (Linux's
    /// `__rmqueue`). Returns the first frame; its descriptor no longer carries `PG_BUDDY`.
    pub fn alloc(&mut self, map: &mut impl PageMap, order: usize, mt: MigrateType) -> Option<u64> {
        if order >= MAX_ORDER {
            return None;
        }
        if let Some(pfn) = self.alloc_smallest(map, order, mt) {
            return Some(pfn);
        }
        if self.steal_fallback(map, order, mt) {
            return self.alloc_smallest(map, order, mt);
        }
        None
    }

    /// Takes the smallest block of at least `order` from `mt`'s lists and splits it (`__rmqueue_smallest`).
    fn alloc_smallest(&mut self, map: &mut impl PageMap, order: usize, mt: MigrateType) -> Option<u64> {
        for current in order..MAX_ORDER {
            if let Some(pfn) = self.free_area[current].lists[mt as usize].first() {
                self.del(map, pfn, current);
                self.expand(map, pfn, order, current, mt);
                return Some(pfn);
            }
        }
        None
    }

    /// Splits the block of `high` order at `pfn`, keeping the first 2^`low` pages and freeing the halves.
    fn expand(&mut self, map: &mut impl PageMap, pfn: u64, low: usize, high: usize, mt: MigrateType) {
        let mut order = high;
        while order > low {
            order -= 1;
            self.add(map, pfn + (1 << order), order, mt, false);
        }
    }

    /// The first fallback type with a free block of `order`, and whether the pageblock may be stolen.
    fn find_fallback(&self, order: usize, start: MigrateType) -> Option<(MigrateType, bool)> {
        if self.free_area[order].nr_free == 0 {
            return None;
        }
        start
            .fallbacks()
            .iter()
            .find(|&&f| !self.free_area[order].lists[f as usize].is_empty())
            .map(|&f| (f, can_steal_fallback(order, start)))
    }

    /// Moves a block of another type onto `start`'s lists, taking its pageblock when allowed. Returns false
    /// when no other type has free memory (`__rmqueue_fallback`).
    fn steal_fallback(&mut self, map: &mut impl PageMap, order: usize, start: MigrateType) -> bool {
        let mut found = None;
        for current in (order..MAX_ORDER).rev() {
            if let Some((fallback, can_steal)) = self.find_fallback(current, start) {
                // A movable request that cannot take the whole pageblock splits the smallest block instead
                // of breaking up a large one.
                if !(can_steal || start != MigrateType::Movable || current == order) {
                    break;
                }
                found = Some((current, fallback, can_steal));
                break;
            }
        }
        if found.is_none() {
            found = (order..MAX_ORDER).find_map(|current| {
                self.find_fallback(current, start).map(|(fallback, can_steal)| (current, fallback, can_steal))
            });
        }
        let Some((current, fallback, can_steal)) = found else { return false };
        let pfn = self.free_area[current].lists[fallback as usize].first().expect("list was not empty");
        self.steal_block(map, pfn, current, start, can_steal);
        true
    }

    /// Linux's `steal_suitable_fallback`.
    fn steal_block(
        &mut self,
        map: &mut impl PageMap,
        pfn: u64,
        order: usize,
        start: MigrateType,
        whole_block: bool,
    ) {
        if order >= PAGEBLOCK_ORDER as usize {
            let mut block = pfn;
            while block < pfn + (1 << order) {
                self.set_pageblock_migratetype(map, block, start);
                block += PAGEBLOCK_NR_PAGES;
            }
            self.move_to(map, pfn, order, start);
            return;
        }
        if !whole_block {
            self.move_to(map, pfn, order, start);
            return;
        }
        let moved = self.move_freepages_block(map, pfn, start);
        if moved >= PAGEBLOCK_NR_PAGES / 2 {
            self.set_pageblock_migratetype(map, pfn, start);
        }
    }

    /// Moves every free block of `pfn`'s pageblock to `mt`'s lists; returns the pages moved.
    pub fn move_freepages_block(&mut self, map: &mut impl PageMap, pfn: u64, mt: MigrateType) -> u64 {
        let start = self.pageblock_head(pfn);
        let end = ((pfn & !(PAGEBLOCK_NR_PAGES - 1)) + PAGEBLOCK_NR_PAGES).min(self.end_pfn);
        let mut moved = 0;
        let mut cursor = start;
        while cursor < end {
            let page = map.page(cursor);
            if page.has(flags::PG_BUDDY) {
                let order = usize::from(page.order);
                self.move_to(map, cursor, order, mt);
                moved += 1 << order;
                cursor += 1 << order;
            } else {
                cursor += 1;
            }
        }
        moved
    }

    /// Releases `[start, end)` into the free lists in the largest aligned blocks (Linux's
    /// `__free_pages_memory`): every page becomes unreserved and free. Returns the pages released.
    pub fn free_range(&mut self, map: &mut impl PageMap, start: u64, end: u64) -> u64 {
        let (start, end) = (start.max(self.start_pfn), end.min(self.end_pfn));
        for pfn in start..end {
            let page = map.page_mut(pfn);
            page.clear(flags::PG_RESERVED);
            page.owner = PageOwner::Free as u8;
            page.node = self.node;
            page.zone = self.zone;
            page.set_refcount(0);
        }
        let mut pfn = start;
        while pfn < end {
            let fits = 63 - (end - pfn).leading_zeros() as usize;
            let order = (pfn.trailing_zeros() as usize).min(fits).min(MAX_ORDER - 1);
            let mt = self.pageblock_migratetype(map, pfn);
            // Alignment, range and PG_BUDDY are correct by construction here.
            let _ = self.free(map, pfn, order, mt);
            pfn += 1 << order;
        }
        end.saturating_sub(start)
    }

    /// Number of free blocks of each order in `mt`'s lists (a row of `/proc/pagetypeinfo`).
    pub fn blocks_per_order(&self, mt: MigrateType) -> [u64; MAX_ORDER] {
        core::array::from_fn(|order| self.free_area[order].lists[mt as usize].len())
    }

    /// Number of free blocks of each order, all types (a row of `/proc/buddyinfo`).
    pub fn nr_free_per_order(&self) -> [u64; MAX_ORDER] {
        core::array::from_fn(|order| self.free_area[order].nr_free)
    }

    /// Pageblocks of each migrate type in the zone (the second table of `/proc/pagetypeinfo`).
    pub fn pageblock_counts(&self, map: &impl PageMap) -> [u64; MIGRATE_TYPES] {
        let mut counts = [0; MIGRATE_TYPES];
        let mut pfn = self.start_pfn;
        while pfn < self.end_pfn {
            if map.present(pfn) {
                counts[self.pageblock_migratetype(map, pfn) as usize] += 1;
            }
            pfn = (pfn & !(PAGEBLOCK_NR_PAGES - 1)) + PAGEBLOCK_NR_PAGES;
        }
        counts
    }

    /// Whether a block of at least `order` is free in one of the lists an ordinary allocation may use
    /// (the last check of Linux's `__zone_watermark_ok`).
    pub fn has_free_block(&self, order: usize, include_highatomic: bool) -> bool {
        (order..MAX_ORDER).any(|o| {
            let area = &self.free_area[o];
            area.lists[..MIGRATE_PCPTYPES].iter().any(|l| !l.is_empty())
                || (include_highatomic && !area.lists[MigrateType::HighAtomic as usize].is_empty())
        })
    }

    /// Randomizes the order of every free list with a Fisher–Yates shuffle (seed 000 §30); `random(n)`
    /// returns a number in `[0, n)`. Lists longer than `scratch` are shuffled in consecutive chunks.
    pub fn shuffle(
        &mut self,
        map: &mut impl PageMap,
        random: &mut impl FnMut(u64) -> u64,
        scratch: &mut [u32],
    ) {
        if scratch.is_empty() {
            return;
        }
        for order in 0..MAX_ORDER {
            for mt in 0..MIGRATE_TYPES {
                let mut remaining = self.free_area[order].lists[mt].len();
                while remaining > 0 {
                    let chunk = (remaining as usize).min(scratch.len());
                    for slot in scratch[..chunk].iter_mut() {
                        *slot = self.free_area[order].lists[mt].pop_front(map).expect("counted") as u32;
                    }
                    for i in (1..chunk).rev() {
                        let j = random(i as u64 + 1) as usize;
                        scratch.swap(i, j);
                    }
                    for &pfn in &scratch[..chunk] {
                        self.free_area[order].lists[mt].push_back(map, u64::from(pfn));
                    }
                    remaining -= chunk as u64;
                }
            }
        }
    }

    /// Verifies the invariants of the module documentation; returns a description of the first violation.
    pub fn check(&self, map: &impl PageMap) -> Result<(), &'static str> {
        let mut pages = 0;
        for (order, area) in self.free_area.iter().enumerate() {
            let mut blocks = 0;
            for (mt, list) in area.lists.iter().enumerate() {
                let mut len = 0;
                for pfn in list.iter(map) {
                    let page = map.page(pfn);
                    if !page.has(flags::PG_BUDDY) || usize::from(page.order) != order {
                        return Err("listed block without PG_BUDDY or with another order");
                    }
                    if usize::from(page.migratetype) != mt {
                        return Err("listed block on the wrong migrate type's list");
                    }
                    if !pfn.is_multiple_of(1 << order)
                        || pfn < self.start_pfn
                        || pfn + (1 << order) > self.end_pfn
                    {
                        return Err("free block misaligned or outside the zone");
                    }
                    let buddy = pfn ^ (1 << order);
                    if order < MAX_ORDER - 1 && self.is_free_block(map, buddy, order) {
                        let (mine, theirs) =
                            (MigrateType::from_u8(mt as u8), self.pageblock_migratetype(map, buddy));
                        let may_stay_apart = order >= PAGEBLOCK_ORDER as usize
                            && mine != theirs
                            && (!mergeable(mine) || !mergeable(theirs));
                        if !may_stay_apart {
                            return Err("two free buddies were not merged");
                        }
                    }
                    len += 1;
                }
                if len != list.len() {
                    return Err("list length differs from its count");
                }
                blocks += len;
            }
            if blocks != area.nr_free {
                return Err("nr_free differs from the lists");
            }
            pages += blocks << order;
        }
        if pages != self.nr_free_pages {
            return Err("nr_free_pages differs from the lists");
        }
        let mut heads = 0;
        for pfn in self.start_pfn..self.end_pfn {
            let mine = |p: &crate::page::Page| p.node == self.node && p.zone == self.zone;
            if map.present(pfn) && map.page(pfn).has(flags::PG_BUDDY) && mine(map.page(pfn)) {
                heads += 1;
            }
        }
        let listed: u64 = self.free_area.iter().map(|a| a.nr_free).sum();
        if heads != listed {
            return Err("a PG_BUDDY page is on no list");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
