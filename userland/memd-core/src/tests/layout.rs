//! Building an Mm from the kernel's ranges, mmap_base, stack growth catch-up, undo by clone.

use abi::layout::{STACK_BYTES, USER_END, USER_MIN};
use abi::mman::{MAP_FIXED, MAP_GROWSDOWN};
use abi::prot::READ;
use abi::{RangeInfo, range_kind, vm};

use super::{ANON, DATA, PAGE, RW, RX, STACK_START, TEXT, Task, range, spawn_ranges};
use crate::{Layout, Mm, Vma, VmaKind};

const MIB: u64 = 1 << 20;

#[test]
fn new_takes_the_kernels_ranges() {
    let mm = Mm::new(&spawn_ranges(), Layout::default());
    let vmas: Vec<Vma> = mm.vmas().copied().collect();
    let vma = |start, end, prot, kind| Vma { start, end, prot, shared: false, growsdown: false, kind };
    assert_eq!(
        vmas,
        vec![
            vma(TEXT.0, TEXT.1, RX, VmaKind::Image),
            vma(DATA.0, DATA.1, RW, VmaKind::Image),
            vma(STACK_START, STACK_START + STACK_BYTES, RW, VmaKind::Stack),
        ]
    );
    assert_eq!(mm.peak_bytes(), mm.total_bytes());
}

#[test]
fn new_merges_sorts_and_cleans_up() {
    let shared = RangeInfo { flags: vm::SHARED, ..range(0x50_0000, 0x50_1000, RW, range_kind::ANONYMOUS) };
    let grows = RangeInfo { flags: vm::GROWSDOWN, ..range(0x60_0000, 0x60_1000, RW, range_kind::ANONYMOUS) };
    let ranges = [
        range(0x40_1000, 0x40_2000, READ, range_kind::ANONYMOUS),
        range(0x40_0000, 0x40_1000, READ, range_kind::ANONYMOUS),
        range(0x40_0800, 0x40_3000, RW, range_kind::ANONYMOUS), // overlaps: dropped
        range(0, 0x2000, READ, range_kind::ANONYMOUS),          // in the null trap: dropped
        range(0x8000, 0x12_345, READ, range_kind::ANONYMOUS),   // clipped to user space, whole pages
        shared,
        grows,
    ];
    let mm = Mm::new(&ranges, Layout::default());
    let vmas: Vec<(u64, u64, bool, bool)> =
        mm.vmas().map(|v| (v.start, v.end, v.shared, v.growsdown)).collect();
    assert_eq!(
        vmas,
        vec![
            (USER_MIN, 0x13_000, false, false),
            (0x40_0000, 0x40_2000, false, false),
            (0x50_0000, 0x50_1000, true, false),
            (0x60_0000, 0x60_1000, false, true),
        ]
    );
}

#[test]
fn mmap_base_sits_below_the_stack_gap() {
    let mm = Mm::new(&spawn_ranges(), Layout::default());
    assert_eq!(mm.mmap_base(), STACK_START - 128 * MIB - STACK_BYTES);
    // The kernel randomizes the stack top; the base follows the stack.
    let low = STACK_START - 0x1234_5000;
    let ranges = [range(low, low + STACK_BYTES, RW, range_kind::STACK)];
    assert_eq!(Mm::new(&ranges, Layout::default()).mmap_base(), low - 128 * MIB - STACK_BYTES);
    // No stack reported: the default one is assumed.
    assert_eq!(Mm::new(&[], Layout::default()).mmap_base(), STACK_START - 128 * MIB - STACK_BYTES);
}

#[test]
fn randomize_1_moves_mmap_base_below_1_tib() {
    let fixed = STACK_START - 128 * MIB - STACK_BYTES;
    for random in [1, 0xfff_ffff, u64::MAX, 0x1234_5678_9abc_def0] {
        let mm = Mm::new(&spawn_ranges(), Layout { randomize: 1, random });
        let offset = fixed - mm.mmap_base();
        assert!(offset < 1 << 40 && offset.is_multiple_of(PAGE), "offset {offset:#x}");
        assert_eq!(offset, (random & 0xfff_ffff) * PAGE);
    }
    assert_eq!(Mm::new(&spawn_ranges(), Layout { randomize: 0, random: 99 }).mmap_base(), fixed);
}

#[test]
fn sync_growsdown_follows_the_kernels_growth() {
    let mut t = Task::new();
    let (stack, _) = t.mmap(0x4000_0000, 2 * PAGE, RW, ANON | MAP_FIXED | MAP_GROWSDOWN).unwrap();
    t.mmap(stack - 8 * PAGE, PAGE, READ, ANON | MAP_FIXED).unwrap();
    assert!(t.mm.has_growsdown());
    let grown = |start| RangeInfo {
        flags: vm::GROWSDOWN,
        ..range(start, stack + 2 * PAGE, RW, range_kind::ANONYMOUS)
    };
    assert!(!t.mm.sync_growsdown(&[grown(stack)]), "no growth: no change");
    assert!(t.mm.sync_growsdown(&[grown(stack - 3 * PAGE)]));
    assert_eq!(t.vma(stack).unwrap().start, stack - 3 * PAGE);
    assert!(!t.mm.sync_growsdown(&[grown(stack - 8 * PAGE)]), "never over another VMA");
    assert!(!Task::new().mm.sync_growsdown(&[grown(stack - 3 * PAGE)]), "not a VMA memd knows");
}

#[test]
fn a_clone_undoes_a_call() {
    let mut mm = Mm::new(&spawn_ranges(), Layout::default());
    let saved = mm.clone();
    mm.sys_mmap(0, 16 * PAGE, RW, ANON, -1, 0).unwrap();
    mm.sys_brk(DATA.1 + PAGE);
    assert_ne!(mm, saved);
    mm = saved.clone();
    assert_eq!(mm, saved);
}

#[test]
fn peak_size_survives_unmapping() {
    let mut t = Task::new();
    let before = t.mm.total_bytes();
    let (addr, _) = t.mmap(0, 64 * PAGE, RW, ANON).unwrap();
    t.munmap(addr, 64 * PAGE).unwrap();
    assert_eq!(t.mm.total_bytes(), before);
    assert_eq!(t.mm.peak_bytes(), before + 64 * PAGE);
    assert!(USER_END > t.mm.peak_bytes());
}

#[test]
fn resync_takes_the_kernels_ranges_and_keeps_the_break() {
    let mut t = Task::new();
    t.brk(DATA.1 + 2 * PAGE + 5);
    t.mmap(0x4000_0000, 4 * PAGE, RW, ANON | MAP_FIXED).unwrap();
    let saved = t.mm.clone();
    // MAP_FIXED over it: the kernel did the Unmap, then refused the Map.
    let (_, actions) = t.mm.sys_mmap(0x4000_0000, 2 * PAGE, READ, ANON | MAP_FIXED, -1, 0).unwrap();
    t.kernel.apply(&actions[0]).unwrap();
    t.mm = saved;
    let kernel_ranges: Vec<RangeInfo> = spawn_ranges()
        .into_iter()
        .chain([RangeInfo { flags: vm::HEAP, ..range(DATA.1, DATA.1 + 3 * PAGE, RW, range_kind::HEAP) }])
        .chain([range(0x4000_2000, 0x4000_4000, RW, range_kind::ANONYMOUS)])
        .collect();
    t.mm.resync(&kernel_ranges);
    assert_eq!(t.mm.brk(), DATA.1 + 2 * PAGE + 5);
    assert_eq!(t.vma(0x4000_0000), None);
    assert_eq!(t.vma(0x4000_2000).unwrap().end, 0x4000_4000);
    assert_eq!(t.vma(DATA.1).unwrap().kind, VmaKind::Heap);
}
