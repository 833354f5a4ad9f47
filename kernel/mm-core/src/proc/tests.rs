//! The texts line by line against Linux's formats.

use super::*;

fn dma_zone(pcp: &[PcpReport]) -> ZoneReport {
    let mut free_per_type = [[0u64; MAX_ORDER]; MIGRATE_TYPES];
    free_per_type[MigrateType::Movable as usize] = [1, 1, 0, 1, 2, 1, 1, 0, 1, 1, 3];
    free_per_type[MigrateType::Unmovable as usize][0] = 2;
    ZoneReport {
        node: 0,
        zone: Some(ZoneType::Dma),
        start_pfn: 0,
        spanned: 4096,
        present: 3999,
        managed: 3840,
        free: 3811,
        watermarks: Watermarks { min: 12, low: 15, high: 18 },
        protection: [0, 1916, 1916, 1916],
        free_per_type,
        pageblocks_per_type: [1, 7, 0, 0],
        pcp: pcp.iter().copied().collect(),
    }
}

#[test]
fn buddyinfo_matches_linux() {
    let z = dma_zone(&[]);
    let mut empty = dma_zone(&[]);
    empty.zone = Some(ZoneType::Normal);
    empty.present = 0;
    let mut s = String::new();
    buddyinfo(&mut s, &[z, empty]).unwrap();
    assert_eq!(
        s,
        "Node 0, zone      DMA      3      1      0      1      2      1      1      0      1      1      3 \n"
    );
}

#[test]
fn pagetypeinfo_matches_linux() {
    let mut s = String::new();
    pagetypeinfo(&mut s, &[dma_zone(&[])]).unwrap();
    let lines: Vec<&str> = s.lines().collect();
    assert_eq!(lines[0], "Page block order: 9");
    assert_eq!(lines[1], "Pages per block:  512");
    assert_eq!(lines[2], "");
    assert_eq!(
        lines[3],
        "Free pages count per migrate type at order       0      1      2      3      4      5      6      7      8      9     10 "
    );
    assert_eq!(
        lines[4],
        "Node    0, zone      DMA, type    Unmovable      2      0      0      0      0      0      0      0      0      0      0 "
    );
    assert_eq!(
        lines[5],
        "Node    0, zone      DMA, type      Movable      1      1      0      1      2      1      1      0      1      1      3 "
    );
    assert_eq!(lines[9], "Number of blocks type     Unmovable      Movable  Reclaimable   HighAtomic ");
    assert_eq!(lines[10], "Node 0, zone      DMA            1            7            0            0 ");
}

#[test]
fn zoneinfo_matches_linux() {
    let pcp = [PcpReport { cpu: 0, count: 5, high: 6, batch: 1 }];
    let mut empty = dma_zone(&[]);
    empty.zone = Some(ZoneType::Normal);
    empty.present = 0;
    let mut s = String::new();
    zoneinfo(&mut s, &[dma_zone(&pcp), empty]).unwrap();
    let expected = "\
Node 0, zone      DMA
  pages free     3811
        boost    0
        min      12
        low      15
        high     18
        spanned  4096
        present  3999
        managed  3840
        cma      0
        protection: (0, 1916, 1916, 1916)
      nr_free_pages 3811
  pagesets
    cpu: 0
              count: 5
              high:  6
              batch: 1
  node_unreclaimable:  0
  start_pfn:           0
Node 0, zone   Normal
  pages free     3811
";
    assert!(s.starts_with(expected), "{s}");
    assert!(s.ends_with("        protection: (0, 1916, 1916, 1916)\n"));
}

#[test]
fn meminfo_and_vmstat_match_linux() {
    let mut s = String::new();
    meminfo(
        &mut s,
        &MemInfo {
            total: 2_007_353,
            free: 1_500_000,
            available: 1_480_000,
            slab_reclaimable: 10,
            slab_unreclaimable: 20,
            high: None,
            kernel_stack_bytes: 3 * 16384,
            page_tables: 7,
            vmalloc_total: 32 << 40,
            vmalloc_used: 5 * 4096,
            direct_map: [3, 2, 1],
        },
    )
    .unwrap();
    let lines: Vec<&str> = s.lines().collect();
    assert_eq!(lines[0], "MemTotal:        8029412 kB");
    assert_eq!(lines[1], "MemFree:         6000000 kB");
    assert_eq!(lines[2], "MemAvailable:    5920000 kB");
    assert_eq!(lines[7], "SwapFree:              0 kB");
    assert_eq!(lines[8], "Slab:                120 kB");
    assert_eq!(lines[10], "SUnreclaim:           80 kB");
    assert_eq!(lines[11], "KernelStack:          48 kB");
    assert_eq!(lines[12], "PageTables:           28 kB");
    assert_eq!(lines[13], "VmallocTotal:   34359738368 kB", "Linux lets a wide value push past the column");
    assert_eq!(lines[14], "VmallocUsed:          20 kB");
    assert_eq!(lines[16], "DirectMap4k:          12 kB");
    assert_eq!(lines[17], "DirectMap2M:        4096 kB");
    assert_eq!(lines[18], "DirectMap1G:     1048576 kB");
    assert_eq!(lines.len(), 19);
    let mut h = String::new();
    let high = MemInfo { high: Some((1000, 400)), ..MemInfo::default() };
    meminfo(&mut h, &MemInfo { total: 3000, free: 1000, ..high }).unwrap();
    let lines: Vec<&str> = h.lines().collect();
    assert_eq!(
        lines[6..10],
        [
            "HighTotal:          4000 kB",
            "HighFree:           1600 kB",
            "LowTotal:           8000 kB",
            "LowFree:            2400 kB"
        ]
    );
    let mut v = String::new();
    vmstat(&mut v, 42, &VmEvents { pgalloc: [1, 2, 3, 0], pgfree: 5 }, false).unwrap();
    assert_eq!(v, "nr_free_pages 42\npgalloc_dma 1\npgalloc_dma32 2\npgalloc_normal 3\npgfree 5\n");
}

#[test]
fn reserve_and_available() {
    assert_eq!(zone_reserve_pages(3840, 18, &[0, 1916, 1916, 1916]), 1934);
    assert_eq!(zone_reserve_pages(100, 18, &[0, 1916, 1916, 1916]), 100);
    assert_eq!(mem_available(1000, 1934, 0, 50), 0);
    assert_eq!(mem_available(10_000, 1934, 0, 50), 8066);
    assert_eq!(mem_available(10_000, 1934, 100, 30), 8066 + 70, "reclaimable slab minus min(half, low)");
}
