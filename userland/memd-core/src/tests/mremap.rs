//! mremap: errors, shrinking, growing in place, moving.

use abi::errno::{EFAULT, EINVAL, ENOMEM};
use abi::layout::USER_END;
use abi::mman::{MAP_ANONYMOUS, MAP_FIXED, MAP_SHARED, MREMAP_FIXED, MREMAP_MAYMOVE};
use abi::prot::READ;
use abi::vm::{FIXED, HEAP, SHARED};

use super::{ANON, DATA, PAGE, RW, Task};
use crate::{Action, VmaKind};

const BASE: u64 = 0x4000_0000;
const MAYMOVE: u64 = MREMAP_MAYMOVE;

fn task_with_mapping(pages: u64) -> Task {
    let mut t = Task::new();
    t.mmap(BASE, pages * PAGE, RW, ANON | MAP_FIXED).unwrap();
    t
}

#[test]
fn argument_errors() {
    let mut t = task_with_mapping(2);
    assert_eq!(t.mremap(BASE + 1, PAGE, 2 * PAGE, 0), Err(EINVAL), "unaligned");
    assert_eq!(t.mremap(BASE, PAGE, 0, 0), Err(EINVAL), "new_len 0");
    assert_eq!(t.mremap(BASE, PAGE, u64::MAX, MAYMOVE), Err(EINVAL), "new_len rounds to 0");
    assert_eq!(t.mremap(BASE, 0, PAGE, MAYMOVE), Err(EINVAL), "old_len 0 (duplicating is not supported)");
    assert_eq!(t.mremap(BASE, PAGE, 2 * PAGE, MREMAP_FIXED | MAYMOVE), Err(EINVAL), "MREMAP_FIXED");
    assert_eq!(t.mremap(BASE, PAGE, 2 * PAGE, MREMAP_FIXED), Err(EINVAL));
    assert_eq!(t.mremap(BASE, PAGE, 2 * PAGE, 4), Err(EINVAL), "MREMAP_DONTUNMAP");
}

#[test]
fn the_old_range_must_be_one_vma() {
    let mut t = task_with_mapping(2);
    assert_eq!(t.mremap(BASE + 2 * PAGE, PAGE, PAGE, 0), Err(EFAULT), "unmapped");
    assert_eq!(t.mremap(BASE, 3 * PAGE, PAGE, 0), Err(EFAULT), "runs past the VMA");
    t.mmap(BASE + 2 * PAGE, PAGE, READ, ANON | MAP_FIXED).unwrap();
    assert_eq!(t.mremap(BASE, 3 * PAGE, 4 * PAGE, MAYMOVE), Err(EFAULT), "two VMAs");
    assert_eq!(t.mremap(!(PAGE - 1), 2 * PAGE, PAGE, 0), Err(EFAULT), "wraps");
}

#[test]
fn shrinking_unmaps_the_tail() {
    let mut t = task_with_mapping(4);
    let (addr, actions) = t.mremap(BASE, 4 * PAGE, PAGE + 1, 0).unwrap();
    assert_eq!(addr, BASE);
    assert_eq!(actions, vec![Action::Unmap { start: BASE + 2 * PAGE, len: 2 * PAGE }]);
    assert_eq!(t.vma(BASE).unwrap().end, BASE + 2 * PAGE);
    assert_eq!(t.mremap(BASE, 2 * PAGE, 2 * PAGE, 0), Ok((BASE, vec![])), "same size");
}

#[test]
fn grows_in_place_when_the_next_pages_are_free() {
    let mut t = task_with_mapping(2);
    t.mmap(BASE + 5 * PAGE, PAGE, READ, ANON | MAP_FIXED).unwrap();
    let (addr, actions) = t.mremap(BASE, 2 * PAGE, 5 * PAGE, 0).unwrap();
    assert_eq!(addr, BASE);
    assert_eq!(actions, vec![Action::Map { start: BASE + 2 * PAGE, len: 3 * PAGE, prot: RW, flags: FIXED }]);
    assert_eq!(t.vma(BASE).unwrap().end, BASE + 5 * PAGE);
    assert_eq!(t.mremap(BASE, 5 * PAGE, 6 * PAGE, 0), Err(ENOMEM), "blocked, may not move");
}

#[test]
fn grows_in_place_up_to_user_end_only() {
    let mut t = Task::new();
    t.mmap(USER_END - PAGE, PAGE, RW, ANON | MAP_FIXED).unwrap();
    assert_eq!(t.mremap(USER_END - PAGE, PAGE, 2 * PAGE, 0), Err(ENOMEM));
}

#[test]
fn moves_when_blocked_and_allowed() {
    let mut t = task_with_mapping(2);
    t.mmap(BASE + 2 * PAGE, PAGE, READ, ANON | MAP_FIXED).unwrap();
    let expected = t.mm.mmap_base() - 4 * PAGE;
    let (addr, actions) = t.mremap(BASE, 2 * PAGE, 4 * PAGE, MAYMOVE).unwrap();
    assert_eq!(addr, expected, "top-down");
    assert_eq!(
        actions,
        vec![
            Action::Move { old: BASE, len: 2 * PAGE, new: addr },
            Action::Map { start: addr + 2 * PAGE, len: 2 * PAGE, prot: RW, flags: FIXED },
        ]
    );
    assert_eq!(t.vma(BASE), None);
    assert_eq!(t.vma(addr).unwrap().end, addr + 4 * PAGE);
}

#[test]
fn a_range_inside_a_vma_moves_out_of_it() {
    let mut t = task_with_mapping(6);
    let (addr, actions) = t.mremap(BASE + 2 * PAGE, 2 * PAGE, 3 * PAGE, MAYMOVE).unwrap();
    assert_eq!(actions[0], Action::Move { old: BASE + 2 * PAGE, len: 2 * PAGE, new: addr });
    assert_eq!(t.vma(BASE).unwrap().end, BASE + 2 * PAGE);
    assert_eq!(t.vma(BASE + 4 * PAGE).unwrap().start, BASE + 4 * PAGE);
    assert_eq!(t.vma(BASE + 2 * PAGE), None);
}

#[test]
fn a_moved_heap_is_anonymous_memory() {
    let mut t = Task::new();
    t.brk(DATA.1 + 2 * PAGE);
    t.mmap(DATA.1 + 2 * PAGE, PAGE, READ, ANON | MAP_FIXED).unwrap();
    assert_eq!(t.mremap(DATA.1, 2 * PAGE, 4 * PAGE, 0), Err(ENOMEM));
    let (addr, actions) = t.mremap(DATA.1, 2 * PAGE, 4 * PAGE, MAYMOVE).unwrap();
    assert_eq!(actions[1], Action::Map { start: addr + 2 * PAGE, len: 2 * PAGE, prot: RW, flags: FIXED });
    assert_eq!(t.vma(addr).unwrap().kind, VmaKind::Anonymous);
}

#[test]
fn a_heap_grown_in_place_stays_heap() {
    let mut t = Task::new();
    t.brk(DATA.1 + PAGE);
    let (_, actions) = t.mremap(DATA.1, PAGE, 2 * PAGE, 0).unwrap();
    assert_eq!(actions, vec![Action::Map { start: DATA.1 + PAGE, len: PAGE, prot: RW, flags: FIXED | HEAP }]);
    assert_eq!(t.vma(DATA.1).unwrap().kind, VmaKind::Heap);
}

#[test]
fn shared_mappings_keep_their_flag() {
    let mut t = Task::new();
    let (addr, _) = t.mmap(BASE, PAGE, RW, MAP_ANONYMOUS | MAP_SHARED | MAP_FIXED).unwrap();
    let (_, actions) = t.mremap(addr, PAGE, 2 * PAGE, 0).unwrap();
    assert_eq!(actions, vec![Action::Map { start: addr + PAGE, len: PAGE, prot: RW, flags: FIXED | SHARED }]);
}

#[test]
fn no_room_is_enomem() {
    let mut t = task_with_mapping(1);
    t.mmap(BASE + PAGE, PAGE, READ, ANON | MAP_FIXED).unwrap();
    assert_eq!(t.mremap(BASE, PAGE, USER_END - PAGE, MAYMOVE), Err(ENOMEM));
}
