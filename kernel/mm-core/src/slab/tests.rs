//! Host tests of the SLUB core over an arena: layouts, the fast and slow paths, partial and empty slabs,
//! hardening reports, and random workloads against a model.

use super::*;
use crate::page::{PAGE_SIZE, Page, SlicePageMap};
use array_cache::{ARRAY_CACHE_MAX, ArrayCache};
use proptest::prelude::*;

const ARENA_PAGES: usize = 512;
/// Fake virtual address of the arena's first byte (frame 0x100).
const BASE: usize = 0x10_0000;
const BASE_PFN: u64 = (BASE as u64) / PAGE_SIZE;

/// Pages from a bitmap, memory from a vector, reports collected.
struct Arena {
    mem: Vec<u8>,
    used: Vec<bool>,
    rng: crate::rng::Rng,
    reports: Vec<SlabError>,
}

impl Arena {
    fn new() -> Self {
        Arena {
            mem: vec![0; ARENA_PAGES * 4096],
            used: vec![false; ARENA_PAGES],
            rng: crate::rng::Rng::from_seed(1),
            reports: Vec::new(),
        }
    }

    fn pages_in_use(&self) -> usize {
        self.used.iter().filter(|&&u| u).count()
    }

    fn at(&self, addr: usize) -> usize {
        addr - BASE
    }
}

impl SlabBackend for Arena {
    fn alloc_pages(&mut self, order: usize, _node: usize, _reclaimable: bool) -> Option<u64> {
        let n = 1 << order;
        let start = (0..ARENA_PAGES)
            .step_by(n)
            .find(|&s| s + n <= ARENA_PAGES && self.used[s..s + n].iter().all(|&u| !u))?;
        self.used[start..start + n].fill(true);
        Some(BASE_PFN + start as u64)
    }

    fn free_pages(&mut self, pfn: u64, order: usize) {
        let start = (pfn - BASE_PFN) as usize;
        assert!(
            self.used[start..start + (1 << order)].iter().all(|&u| u),
            "freeing pages that are not in use"
        );
        self.used[start..start + (1 << order)].fill(false);
    }

    fn pfn_to_addr(&self, pfn: u64) -> usize {
        (pfn * PAGE_SIZE) as usize
    }

    fn addr_to_pfn(&self, addr: usize) -> Option<u64> {
        (addr >= BASE && addr < BASE + self.mem.len()).then_some(addr as u64 / PAGE_SIZE)
    }

    fn read_word(&self, addr: usize) -> u64 {
        u64::from_le_bytes(self.mem[self.at(addr)..self.at(addr) + 8].try_into().unwrap())
    }

    fn write_word(&mut self, addr: usize, value: u64) {
        let at = self.at(addr);
        self.mem[at..at + 8].copy_from_slice(&value.to_le_bytes());
    }

    fn read_byte(&self, addr: usize) -> u8 {
        self.mem[self.at(addr)]
    }

    fn fill(&mut self, addr: usize, len: usize, byte: u8) {
        let at = self.at(addr);
        self.mem[at..at + len].fill(byte);
    }

    fn find_not(&self, addr: usize, len: usize, byte: u8) -> Option<usize> {
        self.mem[self.at(addr)..self.at(addr) + len].iter().position(|&b| b != byte)
    }

    fn random(&mut self) -> u64 {
        self.rng.next_u64()
    }

    fn report(&mut self, _cache: &CacheInfo, error: SlabError) {
        self.reports.push(error);
    }
}

/// One cache on one CPU and one node, with the whole arena's descriptors.
struct Fixture {
    arena: Arena,
    pages: Vec<Page>,
    info: CacheInfo,
    cpu: CpuSlab,
    node: NodeSlabs,
}

impl Fixture {
    fn new(size: usize, flags: SlabFlags) -> Self {
        let spec = CacheSpec { name: "test", object_size: size, align: 0, flags, ctor: None };
        let info = CacheInfo::new(&spec, 3, 0x1234_5678_9abc_def0, 1).unwrap();
        Fixture {
            arena: Arena::new(),
            pages: (0..BASE_PFN as usize + ARENA_PAGES).map(|_| Page::new_reserved(0, 0)).collect(),
            info,
            cpu: CpuSlab::default(),
            node: NodeSlabs::default(),
        }
    }

    fn alloc(&mut self) -> Result<usize, SlabError> {
        let mut map = SlicePageMap { base_pfn: 0, pages: &mut self.pages };
        if let Some(object) = alloc_fast(&self.info, &mut self.cpu, &mut self.arena) {
            return Ok(object);
        }
        alloc_slow(&self.info, &mut self.cpu, &mut self.node, &mut self.arena, &mut map, 0)
    }

    fn free(&mut self, object: usize) -> Result<(), SlabError> {
        let mut map = SlicePageMap { base_pfn: 0, pages: &mut self.pages };
        let slab = locate(&self.info, &self.arena, &map, object)?;
        if free_to_cpu(&self.info, &mut self.cpu, &mut self.arena, slab, object)? {
            return Ok(());
        }
        free_to_node(&self.info, &mut self.node, &mut self.arena, &mut map, slab, object)
    }

    /// kmalloc's path with the per-CPU array in front (`array_cache`).
    fn alloc_cached(&mut self, array: &mut ArrayCache) -> Result<usize, SlabError> {
        if let Some(object) = array.pop() {
            return Ok(object);
        }
        let Fixture { arena, pages, info, cpu, node } = self;
        let mut map = SlicePageMap { base_pfn: 0, pages };
        array_cache::refill(array, info, cpu, arena, |cpu, arena| {
            alloc_slow(info, cpu, node, arena, &mut map, 0)
        })
    }

    fn free_cached(&mut self, array: &mut ArrayCache, object: usize) -> Result<(), SlabError> {
        if !array.enabled() {
            return self.free(object);
        }
        {
            let map = SlicePageMap { base_pfn: 0, pages: &mut self.pages };
            locate(&self.info, &self.arena, &map, object)?;
        }
        if array.push(object)? {
            return Ok(());
        }
        self.flush_array(array, array.batchcount as usize);
        assert!(array.push(object)?, "room after a flush");
        Ok(())
    }

    fn flush_array(&mut self, array: &mut ArrayCache, count: usize) {
        let Fixture { arena, pages, info, cpu, node } = self;
        let mut map = SlicePageMap { base_pfn: 0, pages };
        array_cache::flush(array, count, info, cpu, arena, &mut map, |arena, map, slab, object| {
            free_to_node(info, node, arena, map, slab, object)
        });
    }

    fn flush_and_shrink(&mut self) {
        let mut map = SlicePageMap { base_pfn: 0, pages: &mut self.pages };
        flush_cpu(&self.info, &mut self.cpu, &mut self.node, &mut self.arena, &mut map);
        shrink(&self.info, &mut self.node, &mut self.arena, &mut map);
    }
}

#[test]
fn layouts_follow_linux() {
    let plain = Layout::new(64, 0, SlabFlags::default(), false, 1).unwrap();
    assert_eq!((plain.size, plain.free_pointer, plain.order, plain.objects), (64, 32, 0, 64));
    let debug = Layout::new(64, 0, SlabFlags::DEBUG, false, 1).unwrap();
    assert_eq!((debug.red_zone_end, debug.free_pointer, debug.size), (72, 72, 80));
    let odd = Layout::new(100, 0, SlabFlags::default(), false, 1).unwrap();
    assert_eq!(odd.size, 104);
    let big = Layout::new(8192, 0, SlabFlags::default(), false, 1).unwrap();
    assert_eq!((big.order, big.objects), (3, 4));
    let hw = Layout::new(40, 0, SlabFlags::HWCACHE_ALIGN, false, 1).unwrap();
    assert_eq!(hw.size, 64);
    assert_eq!(Layout::new(0, 0, SlabFlags::default(), false, 1), Err(CacheError::ZeroSize));
    assert_eq!(Layout::new(40000, 0, SlabFlags::default(), false, 1), Err(CacheError::TooLarge));
    assert_eq!(Layout::new(64, 3, SlabFlags::default(), false, 1), Err(CacheError::BadAlignment));
    // Every offset, with the multiply path (debug layouts, odd sizes) and the shift path (powers of two).
    for (size, flags) in [8usize, 24, 100, 1000, 5000, 8, 64, 96, 512, 4096]
        .into_iter()
        .enumerate()
        .map(|(i, size)| (size, if i < 5 { SlabFlags::DEBUG } else { SlabFlags::default() }))
    {
        let l = Layout::new(size, 0, flags, false, 1).unwrap();
        assert_eq!(l.size_shift.is_some(), l.size.is_power_of_two());
        for offset in 0..l.slab_bytes() {
            let expected = (offset % l.size == 0 && offset / l.size < l.objects).then(|| offset / l.size);
            assert_eq!(l.slot_index(offset), expected, "size {size} offset {offset}");
            // Slabs start on page boundaries: any page-aligned base gives the same answer.
            assert_eq!(
                l.is_slot_start(0x7000 + offset, 0x7000),
                expected.is_some(),
                "size {size} offset {offset}"
            );
        }
    }
    for size in [8, 16, 24, 100, 512, 1000, 3000, 4096, 5000, 8192] {
        let l = Layout::new(size, 0, SlabFlags::DEBUG, false, 4).unwrap();
        assert!(l.objects >= 1 && l.objects <= layout::MAX_OBJECTS_PER_SLAB);
        let waste = l.slab_bytes() - l.objects * l.size;
        assert!(waste < l.size, "{size}: waste {waste} would fit another object");
    }
}

#[test]
fn objects_are_distinct_aligned_and_slabs_come_back() {
    let mut f = Fixture::new(96, SlabFlags::default());
    let mut objects = Vec::new();
    for _ in 0..200 {
        objects.push(f.alloc().unwrap());
    }
    let mut sorted = objects.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted.len(), 200);
    assert!(objects.iter().all(|&o| o % 8 == 0 && (BASE..BASE + ARENA_PAGES * 4096).contains(&o)));
    assert!(f.arena.pages_in_use() >= 200 * 96 / 4096);
    for o in objects {
        f.free(o).unwrap();
    }
    f.flush_and_shrink();
    assert_eq!(f.arena.pages_in_use(), 0, "every slab returned to the page allocator");
    assert_eq!((f.node.nr_slabs, f.node.nr_partial, f.node.total_objects), (0, 0, 0));
    assert!(f.arena.reports.is_empty(), "{:?}", f.arena.reports);
}

#[test]
fn free_pointers_are_obfuscated_and_new_slabs_random() {
    let mut f = Fixture::new(64, SlabFlags::default());
    let first = f.alloc().unwrap();
    let second_head = f.cpu.freelist;
    let at = first + f.info.layout.free_pointer;
    // The pointer to the next free object is not stored in the clear.
    let stored = f.arena.read_word(second_head + f.info.layout.free_pointer);
    let next = freelist::decode(stored, second_head + f.info.layout.free_pointer, f.info.random);
    assert_ne!(stored as usize, next);
    let _ = at;
    // Objects of one slab do not come out in address order.
    let mut run = vec![first];
    for _ in 0..20 {
        run.push(f.alloc().unwrap());
    }
    assert!(run.windows(2).any(|w| w[1] < w[0]), "random order expected: {run:x?}");
}

#[test]
fn corrupted_free_pointer_is_reported_not_followed() {
    let mut f = Fixture::new(64, SlabFlags::default());
    let a = f.alloc().unwrap();
    let head = f.cpu.freelist;
    // Overwrite the free pointer of the next free object with an address outside the slab.
    let at = head + f.info.layout.free_pointer;
    f.arena.write_word(at, freelist::encode(0xdead_0000, at, f.info.random));
    let b = f.alloc().unwrap();
    assert_eq!(b, head);
    assert!(matches!(f.arena.reports.as_slice(), [SlabError::FreelistCorrupt { value: 0xdead_0000, .. }]));
    // The allocator goes on with fresh memory, never handing out the bogus address.
    for _ in 0..100 {
        let o = f.alloc().unwrap();
        assert!((BASE..BASE + ARENA_PAGES * 4096).contains(&o) && o != a && o != b);
    }
}

#[test]
fn double_free_is_detected_with_and_without_debug() {
    let mut f = Fixture::new(64, SlabFlags::default());
    let a = f.alloc().unwrap();
    f.free(a).unwrap();
    assert_eq!(f.free(a), Err(SlabError::DoubleFree { object: a }), "freeing the list head again");

    let mut f = Fixture::new(64, SlabFlags::DEBUG);
    let a = f.alloc().unwrap();
    let b = f.alloc().unwrap();
    f.free(a).unwrap();
    f.free(b).unwrap();
    // `a` is no longer the head, but its inactive red zone gives it away.
    assert_eq!(f.free(a), Err(SlabError::DoubleFree { object: a }));
}

#[test]
fn debug_catches_overflow_and_use_after_free() {
    let mut f = Fixture::new(50, SlabFlags::DEBUG);
    let a = f.alloc().unwrap();
    assert_eq!(f.arena.read_byte(a), debug::POISON_INUSE, "fresh objects are marked uninitialized");
    f.arena.fill(a + 50, 1, 0x41); // one byte past the object
    assert!(
        matches!(f.free(a), Err(SlabError::RedzoneOverwritten { damage, .. }) if damage.offset == 50 && damage.found == 0x41)
    );

    let b = f.alloc().unwrap();
    f.free(b).unwrap();
    f.arena.fill(b + 8, 2, 0x42); // write after free
    let again = f.alloc().unwrap();
    assert_eq!(again, b, "the freed object is handed out again first");
    assert!(f.arena.reports.iter().any(
        |r| matches!(r, SlabError::PoisonOverwritten { object, damage } if *object == b && damage.offset == 8)
    ));
}

#[test]
fn wrong_cache_and_bad_pointers_are_refused() {
    let mut f = Fixture::new(64, SlabFlags::default());
    let a = f.alloc().unwrap();
    assert_eq!(f.free(a + 8), Err(SlabError::InvalidPointer { addr: a + 8 }));
    assert_eq!(f.free(0x42), Err(SlabError::NotSlabObject { addr: 0x42 }));
    let spec =
        CacheSpec { name: "other", object_size: 64, align: 0, flags: SlabFlags::default(), ctor: None };
    let other = CacheInfo::new(&spec, 9, 1, 1).unwrap();
    let map = SlicePageMap { base_pfn: 0, pages: &mut f.pages };
    assert_eq!(locate(&other, &f.arena, &map, a), Err(SlabError::WrongCache { addr: a, cache: 3 }));
}

#[test]
fn constructor_runs_on_every_object_of_a_new_slab() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    fn ctor(_: usize) {
        CALLS.fetch_add(1, Ordering::Relaxed);
    }
    let mut f = Fixture::new(128, SlabFlags::POISON);
    let spec =
        CacheSpec { name: "ctor", object_size: 128, align: 0, flags: SlabFlags::POISON, ctor: Some(ctor) };
    f.info = CacheInfo::new(&spec, 3, 5, 1).unwrap();
    f.alloc().unwrap();
    assert_eq!(CALLS.load(Ordering::Relaxed), f.info.layout.objects);
    assert!(f.arena.reports.is_empty(), "no poison checks on constructed objects");
}

#[derive(Clone, Debug)]
enum Op {
    Alloc,
    Free(usize),
    Flush,
}

fn arb_ops() -> impl Strategy<Value = Vec<Op>> {
    prop::collection::vec(
        prop_oneof![5 => Just(Op::Alloc), 4 => any::<usize>().prop_map(Op::Free), 1 => Just(Op::Flush)],
        1..600,
    )
}

proptest! {
    /// Random allocations and frees, checked against a model: live objects never overlap, keep their
    /// contents, stay inside slabs; counters match; freeing everything returns every page.
    #[test]
    fn slab_matches_a_model(ops in arb_ops(), size in prop::sample::select(vec![8usize, 24, 64, 96, 192, 700, 3000]), debug in any::<bool>()) {
        let flags = if debug { SlabFlags::DEBUG } else { SlabFlags::default() };
        let mut f = Fixture::new(size, flags);
        let mut live: Vec<(usize, u8)> = Vec::new();
        let mut stamp = 0u8;
        for op in ops {
            match op {
                Op::Alloc => {
                    let Ok(o) = f.alloc() else { continue };
                    for &(other, _) in &live {
                        prop_assert!(o + size <= other || other + size <= o, "overlap {:#x} {:#x}", o, other);
                    }
                    stamp = stamp.wrapping_add(1);
                    f.arena.fill(o, size, stamp);
                    live.push((o, stamp));
                }
                Op::Free(i) => {
                    if live.is_empty() { continue; }
                    let (o, s) = live.swap_remove(i % live.len());
                    prop_assert_eq!(f.arena.find_not(o, size, s), None, "contents of {:#x} changed", o);
                    f.free(o).unwrap();
                }
                Op::Flush => {
                    let mut map = SlicePageMap { base_pfn: 0, pages: &mut f.pages };
                    flush_cpu(&f.info, &mut f.cpu, &mut f.node, &mut f.arena, &mut map);
                }
            }
            let map = SlicePageMap { base_pfn: 0, pages: &mut f.pages };
            let free = cpu_free_objects(&f.info, &f.cpu, &f.arena, &map) + node_free_objects(&f.node, &map);
            prop_assert_eq!(f.node.total_objects - free, live.len() as u64, "active objects");
        }
        for (o, _) in live.drain(..) {
            f.free(o).unwrap();
        }
        f.flush_and_shrink();
        prop_assert_eq!(f.arena.pages_in_use(), 0);
        prop_assert!(f.arena.reports.is_empty(), "{:?}", f.arena.reports);
    }
}

#[test]
fn array_cache_pops_what_was_pushed_and_catches_a_repeated_free() {
    let f = Fixture::new(64, SlabFlags::default());
    let mut array = ArrayCache::for_cache(&f.info);
    assert_eq!((array.limit, array.batchcount), (64, 32));
    assert!(array.push(0x1000).unwrap() && array.push(0x2000).unwrap());
    assert_eq!(array.push(0x2000), Err(SlabError::DoubleFree { object: 0x2000 }));
    assert_eq!((array.pop(), array.pop(), array.pop()), (Some(0x2000), Some(0x1000), None));
    for i in 0..64 {
        assert!(array.push(0x1000 + i * 64).unwrap());
    }
    assert!(!array.push(0x9000).unwrap(), "full at its limit");
    let debug = Fixture::new(64, SlabFlags::DEBUG);
    assert!(!ArrayCache::for_cache(&debug.info).enabled(), "slub_debug caches have no array");
    let big = Fixture::new(3000, SlabFlags::default());
    assert_eq!(ArrayCache::for_cache(&big.info).limit, 16);
}

#[test]
fn array_cache_refills_in_free_list_order_and_flushes_back() {
    let mut f = Fixture::new(64, SlabFlags::default());
    let mut array = ArrayCache::for_cache(&f.info);
    // The order the plain free list would hand objects out in.
    let mut reference = Fixture::new(64, SlabFlags::default());
    let expected: Vec<usize> = (0..20).map(|_| reference.alloc().unwrap()).collect();
    let got: Vec<usize> = (0..20).map(|_| f.alloc_cached(&mut array).unwrap()).collect();
    assert_eq!(got, expected, "the array keeps the free list's order");
    assert_eq!(array.avail, array.batchcount - 19);
    assert!(array.objects().iter().all(|o| o >> 12 == got[0] >> 12), "one refill, one slab");
    for &o in got.iter().rev() {
        f.free_cached(&mut array, o).unwrap();
    }
    assert_eq!(array.avail, array.batchcount + 1);
    let map = SlicePageMap { base_pfn: 0, pages: &mut f.pages };
    let free = cpu_free_objects(&f.info, &f.cpu, &f.arena, &map)
        + node_free_objects(&f.node, &map)
        + u64::from(array.avail);
    assert_eq!(free, f.node.total_objects, "nothing in use");
    f.flush_array(&mut array, ARRAY_CACHE_MAX);
    assert_eq!(array.avail, 0);
    f.flush_and_shrink();
    assert_eq!(f.arena.pages_in_use(), 0);
    assert!(f.arena.reports.is_empty(), "{:?}", f.arena.reports);
}

#[test]
fn array_cache_refill_reports_a_corrupted_free_pointer() {
    let mut f = Fixture::new(64, SlabFlags::default());
    let mut array = ArrayCache::for_cache(&f.info);
    let a = f.alloc_cached(&mut array).unwrap();
    let b = f.alloc_cached(&mut array).unwrap();
    f.free_cached(&mut array, b).unwrap();
    f.free_cached(&mut array, a).unwrap();
    // Drain everything to the free list: `a` heads it and points to `b` ...
    f.flush_array(&mut array, ARRAY_CACHE_MAX);
    assert_eq!(f.cpu.freelist, a);
    // ... until its free pointer is overwritten.
    let at = a + f.info.layout.free_pointer;
    f.arena.write_word(at, 0x4141_4141_4141_4141);
    assert_eq!(f.alloc_cached(&mut array).unwrap(), a);
    assert!(
        matches!(f.arena.reports.as_slice(), [SlabError::FreelistCorrupt { object, .. }] if *object == a)
    );
    for _ in 0..200 {
        let o = f.alloc_cached(&mut array).unwrap();
        assert!((BASE..BASE + ARENA_PAGES * 4096).contains(&o) && o != a);
    }
}

#[derive(Clone, Debug)]
enum ArrayOp {
    Alloc,
    Free(usize),
    Flush(usize),
    FlushCpu,
}

fn arb_array_ops() -> impl Strategy<Value = Vec<ArrayOp>> {
    prop::collection::vec(
        prop_oneof![
            6 => Just(ArrayOp::Alloc),
            5 => any::<usize>().prop_map(ArrayOp::Free),
            1 => (0..=ARRAY_CACHE_MAX).prop_map(ArrayOp::Flush),
            1 => Just(ArrayOp::FlushCpu),
        ],
        1..800,
    )
}

proptest! {
    /// The per-CPU array in front of the free lists, against a model: no object is handed out twice or
    /// overlaps another, contents survive, the array only holds objects the model says are free, active
    /// objects (slab figures minus the array's) match the model, and flushing the array and the CPU slab
    /// then shrinking returns every page.
    #[test]
    fn array_cache_matches_a_model(ops in arb_array_ops(), size in prop::sample::select(vec![8usize, 16, 64, 96, 192, 700, 3000, 8192]), debug in any::<bool>()) {
        let flags = if debug { SlabFlags::DEBUG } else { SlabFlags::default() };
        let mut f = Fixture::new(size, flags);
        let mut array = ArrayCache::for_cache(&f.info);
        let mut live: Vec<(usize, u8)> = Vec::new();
        let mut stamp = 0u8;
        for op in ops {
            match op {
                ArrayOp::Alloc => {
                    let Ok(o) = f.alloc_cached(&mut array) else { continue };
                    for &(other, _) in &live {
                        prop_assert!(o + size <= other || other + size <= o, "overlap {:#x} {:#x}", o, other);
                    }
                    stamp = stamp.wrapping_add(1);
                    f.arena.fill(o, size, stamp);
                    live.push((o, stamp));
                }
                ArrayOp::Free(i) => {
                    if live.is_empty() { continue; }
                    let (o, s) = live.swap_remove(i % live.len());
                    prop_assert_eq!(f.arena.find_not(o, size, s), None, "contents of {:#x} changed", o);
                    f.free_cached(&mut array, o).unwrap();
                }
                ArrayOp::Flush(count) => f.flush_array(&mut array, count),
                ArrayOp::FlushCpu => {
                    let mut map = SlicePageMap { base_pfn: 0, pages: &mut f.pages };
                    flush_cpu(&f.info, &mut f.cpu, &mut f.node, &mut f.arena, &mut map);
                }
            }
            prop_assert!(array.avail <= array.limit);
            let mut cached = array.objects().to_vec();
            cached.sort_unstable();
            cached.dedup();
            prop_assert_eq!(cached.len(), array.avail as usize, "an object twice in the array");
            prop_assert!(array.objects().iter().all(|o| !live.iter().any(|l| l.0 == *o)), "a live object in the array");
            let map = SlicePageMap { base_pfn: 0, pages: &mut f.pages };
            let free = cpu_free_objects(&f.info, &f.cpu, &f.arena, &map)
                + node_free_objects(&f.node, &map)
                + u64::from(array.avail);
            prop_assert_eq!(f.node.total_objects - free, live.len() as u64, "active objects");
        }
        for (o, _) in live.drain(..) {
            f.free_cached(&mut array, o).unwrap();
        }
        f.flush_array(&mut array, ARRAY_CACHE_MAX);
        prop_assert_eq!(array.avail, 0);
        f.flush_and_shrink();
        prop_assert_eq!(f.arena.pages_in_use(), 0);
        prop_assert!(f.arena.reports.is_empty(), "{:?}", f.arena.reports);
    }
}
