//! Host tests of the E820 table: fixed cases from real firmware maps, and random tables.

use super::*;
use proptest::prelude::*;

fn table(entries: &[(u64, u64, u32)]) -> E820Table {
    let mut t = E820Table::new();
    for &(addr, size, typ) in entries {
        t.append(addr, size, E820Type(typ)).unwrap();
    }
    t
}

fn triples(t: &E820Table) -> Vec<(u64, u64, u32)> {
    t.entries().iter().map(|e| (e.addr, e.size, e.typ.0)).collect()
}

/// The map SeaBIOS gives QEMU `pc` with 128 MiB (DESIGN §3): already canonical.
const SEABIOS_128M: &[(u64, u64, u32)] = &[
    (0, 0x9fc00, 1),
    (0x9fc00, 0x400, 2),
    (0xf0000, 0x10000, 2),
    (0x100000, 0x7ee0000, 1),
    (0x7fe0000, 0x20000, 2),
    (0xfffc0000, 0x40000, 2),
];

#[test]
fn canonical_map_is_left_alone() {
    let mut t = table(SEABIOS_128M);
    let report = t.sanitize();
    assert!(!report.changed(), "{report:?}");
    assert_eq!(triples(&t), SEABIOS_128M);
    assert_eq!(t.total(E820Type::USABLE), 0x9fc00 + 0x7ee0000);
}

#[test]
fn prints_like_linux_with_inclusive_end() {
    let t = table(SEABIOS_128M);
    let lines: Vec<String> = t.entries().iter().map(|e| e.to_string()).collect();
    assert_eq!(lines[0], "[mem 0x0000000000000000-0x000000000009fbff] usable");
    assert_eq!(lines[1], "[mem 0x000000000009fc00-0x000000000009ffff] reserved");
    let e = E820Entry { addr: 0x1000, size: 0x1000, typ: E820Type(20) };
    assert_eq!(e.to_string(), "[mem 0x0000000000001000-0x0000000000001fff] type 20");
    assert_eq!(E820Type::ACPI.to_string(), "ACPI data");
    assert_eq!(E820Type::NVS.to_string(), "ACPI NVS");
    assert_eq!(E820Type::UNUSABLE.to_string(), "unusable");
    assert_eq!(E820Type::PRAM.to_string(), "persistent (type 12)");
}

#[test]
fn overlap_goes_to_the_higher_type_and_usable_loses() {
    let mut t = table(&[(0, 0x3000, 1), (0x1000, 0x1000, 2), (0x2800, 0x1000, 3)]);
    let report = t.sanitize();
    assert_eq!(report.overlaps, 2);
    assert_eq!(triples(&t), [(0, 0x1000, 1), (0x1000, 0x1000, 2), (0x2000, 0x800, 1), (0x2800, 0x1000, 3)]);
    // Unknown type 0 still beats usable.
    let mut t = table(&[(0, 0x2000, 1), (0x1000, 0x1000, 0)]);
    t.sanitize();
    assert_eq!(triples(&t), [(0, 0x1000, 1), (0x1000, 0x1000, 0)]);
}

#[test]
fn unsorted_input_is_sorted_and_neighbours_merge() {
    let mut t = table(&[(0x2000, 0x1000, 1), (0, 0x1000, 1), (0x1000, 0x1000, 1), (0x5000, 0x1000, 2)]);
    let report = t.sanitize();
    assert!(report.unsorted);
    assert_eq!((report.entries_in, report.entries_out), (4, 2));
    assert_eq!(triples(&t), [(0, 0x3000, 1), (0x5000, 0x1000, 2)]);
}

#[test]
fn persistent_memory_is_never_merged() {
    let mut t = table(&[(0, 0x1000, 12), (0x1000, 0x1000, 12), (0x2000, 0x1000, 7), (0x3000, 0x1000, 7)]);
    t.sanitize();
    assert_eq!(t.len(), 4);
}

#[test]
fn bad_entries_are_refused_with_a_reason() {
    let mut t = E820Table::new();
    assert_eq!(t.append(0x1000, 0, E820Type::USABLE), Err(E820Error::ZeroLength));
    assert_eq!(t.append(u64::MAX - 0xfff, 0x2000, E820Type::USABLE), Err(E820Error::Wraps));
    assert_eq!(t.append(u64::MAX - 0x1fff, 0x1000, E820Type::USABLE), Ok(()));
    assert_eq!(t.len(), 1);
}

#[test]
fn a_full_table_makes_room_by_merging_and_otherwise_refuses() {
    let mut t = E820Table::new();
    for i in 0..E820_MAX_ENTRIES as u64 {
        t.append(i * 0x1000, 0x1000, E820Type::USABLE).unwrap();
    }
    // Full of mergeable neighbours: sanitizing makes room.
    t.append(0x100_0000, 0x1000, E820Type::RESERVED).unwrap();
    assert_eq!(t.len(), 2);

    let mut t = E820Table::new();
    for i in 0..E820_MAX_ENTRIES as u64 {
        t.append(i * 0x2000, 0x1000, E820Type::USABLE).unwrap();
    }
    assert_eq!(t.append(0x100_0000, 0x1000, E820Type::RESERVED), Err(E820Error::TableFull));
    assert_eq!(t.len(), E820_MAX_ENTRIES);
}

#[test]
fn too_many_pieces_after_resolving_overlaps_are_truncated_from_the_top() {
    // One big reserved range with 127 small usable islands inside produces 255 pieces.
    let mut t = E820Table::new();
    t.append(0, 0x1000 * 300, E820Type::USABLE).unwrap();
    for i in 0..127u64 {
        t.append(0x1000 + i * 0x2000, 0x1000, E820Type::RESERVED).unwrap();
    }
    let report = t.sanitize();
    assert_eq!(t.len(), E820_MAX_ENTRIES);
    assert_eq!(report.truncated, 255 - E820_MAX_ENTRIES);
    assert!(t.entries().windows(2).all(|w| w[0].end() <= w[1].addr));
    assert_eq!(t.entries()[0], E820Entry { addr: 0, size: 0x1000, typ: E820Type::USABLE });
}

#[test]
fn remove_range_splits_trims_and_deletes() {
    let mut t = table(&[(0, 0x10000, 1), (0x10000, 0x1000, 2), (0x20000, 0x1000, 1)]);
    t.remove_range(0x4000, 0x1000, Some(E820Type::USABLE)).unwrap();
    assert_eq!(
        triples(&t),
        [(0, 0x4000, 1), (0x5000, 0xb000, 1), (0x10000, 0x1000, 2), (0x20000, 0x1000, 1)]
    );
    // Type filter: the reserved entry survives a usable-only removal.
    t.remove_range(0xf000, 0x20000, Some(E820Type::USABLE)).unwrap();
    assert_eq!(triples(&t), [(0, 0x4000, 1), (0x5000, 0xa000, 1), (0x10000, 0x1000, 2)]);
    t.remove_range(0, u64::MAX, None).unwrap();
    assert!(t.is_empty());
}

#[test]
fn mem_limit_keeps_reserved_ranges_above_it() {
    let mut t = table(SEABIOS_128M);
    t.limit_usable(64 << 20).unwrap();
    assert_eq!(t.total(E820Type::USABLE), 0x9fc00 + (64 << 20) - 0x100000);
    assert_eq!(t.type_at(0xfffc0000), Some(E820Type::RESERVED));
    assert_eq!(t.type_at(64 << 20), None);
}

#[test]
fn efi_types_map_like_linux() {
    let usable: Vec<u32> = (0..16).filter(|&t| e820_type_from_efi(t) == E820Type::USABLE).collect();
    assert_eq!(usable, [1, 2, 3, 4, 7]);
    assert_eq!(e820_type_from_efi(9), E820Type::ACPI);
    assert_eq!(e820_type_from_efi(10), E820Type::NVS);
    assert_eq!(e820_type_from_efi(8), E820Type::UNUSABLE);
    assert_eq!(e820_type_from_efi(14), E820Type::PMEM);
    for reserved in [0, 5, 6, 11, 12, 13, 15, 0x7000_0000] {
        assert_eq!(e820_type_from_efi(reserved), E820Type::RESERVED, "{reserved}");
    }
}

fn arb_type() -> impl Strategy<Value = u32> {
    prop_oneof![4 => Just(1u32), 2 => Just(2u32), 1 => Just(3u32), 1 => Just(4u32), 1 => Just(5u32),
        1 => Just(7u32), 1 => Just(12u32), 1 => Just(20u32), 1 => Just(0u32)]
}

/// Entries in a small address space (in 4 KiB units) so that overlaps are frequent.
fn arb_entries() -> impl Strategy<Value = Vec<(u64, u64, u32)>> {
    prop::collection::vec((0u64..64, 0u64..16, arb_type()), 0..E820_MAX_ENTRIES)
        .prop_map(|v| v.into_iter().map(|(a, s, t)| (a * 0x1000, s * 0x1000, t)).collect())
}

/// The type a byte should end up with: the highest-priority type among the input entries covering it.
fn model_type_at(input: &[(u64, u64, u32)], addr: u64) -> Option<E820Type> {
    input
        .iter()
        .filter(|&&(a, s, _)| a <= addr && addr < a + s)
        .map(|&(_, _, t)| E820Type(t))
        .max_by_key(|t| t.priority())
}

proptest! {
    #[test]
    fn sanitized_tables_are_canonical_and_keep_every_bytes_type(input in arb_entries()) {
        let mut t = E820Table::new();
        for &(a, s, ty) in &input {
            match t.append(a, s, E820Type(ty)) {
                Ok(()) => {}
                Err(E820Error::ZeroLength) => prop_assert_eq!(s, 0),
                Err(e) => prop_assert!(false, "unexpected {:?}", e),
            }
        }
        let report = t.sanitize();
        prop_assert_eq!(report.truncated, 0);
        let out = t.entries();
        for w in out.windows(2) {
            prop_assert!(w[0].end() <= w[1].addr, "sorted, non-overlapping: {:?}", w);
            let adjacent_mergeable = w[0].end() == w[1].addr && w[0].typ == w[1].typ && w[0].typ.mergeable();
            prop_assert!(!adjacent_mergeable, "not merged: {:?}", w);
        }
        prop_assert!(out.iter().all(|e| e.size > 0));
        // Every 4 KiB unit keeps its highest-priority type (all boundaries are 4 KiB aligned).
        for unit in 0..80u64 {
            let addr = unit * 0x1000;
            prop_assert_eq!(t.type_at(addr), model_type_at(&input, addr), "at {:#x}", addr);
        }
        // Sanitizing is idempotent.
        let again = t.clone().sanitize();
        prop_assert!(!again.changed(), "{:?}", again);
    }

    #[test]
    fn remove_range_only_removes_what_was_asked(input in arb_entries(), start in 0u64..80, len in 0u64..40) {
        let mut t = E820Table::new();
        for &(a, s, ty) in &input {
            let _ = t.append(a, s, E820Type(ty));
        }
        t.sanitize();
        let before = t.clone();
        let (lo, hi) = (start * 0x1000, (start + len) * 0x1000);
        t.remove_range(lo, hi - lo, Some(E820Type::USABLE)).unwrap();
        for unit in 0..80u64 {
            let addr = unit * 0x1000;
            let expected = match before.type_at(addr) {
                Some(E820Type::USABLE) if (lo..hi).contains(&addr) => None,
                other => other,
            };
            prop_assert_eq!(t.type_at(addr), expected, "at {:#x}", addr);
        }
    }
}
