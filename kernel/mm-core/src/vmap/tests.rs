//! Host tests of the vmap area allocator: fixed cases, and random alloc/free sequences against a model.

use super::*;
use proptest::prelude::*;

const PAGE: u64 = PAGE_SIZE;
/// Linux's VMALLOC_START on x86-64 without KASLR.
const START: u64 = 0xffff_c900_0000_0000;

fn areas(pages: u64) -> VmapAreas<&'static str> {
    VmapAreas::new(START, START + pages * PAGE).unwrap()
}

#[test]
fn bad_ranges_and_requests_are_refused() {
    assert_eq!(VmapAreas::<()>::new(START, START).unwrap_err(), VmapError::BadRange);
    assert_eq!(VmapAreas::<()>::new(START + PAGE, START).unwrap_err(), VmapError::BadRange);
    assert_eq!(VmapAreas::<()>::new(START + 1, START + PAGE).unwrap_err(), VmapError::BadRange);
    assert_eq!(VmapAreas::<()>::new(START, START + PAGE + 8).unwrap_err(), VmapError::BadRange);
    let mut vm = areas(16);
    assert_eq!(vm.alloc(0, PAGE, PAGE, "zero"), Err(VmapError::ZeroSize));
    assert_eq!(vm.alloc(PAGE + 1, PAGE, PAGE, "odd"), Err(VmapError::Misaligned(PAGE + 1)));
    assert_eq!(vm.alloc(PAGE, PAGE, 100, "odd guard"), Err(VmapError::Misaligned(100)));
    assert_eq!(vm.alloc(PAGE, 3 * PAGE, 0, "align"), Err(VmapError::BadAlign(3 * PAGE)));
    assert_eq!(vm.alloc(PAGE, 0, 0, "align"), Err(VmapError::BadAlign(0)));
    assert_eq!(vm.alloc(16 * PAGE, PAGE, PAGE, "too big with its guard"), Err(VmapError::NoSpace));
    assert_eq!(vm.alloc(!(PAGE - 1), PAGE, PAGE, "overflow"), Err(VmapError::NoSpace));
    assert_eq!(vm.nr_areas(), 0);
    assert_eq!(vm.free_bytes(), 16 * PAGE);
    vm.check().unwrap();
    // A request that fills the range exactly, guard included, fits.
    assert_eq!(vm.alloc(15 * PAGE, PAGE, PAGE, "all"), Ok(START));
    assert_eq!(vm.free_bytes(), 0);
    assert_eq!(vm.alloc(PAGE, PAGE, 0, "none left"), Err(VmapError::NoSpace));
    vm.check().unwrap();
}

#[test]
fn every_area_is_followed_by_its_guard() {
    let mut vm = areas(64);
    let a = vm.alloc(2 * PAGE, PAGE, PAGE, "a").unwrap();
    let b = vm.alloc(3 * PAGE, PAGE, 2 * PAGE, "b").unwrap();
    let c = vm.alloc(PAGE, PAGE, 0, "c").unwrap();
    assert_eq!((a, b, c), (START, START + 3 * PAGE, START + 8 * PAGE));
    assert_eq!((vm.busy_bytes(), vm.guard_bytes(), vm.free_bytes()), (6 * PAGE, 3 * PAGE, 55 * PAGE));
    let area = vm.find(START + 2 * PAGE).unwrap();
    assert_eq!(area.start, a);
    assert!(area.in_guard(START + 2 * PAGE) && !area.contains(START + 2 * PAGE));
    assert!(vm.find(b + 3 * PAGE + 5).unwrap().in_guard(b + 3 * PAGE + 5));
    assert_eq!(vm.find(b + 2 * PAGE).map(|area| (area.start, area.data)), Some((b, "b")));
    assert!(vm.find(c + PAGE).is_none(), "no guard after c");
    assert!(vm.find(START - 1).is_none());
    let listed: Vec<(u64, u64, &str)> = vm.iter().map(|area| (area.start, area.size, area.data)).collect();
    assert_eq!(listed, [(a, 2 * PAGE, "a"), (b, 3 * PAGE, "b"), (c, PAGE, "c")]);
    vm.check().unwrap();
}

#[test]
fn free_returns_the_area_and_merges_neighbours() {
    let mut vm = areas(32);
    let starts: Vec<u64> = (0..4).map(|i| vm.alloc(PAGE * (i + 1), PAGE, PAGE, "x").unwrap()).collect();
    assert_eq!(vm.nr_free_blocks(), 1);
    assert_eq!(vm.free(starts[1]).unwrap().size, 2 * PAGE);
    assert_eq!(vm.nr_free_blocks(), 2);
    assert_eq!(vm.free(starts[3]).unwrap().size, 4 * PAGE);
    assert_eq!(vm.nr_free_blocks(), 2, "the last area merged with the free tail");
    assert_eq!(vm.free(starts[2]).unwrap().size, 3 * PAGE);
    assert_eq!(vm.nr_free_blocks(), 1, "merged on both sides");
    assert_eq!(vm.largest_free_block(), 30 * PAGE);
    vm.check().unwrap();
    // Double free, an unknown address, an address inside an area or its guard.
    assert_eq!(vm.free(starts[2]), Err(VmapError::NotAllocated(starts[2])));
    assert_eq!(vm.free(START + 31 * PAGE), Err(VmapError::NotAllocated(START + 31 * PAGE)));
    assert_eq!(
        vm.free(starts[0] + PAGE),
        Err(VmapError::InsideArea { addr: starts[0] + PAGE, start: starts[0] })
    );
    assert_eq!(vm.free(START + 1), Err(VmapError::InsideArea { addr: START + 1, start: START }));
    assert_eq!(vm.free(starts[0]).unwrap().data, "x");
    assert_eq!((vm.nr_free_blocks(), vm.free_bytes(), vm.nr_areas()), (1, 32 * PAGE, 0));
    vm.check().unwrap();
}

#[test]
fn allocation_is_best_fit() {
    let mut vm = areas(64);
    // Holes of 3, 1 and 2 pages (guards are zero here), then the free tail.
    let mut starts = Vec::new();
    for pages in [3, 1, 1, 1, 2, 1] {
        starts.push(vm.alloc(pages * PAGE, PAGE, 0, "x").unwrap());
    }
    for i in [0, 2, 4] {
        vm.free(starts[i]).unwrap();
    }
    assert_eq!(vm.alloc(2 * PAGE, PAGE, 0, "two").unwrap(), starts[4], "the 2-page hole");
    assert_eq!(vm.alloc(PAGE, PAGE, 0, "one").unwrap(), starts[2], "the 1-page hole");
    assert_eq!(vm.alloc(2 * PAGE, PAGE, 0, "two more").unwrap(), starts[0], "the 3-page hole");
    assert_eq!(vm.alloc(PAGE, PAGE, 0, "one more").unwrap(), starts[0] + 2 * PAGE, "its last page");
    vm.check().unwrap();
}

#[test]
fn alignment_is_respected_and_padding_stays_free() {
    // A range that starts 3 pages past a 16-page boundary.
    let base = START + 3 * PAGE;
    let mut vm: VmapAreas<u32> = VmapAreas::new(base, base + 64 * PAGE).unwrap();
    let a = vm.alloc(4 * PAGE, 16 * PAGE, PAGE, 1).unwrap();
    assert_eq!(a, START + 16 * PAGE);
    assert_eq!(vm.nr_free_blocks(), 2, "the 13 pages of padding before it stay free");
    let b = vm.alloc(PAGE, PAGE, 0, 2).unwrap();
    assert_eq!(b, base, "best fit: the 13-page padding block is smaller than the tail");
    // Sub-page alignments mean a page.
    let c = vm.alloc(PAGE, 1, 0, 3).unwrap();
    assert_eq!(c, base + PAGE);
    vm.find_mut(a + 5).unwrap().data = 10;
    assert_eq!(vm.free(a).unwrap().data, 10);
    vm.check().unwrap();
    // A large alignment that no block can offer.
    assert_eq!(vm.alloc(PAGE, 1 << 40, 0, 4), Err(VmapError::NoSpace));
}

#[test]
fn an_aligned_request_takes_a_small_block_that_happens_to_fit() {
    let mut vm = areas(64);
    let hole = vm.alloc(4 * PAGE, PAGE, 0, "hole").unwrap();
    vm.alloc(PAGE, PAGE, 0, "wall").unwrap();
    vm.free(hole).unwrap();
    // The 4-page hole at START is 16-page aligned: it fits although it is shorter than the
    // size + align − page that would fit anywhere, and best fit prefers it to the long tail.
    assert_eq!(vm.alloc(4 * PAGE, 16 * PAGE, 0, "aligned"), Ok(START));
    assert_eq!(vm.nr_free_blocks(), 1);
    vm.check().unwrap();
}

#[derive(Clone, Debug)]
enum Op {
    Alloc {
        pages: u64,
        align_log: u32,
        guard_pages: u64,
    },
    /// Frees the `pick`-th busy area, `nudge` pages past its start, or a recently freed start.
    Free {
        pick: usize,
        nudge: u64,
        stale: bool,
    },
}

fn arb_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (prop_oneof![1 => Just(0u64), 20 => 1..12u64, 2 => 12..64u64], 0..5u32, 0..3u64)
            .prop_map(|(pages, align_log, guard_pages)| Op::Alloc { pages, align_log, guard_pages }),
        2 => (any::<usize>(), prop_oneof![5 => Just(0u64), 1 => 1..3u64], any::<bool>())
            .prop_map(|(pick, nudge, stale)| Op::Free { pick, nudge, stale }),
    ]
}

/// The model: busy areas as (start, size, guard), in a plain vector.
fn model_gaps(range: (u64, u64), busy: &[(u64, u64, u64)]) -> Vec<(u64, u64)> {
    let mut spans: Vec<(u64, u64)> = busy.iter().map(|&(s, size, guard)| (s, s + size + guard)).collect();
    spans.sort_unstable();
    let mut gaps = Vec::new();
    let mut at = range.0;
    for (s, e) in spans {
        if s > at {
            gaps.push((at, s));
        }
        at = e;
    }
    if at < range.1 {
        gaps.push((at, range.1));
    }
    gaps
}

proptest! {
    /// Random allocations (with sizes, alignments and guards) and frees, against a list of busy areas.
    #[test]
    fn vmap_areas_match_a_model(offset_pages in 0..16u64, ops in prop::collection::vec(arb_op(), 1..200)) {
        let range = (START + offset_pages * PAGE, START + (offset_pages + 256) * PAGE);
        let mut vm: VmapAreas<usize> = VmapAreas::new(range.0, range.1).unwrap();
        let mut busy: Vec<(u64, u64, u64)> = Vec::new();
        let mut freed: Vec<u64> = Vec::new();
        for (serial, op) in ops.into_iter().enumerate() {
            match op {
                Op::Alloc { pages, align_log, guard_pages } => {
                    let (size, align, guard) = (pages * PAGE, PAGE << align_log, guard_pages * PAGE);
                    let gaps = model_gaps(range, &busy);
                    match vm.alloc(size, align, guard, serial) {
                        Ok(start) => {
                            prop_assert!(size > 0);
                            prop_assert!(start.is_multiple_of(align), "{:#x} not aligned to {:#x}", start, align);
                            prop_assert!(range.0 <= start && start + size + guard <= range.1);
                            for &(s, sz, g) in &busy {
                                prop_assert!(start + size + guard <= s || s + sz + g <= start, "overlaps the area at {:#x}", s);
                            }
                            if align == PAGE {
                                // Best fit: the smallest gap that holds it, the lowest among equals.
                                let best = gaps.iter().filter(|(s, e)| e - s >= size + guard).min_by_key(|(s, e)| (e - s, *s));
                                prop_assert_eq!(Some(start), best.map(|g| g.0));
                            }
                            busy.push((start, size, guard));
                        }
                        Err(VmapError::ZeroSize) => prop_assert_eq!(size, 0),
                        Err(VmapError::NoSpace) => {
                            let sure = size + guard + align - PAGE;
                            prop_assert!(gaps.iter().all(|(s, e)| e - s < sure), "refused although a gap of {} bytes was free", sure);
                            if align == PAGE {
                                prop_assert!(gaps.iter().all(|(s, e)| e - s < size + guard));
                            }
                        }
                        Err(e) => prop_assert!(false, "unexpected {:?}", e),
                    }
                }
                Op::Free { pick, nudge, stale } => {
                    let addr = if stale && !freed.is_empty() {
                        freed[pick % freed.len()]
                    } else if busy.is_empty() {
                        range.0
                    } else {
                        busy[pick % busy.len()].0 + nudge * PAGE
                    };
                    let owner = busy.iter().position(|&(s, size, guard)| s <= addr && addr < s + size + guard);
                    match (vm.free(addr), owner) {
                        (Ok(area), Some(i)) => {
                            prop_assert_eq!(busy[i].0, addr);
                            prop_assert_eq!((area.start, area.size, area.guard), busy[i]);
                            busy.swap_remove(i);
                            freed.push(addr);
                        }
                        (Err(VmapError::InsideArea { addr: a, start }), Some(i)) => {
                            prop_assert_eq!(a, addr);
                            prop_assert_eq!(start, busy[i].0);
                            prop_assert!(start != addr);
                        }
                        (Err(VmapError::NotAllocated(a)), None) => prop_assert_eq!(a, addr),
                        (result, owner) => prop_assert!(false, "free({:#x}) = {:?}, model owner {:?}", addr, result, owner),
                    }
                }
            }
            vm.check().map_err(TestCaseError::fail)?;
            let mut expected = busy.clone();
            expected.sort_unstable();
            let listed: Vec<(u64, u64, u64)> = vm.iter().map(|a| (a.start, a.size, a.guard)).collect();
            prop_assert_eq!(&listed, &expected);
            let used: u64 = busy.iter().map(|&(_, size, guard)| size + guard).sum();
            prop_assert_eq!(vm.free_bytes(), (range.1 - range.0) - used);
            prop_assert_eq!(vm.busy_bytes(), busy.iter().map(|b| b.1).sum::<u64>());
            let gaps = model_gaps(range, &busy);
            prop_assert_eq!(vm.nr_free_blocks(), gaps.len());
            prop_assert_eq!(vm.largest_free_block(), gaps.iter().map(|(s, e)| e - s).max().unwrap_or(0));
            let owner = |addr: u64| busy.iter().find(|&&(s, size, guard)| s <= addr && addr < s + size + guard).map(|b| b.0);
            for &(s, size, guard) in &busy {
                for probe in [s - 1, s, s + size - 1, s + size, s + size + guard - 1, s + size + guard] {
                    prop_assert_eq!(vm.find(probe).map(|a| a.start), owner(probe), "find({:#x})", probe);
                }
            }
        }
        // Freeing everything gives the whole range back as one block.
        for (s, ..) in busy.drain(..) {
            vm.free(s).unwrap();
        }
        prop_assert_eq!((vm.nr_free_blocks(), vm.free_bytes(), vm.largest_free_block()), (1, range.1 - range.0, range.1 - range.0));
        vm.check().map_err(TestCaseError::fail)?;
    }
}
