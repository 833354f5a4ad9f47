//! Host tests of the page tables over an emulated physical memory: creating mappings, translation, the
//! walk and the W+X check here; changes in `tests/change.rs`; random sequences against a model in
//! `tests/model.rs`.

use core::ops::ControlFlow;

use x86::bits64::paging::{
    PAddr, PDEntry, PDFlags, PDPTEntry, PDPTFlags, PML4Entry, PML4Flags, PTEntry, PTFlags, VAddr, pd_index,
    pdpt_index, pml4_index, pt_index,
};

use super::*;
use memory::EmulatedMemory;

mod change;
mod memory;
mod model;

const K4: u64 = 0x1000;
const M2: u64 = 0x20_0000;
const G1: u64 = 0x4000_0000;
/// Linux's direct-map base, 1 GiB-aligned.
const DIRECT: u64 = 0xffff_8880_0000_0000;
/// The kernel image's base.
const KERNEL: u64 = 0xffff_ffff_8000_0000;

fn setup() -> (EmulatedMemory, PageTable) {
    let mut mem = EmulatedMemory::new();
    let table = PageTable::new(&mut mem).unwrap();
    (mem, table)
}

/// Every leaf, in walk order.
fn leaves(table: &PageTable, mem: &EmulatedMemory) -> Vec<Mapping> {
    let mut all = Vec::new();
    let _ = table.walk(mem, .., |leaf| {
        all.push(leaf);
        ControlFlow::<()>::Continue(())
    });
    all
}

/// What identifies a table's state besides its entries: its root and table count.
fn state(table: &PageTable) -> (u64, u64) {
    (table.root(), table.nr_tables())
}

/// The invariants hold and no table page leaked.
fn sane(table: &PageTable, mem: &EmulatedMemory) {
    table.check(mem).unwrap();
    assert_eq!(table.nr_tables() as usize, mem.live(), "table pages allocated but not in the tables");
}

/// The raw entries from the PML4 down to the leaf for `virt`, read with the `x86` crate's entry types
/// (an independent decoding of the same memory).
fn path(mem: &EmulatedMemory, root: u64, virt: u64) -> Vec<u64> {
    let va = VAddr::from_u64(virt);
    let mut raw = vec![mem.read_entry(root, pml4_index(va))];
    let pml4 = PML4Entry(raw[0]);
    if !pml4.is_present() {
        return raw;
    }
    let pdpt = PDPTEntry(mem.read_entry(pml4.address().as_u64(), pdpt_index(va)));
    raw.push(pdpt.0);
    if !pdpt.is_present() || pdpt.is_page() {
        return raw;
    }
    let pd = PDEntry(mem.read_entry(pdpt.address().as_u64(), pd_index(va)));
    raw.push(pd.0);
    if !pd.is_present() || pd.is_page() {
        return raw;
    }
    raw.push(mem.read_entry(pd.address().as_u64(), pt_index(va)));
    raw
}

fn table_flags(raw: u64) -> PML4Flags {
    PML4Flags::from_bits_truncate(raw)
}

#[test]
fn map_4k_writes_the_entries_the_sdm_describes() {
    let (mut mem, mut table) = setup();
    let virt = DIRECT + 0x5000;
    let flush = table.map(&mut mem, virt, 0x1234_5000, PageSize::Size4K, PteFlags::KERNEL).unwrap();
    assert!(flush.is_empty(), "a new mapping needs no flush");
    let raw = path(&mem, table.root(), virt);
    assert_eq!(raw.len(), 4);
    for &entry in &raw[..3] {
        assert_eq!(
            table_flags(entry),
            PML4Flags::P | PML4Flags::RW,
            "table entries: present, writable, no NX"
        );
    }
    let flags = PTFlags::P | PTFlags::RW | PTFlags::A | PTFlags::D | PTFlags::G | PTFlags::XD;
    assert_eq!(raw[3], PTEntry::new(PAddr(0x1234_5000), flags).0);
    let t = table.translate(&mem, virt + 0x123).unwrap();
    assert_eq!(t.phys, 0x1234_5123);
    assert_eq!(t.leaf, Mapping { virt, phys: 0x1234_5000, size: PageSize::Size4K, flags: PteFlags::KERNEL });
    assert_eq!(table.nr_tables(), 4);
    assert_eq!(table.translate(&mem, virt + K4), Err(PgtableError::NotMapped(virt + K4)));
    sane(&table, &mem);
}

#[test]
fn pte_table_finds_the_last_level_table_kept_for_direct_writes() {
    let (mut mem, mut table) = setup();
    let fixmap = 0xffff_ffff_ff00_0000;
    assert_eq!(table.pte_table(&mem, fixmap), None, "no tables yet");
    table.map(&mut mem, fixmap, 0x5000, PageSize::Size4K, PteFlags::KERNEL).unwrap();
    table.unmap_range(&mut mem, fixmap, K4, EmptyTables::Keep).unwrap();
    let pt = table.pte_table(&mem, fixmap + 0x1f_f000).expect("the kept table covers the whole 2 MiB");
    assert_eq!(path(&mem, table.root(), fixmap).len(), 4, "a path of four tables");
    // An entry written into it directly is what the walker then translates.
    mem.write_entry(pt, 3, 0x7000 | PteFlags::KERNEL.bits() | PteFlags::PRESENT.bits());
    assert_eq!(table.translate(&mem, fixmap + 3 * K4 + 5).unwrap().phys, 0x7005);
    // A large page on the way or a non-canonical address has no such table.
    table.map(&mut mem, DIRECT, 0, PageSize::Size2M, PteFlags::KERNEL).unwrap();
    assert_eq!(table.pte_table(&mem, DIRECT), None);
    assert_eq!(table.pte_table(&mem, 0x0000_8000_0000_0000), None);
    sane(&table, &mem);
}

#[test]
fn map_2m_and_1g_set_ps_and_translate_offsets() {
    let (mut mem, mut table) = setup();
    let (v2, p2) = (DIRECT + M2, 0x4020_0000);
    table.map(&mut mem, v2, p2, PageSize::Size2M, PteFlags::KERNEL_RX).unwrap();
    let raw = path(&mem, table.root(), v2);
    assert_eq!(raw.len(), 3);
    assert_eq!(raw[2], PDEntry::new(PAddr(p2), PDFlags::P | PDFlags::A | PDFlags::G | PDFlags::PS).0);
    let (v1, p1) = (DIRECT + 3 * G1, 0x1_0000_0000);
    table.map(&mut mem, v1, p1, PageSize::Size1G, PteFlags::KERNEL).unwrap();
    let raw = path(&mem, table.root(), v1);
    assert_eq!(raw.len(), 2);
    let flags = PDPTFlags::P | PDPTFlags::RW | PDPTFlags::A | PDPTFlags::D | PDPTFlags::G | PDPTFlags::XD;
    assert_eq!(raw[1], PDPTEntry::new(PAddr(p1), flags | PDPTFlags::PS).0);
    assert_eq!(table.translate(&mem, v2 + 0x1f_f123).unwrap().phys, p2 + 0x1f_f123);
    assert_eq!(table.translate(&mem, v1 + 0x3fff_ffff).unwrap().phys, p1 + 0x3fff_ffff);
    assert_eq!(table.translate(&mem, v1).unwrap().leaf.size, PageSize::Size1G);
    // PML4 + PDPT + PD for the 2 MiB page; the 1 GiB page shares the PDPT.
    assert_eq!(table.nr_tables(), 3);
    sane(&table, &mem);
}

#[test]
fn user_mapping_marks_only_its_path_user() {
    let (mut mem, mut table) = setup();
    table.map(&mut mem, 0x40_0000, 0x10_0000, PageSize::Size4K, PteFlags::KERNEL).unwrap();
    table.map(&mut mem, 0x60_0000, 0x20_0000, PageSize::Size4K, PteFlags::USER_RW).unwrap();
    let kernel = path(&mem, table.root(), 0x40_0000);
    let user = path(&mem, table.root(), 0x60_0000);
    assert_eq!(kernel[..2], user[..2], "same PML4 and PDPT entries");
    assert!(table_flags(user[0]).contains(PML4Flags::US) && table_flags(user[1]).contains(PML4Flags::US));
    assert!(table_flags(user[2]).contains(PML4Flags::US), "the user page's PD entry");
    assert!(!table_flags(kernel[2]).contains(PML4Flags::US), "the kernel page's PD entry stays supervisor");
    sane(&table, &mem);
    // The last user leaf goes: U/S leaves the path even though the (kept) tables stay.
    let unmapped = table.unmap(&mut mem, 0x60_0000, EmptyTables::Keep).unwrap();
    assert_eq!(unmapped.mapping.flags, PteFlags::USER_RW);
    assert_eq!(table.nr_tables(), 5);
    for entry in path(&mem, table.root(), 0x60_0000).iter().take(3) {
        assert!(!table_flags(*entry).contains(PML4Flags::US));
    }
    sane(&table, &mem);
}

#[test]
fn bad_input_is_refused_and_changes_nothing() {
    let (mut mem, mut table) = setup();
    let flags = PteFlags::KERNEL;
    let misaligned_virt = table.map(&mut mem, DIRECT + K4, 0, PageSize::Size2M, flags);
    assert_eq!(misaligned_virt, Err(PgtableError::Misaligned(DIRECT + K4)));
    let misaligned_phys = table.map(&mut mem, DIRECT, M2 + K4, PageSize::Size2M, flags);
    assert_eq!(misaligned_phys, Err(PgtableError::Misaligned(M2 + K4)));
    assert_eq!(
        table.map(&mut mem, 0x1000_0000_0000_0000, 0, PageSize::Size4K, flags),
        Err(PgtableError::NonCanonical(0x1000_0000_0000_0000))
    );
    let checks: [(Result<MapReport, PgtableError>, PgtableError); 9] = [
        (
            table.map_range(&mut mem, 0x0000_8000_0000_0000, 0, K4, flags, PageSize::Size4K),
            PgtableError::NonCanonical(0x0000_8000_0000_0000),
        ),
        (
            table.map_range(&mut mem, 0x7fff_ffff_f000, 0, 2 * K4, flags, PageSize::Size4K),
            PgtableError::NonCanonical(0x8000_0000_0000),
        ),
        (
            table.map_range(&mut mem, 0xffff_ffff_ffff_f000, 0, 2 * K4, flags, PageSize::Size4K),
            PgtableError::NonCanonical(0xffff_ffff_ffff_f000),
        ),
        (
            table.map_range(&mut mem, DIRECT, 1 << 52, K4, flags, PageSize::Size4K),
            PgtableError::PhysOutOfRange(1 << 52),
        ),
        (
            table.map_range(&mut mem, DIRECT, (1 << 52) - K4, 2 * K4, flags, PageSize::Size4K),
            PgtableError::PhysOutOfRange((1 << 52) - K4),
        ),
        (table.map_range(&mut mem, DIRECT, 0, 0, flags, PageSize::Size4K), PgtableError::EmptyRange),
        (
            table.map_range(&mut mem, DIRECT, 0, K4 + 1, flags, PageSize::Size4K),
            PgtableError::Misaligned(K4 + 1),
        ),
        (
            table.map_range(&mut mem, DIRECT + 1, 0, K4, flags, PageSize::Size4K),
            PgtableError::Misaligned(DIRECT + 1),
        ),
        (
            table.map_range(&mut mem, DIRECT, 0x800, K4, flags, PageSize::Size4K),
            PgtableError::Misaligned(0x800),
        ),
    ];
    for (i, (result, error)) in checks.into_iter().enumerate() {
        assert_eq!(result, Err(error), "case {i}");
    }
    assert!(leaves(&table, &mem).is_empty());
    assert_eq!((table.nr_tables(), mem.live()), (1, 1));
    assert_eq!(
        table.translate(&mem, 0x0000_8000_0000_0000),
        Err(PgtableError::NonCanonical(0x0000_8000_0000_0000))
    );
    // The very top page and the last page below the hole are fine.
    table.map(&mut mem, 0xffff_ffff_ffff_f000, 0x5000, PageSize::Size4K, flags).unwrap();
    table.map(&mut mem, 0x7fff_ffe0_0000, M2, PageSize::Size2M, PteFlags::USER_RW).unwrap();
    assert_eq!(table.translate(&mem, u64::MAX).unwrap().phys, 0x5fff);
    assert_eq!(table.translate(&mem, 0x7fff_ffff_ffff).unwrap().phys, 2 * M2 - 1);
    sane(&table, &mem);
}

#[test]
fn mapping_over_a_mapping_is_refused() {
    let (mut mem, mut table) = setup();
    let flags = PteFlags::KERNEL;
    table.map(&mut mem, DIRECT + 3 * K4, 0, PageSize::Size4K, flags).unwrap();
    table.map(&mut mem, DIRECT + 5 * M2, 0, PageSize::Size2M, flags).unwrap();
    let before = (leaves(&table, &mem), state(&table), mem.live());
    let small = PgtableError::AlreadyMapped { virt: DIRECT + 3 * K4, size: PageSize::Size4K };
    let large = PgtableError::AlreadyMapped { virt: DIRECT + 5 * M2, size: PageSize::Size2M };
    assert_eq!(table.map(&mut mem, DIRECT + 3 * K4, K4, PageSize::Size4K, flags), Err(small));
    assert_eq!(table.map(&mut mem, DIRECT, 0, PageSize::Size2M, flags), Err(small));
    assert_eq!(table.map(&mut mem, DIRECT, 0, PageSize::Size1G, flags), Err(small));
    assert_eq!(table.map(&mut mem, DIRECT + 5 * M2 + K4, 0, PageSize::Size4K, flags), Err(large));
    assert_eq!(table.map(&mut mem, DIRECT + 5 * M2, 0, PageSize::Size2M, flags), Err(large));
    // A range whose start is free but whose middle is not.
    let report = table.map_range(&mut mem, DIRECT + 4 * M2, 0, 3 * M2, flags, PageSize::Size2M);
    assert_eq!(report, Err(large));
    assert_eq!((leaves(&table, &mem), state(&table), mem.live()), before);
    sane(&table, &mem);
}

#[test]
fn large_page_replaces_empty_kept_tables() {
    let (mut mem, mut table) = setup();
    table.map(&mut mem, DIRECT + M2 + K4, 0, PageSize::Size4K, PteFlags::KERNEL).unwrap();
    table.unmap(&mut mem, DIRECT + M2 + K4, EmptyTables::Keep).unwrap();
    assert_eq!(table.nr_tables(), 4);
    let report = table.map_range(&mut mem, DIRECT + M2, 0, M2, PteFlags::KERNEL, PageSize::Size1G).unwrap();
    assert_eq!((report.nr_tables_allocated, report.nr_tables_freed), (0, 1));
    assert!(!report.flush.is_empty(), "the paging-structure caches may hold the freed table");
    assert_eq!(table.nr_tables(), 3);
    sane(&table, &mem);
    // A 1 GiB page over a kept PD that holds a kept PT.
    table.map(&mut mem, DIRECT + G1 + 7 * M2, 0, PageSize::Size4K, PteFlags::KERNEL).unwrap();
    table.unmap(&mut mem, DIRECT + G1 + 7 * M2, EmptyTables::Keep).unwrap();
    assert_eq!(table.nr_tables(), 5);
    let report = table.map_range(&mut mem, DIRECT + G1, 0, G1, PteFlags::KERNEL, PageSize::Size1G).unwrap();
    assert_eq!((report.pages(PageSize::Size1G), report.nr_tables_freed), (1, 2));
    assert_eq!(table.nr_tables(), 3);
    sane(&table, &mem);
}

#[test]
fn map_range_uses_the_largest_pages_alignment_allows() {
    let (mut mem, mut table) = setup();
    let offset = G1 - M2 - 3 * K4;
    let len = 3 * K4 + M2 + G1 + M2 + 2 * K4;
    let report =
        table.map_range(&mut mem, DIRECT + offset, offset, len, PteFlags::KERNEL, PageSize::Size1G).unwrap();
    assert_eq!(report.nr_pages, [5, 2, 1]);
    let sizes: Vec<PageSize> = leaves(&table, &mem).iter().map(|leaf| leaf.size).collect();
    use PageSize::*;
    assert_eq!(sizes, [Size4K, Size4K, Size4K, Size2M, Size1G, Size2M, Size4K, Size4K]);
    for probe in [0, 3 * K4 - 1, 3 * K4, M2 + 3 * K4 + 5, len - 1] {
        assert_eq!(table.translate(&mem, DIRECT + offset + probe).unwrap().phys, offset + probe);
    }
    assert_eq!(report.nr_tables_allocated, table.nr_tables() - 1);
    sane(&table, &mem);

    // Capped at 2 MiB, the 1 GiB page becomes 512 pages of 2 MiB.
    let (mut mem, mut table) = setup();
    let report = table.map_range(&mut mem, DIRECT + offset, offset, len, PteFlags::KERNEL, Size2M).unwrap();
    assert_eq!(report.nr_pages, [5, 514, 0]);
    sane(&table, &mem);

    // Virtual and physical addresses disagree modulo 2 MiB: only 4 KiB pages fit.
    let (mut mem, mut table) = setup();
    let report = table.map_range(&mut mem, DIRECT, K4, 2 * M2, PteFlags::KERNEL, Size1G).unwrap();
    assert_eq!(report.nr_pages, [1024, 0, 0]);
    assert_eq!(table.translate(&mem, DIRECT + M2).unwrap().phys, M2 + K4);
    sane(&table, &mem);
}

#[test]
fn map_range_out_of_memory_changes_nothing() {
    let (mut mem, mut table) = setup();
    // Needs a PDPT, a PD and three PTs: 5 tables.
    let (virt, len) = (DIRECT + M2 - K4, M2 + 2 * K4);
    for room in 0..5 {
        mem.set_limit(1 + room);
        let result =
            table.map_range(&mut mem, virt, 0x7000_0000 - K4, len, PteFlags::KERNEL, PageSize::Size4K);
        assert_eq!(result, Err(PgtableError::OutOfMemory), "with room for {room} tables");
        assert!(leaves(&table, &mem).is_empty());
        assert_eq!((table.nr_tables(), mem.live()), (1, 1));
    }
    mem.set_limit(6);
    let report = table.map_range(&mut mem, virt, 0x7000_0000 - K4, len, PteFlags::KERNEL, PageSize::Size4K);
    assert_eq!(report.unwrap().nr_tables_allocated, 5);
    sane(&table, &mem);
    // A new table cannot even be made.
    let mut empty = EmulatedMemory::with_limit(0);
    assert_eq!(PageTable::new(&mut empty), Err(PgtableError::OutOfMemory));
}

#[test]
fn walk_visits_leaves_in_address_order_across_both_halves() {
    let (mut mem, mut table) = setup();
    table.map(&mut mem, KERNEL, 0x100_0000, PageSize::Size2M, PteFlags::KERNEL_RX).unwrap();
    table.map(&mut mem, DIRECT, 0, PageSize::Size1G, PteFlags::KERNEL).unwrap();
    table.map(&mut mem, 0x40_0000, 0x5000, PageSize::Size4K, PteFlags::USER_RX).unwrap();
    let order: Vec<u64> = leaves(&table, &mem).iter().map(|leaf| leaf.virt).collect();
    assert_eq!(order, [0x40_0000, DIRECT, KERNEL]);

    let visit = |range: core::ops::Range<u64>| {
        let mut seen = Vec::new();
        let _ = table.walk(&mem, range, |leaf| {
            seen.push(leaf.virt);
            ControlFlow::<()>::Continue(())
        });
        seen
    };
    // A range inside the 1 GiB page reports the whole page.
    assert_eq!(visit(DIRECT + 5 * M2..DIRECT + 6 * M2), [DIRECT]);
    // The hole is skipped; a range inside it sees nothing.
    assert_eq!(visit(0x0000_8000_0000_0000..DIRECT + 1), [DIRECT]);
    assert!(visit(0x0000_8000_0000_0000..0xffff_0000_0000_0000).is_empty());
    assert!(visit(0x40_1000..DIRECT).is_empty());
    assert_eq!(visit(0x40_0fff..0x40_1000), [0x40_0000]);
    // The walk stops at the first Break.
    let found = table.walk(&mem, .., |leaf| {
        if leaf.virt >= DIRECT { ControlFlow::Break(leaf.size) } else { ControlFlow::Continue(()) }
    });
    assert_eq!(found, ControlFlow::Break(PageSize::Size1G));
    let top = table.walk(&mem, KERNEL..=u64::MAX, |leaf| ControlFlow::Break(leaf.phys));
    assert_eq!(top, ControlFlow::Break(0x100_0000));
}

#[test]
fn check_wx_counts_writable_executable_pages() {
    let (mut mem, mut table) = setup();
    let wx = PteFlags::PRESENT | PteFlags::WRITABLE | PteFlags::GLOBAL;
    table.map_range(&mut mem, KERNEL, 0x100_0000, 2 * K4, PteFlags::KERNEL_RX, PageSize::Size4K).unwrap();
    table
        .map_range(&mut mem, KERNEL + 2 * K4, 0x100_2000, 2 * K4, PteFlags::KERNEL, PageSize::Size4K)
        .unwrap();
    table.map(&mut mem, KERNEL + 5 * K4, 0x100_5000, PageSize::Size4K, wx).unwrap();
    table.map(&mut mem, KERNEL + 4 * M2, 0x800_0000, PageSize::Size2M, wx).unwrap();
    let user_wx = PteFlags::PRESENT | PteFlags::WRITABLE | PteFlags::USER;
    table.map(&mut mem, 0x40_0000, 0x900_0000, PageSize::Size4K, user_wx).unwrap();
    let all = table.check_wx(&mem, ..);
    assert_eq!(all, WxReport { nr_pages: 1 + 512 + 1, first: Some(0x40_0000) });
    let kernel = table.check_wx(&mem, 0xffff_8000_0000_0000..);
    assert_eq!(kernel, WxReport { nr_pages: 513, first: Some(KERNEL + 5 * K4) });
    // Part of the 2 MiB page: only the pages in the range count.
    let part = table.check_wx(&mem, KERNEL + 4 * M2 + 10 * K4..KERNEL + 4 * M2 + 13 * K4);
    assert_eq!(part, WxReport { nr_pages: 3, first: Some(KERNEL + 4 * M2 + 10 * K4) });
    assert_eq!(table.check_wx(&mem, KERNEL..KERNEL + 5 * K4), WxReport::default());

    // Rights combine down the walk: a read-only PML4 entry protects everything below it.
    let pml4_index = 511;
    let raw = mem.read_entry(table.root(), pml4_index);
    mem.write_entry(table.root(), pml4_index, raw & !PteFlags::WRITABLE.bits());
    assert_eq!(table.check_wx(&mem, 0xffff_8000_0000_0000..).nr_pages, 0);
    assert!(table.check(&mem).is_err(), "check() reports the read-only table entry");
    // So does an NX one.
    mem.write_entry(table.root(), pml4_index, raw | PteFlags::NO_EXECUTE.bits());
    assert_eq!(table.check_wx(&mem, 0xffff_8000_0000_0000..).nr_pages, 0);
    mem.write_entry(table.root(), pml4_index, raw);

    // Fixing the offenders brings the count to zero.
    table.protect(&mut mem, KERNEL + 5 * K4, K4, PteFlags::KERNEL).unwrap();
    table.protect(&mut mem, KERNEL + 4 * M2, M2, PteFlags::KERNEL_RX).unwrap();
    table.protect(&mut mem, 0x40_0000, K4, PteFlags::USER_RX).unwrap();
    assert_eq!(table.check_wx(&mem, ..), WxReport::default());
    sane(&table, &mem);
}

#[test]
fn pte_flags_follow_the_x86_crate_bits() {
    assert_eq!(PteFlags::WRITABLE.to_pt_flags(), PTFlags::RW);
    assert_eq!(
        PteFlags::KERNEL.to_pd_flags(),
        PDFlags::P | PDFlags::RW | PDFlags::A | PDFlags::D | PDFlags::G | PDFlags::XD
    );
    assert_eq!(PteFlags::from_pdpt_flags(PDPTFlags::PS | PDPTFlags::US), PteFlags::USER);
    assert_eq!(PteFlags::from_bits(1 << 7), None, "PS/PAT is not an attribute");
    assert_eq!(PteFlags::from_bits(PTFlags::XD.bits()), Some(PteFlags::NO_EXECUTE));
    assert_eq!(format!("{:?}", PteFlags::USER_RW), "P|RW|USR|NX");
    assert_eq!(format!("{:?}", PteFlags::empty()), "(empty)");
    assert_eq!(!PteFlags::ALL, PteFlags::empty());
    assert_eq!(
        (PteFlags::KERNEL - PteFlags::NO_EXECUTE) | PteFlags::USER,
        PteFlags::KERNEL.union(PteFlags::USER).difference(PteFlags::NO_EXECUTE)
    );
    assert!(PteFlags::PRESENT.union(PteFlags::WRITABLE).is_wx());
    assert!(!PteFlags::KERNEL.is_wx() && !PteFlags::KERNEL_RX.is_wx());
    let mut flags = PteFlags::KERNEL_RO;
    flags.set(PteFlags::WRITABLE, true);
    assert_eq!(flags | PteFlags::DIRTY, PteFlags::KERNEL);
}
