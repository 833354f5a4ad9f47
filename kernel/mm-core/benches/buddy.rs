//! `make bench` (buddy part): the buddy allocator core against the `buddy_system_allocator` crate, in the
//! same process, on the same workloads and random sequences.
//!
//! Workloads: order-0 alloc+free pairs (straight to the buddy lists, and through a per-CPU list as the
//! kernel does), a mixed-order random workload, and a fragmenting one (nine movable pages for every
//! unmovable one, then all movable pages freed). Figures are ns per operation, medians of 5 runs, with
//! the peer/ours ratio. After the fragmenting workload both allocators are probed for order-9 blocks to
//! report the share of free memory in blocks of at least 2 MiB: mobility grouping keeps unmovable pages
//! together, a plain buddy allocator scatters them.

use std::hint::black_box;
use std::time::Instant;

use buddy_system_allocator::FrameAllocator;
use mm_core::buddy::BuddyZone;
use mm_core::page::{MAX_ORDER, MigrateType, Page, SlicePageMap};
use mm_core::pcp::Pcp;
use mm_core::rng::Rng;

const PAGES: u64 = 64 * 1024; // 256 MiB of page frames
const RUNS: usize = 5;

type Peer = FrameAllocator<MAX_ORDER>;

fn fresh_ours(store: &mut Vec<Page>) -> BuddyZone {
    store.clear();
    store.extend((0..PAGES).map(|_| Page::new_reserved(0, 0)));
    let mut map = SlicePageMap { base_pfn: 0, pages: store };
    let mut zone = BuddyZone::new(0, PAGES);
    zone.free_range(&mut map, 0, PAGES);
    zone
}

fn fresh_peer() -> Peer {
    let mut peer = Peer::new();
    peer.add_frame(0, PAGES as usize);
    peer
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Runs `f` (which returns the number of operations it did) `RUNS` times; median ns per operation.
fn measure(mut f: impl FnMut() -> u64) -> f64 {
    median(
        (0..RUNS)
            .map(|_| {
                let start = Instant::now();
                let ops = f();
                start.elapsed().as_nanos() as f64 / ops as f64
            })
            .collect(),
    )
}

const PAIRS: u64 = 2_000_000;

fn pairs_ours(store: &mut Vec<Page>) -> f64 {
    measure(|| {
        let mut zone = fresh_ours(store);
        let mut map = SlicePageMap { base_pfn: 0, pages: store };
        for _ in 0..PAIRS {
            let pfn = zone.alloc(&mut map, 0, MigrateType::Movable).expect("free memory");
            let _ = zone.free(&mut map, black_box(pfn), 0, MigrateType::Movable);
        }
        PAIRS
    })
}

fn pairs_ours_pcp(store: &mut Vec<Page>) -> f64 {
    measure(|| {
        let mut zone = fresh_ours(store);
        let mut map = SlicePageMap { base_pfn: 0, pages: store };
        let mut pcp = Pcp::new(186, 31);
        for _ in 0..PAIRS {
            let pfn = match pcp.pop(&mut map, MigrateType::Movable) {
                Some(pfn) => pfn,
                None => {
                    pcp.refill(&mut zone, &mut map, MigrateType::Movable);
                    pcp.pop(&mut map, MigrateType::Movable).expect("refilled")
                }
            };
            pcp.push(&mut map, black_box(pfn), MigrateType::Movable);
            if pcp.over_high() {
                let batch = pcp.batch;
                pcp.drain(&mut zone, &mut map, batch);
            }
        }
        PAIRS
    })
}

fn pairs_peer() -> f64 {
    measure(|| {
        let mut peer = fresh_peer();
        for _ in 0..PAIRS {
            let frame = peer.alloc(1).expect("free memory");
            peer.dealloc(black_box(frame), 1);
        }
        PAIRS
    })
}

const MIXED_STEPS: u64 = 1_000_000;
const MIXED_LIVE: usize = 4096;

/// The order of the next mixed allocation: mostly small, some up to order 4.
fn mixed_order(rng: &mut Rng) -> usize {
    match rng.below(100) {
        0..50 => 0,
        50..70 => 1,
        70..80 => 2,
        80..90 => 3,
        _ => 4,
    }
}

/// Replays the same decisions on either allocator: `alloc(order)` and `free(block, order)`.
fn mixed(mut alloc: impl FnMut(usize) -> u64, mut free: impl FnMut(u64, usize)) -> u64 {
    let mut rng = Rng::from_seed(7);
    let mut live: Vec<(u64, usize)> = Vec::with_capacity(MIXED_LIVE);
    for _ in 0..MIXED_STEPS {
        if live.len() < MIXED_LIVE / 2 || (live.len() < MIXED_LIVE && rng.below(2) == 0) {
            let order = mixed_order(&mut rng);
            live.push((alloc(order), order));
        } else {
            let (block, order) = live.swap_remove(rng.below(live.len() as u64) as usize);
            free(block, order);
        }
    }
    for (block, order) in live {
        free(block, order);
    }
    MIXED_STEPS
}

fn mixed_ours(store: &mut Vec<Page>) -> f64 {
    measure(|| {
        let mut zone = fresh_ours(store);
        let mut map = SlicePageMap { base_pfn: 0, pages: store };
        let map = std::cell::RefCell::new(&mut map);
        let zone = std::cell::RefCell::new(&mut zone);
        mixed(
            |order| {
                zone.borrow_mut().alloc(*map.borrow_mut(), order, MigrateType::Movable).expect("free memory")
            },
            |pfn, order| {
                let _ = zone.borrow_mut().free(*map.borrow_mut(), pfn, order, MigrateType::Movable);
            },
        )
    })
}

fn mixed_peer() -> f64 {
    measure(|| {
        let peer = std::cell::RefCell::new(fresh_peer());
        mixed(
            |order| peer.borrow_mut().alloc(1 << order).expect("free memory") as u64,
            |frame, order| peer.borrow_mut().dealloc(frame as usize, 1 << order),
        )
    })
}

/// Nine movable pages per unmovable one until memory is full, then the movable pages are freed.
/// Returns (operations, pages in free blocks of order ≥ 9 found by probing, free pages).
fn fragmenting(
    mut alloc: impl FnMut(bool) -> Option<u64>,
    mut free: impl FnMut(u64),
    mut probe_order9: impl FnMut() -> u64,
) -> (u64, u64, u64) {
    let mut rng = Rng::from_seed(11);
    let mut movable = Vec::new();
    let mut unmovable = 0u64;
    let mut ops = 0;
    loop {
        let is_unmovable = rng.below(10) == 0;
        let Some(pfn) = alloc(is_unmovable) else { break };
        ops += 1;
        if is_unmovable {
            unmovable += 1;
        } else {
            movable.push(pfn);
        }
    }
    for pfn in movable {
        free(pfn);
        ops += 1;
    }
    let free_pages = PAGES - unmovable;
    (ops, probe_order9() * 512, free_pages)
}

fn fragmenting_ours(store: &mut Vec<Page>) -> (f64, f64) {
    let mut share = 0.0;
    let ns = measure(|| {
        let mut zone = fresh_ours(store);
        let mut map = SlicePageMap { base_pfn: 0, pages: store };
        let map = std::cell::RefCell::new(&mut map);
        let zone = std::cell::RefCell::new(&mut zone);
        let (ops, big, free) = fragmenting(
            |unmovable| {
                let mt = if unmovable { MigrateType::Unmovable } else { MigrateType::Movable };
                zone.borrow_mut().alloc(*map.borrow_mut(), 0, mt)
            },
            |pfn| {
                let mt = zone.borrow().pageblock_migratetype(*map.borrow(), pfn);
                let _ = zone.borrow_mut().free(*map.borrow_mut(), pfn, 0, mt);
            },
            || {
                let mut n = 0;
                while zone.borrow_mut().alloc(*map.borrow_mut(), 9, MigrateType::Movable).is_some() {
                    n += 1;
                }
                n
            },
        );
        share = big as f64 / free as f64;
        ops
    });
    (ns, share)
}

fn fragmenting_peer() -> (f64, f64) {
    let mut share = 0.0;
    let ns = measure(|| {
        let peer = std::cell::RefCell::new(fresh_peer());
        let (ops, big, free) = fragmenting(
            |_| peer.borrow_mut().alloc(1).map(|f| f as u64),
            |frame| peer.borrow_mut().dealloc(frame as usize, 1),
            || {
                let mut n = 0;
                while peer.borrow_mut().alloc(512).is_some() {
                    n += 1;
                }
                n
            },
        );
        share = big as f64 / free as f64;
        ops
    });
    (ns, share)
}

fn main() {
    let mut store = Vec::new();
    let peer_pairs = pairs_peer();
    let rows = [
        ("order-0 alloc+free pair", pairs_ours(&mut store), peer_pairs),
        ("order-0 pair via per-CPU list", pairs_ours_pcp(&mut store), peer_pairs),
        ("mixed orders 0-4, random", mixed_ours(&mut store), mixed_peer()),
    ];
    let (frag_ours, share_ours) = fragmenting_ours(&mut store);
    let (frag_peer, share_peer) = fragmenting_peer();
    println!();
    println!("Buddy allocator (host, {PAGES} frames, same process; ns per operation, median of {RUNS} runs)");
    println!(
        "{:<32} {:>14} {:>26} {:>10}",
        "workload", "mm-core buddy", "buddy_system_allocator", "peer/ours"
    );
    for (name, ours, peer) in
        rows.iter().chain(std::iter::once(&("fragmenting (90% movable)", frag_ours, frag_peer)))
    {
        println!("{name:<32} {ours:>14.1} {peer:>26.1} {:>9.2}x", peer / ours);
    }
    println!(
        "free memory in blocks >= order 9 after the fragmenting workload: mm-core {:.1}%, buddy_system_allocator {:.1}%",
        share_ours * 100.0,
        share_peer * 100.0
    );
}
