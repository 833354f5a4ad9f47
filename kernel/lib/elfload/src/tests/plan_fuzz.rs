//! Property tests: `plan` never panics, and whatever it accepts keeps the `LoadPlan` invariants.

use proptest::prelude::*;

use super::builder::*;
use crate::{LoadPlan, PAGE_SIZE, plan};

/// The invariants listed in the crate docs, for a plan of `file` within `[user_min, user_end)`.
fn check_invariants(plan: &LoadPlan, file: &[u8], user_min: u64, user_end: u64) {
    assert!(!plan.segments.is_empty());
    for (i, s) in plan.segments.iter().enumerate() {
        assert!(
            user_min <= s.page_start() && s.page_start() < s.page_end() && s.page_end() <= user_end,
            "{s:?}"
        );
        assert!(!(s.perms.write && s.perms.exec), "{s:?}");
        assert!(s.file_bytes <= s.mem_bytes && s.mem_bytes > 0, "{s:?}");
        assert!(s.file_offset.checked_add(s.file_bytes).is_some_and(|end| end <= file.len() as u64), "{s:?}");
        assert_eq!(s.vaddr % PAGE_SIZE, s.file_offset % PAGE_SIZE);
        assert!(s.vaddr.checked_add(s.mem_bytes).is_some());
        for t in &plan.segments[..i] {
            assert!(s.page_end() <= t.page_start() || t.page_end() <= s.page_start(), "{s:?} overlaps {t:?}");
        }
    }
    let in_text =
        |s: &crate::Segment| s.perms.exec && s.vaddr <= plan.entry && plan.entry - s.vaddr < s.mem_bytes;
    assert!(plan.segments.iter().any(in_text), "entry {:#x}", plan.entry);
    assert_eq!(Some(plan.image_end), plan.segments.iter().map(|s| s.page_end()).max());
    if plan.phdr_vaddr != 0 {
        let table = plan.phdr_vaddr..plan.phdr_vaddr + plan.phent * plan.phnum;
        assert!(plan.segments.iter().any(|s| s.vaddr <= table.start && table.end <= s.vaddr + s.file_bytes));
    }
}

/// One kind of damage to a valid image.
#[derive(Clone, Debug)]
enum Mutation {
    /// XOR a byte anywhere (most land in the header and program headers, which are at the start).
    Flip { at: usize, mask: u8 },
    /// Set a field of a program header (index and field modulo their counts) to a value.
    PhdrField { phdr: usize, field: usize, value: u64 },
    /// Cut the file.
    Truncate { len: usize },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let interesting = prop_oneof![
        any::<u64>(),
        0u64..0x40_0000,
        (0u64..16).prop_map(|p| p * PAGE_SIZE),
        Just(u64::MAX),
        (0u64..0x1000).prop_map(|d| u64::MAX - d),
        Just(USER_END),
    ];
    prop_oneof![
        (0usize..0x200, 1u8..=255).prop_map(|(at, mask)| Mutation::Flip { at, mask }),
        (0usize..0xa00, 1u8..=255).prop_map(|(at, mask)| Mutation::Flip { at, mask }),
        (0usize..8, 0usize..8, interesting).prop_map(|(phdr, field, value)| Mutation::PhdrField {
            phdr,
            field,
            value
        }),
        (0usize..0xa00).prop_map(|len| Mutation::Truncate { len }),
    ]
}

fn apply(file: &mut Vec<u8>, mutation: &Mutation) {
    match *mutation {
        Mutation::Flip { at, mask } => {
            if let Some(byte) = file.get_mut(at) {
                *byte ^= mask;
            }
        }
        Mutation::PhdrField { phdr, field, value } => {
            let at = 64 + (phdr % 6) * 56 + PHDR_FIELD_OFFSETS[field % 8];
            let width = if field % 8 < 2 { 4 } else { 8 };
            if let Some(slot) = file.get_mut(at..at + width) {
                slot.copy_from_slice(&value.to_le_bytes()[..width]);
            }
        }
        Mutation::Truncate { len } => file.truncate(len),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..4096), misalign in 0usize..8) {
        let file = Aligned::with_misalignment(&bytes, misalign);
        if let Ok(plan) = plan(file.bytes(), USER_MIN, USER_END) {
            check_invariants(&plan, file.bytes(), USER_MIN, USER_END);
        }
    }

    #[test]
    fn arbitrary_bytes_behind_an_elf_header_never_panic(
        tail in proptest::collection::vec(any::<u8>(), 0..2048),
        phnum in 0u16..8,
        entry in 0x20_0000u64..0x20_3000,
    ) {
        let mut bytes = build(&Header { phnum: Some(phnum), ..Header::exec(entry) }, &[], 64);
        bytes.extend_from_slice(&tail);
        let file = Aligned::new(&bytes);
        if let Ok(plan) = plan(file.bytes(), USER_MIN, USER_END) {
            check_invariants(&plan, file.bytes(), USER_MIN, USER_END);
        }
    }

    #[test]
    fn damaged_images_never_panic_and_keep_invariants(
        text_first in any::<bool>(),
        mutations in proptest::collection::vec(mutation(), 1..6),
        user_min in prop_oneof![Just(USER_MIN), 0u64..0x30_0000],
        user_end in prop_oneof![Just(USER_END), 0x20_0000u64..0x30_0000, Just(u64::MAX)],
    ) {
        let (header, phdrs, len) = if text_first { text_first_image() } else { lld_image() };
        let mut bytes = build(&header, &phdrs, len);
        for mutation in &mutations {
            apply(&mut bytes, mutation);
        }
        let file = Aligned::new(&bytes);
        if let Ok(plan) = plan(file.bytes(), user_min, user_end) {
            check_invariants(&plan, file.bytes(), user_min, user_end);
        }
    }
}
