//! Host tests of changing mappings: unmap (and table freeing), split, protect, unmap_range, the TLB
//! record, and tearing a table down.

use super::*;

#[test]
fn unmap_returns_the_mapping_and_frees_empty_tables() {
    let (mut mem, mut table) = setup();
    let small =
        Mapping { virt: DIRECT + 7 * K4, phys: 0x7000, size: PageSize::Size4K, flags: PteFlags::KERNEL };
    let medium = Mapping { virt: KERNEL, phys: M2, size: PageSize::Size2M, flags: PteFlags::KERNEL_RX };
    let large = Mapping { virt: 0x80_0000_0000, phys: G1, size: PageSize::Size1G, flags: PteFlags::USER_RW };
    for m in [small, medium, large] {
        table.map(&mut mem, m.virt, m.phys, m.size, m.flags).unwrap();
    }
    assert_eq!(table.nr_tables(), 1 + 3 + 2 + 1);
    let before = state(&table);
    let errors = [
        (table.unmap(&mut mem, DIRECT, EmptyTables::Free), PgtableError::NotMapped(DIRECT)),
        (
            table.unmap(&mut mem, KERNEL + K4, EmptyTables::Free),
            PgtableError::InsideLargePage { virt: KERNEL, size: PageSize::Size2M },
        ),
        (table.unmap(&mut mem, KERNEL + 1, EmptyTables::Free), PgtableError::Misaligned(KERNEL + 1)),
        (table.unmap(&mut mem, 1 << 60, EmptyTables::Free), PgtableError::NonCanonical(1 << 60)),
    ];
    for (result, error) in errors {
        assert_eq!(result, Err(error));
    }
    assert_eq!(state(&table), before);

    let gone = table.unmap(&mut mem, small.virt, EmptyTables::Free).unwrap();
    assert_eq!(gone.mapping, small);
    assert_eq!(gone.nr_tables_freed, 3, "PT, PD and PDPT of the direct map");
    assert_eq!(gone.flush.pages(), [small.virt]);
    assert!(!gone.flush.is_full() && gone.flush.global());
    sane(&table, &mem);
    let gone = table.unmap(&mut mem, medium.virt, EmptyTables::Free).unwrap();
    assert_eq!((gone.mapping, gone.nr_tables_freed), (medium, 2));
    assert!(gone.flush.is_full(), "a 2 MiB page may sit in the TLB as 4 KiB pieces");
    let gone = table.unmap(&mut mem, large.virt, EmptyTables::Free).unwrap();
    assert_eq!((gone.mapping, gone.nr_tables_freed), (large, 1));
    assert!(gone.flush.is_full() && !gone.flush.global());
    assert_eq!(table.translate(&mem, large.virt), Err(PgtableError::NotMapped(large.virt)));
    assert_eq!((table.nr_tables(), mem.live()), (1, 1));
    sane(&table, &mem);
}

#[test]
fn unmap_keeps_tables_when_asked_and_free_sweeps_them_later() {
    let (mut mem, mut table) = setup();
    table.map_range(&mut mem, DIRECT, 0, 4 * K4, PteFlags::KERNEL, PageSize::Size4K).unwrap();
    for page in 0..4 {
        let gone = table.unmap(&mut mem, DIRECT + page * K4, EmptyTables::Keep).unwrap();
        assert_eq!(gone.nr_tables_freed, 0);
    }
    assert_eq!((table.nr_tables(), table.count_tables(&mem)), (4, 4));
    assert!(leaves(&table, &mem).is_empty());
    sane(&table, &mem);
    // Unmapping a range with Free reclaims the empty tables it meets, even with nothing left to unmap.
    let report = table.unmap_range(&mut mem, DIRECT, G1, EmptyTables::Free).unwrap();
    assert_eq!((report.nr_tables_freed, report.mapped_bytes), (3, 0));
    assert_eq!((table.nr_tables(), mem.live()), (1, 1));
}

#[test]
fn split_keeps_every_translation() {
    let (mut mem, mut table) = setup();
    table.map(&mut mem, DIRECT + M2, 0x4000_0000, PageSize::Size2M, PteFlags::KERNEL).unwrap();
    // Give the leaf a PAT bit and a software bit, which a split must carry to every piece.
    let pd_entry = path(&mem, table.root(), DIRECT + M2)[2];
    let pd = PDPTEntry(path(&mem, table.root(), DIRECT + M2)[1]).address().as_u64();
    mem.write_entry(pd, 1, pd_entry | PDFlags::PAT.bits() | PDFlags::USER_9.bits());
    let flush = table.split(&mut mem, DIRECT + M2 + 0x1234).unwrap();
    assert!(flush.is_full() && flush.global());
    let all = leaves(&table, &mem);
    assert_eq!(all.len(), 512);
    for (i, leaf) in all.iter().enumerate() {
        let expected = Mapping {
            virt: DIRECT + M2 + i as u64 * K4,
            phys: 0x4000_0000 + i as u64 * K4,
            size: PageSize::Size4K,
            flags: PteFlags::KERNEL,
        };
        assert_eq!(*leaf, expected);
    }
    let pte = path(&mem, table.root(), DIRECT + M2 + 5 * K4)[3];
    assert_eq!(pte & (1 << 7), 1 << 7, "PAT moved to bit 7 of the PTE");
    assert_eq!(pte & PTFlags::USER_9.bits(), PTFlags::USER_9.bits());
    assert_eq!(PTEntry(pte).address().as_u64(), 0x4000_5000);
    assert_eq!(table.nr_tables(), 4);
    sane(&table, &mem);

    assert_eq!(table.split(&mut mem, DIRECT + M2), Err(PgtableError::NotLargePage(DIRECT + M2)));
    assert_eq!(table.split(&mut mem, DIRECT), Err(PgtableError::NotMapped(DIRECT)));
    assert_eq!(table.split(&mut mem, 1 << 48), Err(PgtableError::NonCanonical(1 << 48)));

    // 1 GiB into 2 MiB pages, which keep PS and the PAT bit at bit 12.
    table.map(&mut mem, DIRECT + G1, 0x1_0000_0000, PageSize::Size1G, PteFlags::USER_RO).unwrap();
    let pdpt = PML4Entry(path(&mem, table.root(), DIRECT + G1)[0]).address().as_u64();
    let raw = mem.read_entry(pdpt, pdpt_index(VAddr::from_u64(DIRECT + G1)));
    mem.write_entry(pdpt, pdpt_index(VAddr::from_u64(DIRECT + G1)), raw | PDPTFlags::PAT.bits());
    mem.set_limit(mem.live());
    assert_eq!(table.split(&mut mem, DIRECT + G1), Err(PgtableError::OutOfMemory));
    mem.set_limit(usize::MAX);
    table.split(&mut mem, DIRECT + G1).unwrap();
    let pieces: Vec<Mapping> =
        leaves(&table, &mem).into_iter().filter(|leaf| leaf.virt >= DIRECT + G1).collect();
    assert_eq!(pieces.len(), 512);
    assert!(pieces.iter().all(|leaf| leaf.size == PageSize::Size2M && leaf.flags == PteFlags::USER_RO));
    assert_eq!(pieces[511].phys, 0x1_0000_0000 + 511 * M2);
    let pde = path(&mem, table.root(), DIRECT + G1 + 3 * M2)[2];
    assert!(PDEntry(pde).is_page() && PDEntry(pde).is_pat());
    assert_eq!(pde & 0x000f_ffff_ffe0_0000, 0x1_0000_0000 + 3 * M2);
    sane(&table, &mem);
}

#[test]
fn protect_splits_only_what_sticks_out() {
    let (mut mem, mut table) = setup();
    table.map(&mut mem, DIRECT, 0, PageSize::Size1G, PteFlags::KERNEL).unwrap();
    let target = DIRECT + G1 / 2 + K4;
    // Same attributes: nothing to split, nothing to flush.
    let same = table.protect(&mut mem, target, K4, PteFlags::KERNEL).unwrap();
    assert_eq!((same.nr_split, same.nr_pages, same.mapped_bytes), (0, [0; 3], K4));
    assert!(same.flush.is_empty());
    assert_eq!(table.nr_tables(), 2);

    let report = table.protect(&mut mem, target, K4, PteFlags::KERNEL_RO).unwrap();
    assert_eq!((report.nr_split, report.nr_pages, report.nr_tables_allocated), (2, [1, 0, 0], 2));
    assert!(report.flush.is_full());
    let all = leaves(&table, &mem);
    assert_eq!(all.iter().filter(|leaf| leaf.size == PageSize::Size2M).count(), 511);
    assert_eq!(all.iter().filter(|leaf| leaf.size == PageSize::Size4K).count(), 512);
    let t = table.translate(&mem, target).unwrap();
    assert_eq!(t.phys, G1 / 2 + K4);
    // The hardware-set accessed and dirty bits survive.
    assert_eq!(t.leaf.flags, PteFlags::KERNEL_RO | PteFlags::DIRTY);
    assert_eq!(table.translate(&mem, target + K4).unwrap().leaf.flags, PteFlags::KERNEL);
    assert_eq!(table.nr_tables(), 4);
    sane(&table, &mem);

    // Holes are skipped and reported through mapped_bytes.
    let report = table.protect(&mut mem, DIRECT + G1 - K4, 2 * K4, PteFlags::KERNEL_RO).unwrap();
    assert_eq!((report.mapped_bytes, report.nr_split), (K4, 1));
    // Out of memory for a split: nothing changes.
    let before = (leaves(&table, &mem), state(&table));
    mem.set_limit(mem.live());
    let refused = table.protect(&mut mem, DIRECT + 3 * M2 + K4, K4, PteFlags::KERNEL_RX);
    assert_eq!(refused, Err(PgtableError::OutOfMemory));
    assert_eq!((leaves(&table, &mem), state(&table)), before);
    sane(&table, &mem);
}

#[test]
fn protect_from_user_to_kernel_clears_the_path_user_bit() {
    let (mut mem, mut table) = setup();
    table.map(&mut mem, 0x40_0000, 0x5000, PageSize::Size4K, PteFlags::USER_RW).unwrap();
    assert!(table_flags(path(&mem, table.root(), 0x40_0000)[0]).contains(PML4Flags::US));
    let report = table.protect(&mut mem, 0x40_0000, K4, PteFlags::KERNEL).unwrap();
    assert_eq!(report.nr_pages, [1, 0, 0]);
    for &raw in &path(&mem, table.root(), 0x40_0000)[..3] {
        assert!(!table_flags(raw).contains(PML4Flags::US));
    }
    sane(&table, &mem);
    table.protect(&mut mem, 0x40_0000, K4, PteFlags::USER_RO).unwrap();
    assert!(table_flags(path(&mem, table.root(), 0x40_0000)[0]).contains(PML4Flags::US));
    sane(&table, &mem);
}

#[test]
fn unmap_range_splits_the_edges() {
    let (mut mem, mut table) = setup();
    table.map(&mut mem, DIRECT + M2, M2, PageSize::Size2M, PteFlags::KERNEL).unwrap();
    table.map(&mut mem, DIRECT + 2 * M2, 2 * M2, PageSize::Size2M, PteFlags::KERNEL).unwrap();
    // Two 4 KiB pages from the end of the first large page and one from the start of the second.
    let report = table.unmap_range(&mut mem, DIRECT + 2 * M2 - 2 * K4, 3 * K4, EmptyTables::Free).unwrap();
    assert_eq!((report.nr_split, report.nr_pages, report.mapped_bytes), (2, [3, 0, 0], 3 * K4));
    assert_eq!(leaves(&table, &mem).len(), 2 * 512 - 3);
    assert!(table.translate(&mem, DIRECT + 2 * M2).is_err());
    assert_eq!(table.translate(&mem, DIRECT + 2 * M2 + K4).unwrap().phys, 2 * M2 + K4);
    sane(&table, &mem);
    let report = table.unmap_range(&mut mem, DIRECT, G1, EmptyTables::Free).unwrap();
    assert_eq!(report.nr_pages, [2 * 512 - 3, 0, 0]);
    assert_eq!(report.nr_tables_freed, 4, "two PTs, the PD and the PDPT; never the PML4");
    assert_eq!((table.nr_tables(), mem.live()), (1, 1));
}

#[test]
fn tlb_flush_lists_pages_up_to_the_ceiling() {
    let (mut mem, mut table) = setup();
    table.map_range(&mut mem, 0x40_0000, 0, 64 * K4, PteFlags::USER_RW, PageSize::Size4K).unwrap();
    let few = table.unmap_range(&mut mem, 0x40_0000, 10 * K4, EmptyTables::Free).unwrap().flush;
    let expected: Vec<u64> = (0..10).map(|i| 0x40_0000 + i * K4).collect();
    assert_eq!(few.pages(), expected);
    assert!(!few.is_full() && !few.global());
    let at_ceiling =
        table.protect(&mut mem, 0x40_0000 + 10 * K4, TLB_FLUSH_CEILING as u64 * K4, PteFlags::USER_RO);
    assert!(!at_ceiling.unwrap().flush.is_full());
    let many =
        table.protect(&mut mem, 0x40_0000 + 10 * K4, (TLB_FLUSH_CEILING as u64 + 1) * K4, PteFlags::USER_RX);
    let many = many.unwrap().flush;
    assert!(many.is_full());
    // Accumulating several changes.
    let mut total = few.clone();
    total.merge(&few);
    assert_eq!(total, few, "merging the same pages adds nothing");
    total.merge(&many);
    assert!(total.is_full());
    let mut global = TlbFlush::new();
    global.merge(&table.map(&mut mem, KERNEL, 0, PageSize::Size4K, PteFlags::KERNEL).unwrap());
    assert!(global.is_empty());
    global.merge(&table.unmap(&mut mem, KERNEL, EmptyTables::Keep).unwrap().flush);
    assert!(global.global() && global.pages() == [KERNEL]);
}

#[test]
fn from_root_counts_and_destroy_frees_every_table() {
    let (mut mem, mut table) = setup();
    table.map_range(&mut mem, DIRECT, 0, G1 + 3 * M2 + 5 * K4, PteFlags::KERNEL, PageSize::Size1G).unwrap();
    table.map(&mut mem, 0x40_0000, 0, PageSize::Size4K, PteFlags::USER_RW).unwrap();
    let adopted = PageTable::from_root(&mem, table.root());
    assert_eq!(adopted, table);
    assert_eq!(table.count_tables(&mem), table.nr_tables());
    let nr_tables = table.nr_tables();
    assert_eq!(table.destroy(&mut mem), nr_tables);
    assert_eq!(mem.live(), 0);
}
