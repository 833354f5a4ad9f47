//! brk: start, growth, shrinking, refusals.

use abi::layout::{USER_END, USER_MIN};
use abi::mman::{MAP_FIXED, MAP_GROWSDOWN};
use abi::prot::READ;
use abi::vm::{FIXED, HEAP};

use super::{ANON, DATA, PAGE, RW, Task, range};
use crate::gap::STACK_GUARD_GAP;
use crate::{Action, Layout, Mm, Vma, VmaKind};

#[test]
fn starts_at_the_image_end() {
    let mut t = Task::new();
    assert_eq!(t.mm.start_brk(), DATA.1);
    assert_eq!(t.brk(0), (DATA.1, vec![]), "brk(0) reports the break");
}

#[test]
fn growing_maps_read_write_heap_pages() {
    let mut t = Task::new();
    let (brk, actions) = t.brk(DATA.1 + 0x1800);
    assert_eq!(brk, DATA.1 + 0x1800, "the exact break comes back");
    assert_eq!(actions, vec![Action::Map { start: DATA.1, len: 2 * PAGE, prot: RW, flags: FIXED | HEAP }]);
    assert_eq!(t.mm.brk(), DATA.1 + 0x1800);
    let heap = t.vma(DATA.1).unwrap();
    assert_eq!(
        heap,
        Vma {
            start: DATA.1,
            end: DATA.1 + 2 * PAGE,
            prot: RW,
            shared: false,
            growsdown: false,
            kind: VmaKind::Heap
        }
    );
}

#[test]
fn growing_within_the_last_page_maps_nothing() {
    let mut t = Task::new();
    t.brk(DATA.1 + 0x10);
    assert_eq!(t.brk(DATA.1 + 0xff0), (DATA.1 + 0xff0, vec![]));
}

#[test]
fn growth_extends_the_heap_vma() {
    let mut t = Task::new();
    t.brk(DATA.1 + PAGE);
    let (_, actions) = t.brk(DATA.1 + 3 * PAGE);
    assert_eq!(
        actions,
        vec![Action::Map { start: DATA.1 + PAGE, len: 2 * PAGE, prot: RW, flags: FIXED | HEAP }]
    );
    assert_eq!(t.vma(DATA.1).unwrap().end, DATA.1 + 3 * PAGE, "one merged heap VMA");
}

#[test]
fn shrinking_unmaps_whole_pages_above_the_new_break() {
    let mut t = Task::new();
    t.brk(DATA.1 + 4 * PAGE);
    let (brk, actions) = t.brk(DATA.1 + PAGE + 1);
    assert_eq!(brk, DATA.1 + PAGE + 1);
    assert_eq!(actions, vec![Action::Unmap { start: DATA.1 + 2 * PAGE, len: 2 * PAGE }]);
    assert_eq!(t.vma(DATA.1).unwrap().end, DATA.1 + 2 * PAGE);
    let (_, actions) = t.brk(DATA.1);
    assert_eq!(actions, vec![Action::Unmap { start: DATA.1, len: 2 * PAGE }]);
    assert_eq!(t.vma(DATA.1), None);
}

#[test]
fn below_start_brk_changes_nothing() {
    let mut t = Task::new();
    t.brk(DATA.1 + PAGE);
    assert_eq!(t.brk(DATA.1 - 1), (DATA.1 + PAGE, vec![]));
    assert_eq!(t.brk(1), (DATA.1 + PAGE, vec![]));
}

#[test]
fn growth_keeps_one_page_below_the_next_mapping() {
    let mut t = Task::new();
    let next = DATA.1 + 8 * PAGE;
    t.mmap(next, PAGE, READ, ANON | MAP_FIXED).unwrap();
    assert_eq!(t.brk(next), (DATA.1, vec![]), "touching the next mapping is refused");
    assert_eq!(t.brk(next - PAGE + 1), (DATA.1, vec![]), "so is a break in the page below it");
    let (brk, actions) = t.brk(next - PAGE);
    assert_eq!(brk, next - PAGE, "a break one page below it is fine");
    assert_eq!(actions.len(), 1);
}

#[test]
fn growth_stays_out_of_a_growsdown_guard_gap() {
    let mut t = Task::new();
    let stack = DATA.1 + STACK_GUARD_GAP + 16 * PAGE;
    t.mmap(stack, PAGE, RW, ANON | MAP_FIXED | MAP_GROWSDOWN).unwrap();
    let limit = stack - STACK_GUARD_GAP - PAGE;
    assert_eq!(t.brk(limit + PAGE).0, DATA.1, "inside the gap: refused");
    assert_eq!(t.brk(limit).0, limit);
}

#[test]
fn growth_over_a_mapping_at_the_old_break_is_refused() {
    let mut t = Task::new();
    t.mmap(DATA.1, PAGE, RW, ANON | MAP_FIXED).unwrap();
    assert_eq!(t.brk(DATA.1 + 8 * PAGE), (DATA.1, vec![]));
}

#[test]
fn growth_beyond_user_space_is_refused() {
    let mut t = Task::new();
    assert_eq!(t.brk(USER_END + 1), (DATA.1, vec![]));
    assert_eq!(t.brk(u64::MAX), (DATA.1, vec![]));
}

#[test]
fn shrinking_takes_whatever_is_mapped_there() {
    let mut t = Task::new();
    t.brk(DATA.1 + 4 * PAGE);
    t.mprotect(DATA.1 + 2 * PAGE, PAGE, READ).unwrap();
    let (_, actions) = t.brk(DATA.1 + PAGE);
    assert_eq!(actions, vec![Action::Unmap { start: DATA.1 + PAGE, len: 3 * PAGE }]);
}

#[test]
fn randomize_2_moves_the_heap_start_below_32_mib() {
    for random in [0, 1 << 32, 0x1fff << 32, u64::MAX, 0x1234_5678_9abc_def0] {
        let mm = Mm::new(&super::spawn_ranges(), Layout { randomize: 2, random });
        let offset = mm.start_brk() - DATA.1;
        assert!(offset < 32 << 20 && offset.is_multiple_of(PAGE), "offset {offset:#x}");
        assert_eq!(mm.brk(), mm.start_brk());
    }
    let moved = Mm::new(&super::spawn_ranges(), Layout { randomize: 2, random: 5 << 32 });
    assert_eq!(moved.start_brk(), DATA.1 + 5 * PAGE);
    let fixed = Mm::new(&super::spawn_ranges(), Layout { randomize: 1, random: 5 << 32 });
    assert_eq!(fixed.start_brk(), DATA.1, "randomize 1 leaves brk alone");
}

#[test]
fn a_randomized_heap_starts_at_start_brk() {
    let layout = Layout { randomize: 2, random: 7 << 32 };
    let mut t = Task::with_layout(layout);
    let start = t.mm.start_brk();
    let (_, actions) = t.brk(start + 1);
    assert_eq!(actions, vec![Action::Map { start, len: PAGE, prot: RW, flags: FIXED | HEAP }]);
}

#[test]
fn an_existing_heap_range_gives_the_break() {
    let mut ranges = super::spawn_ranges().to_vec();
    ranges.push(range(DATA.1 + 2 * PAGE, DATA.1 + 5 * PAGE, RW, abi::range_kind::HEAP));
    let mm = Mm::new(&ranges, Layout { randomize: 2, random: u64::MAX });
    assert_eq!((mm.start_brk(), mm.brk()), (DATA.1 + 2 * PAGE, DATA.1 + 5 * PAGE));
}

#[test]
fn without_an_image_the_heap_starts_at_user_min() {
    let mm = Mm::new(&[], Layout::default());
    assert_eq!(mm.start_brk(), USER_MIN);
}
