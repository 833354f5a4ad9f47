//! Host tests of memblock: fixed cases and random operation sequences checked against a page bitmap model.

use super::*;
use proptest::prelude::*;

fn regions(a: &RegionArray) -> Vec<(u64, u64)> {
    a.regions().iter().map(|r| (r.base, r.end())).collect()
}

#[test]
fn add_merges_overlapping_and_touching_ranges() {
    let mut a = RegionArray::new("memory");
    a.add(0x3000, 0x1000).unwrap();
    a.add(0x1000, 0x1000).unwrap();
    assert_eq!(regions(&a), [(0x1000, 0x2000), (0x3000, 0x4000)]);
    a.add(0x2000, 0x1000).unwrap(); // touches both
    assert_eq!(regions(&a), [(0x1000, 0x4000)]);
    a.add(0x800, 0x4000).unwrap(); // overlaps and extends both sides
    assert_eq!(regions(&a), [(0x800, 0x4800)]);
    a.add(0x9000, 0).unwrap();
    assert_eq!(a.regions().len(), 1);
}

#[test]
fn remove_splits_and_full_array_refuses_without_change() {
    let mut a = RegionArray::new("reserved");
    a.add(0, 0x10000).unwrap();
    a.remove(0x4000, 0x1000).unwrap();
    assert_eq!(regions(&a), [(0, 0x4000), (0x5000, 0x10000)]);

    let mut full = RegionArray::new("reserved");
    for i in 0..MEMBLOCK_REGIONS as u64 {
        full.add(i * 0x2000, 0x1000).unwrap();
    }
    let before = regions(&full);
    assert_eq!(full.add(0x1000_0000, 0x1000), Err(MemblockError::ArrayFull("reserved")));
    assert_eq!(full.remove(0x400, 0x100), Err(MemblockError::ArrayFull("reserved")));
    assert_eq!(regions(&full), before);
    // Operations that do not need a new slot still work on a full array.
    full.add(0x1000, 0x1000).unwrap(); // bridges two regions
    assert_eq!(full.regions().len(), MEMBLOCK_REGIONS - 1);
    full.remove(0, 0x1000).unwrap();
}

#[test]
fn sizes_are_capped_at_the_top_of_the_address_space() {
    let mut a = RegionArray::new("memory");
    a.add(u64::MAX - 0xfff, 0x10000).unwrap();
    assert_eq!(regions(&a), [(u64::MAX - 0xfff, u64::MAX)]);
}

fn qemu_64m() -> Memblock {
    let mut m = Memblock::new();
    m.add(0, 0x9fc00).unwrap();
    m.add(0x100000, 0x3ee0000).unwrap();
    m
}

#[test]
fn alloc_is_top_down_aligned_and_respects_limit_and_reservations() {
    let mut m = qemu_64m();
    m.reserve(0, 0x100000).unwrap();
    m.reserve(0x100000, 0x200000).unwrap(); // kernel image
    let a = m.alloc(0x1000, 0x1000).unwrap();
    assert_eq!(a, 0x3fe0000 - 0x1000);
    let b = m.alloc(0x3000, 0x10000).unwrap();
    assert_eq!(b, 0x3fd0000); // below the first page, rounded down to 64 KiB
    assert_eq!(b % 0x10000, 0);
    m.set_current_limit(0x1000000);
    let c = m.alloc(0x1000, 0x1000).unwrap();
    assert_eq!(c, 0xfff000);
    assert!(m.alloc(0x1000, 3).is_err());
    assert_eq!(m.alloc_range(0x1000, 0x1000, 0, 0x300000), Err(MemblockError::NoMemory));
    m.free(c, 0x1000).unwrap();
    assert_eq!(m.alloc(0x1000, 0x1000).unwrap(), c);
}

#[test]
fn free_ranges_and_sizes() {
    let mut m = qemu_64m();
    m.reserve(0, 0x1000).unwrap();
    m.reserve(0x9f000, 0x61000).unwrap(); // reaches past the first RAM region into the hole
    m.reserve(0x200000, 0x1000).unwrap();
    m.reserve(0x8000000, 0x1000).unwrap(); // outside RAM: not counted
    let free: Vec<_> = m.free_ranges().collect();
    assert_eq!(free, [(0x1000, 0x9f000), (0x100000, 0x200000), (0x201000, 0x3fe0000)]);
    assert_eq!(m.phys_mem_size(), 0x9fc00 + 0x3ee0000);
    assert_eq!(m.free_size(), free.iter().map(|(s, e)| e - s).sum::<u64>());
    assert_eq!(m.reserved_ram_size(), 0x1000 + 0xc00 + 0x1000);
}

#[derive(Clone, Debug)]
enum Op {
    Add(u64, u64),
    Remove(u64, u64),
    Reserve(u64, u64),
    Free(u64, u64),
    Alloc(u64, u32),
    Limit(u64),
}

const PAGES: u64 = 256;
const PAGE: u64 = 0x1000;

fn arb_op() -> impl Strategy<Value = Op> {
    let range = (0..PAGES, 1..32u64).prop_map(|(p, n)| (p * PAGE, n * PAGE));
    prop_oneof![
        3 => range.clone().prop_map(|(b, s)| Op::Add(b, s)),
        1 => range.clone().prop_map(|(b, s)| Op::Remove(b, s)),
        2 => range.clone().prop_map(|(b, s)| Op::Reserve(b, s)),
        1 => range.prop_map(|(b, s)| Op::Free(b, s)),
        4 => (1..8u64, 0..5u32).prop_map(|(n, a)| Op::Alloc(n * PAGE, a)),
        1 => (1..=PAGES).prop_map(|p| Op::Limit(p * PAGE)),
    ]
}

proptest! {
    /// memblock matches a per-page model, and an allocation is always free RAM, aligned, below the limit,
    /// the highest such place, and disjoint from everything handed out before.
    #[test]
    fn memblock_matches_a_page_model(ops in prop::collection::vec(arb_op(), 1..200)) {
        let mut m = Memblock::new();
        let mut memory = vec![false; PAGES as usize + 40];
        let mut reserved = vec![false; PAGES as usize + 40];
        let mut limit = u64::MAX;
        let mut allocations: Vec<(u64, u64)> = Vec::new();
        let set = |v: &mut Vec<bool>, b: u64, s: u64, val: bool| {
            for p in b / PAGE..(b + s) / PAGE { v[p as usize] = val; }
        };
        for op in ops {
            match op {
                Op::Add(b, s) => { m.add(b, s).unwrap(); set(&mut memory, b, s, true); }
                Op::Remove(b, s) => { m.remove(b, s).unwrap(); set(&mut memory, b, s, false); }
                Op::Reserve(b, s) => { m.reserve(b, s).unwrap(); set(&mut reserved, b, s, true); }
                Op::Free(b, s) => {
                    m.free(b, s).unwrap();
                    set(&mut reserved, b, s, false);
                    allocations.retain(|&(ab, asz)| ab + asz <= b || b + s <= ab);
                }
                Op::Limit(l) => { m.set_current_limit(l); limit = l; }
                Op::Alloc(s, align_log) => {
                    let align = PAGE << align_log;
                    let pages = s / PAGE;
                    let fits = |base: u64| {
                        base.is_multiple_of(align) && base + s <= limit
                            && (base / PAGE..base / PAGE + pages)
                                .all(|p| memory[p as usize] && !reserved[p as usize])
                    };
                    let model_best = (0..memory.len() as u64 - pages + 1)
                        .map(|p| p * PAGE).filter(|&b| fits(b)).max();
                    match m.alloc(s, align) {
                        Ok(base) => {
                            prop_assert!(fits(base), "{base:#x} not free/aligned/below limit");
                            prop_assert_eq!(Some(base), model_best, "not the highest fit");
                            for &(ab, asz) in &allocations {
                                prop_assert!(base + s <= ab || ab + asz <= base, "overlaps earlier alloc");
                            }
                            allocations.push((base, s));
                            set(&mut reserved, base, s, true);
                        }
                        Err(e) => {
                            prop_assert_eq!(e, MemblockError::NoMemory);
                            prop_assert_eq!(model_best, None);
                        }
                    }
                }
            }
            // The region arrays describe exactly the model's pages and stay canonical.
            for (array, model) in [(&m.memory, &memory), (&m.reserved, &reserved)] {
                for w in array.regions().windows(2) {
                    prop_assert!(w[0].end() < w[1].base, "sorted, disjoint, not touching");
                }
                for (p, &expected) in model.iter().enumerate() {
                    let b = p as u64 * PAGE;
                    prop_assert_eq!(array.contains(b, b + PAGE), expected, "{} page {}", array.name(), p);
                }
            }
            let free_pages = memory.iter().zip(&reserved).filter(|&(&mem, &res)| mem && !res).count() as u64;
            prop_assert_eq!(m.free_size(), free_pages * PAGE);
        }
    }
}
