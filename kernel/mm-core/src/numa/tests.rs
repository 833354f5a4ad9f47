//! Host tests of SRAT/SLIT parsing with tables shaped like QEMU's, malformed ones, and random bytes.

use super::*;
use proptest::prelude::*;

fn header(sig: &[u8; 4], body_len: usize) -> Vec<u8> {
    let mut t = vec![0u8; SDT_HEADER_BYTES];
    t[..4].copy_from_slice(sig);
    t[4..8].copy_from_slice(&((SDT_HEADER_BYTES + body_len) as u32).to_le_bytes());
    t
}

fn cpu_entry(pxm: u8, apic: u8, enabled: bool) -> Vec<u8> {
    let mut e = vec![0u8; 16];
    e[0] = 0;
    e[1] = 16;
    e[2] = pxm;
    e[3] = apic;
    e[4] = u8::from(enabled);
    e
}

fn mem_entry(pxm: u32, base: u64, len: u64, flags: u32) -> Vec<u8> {
    let mut e = vec![0u8; 40];
    e[0] = 1;
    e[1] = 40;
    e[2..6].copy_from_slice(&pxm.to_le_bytes());
    e[8..16].copy_from_slice(&base.to_le_bytes());
    e[16..24].copy_from_slice(&len.to_le_bytes());
    e[28..32].copy_from_slice(&flags.to_le_bytes());
    e
}

/// QEMU with `-numa node,mem=512M -numa node,mem=512M`: two CPUs, a hole-split first node, and a
/// disabled hot-plug placeholder.
fn qemu_srat() -> Vec<u8> {
    let entries: Vec<Vec<u8>> = vec![
        cpu_entry(0, 0, true),
        cpu_entry(1, 1, true),
        mem_entry(0, 0, 0xa0000, 1),
        mem_entry(0, 0x100000, 0x1ff00000, 1),
        mem_entry(1, 0x20000000, 0x20000000, 1),
        mem_entry(0, 0x100000000, 0x10000000, 0), // disabled
        mem_entry(1, 0x40000000, 0x10000000, 3),  // hot-pluggable
    ];
    let body: usize = 12 + entries.iter().map(Vec::len).sum::<usize>();
    let mut t = header(b"SRAT", body);
    t.extend_from_slice(&[0u8; 12]);
    for e in entries {
        t.extend(e);
    }
    t
}

#[test]
fn parses_a_qemu_like_srat() {
    let srat = parse_srat(&qemu_srat()).unwrap();
    assert_eq!(
        srat.cpus.as_slice(),
        [CpuAffinity { pxm: 0, apic_id: 0 }, CpuAffinity { pxm: 1, apic_id: 1 }]
    );
    assert_eq!(srat.memory.len(), 4, "the disabled entry is skipped");
    assert_eq!(
        srat.memory[2],
        MemoryAffinity {
            pxm: 1,
            base: 0x20000000,
            length: 0x20000000,
            hotpluggable: false,
            nonvolatile: false
        }
    );
    assert!(srat.memory[3].hotpluggable);
    let map = PxmMap::from_srat(&srat);
    assert_eq!(map.nr_nodes(), 2);
    assert_eq!(map.node_of(1), Some(1));
    assert_eq!(map.pxm_of(0), Some(0));
}

#[test]
fn domains_become_nodes_in_order_of_appearance() {
    let entries = [mem_entry(7, 0, 0x1000, 1), mem_entry(3, 0x1000, 0x1000, 1)];
    let mut t = header(b"SRAT", 12 + 80);
    t.extend_from_slice(&[0u8; 12]);
    for e in &entries {
        t.extend_from_slice(e);
    }
    let map = PxmMap::from_srat(&parse_srat(&t).unwrap());
    assert_eq!((map.node_of(7), map.node_of(3), map.node_of(0)), (Some(0), Some(1), None));
}

#[test]
fn malformed_srats_are_refused() {
    let good = qemu_srat();
    assert_eq!(parse_srat(&good[..20]).unwrap_err(), AcpiTableError::TooShort);
    let mut b = good.clone();
    b[0] = b'X';
    assert_eq!(parse_srat(&b).unwrap_err(), AcpiTableError::BadSignature);
    let mut b = good.clone();
    b[4..8].copy_from_slice(&(good.len() as u32 + 1).to_le_bytes());
    assert_eq!(parse_srat(&b).unwrap_err(), AcpiTableError::BadLength);
    let mut b = good.clone();
    b[SRAT_ENTRIES_OFFSET + 1] = 0; // first entry claims length 0
    assert_eq!(parse_srat(&b).unwrap_err(), AcpiTableError::BadEntry { offset: SRAT_ENTRIES_OFFSET });
    let mut b = good.clone();
    b[SRAT_ENTRIES_OFFSET + 1] = 15; // a CPU entry of the wrong size
    assert!(matches!(parse_srat(&b), Err(AcpiTableError::BadEntry { .. })));
}

#[test]
fn slit_distances_and_fallback_order() {
    let mut t = header(b"SLIT", 8 + 9);
    t.extend_from_slice(&3u64.to_le_bytes());
    t.extend_from_slice(&[10, 30, 20, 30, 10, 20, 20, 20, 10]);
    let slit = parse_slit(&t).unwrap();
    assert_eq!(slit.distance(0, 1), Some(30));
    assert_eq!(slit.distance(2, 2), Some(10));
    assert_eq!(slit.distance(3, 0), None);
    let d = |a: usize, b: usize| slit.distance(a, b).unwrap();
    assert_eq!(fallback_order(0, 3, d).as_slice(), [0, 2, 1]);
    assert_eq!(fallback_order(1, 3, d).as_slice(), [1, 2, 0]);
    let mut too_big = header(b"SLIT", 8);
    too_big.extend_from_slice(&9u64.to_le_bytes());
    assert_eq!(parse_slit(&too_big).unwrap_err(), AcpiTableError::BadLength);
}

proptest! {
    #[test]
    fn random_tables_never_panic(mut bytes in prop::collection::vec(any::<u8>(), 0..300), srat in any::<bool>()) {
        if bytes.len() >= 8 {
            bytes[..4].copy_from_slice(if srat { b"SRAT" } else { b"SLIT" });
            let len = bytes.len() as u32;
            bytes[4..8].copy_from_slice(&len.to_le_bytes());
        }
        let _ = parse_srat(&bytes);
        let _ = parse_slit(&bytes);
    }

    #[test]
    fn damaged_qemu_srat_never_panics(flips in prop::collection::vec((0usize..400, any::<u8>()), 1..6)) {
        let mut b = qemu_srat();
        for (at, v) in flips {
            if at < b.len() { b[at] = v; }
        }
        if let Ok(srat) = parse_srat(&b) {
            let _ = PxmMap::from_srat(&srat);
        }
    }
}
