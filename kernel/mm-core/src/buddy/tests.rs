//! Host tests of the buddy allocator: fixed cases, and random alloc/free sequences against a model.

use super::*;
use crate::page::{MAX_ORDER_PAGES, Page, SlicePageMap};
use proptest::prelude::*;

fn pages(n: u64) -> Vec<Page> {
    (0..n).map(|_| Page::new_reserved(0, 0)).collect()
}

#[test]
fn released_memory_forms_the_largest_aligned_blocks() {
    let mut store = pages(4096);
    let mut map = SlicePageMap { base_pfn: 0, pages: &mut store };
    let mut zone = BuddyZone::new(1, 4096);
    // pfn 1..4096: 1 + 2 + 4 + … + 512 pages below 1024, then 3 blocks of order 10.
    assert_eq!(zone.free_range(&mut map, 1, 4096), 4095);
    let counts = zone.nr_free_per_order();
    assert_eq!(counts, [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 3]);
    assert_eq!(zone.nr_free_pages(), 4095);
    zone.check(&map).unwrap();
}

#[test]
fn split_and_merge_round_trip() {
    let mut store = pages(1024);
    let mut map = SlicePageMap { base_pfn: 0, pages: &mut store };
    let mut zone = BuddyZone::new(0, 1024);
    zone.free_range(&mut map, 0, 1024);
    let a = zone.alloc(&mut map, 0, MigrateType::Movable).unwrap();
    assert_eq!(a, 0);
    // Splitting the order-10 block left one free block of every order 0..9.
    assert_eq!(zone.nr_free_per_order(), [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0]);
    let b = zone.alloc(&mut map, 0, MigrateType::Movable).unwrap();
    assert_eq!(b, 1, "the buddy of page 0");
    zone.check(&map).unwrap();
    zone.free(&mut map, a, 0, MigrateType::Movable).unwrap();
    zone.free(&mut map, b, 0, MigrateType::Movable).unwrap();
    assert_eq!(zone.nr_free_per_order(), [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    zone.check(&map).unwrap();
}

#[test]
fn bad_frees_are_refused() {
    let mut store = pages(2048);
    let mut map = SlicePageMap { base_pfn: 0, pages: &mut store };
    let mut zone = BuddyZone::new(0, 1024);
    zone.free_range(&mut map, 0, 1024);
    let a = zone.alloc(&mut map, 2, MigrateType::Unmovable).unwrap();
    assert_eq!(zone.free(&mut map, a + 1, 1, MigrateType::Unmovable), Err(FreeError::Misaligned));
    assert_eq!(zone.free(&mut map, 1024, 0, MigrateType::Unmovable), Err(FreeError::OutsideZone));
    assert_eq!(zone.free(&mut map, a, MAX_ORDER, MigrateType::Unmovable), Err(FreeError::BadOrder));
    zone.free(&mut map, a, 2, MigrateType::Unmovable).unwrap();
    // The unmovable allocation stole the order-10 block, which merged back whole under its new type.
    let free_block = zone.free_area[10].lists[MigrateType::Unmovable as usize].first().unwrap();
    assert_eq!(zone.free(&mut map, free_block, 10, MigrateType::Unmovable), Err(FreeError::AlreadyFree));
    zone.check(&map).unwrap();
}

#[test]
fn unmovable_allocation_steals_a_whole_pageblock() {
    let mut store = pages(1024);
    let mut map = SlicePageMap { base_pfn: 0, pages: &mut store };
    let mut zone = BuddyZone::new(0, 1024);
    zone.free_range(&mut map, 0, 1024);
    // Everything starts movable, as at boot.
    assert_eq!(zone.pageblock_migratetype(&map, 0), MigrateType::Movable);
    let pfn = zone.alloc(&mut map, 0, MigrateType::Unmovable).unwrap();
    // The order-10 block was taken whole: both of its pageblocks became unmovable.
    assert_eq!(zone.pageblock_migratetype(&map, pfn), MigrateType::Unmovable);
    assert_eq!(zone.pageblock_migratetype(&map, 512), MigrateType::Unmovable);
    assert_eq!(zone.blocks_per_order(MigrateType::Movable), [0; MAX_ORDER]);
    assert_eq!(zone.pageblock_counts(&map), [2, 0, 0, 0]);
    // The next unmovable allocation comes from the stolen block without another fallback.
    let next = zone.alloc(&mut map, 0, MigrateType::Unmovable).unwrap();
    assert_eq!(next, pfn + 1);
    zone.check(&map).unwrap();
}

#[test]
fn movable_fallback_takes_the_smallest_block_when_it_cannot_steal() {
    let mut store = pages(1024);
    let mut map = SlicePageMap { base_pfn: 0, pages: &mut store };
    let mut zone = BuddyZone::new(0, 1024);
    zone.free_range(&mut map, 0, 1024);
    // The first unmovable page steals the whole order-10 block; then take orders 9..4 so that only
    // unmovable blocks of orders 0..3 stay free.
    let mut held = vec![(zone.alloc(&mut map, 0, MigrateType::Unmovable).unwrap(), 0)];
    for order in (4..=9).rev() {
        held.push((zone.alloc(&mut map, order, MigrateType::Unmovable).unwrap(), order));
    }
    assert_eq!(zone.blocks_per_order(MigrateType::Unmovable), [1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0]);
    // A movable order-0 request cannot steal a pageblock from blocks below order 4, so it takes the
    // smallest block (order 0) instead of splitting the order-3 one, and the pageblock keeps its type.
    let m = zone.alloc(&mut map, 0, MigrateType::Movable).unwrap();
    assert_eq!(m, 1, "the free order-0 block is page 1, the buddy of the first page taken");
    assert_eq!(zone.blocks_per_order(MigrateType::Unmovable), [0, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(zone.pageblock_migratetype(&map, 0), MigrateType::Unmovable);
    zone.check(&map).unwrap();
    held.push((m, 0));
    for (pfn, order) in held {
        let mt = MigrateType::from_u8(map.page(pfn).migratetype);
        zone.free(&mut map, pfn, order, mt).unwrap();
    }
    assert_eq!(zone.nr_free_per_order(), [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    zone.check(&map).unwrap();
}

#[test]
fn shuffle_keeps_every_block_and_changes_the_order() {
    let mut store = pages(64 * 1024);
    let mut map = SlicePageMap { base_pfn: 0, pages: &mut store };
    let mut zone = BuddyZone::new(0, 64 * 1024);
    zone.free_range(&mut map, 0, 64 * 1024);
    let before: Vec<u64> = zone.free_area[10].lists[MigrateType::Movable as usize].iter(&map).collect();
    let mut state = 0x2545f4914f6cdd1du64;
    let mut random = |n: u64| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % n
    };
    let mut scratch = [0u32; 16];
    zone.shuffle(&mut map, &mut random, &mut scratch);
    let after: Vec<u64> = zone.free_area[10].lists[MigrateType::Movable as usize].iter(&map).collect();
    assert_ne!(before, after);
    let (mut b, mut a) = (before.clone(), after.clone());
    b.sort_unstable();
    a.sort_unstable();
    assert_eq!(a, b);
    zone.check(&map).unwrap();
}

#[derive(Clone, Debug)]
enum Op {
    Alloc { zone: usize, order: usize, mt: u8 },
    Free { index: usize },
}

fn arb_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..2usize, prop_oneof![6 => 0..3usize, 2 => 3..8usize, 1 => 8..MAX_ORDER], 0..3u8)
            .prop_map(|(zone, order, mt)| Op::Alloc { zone, order, mt }),
        2 => any::<usize>().prop_map(|index| Op::Free { index }),
    ]
}

proptest! {
    /// Two adjacent zones with a reserved hole; random allocations and frees of mixed orders and types.
    /// No frame is handed out twice, blocks stay in their zone, counts stay consistent, and freeing
    /// everything restores the boot free lists.
    #[test]
    fn buddy_matches_a_model(ops in prop::collection::vec(arb_op(), 1..300)) {
        const N: u64 = 6 * MAX_ORDER_PAGES;
        let mut store = pages(N);
        let mut map = SlicePageMap { base_pfn: 0, pages: &mut store };
        // Zone 0: [3, 2048) with a hole [700, 760); zone 1: [2048, N), and its span overlaps zone 0's
        // (as interleaved nodes do): only descriptors decide which zone a page belongs to.
        let mut zones = [BuddyZone::with_id(3, 2048, 0, 0), BuddyZone::with_id(1024, N, 0, 1)];
        zones[0].free_range(&mut map, 3, 700);
        zones[0].free_range(&mut map, 760, 2048);
        zones[1].free_range(&mut map, 2048, N);
        let boot: Vec<[u64; MAX_ORDER]> = zones.iter().map(|z| z.nr_free_per_order()).collect();
        let released = [2048 - 3 - 60, N - 2048];
        let mut owned = vec![false; N as usize];
        let mut blocks: Vec<(usize, u64, usize, MigrateType)> = Vec::new();
        for op in ops {
            match op {
                Op::Alloc { zone, order, mt } => {
                    let mt = MigrateType::from_u8(mt);
                    let had_block = zones[zone].has_free_block(order, true);
                    match zones[zone].alloc(&mut map, order, mt) {
                        Some(pfn) => {
                            prop_assert!(pfn.is_multiple_of(1 << order));
                            prop_assert!(zones[zone].contains(pfn) && zones[zone].contains(pfn + (1 << order) - 1));
                            for p in pfn..pfn + (1 << order) {
                                prop_assert!(!(700..760).contains(&p), "handed out a hole page");
                                prop_assert!(!owned[p as usize], "page {} handed out twice", p);
                                owned[p as usize] = true;
                            }
                            blocks.push((zone, pfn, order, mt));
                        }
                        None => prop_assert!(!had_block, "failed although a block of order {} was free", order),
                    }
                }
                Op::Free { index } => {
                    if blocks.is_empty() { continue; }
                    let (zone, pfn, order, mt) = blocks.swap_remove(index % blocks.len());
                    zones[zone].free(&mut map, pfn, order, mt).unwrap();
                    for p in pfn..pfn + (1 << order) { owned[p as usize] = false; }
                }
            }
            for (i, z) in zones.iter().enumerate() {
                z.check(&map).map_err(|e| TestCaseError::fail(format!("zone {i}: {e}")))?;
                let used: u64 = blocks.iter().filter(|b| b.0 == i).map(|b| 1u64 << b.2).sum();
                prop_assert_eq!(z.nr_free_pages() + used, released[i]);
            }
        }
        for (zone, pfn, order, mt) in blocks.drain(..) {
            zones[zone].free(&mut map, pfn, order, mt).unwrap();
        }
        for (i, z) in zones.iter().enumerate() {
            prop_assert_eq!(z.nr_free_per_order(), boot[i], "zone {} did not return to its boot state", i);
            prop_assert_eq!(z.nr_free_pages(), released[i]);
        }
    }
}
