//! Host tests of MADT parsing: a table shaped like QEMU's, malformed entries, and random bytes.

use super::*;
use proptest::prelude::*;

/// A MADT with QEMU's `pc` entries: one local APIC, the I/O APIC at 0xfec00000 from GSI 0, and the
/// overrides QEMU lists (IRQ 0 → GSI 2, IRQs 5, 9, 10, 11 level/active high).
fn qemu_like() -> Vec<u8> {
    let mut t = vec![0u8; MADT_ENTRIES_OFFSET];
    t[..4].copy_from_slice(b"APIC");
    t[36..40].copy_from_slice(&0xfee0_0000u32.to_le_bytes());
    t[40..44].copy_from_slice(&1u32.to_le_bytes());
    t.extend_from_slice(&[0, 8, 0, 0, 1, 0, 0, 0]); // local APIC 0, enabled
    let mut ioapic = vec![1, 12, 0, 0];
    ioapic.extend_from_slice(&0xfec0_0000u32.to_le_bytes());
    ioapic.extend_from_slice(&0u32.to_le_bytes());
    t.extend_from_slice(&ioapic);
    for (irq, gsi, flags) in [(0u8, 2u32, 0u16), (5, 5, 0xd), (9, 9, 0xd), (10, 10, 0xd), (11, 11, 0xd)] {
        let mut e = vec![2, 10, 0, irq];
        e.extend_from_slice(&gsi.to_le_bytes());
        e.extend_from_slice(&flags.to_le_bytes());
        t.extend_from_slice(&e);
    }
    let length = t.len() as u32;
    t[4..8].copy_from_slice(&length.to_le_bytes());
    t
}

#[test]
fn qemu_table_gives_the_ioapic_and_the_overrides() {
    let info = parse_madt(&qemu_like());
    assert_eq!(info.ioapic, Some((0xfec0_0000, 0)));
    assert_eq!(info.ioapics, 1);
    assert!(info.pcat_compat);
    assert_eq!(info.overrides[0], Some((2, 0)));
    assert_eq!(info.overrides[1], None, "the keyboard's IRQ 1 has no override: GSI 1");
    assert_eq!(info.overrides[9], Some((9, 0xd)));
}

#[test]
fn the_length_field_bounds_the_walk() {
    let mut t = qemu_like();
    // Claim the table ends right after the local APIC entry: the I/O APIC is not seen.
    t[4..8].copy_from_slice(&((MADT_ENTRIES_OFFSET + 8) as u32).to_le_bytes());
    assert_eq!(parse_madt(&t).ioapic, None);
}

#[test]
fn short_and_zero_length_entries_stop_the_walk() {
    let mut t = qemu_like();
    t[MADT_ENTRIES_OFFSET + 1] = 0; // the first entry claims length 0
    assert_eq!(parse_madt(&t), MadtInfo { pcat_compat: true, ..MadtInfo::default() });
    let mut t = qemu_like();
    t[MADT_ENTRIES_OFFSET + 8 + 1] = 4; // an I/O APIC entry too short to hold its fields
    let info = parse_madt(&t);
    assert_eq!(info.ioapics, 0);
    assert_eq!(info.ioapic, None);
}

#[test]
fn overrides_of_other_buses_and_high_sources_are_ignored() {
    let mut t = qemu_like();
    let mut e = vec![2, 10, 1, 1];
    e.extend_from_slice(&7u32.to_le_bytes());
    e.extend_from_slice(&0u16.to_le_bytes());
    t.extend_from_slice(&e);
    let mut e = vec![2, 10, 0, 200];
    e.extend_from_slice(&7u32.to_le_bytes());
    e.extend_from_slice(&0u16.to_le_bytes());
    t.extend_from_slice(&e);
    let length = t.len() as u32;
    t[4..8].copy_from_slice(&length.to_le_bytes());
    let info = parse_madt(&t);
    assert_eq!(info.overrides[1], None);
    assert_eq!(info.overrides.iter().flatten().count(), 5);
}

proptest! {
    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let info = parse_madt(&bytes);
        prop_assert!(info.ioapics <= bytes.len() / 12 + 1);
    }

    #[test]
    fn damaged_qemu_tables_never_panic(flips in proptest::collection::vec((0usize..200, any::<u8>()), 1..8)) {
        let mut t = qemu_like();
        for (at, value) in flips {
            if let Some(b) = t.get_mut(at) {
                *b = value;
            }
        }
        let _ = parse_madt(&t);
    }
}
