//! mprotect: errors, all-or-nothing on holes, splitting and merging.

use abi::errno::{EINVAL, ENOMEM};
use abi::mman::MAP_FIXED;
use abi::prot::{EXEC, READ, WRITE};

use super::{ANON, DATA, PAGE, RW, RX, TEXT, Task};
use crate::{Action, EACCES, PROT_SEM};

const BASE: u64 = 0x4000_0000;

#[test]
fn unaligned_is_einval() {
    assert_eq!(Task::new().mprotect(DATA.0 + 1, PAGE, READ), Err(EINVAL));
}

#[test]
fn zero_length_succeeds_before_other_checks() {
    let mut t = Task::new();
    assert_eq!(t.mprotect(BASE, 0, READ), Ok(vec![]));
    assert_eq!(t.mprotect(BASE, 0, 0x40), Ok(vec![]), "Linux returns before looking at prot");
}

#[test]
fn overflow_is_enomem() {
    assert_eq!(Task::new().mprotect(DATA.0, u64::MAX, READ), Err(ENOMEM));
    assert_eq!(Task::new().mprotect(!(PAGE - 1), 2 * PAGE, READ), Err(ENOMEM));
}

#[test]
fn bad_prot_is_einval_and_write_exec_eacces() {
    let mut t = Task::new();
    assert_eq!(t.mprotect(DATA.0, PAGE, 0x10), Err(EINVAL));
    assert_eq!(t.mprotect(DATA.0, PAGE, WRITE | EXEC), Err(EACCES));
    assert_eq!(t.mprotect(TEXT.0, PAGE, READ | WRITE | EXEC), Err(EACCES));
    assert_eq!(
        t.mprotect(DATA.0, PAGE, READ | PROT_SEM),
        Ok(vec![Action::Protect { start: DATA.0, len: PAGE, prot: READ }])
    );
}

#[test]
fn a_hole_is_enomem_and_changes_nothing() {
    let mut t = Task::new();
    t.mmap(BASE, PAGE, RW, ANON | MAP_FIXED).unwrap();
    t.mmap(BASE + 2 * PAGE, PAGE, RW, ANON | MAP_FIXED).unwrap();
    assert_eq!(t.mprotect(BASE, 3 * PAGE, READ), Err(ENOMEM));
    assert_eq!(t.vma(BASE).unwrap().prot, RW, "the part before the hole kept its prot");
    assert_eq!(t.mprotect(BASE + PAGE, PAGE, READ), Err(ENOMEM), "all hole");
    assert_eq!(t.mprotect(BASE + 2 * PAGE, 2 * PAGE, READ), Err(ENOMEM), "hole at the end");
}

#[test]
fn splits_and_merges_back() {
    let mut t = Task::new();
    t.mmap(BASE, 4 * PAGE, RW, ANON | MAP_FIXED).unwrap();
    let actions = t.mprotect(BASE + PAGE, 2 * PAGE - 100, READ).unwrap();
    assert_eq!(actions, vec![Action::Protect { start: BASE + PAGE, len: 2 * PAGE, prot: READ }]);
    assert_eq!(t.vmas().iter().filter(|v| v.start >= BASE && v.end <= BASE + 4 * PAGE).count(), 3);
    assert_eq!(t.vma(BASE + PAGE).unwrap().prot, READ);
    t.mprotect(BASE, 4 * PAGE, RW).unwrap();
    assert_eq!(t.vma(BASE).unwrap().end, BASE + 4 * PAGE, "one VMA again");
}

#[test]
fn spans_several_vmas() {
    let mut t = Task::new();
    let actions = t.mprotect(TEXT.0, DATA.1 - TEXT.0, READ).unwrap();
    assert_eq!(actions, vec![Action::Protect { start: TEXT.0, len: DATA.1 - TEXT.0, prot: READ }]);
    assert_eq!(t.vma(TEXT.0).unwrap().end, DATA.1, "the image is one read-only VMA now");
    t.mprotect(TEXT.0, PAGE, RX).unwrap();
    assert_eq!(t.vma(TEXT.0).unwrap().end, TEXT.0 + PAGE);
}
