//! munmap: errors, holes, splitting.

use abi::errno::EINVAL;
use abi::layout::{USER_END, USER_MIN};
use abi::mman::MAP_FIXED;
use abi::prot::READ;

use super::{ANON, DATA, PAGE, RW, TEXT, Task};
use crate::{Action, VmaKind};

const BASE: u64 = 0x4000_0000;

#[test]
fn unaligned_zero_or_outside_is_einval() {
    let mut t = Task::new();
    assert_eq!(t.munmap(BASE + 1, PAGE), Err(EINVAL));
    assert_eq!(t.munmap(BASE, 0), Err(EINVAL));
    assert_eq!(t.munmap(USER_END - PAGE, 2 * PAGE), Err(EINVAL));
    assert_eq!(t.munmap(USER_END + PAGE, PAGE), Err(EINVAL));
    assert_eq!(t.munmap(BASE, u64::MAX), Err(EINVAL));
    assert_eq!(t.munmap(USER_END - PAGE, PAGE - 1), Ok(vec![]), "rounds up to the last page");
}

#[test]
fn holes_are_fine() {
    let mut t = Task::new();
    assert_eq!(t.munmap(BASE, 16 * PAGE), Ok(vec![]), "nothing mapped: nothing to do");
    assert_eq!(t.munmap(0, USER_MIN), Ok(vec![]), "the null trap, as on Linux");
}

#[test]
fn the_middle_of_a_vma_splits_it() {
    let mut t = Task::new();
    t.mmap(BASE, 8 * PAGE, RW, ANON | MAP_FIXED).unwrap();
    let actions = t.munmap(BASE + 2 * PAGE, 3 * PAGE + 1).unwrap();
    assert_eq!(actions, vec![Action::Unmap { start: BASE + 2 * PAGE, len: 4 * PAGE }]);
    assert_eq!(t.vma(BASE).unwrap().end, BASE + 2 * PAGE);
    assert_eq!(t.vma(BASE + 6 * PAGE).unwrap().start, BASE + 6 * PAGE);
    assert_eq!(t.vma(BASE + 3 * PAGE), None);
}

#[test]
fn one_unmap_spans_the_mapped_part() {
    let mut t = Task::new();
    t.mmap(BASE + 2 * PAGE, PAGE, RW, ANON | MAP_FIXED).unwrap();
    t.mmap(BASE + 5 * PAGE, 2 * PAGE, READ, ANON | MAP_FIXED).unwrap();
    let actions = t.munmap(BASE, 16 * PAGE).unwrap();
    assert_eq!(actions, vec![Action::Unmap { start: BASE + 2 * PAGE, len: 5 * PAGE }], "holes inside");
    assert!(t.vmas().iter().all(|v| v.end <= BASE || v.start >= BASE + 16 * PAGE));
}

#[test]
fn the_image_can_be_unmapped() {
    let mut t = Task::new();
    let actions = t.munmap(TEXT.0, DATA.1 - TEXT.0).unwrap();
    assert_eq!(actions, vec![Action::Unmap { start: TEXT.0, len: DATA.1 - TEXT.0 }]);
    assert!(t.vmas().iter().all(|v| v.kind != VmaKind::Image));
}
