//! mmap: every errno, MAP_FIXED and MAP_FIXED_NOREPLACE, hints, top-down placement, flags.

use abi::errno::{EBADF, EEXIST, EINVAL, ENODEV, ENOMEM, EPERM};
use abi::layout::{USER_END, USER_MIN};
use abi::mman::{
    MAP_ANONYMOUS, MAP_FIXED, MAP_FIXED_NOREPLACE, MAP_GROWSDOWN, MAP_NORESERVE, MAP_POPULATE, MAP_PRIVATE,
    MAP_SHARED, MAP_STACK,
};
use abi::prot::{EXEC, READ, WRITE};
use abi::vm::{FIXED, GROWSDOWN, POPULATE, SHARED};

use super::{ANON, DATA, PAGE, RW, RX, Task};
use crate::gap::STACK_GUARD_GAP;
use crate::{Action, EACCES, PROT_SEM, Vma, VmaKind};

fn err(t: &mut Task, addr: u64, len: u64, prot: u64, flags: u64, fd: i64, offset: u64) -> i64 {
    t.run(|mm| mm.sys_mmap(addr, len, prot, flags, fd, offset)).unwrap_err()
}

#[test]
fn zero_length_is_einval() {
    assert_eq!(err(&mut Task::new(), 0, 0, RW, ANON, -1, 0), EINVAL);
}

#[test]
fn exactly_one_of_shared_and_private() {
    let mut t = Task::new();
    assert_eq!(err(&mut t, 0, PAGE, RW, MAP_ANONYMOUS, -1, 0), EINVAL, "neither");
    assert_eq!(err(&mut t, 0, PAGE, RW, MAP_ANONYMOUS | MAP_SHARED | MAP_PRIVATE, -1, 0), EINVAL, "both");
    assert_eq!(
        err(&mut t, 0, PAGE, RW, MAP_ANONYMOUS | MAP_PRIVATE | 0x4, -1, 0),
        EINVAL,
        "another type bit"
    );
}

#[test]
fn file_mappings_are_ebadf_or_enodev() {
    let mut t = Task::new();
    assert_eq!(err(&mut t, 0, PAGE, RW, MAP_PRIVATE, -1, 0), EBADF);
    assert_eq!(err(&mut t, 0, 0, RW, MAP_PRIVATE, -1, 0), EBADF, "the fd is checked first");
    assert_eq!(err(&mut t, 0, PAGE, RW, MAP_PRIVATE, 3, 0), ENODEV);
    assert_eq!(err(&mut t, 0, PAGE, RW, MAP_SHARED, 0, 0), ENODEV);
}

#[test]
fn anonymous_ignores_the_fd_but_not_the_offset() {
    let mut t = Task::new();
    assert!(t.run(|mm| mm.sys_mmap(0, PAGE, RW, ANON, 7, 0)).is_ok());
    assert_eq!(err(&mut t, 0, PAGE, RW, ANON, -1, PAGE), EINVAL, "aligned non-zero offset");
    assert_eq!(err(&mut t, 0, PAGE, RW, ANON, -1, 1), EINVAL, "unaligned offset");
    assert_eq!(err(&mut t, 0, PAGE, RW, MAP_PRIVATE, -1, 1), EINVAL, "unaligned offset comes before EBADF");
}

#[test]
fn prot_is_checked() {
    let mut t = Task::new();
    assert_eq!(err(&mut t, 0, PAGE, 0x10, ANON, -1, 0), EINVAL);
    assert_eq!(err(&mut t, 0, PAGE, READ | WRITE | EXEC, ANON, -1, 0), EACCES, "W^X");
    assert_eq!(err(&mut t, 0, PAGE, WRITE | EXEC, ANON, -1, 0), EACCES, "W^X");
    let (addr, actions) = t.mmap(0, PAGE, READ | PROT_SEM, ANON).unwrap();
    assert_eq!(
        actions,
        vec![Action::Map { start: addr, len: PAGE, prot: READ, flags: FIXED }],
        "PROT_SEM dropped"
    );
    assert!(t.mmap(0, PAGE, 0, ANON).is_ok(), "PROT_NONE is fine");
}

#[test]
fn huge_lengths_are_enomem() {
    let mut t = Task::new();
    assert_eq!(err(&mut t, 0, u64::MAX, RW, ANON, -1, 0), ENOMEM, "rounding up overflows");
    assert_eq!(err(&mut t, 0, USER_END, RW, ANON, -1, 0), ENOMEM, "larger than user space");
    assert_eq!(err(&mut t, 0, USER_END - USER_MIN - PAGE, RW, ANON, -1, 0), ENOMEM, "no gap that large");
}

#[test]
fn lengths_round_up_to_pages() {
    let mut t = Task::new();
    let (addr, actions) = t.mmap(0, 1, RW, ANON).unwrap();
    assert_eq!(actions, vec![Action::Map { start: addr, len: PAGE, prot: RW, flags: FIXED }]);
}

#[test]
fn fixed_checks_its_address() {
    let mut t = Task::new();
    assert_eq!(err(&mut t, 0x30_0001, PAGE, RW, ANON | MAP_FIXED, -1, 0), EINVAL, "unaligned");
    assert_eq!(err(&mut t, USER_END - PAGE, 2 * PAGE, RW, ANON | MAP_FIXED, -1, 0), ENOMEM, "past the end");
    assert_eq!(
        err(&mut t, USER_END - PAGE + 1, 2 * PAGE, RW, ANON | MAP_FIXED, -1, 0),
        ENOMEM,
        "ENOMEM first"
    );
    assert_eq!(err(&mut t, 0, PAGE, RW, ANON | MAP_FIXED, -1, 0), EPERM, "null trap (mmap_min_addr)");
    assert_eq!(err(&mut t, USER_MIN - PAGE, PAGE, RW, ANON | MAP_FIXED, -1, 0), EPERM);
    assert_eq!(t.mmap(USER_MIN, PAGE, RW, ANON | MAP_FIXED).unwrap().0, USER_MIN, "the first page allowed");
    assert_eq!(
        t.mmap(USER_END - PAGE, PAGE, RW, ANON | MAP_FIXED).unwrap().0,
        USER_END - PAGE,
        "and the last"
    );
}

#[test]
fn fixed_replaces_what_was_there() {
    let mut t = Task::new();
    let base = 0x4000_0000;
    t.mmap(base, 4 * PAGE, READ, ANON | MAP_FIXED).unwrap();
    let (addr, actions) = t.mmap(base + PAGE, 4 * PAGE, RW, ANON | MAP_FIXED).unwrap();
    assert_eq!(addr, base + PAGE);
    assert_eq!(
        actions,
        vec![
            Action::Unmap { start: base + PAGE, len: 3 * PAGE },
            Action::Map { start: base + PAGE, len: 4 * PAGE, prot: RW, flags: FIXED },
        ]
    );
    assert_eq!(t.vma(base).unwrap().end, base + PAGE, "the old VMA was cut");
    assert_eq!(t.vma(base + PAGE).unwrap().end, base + 5 * PAGE);
}

#[test]
fn fixed_over_the_image_replaces_it() {
    let mut t = Task::new();
    let (_, actions) = t.mmap(DATA.0, PAGE, RW, ANON | MAP_FIXED).unwrap();
    assert_eq!(actions[0], Action::Unmap { start: DATA.0, len: PAGE });
    assert_eq!(t.vma(DATA.0).unwrap().kind, VmaKind::Anonymous);
    assert_eq!(t.vma(DATA.0 + PAGE).unwrap().kind, VmaKind::Image);
}

#[test]
fn fixed_noreplace_refuses_overlaps() {
    let mut t = Task::new();
    let base = 0x4000_0000;
    t.mmap(base, 2 * PAGE, RW, ANON | MAP_FIXED).unwrap();
    assert_eq!(err(&mut t, base + PAGE, 2 * PAGE, RW, ANON | MAP_FIXED_NOREPLACE, -1, 0), EEXIST);
    assert_eq!(err(&mut t, base - PAGE, 2 * PAGE, RW, ANON | MAP_FIXED_NOREPLACE, -1, 0), EEXIST);
    assert_eq!(err(&mut t, base + 1, PAGE, RW, ANON | MAP_FIXED_NOREPLACE, -1, 0), EINVAL, "implies FIXED");
    let (addr, actions) = t.mmap(base + 2 * PAGE, PAGE, RW, ANON | MAP_FIXED_NOREPLACE).unwrap();
    assert_eq!(addr, base + 2 * PAGE);
    assert_eq!(actions, vec![Action::Map { start: addr, len: PAGE, prot: RW, flags: FIXED }]);
    assert_eq!(t.vma(base).unwrap().end, base + 3 * PAGE, "merged with its neighbour");
}

#[test]
fn a_free_hint_is_used() {
    let mut t = Task::new();
    assert_eq!(t.mmap(0x5000_0000, PAGE, RW, ANON).unwrap().0, 0x5000_0000);
    assert_eq!(t.mmap(0x6000_0123, PAGE, RW, ANON).unwrap().0, 0x6000_0000, "aligned down, as x86 Linux");
    assert_eq!(
        t.mmap(0x1000, PAGE, RW, ANON).unwrap().0,
        USER_MIN,
        "a hint in the null trap goes to its top"
    );
}

#[test]
fn a_used_or_impossible_hint_falls_back_to_top_down() {
    let mut t = Task::new();
    let top = t.mm.mmap_base() - PAGE;
    assert_eq!(t.mmap(DATA.0, PAGE, RW, ANON).unwrap().0, top, "hint on the image");
    assert_eq!(t.mmap(USER_END - PAGE, 2 * PAGE, RW, ANON).unwrap().0, top - 2 * PAGE, "hint past the end");
    assert_eq!(t.mmap(0x800, PAGE, RW, ANON).unwrap().0, top - 3 * PAGE, "below one page is no hint");
}

#[test]
fn top_down_fills_below_mmap_base() {
    let mut t = Task::new();
    let base = t.mm.mmap_base();
    let (a, first) = t.mmap(0, 2 * PAGE, RW, ANON).unwrap();
    let (b, second) = t.mmap(0, PAGE, RW, ANON).unwrap();
    assert_eq!((a, b), (base - 2 * PAGE, base - 3 * PAGE));
    assert_eq!(first, vec![Action::Map { start: a, len: 2 * PAGE, prot: RW, flags: FIXED }]);
    assert_eq!(second, vec![Action::Map { start: b, len: PAGE, prot: RW, flags: FIXED }]);
    assert_eq!(
        t.vma(b).unwrap(),
        Vma { start: b, end: base, prot: RW, shared: false, growsdown: false, kind: VmaKind::Anonymous },
        "merged"
    );
    let (c, _) = t.mmap(0, PAGE, READ, ANON).unwrap();
    assert_eq!(c, base - 4 * PAGE);
    assert_ne!(t.vma(c).unwrap(), t.vma(b).unwrap(), "another prot: not merged");
    // A hole left by munmap is reused, highest first.
    t.munmap(a, PAGE).unwrap();
    assert_eq!(t.mmap(0, PAGE, READ, ANON).unwrap().0, a);
}

#[test]
fn top_down_skips_gaps_too_small() {
    let mut t = Task::new();
    let base = t.mm.mmap_base();
    t.mmap(base - PAGE, PAGE, RW, ANON | MAP_FIXED).unwrap();
    t.mmap(base - 3 * PAGE, PAGE, RW, ANON | MAP_FIXED).unwrap();
    assert_eq!(t.mmap(0, 2 * PAGE, RW, ANON).unwrap().0, base - 5 * PAGE);
    assert_eq!(t.mmap(0, PAGE, RW, ANON).unwrap().0, base - 2 * PAGE);
}

#[test]
fn bottom_up_when_nothing_fits_below_mmap_base() {
    // Too large for the simulated kernel's page map: memd's state only.
    let mut mm = Task::new().mm;
    let base = mm.mmap_base();
    mm.sys_mmap(USER_MIN, base - USER_MIN, READ, ANON | MAP_FIXED, -1, 0).unwrap();
    let (addr, _) = mm.sys_mmap(0, PAGE, RW, ANON, -1, 0).unwrap();
    assert_eq!(addr, base, "the lowest free page above");
}

#[test]
fn new_mappings_keep_out_of_a_growsdown_guard_gap() {
    let mut t = Task::new();
    let base = t.mm.mmap_base();
    let (stack, actions) = t.mmap(0, 4 * PAGE, RW, ANON | MAP_GROWSDOWN).unwrap();
    assert_eq!(stack, base - 4 * PAGE);
    assert_eq!(
        actions,
        vec![Action::Map { start: stack, len: 4 * PAGE, prot: RW, flags: FIXED | GROWSDOWN }]
    );
    assert!(t.vma(stack).unwrap().growsdown);
    let (next, _) = t.mmap(0, PAGE, RW, ANON).unwrap();
    assert_eq!(next, stack - STACK_GUARD_GAP - PAGE);
    assert_eq!(
        t.mmap(stack - PAGE, PAGE, RW, ANON).unwrap().0,
        next - PAGE,
        "a hint in the gap is not taken"
    );
    assert_eq!(t.mmap(stack - PAGE, PAGE, READ, ANON | MAP_FIXED).unwrap().0, stack - PAGE, "MAP_FIXED may");
}

#[test]
fn flags_reach_the_kernel() {
    let mut t = Task::new();
    let (a, actions) = t.mmap(0, PAGE, RW, MAP_ANONYMOUS | MAP_SHARED | MAP_POPULATE).unwrap();
    assert_eq!(
        actions,
        vec![Action::Map { start: a, len: PAGE, prot: RW, flags: FIXED | SHARED | POPULATE }]
    );
    assert!(t.vma(a).unwrap().shared);
    let (b, actions) = t.mmap(0, PAGE, RW, ANON | MAP_NORESERVE | MAP_STACK).unwrap();
    assert_eq!(actions, vec![Action::Map { start: b, len: PAGE, prot: RW, flags: FIXED }], "no effect");
    assert_ne!(t.vma(a), t.vma(b), "shared and private do not merge");
    let (c, _) = t.mmap(0, PAGE, RX, ANON).unwrap();
    assert_eq!(t.vma(c).unwrap().prot, RX);
}

#[test]
fn shared_growsdown_is_einval() {
    let mut t = Task::new();
    assert_eq!(err(&mut t, 0, PAGE, RW, MAP_ANONYMOUS | MAP_SHARED | MAP_GROWSDOWN, -1, 0), EINVAL);
}

#[test]
fn demo_100_mib() {
    // Seed 004 §4.4: mmap 100 MiB anonymous, and a VMA of 0x6400000 bytes appears in maps.
    let mut t = Task::new();
    let (addr, actions) = t.mmap(0, 100 << 20, RW, ANON).unwrap();
    assert_eq!(actions, vec![Action::Map { start: addr, len: 0x640_0000, prot: RW, flags: FIXED }]);
    let mut text = alloc::string::String::new();
    crate::proc::maps(&mut text, &t.mm, "hello").unwrap();
    let line = alloc::format!("{:08x}-{:08x} rw-p 00000000 00:00 0 \n", addr, addr + 0x640_0000);
    assert!(text.contains(&line), "{text}");
}
