//! Page allocator scenarios: exhausting and restoring the buddy allocator, poisoning, GFP and watermark
//! rules, NUMA nodes, and the Linux-format texts the boot prints at `loglevel=8`.

use qemu_tests::{EXIT_PASS, Scenario, run};

#[test]
fn buddy_exhaust_and_restore_64m() {
    let out = run(&Scenario::test("buddy", "64M", ""));
    out.expect_status(EXIT_PASS);
    assert!(out.log.has("test=buddy: buddyinfo equals the boot snapshot"));
    assert!(out.log.has("0 pages left free"));
}

#[test]
fn buddy_exhaust_and_restore_6g_with_zone_normal() {
    let out = run(&Scenario::test("buddy", "6G", "shuffle=1"));
    out.expect_status(EXIT_PASS);
    assert!(out.log.has("  Normal  [mem 0x0000000100000000-0x00000001bfffffff]"), "{}", out.log.text());
    assert!(out.log.has("page_alloc: shuffled the free lists of 3 zones"));
    assert!(out.log.has("random: boot entropy from"));
    assert!(out.log.has("test=buddy: buddyinfo equals the boot snapshot"));
}

#[test]
fn use_after_free_is_caught_by_page_poison() {
    let out = run(&Scenario::test("poison", "64M", "page_poison=1"));
    out.expect_status(EXIT_PASS);
    assert!(out.log.has("pagealloc: memory corruption"));
    let report = out.log.find("byte(s) changed while the page was free").expect("corruption details");
    assert!(report.contains("offset 0x123: 3 byte(s) changed"), "{report}");
    assert!(report.contains("found: 41 42 43"), "{report}");
    assert!(out.log.has("page_poison: freed pages are filled with 0xaa"));
}

#[test]
fn gfp_zones_zeroing_bad_frees_and_watermarks() {
    for mem in ["128M", "6G"] {
        let out = run(&Scenario::test("gfp", mem, "init_on_free=1"));
        out.expect_status(EXIT_PASS);
        assert!(out.log.has("BUG: Bad page state in process swapper"), "double free reported");
        assert!(out.log.has("page dumped because: page is already free (double free)"));
        assert!(out.log.has("mem auto-init: stack:off, heap alloc:off, heap free:on"));
        let zone = if mem == "6G" { "in Normal" } else { "in DMA32" };
        assert!(out.log.has(zone), "user memory from the highest zone ({mem})");
    }
}

#[test]
fn two_numa_nodes_from_the_srat() {
    let out = run(&Scenario::test("numa", "1G", "loglevel=8").qemu(&[
        "-smp",
        "2",
        "-object",
        "memory-backend-ram,id=m0,size=512M",
        "-object",
        "memory-backend-ram,id=m1,size=512M",
        "-numa",
        "node,nodeid=0,cpus=0,memdev=m0",
        "-numa",
        "node,nodeid=1,cpus=1,memdev=m1",
        "-numa",
        "dist,src=0,dst=1,val=21",
    ]));
    out.expect_status(EXIT_PASS);
    for needle in [
        "ACPI: SRAT: Node 0 PXM 0 [mem 0x00000000-",
        "ACPI: SRAT: Node 1 PXM 1 [mem 0x20000000-0x3fffffff]",
        "NUMA: node 0 distances:  10  21",
        "  node   1: [mem 0x0000000020000000-",
        "Fallback order for Node 0: 0 1",
        "Built 2 zonelists",
        "Node 1, zone    DMA32 ",
        "test=numa: node 1:",
    ] {
        assert!(out.log.has(needle), "missing {needle:?}\n{}", out.log.text());
    }
}

#[test]
fn numa_off_and_no_srat_give_one_node() {
    let out = run(&Scenario::test("boot", "128M", "numa=off loglevel=8"));
    out.expect_status(EXIT_PASS);
    assert!(out.log.has("NUMA turned off"));
    assert!(out.log.has("Faking a node at [mem 0x0000000000000000-0x0000000007fdffff]"));
    assert!(!out.log.has("Node 1,"));
}

#[test]
fn proc_texts_are_printed_in_linux_format_at_loglevel_8() {
    let out = run(&Scenario::test("boot", "128M", "loglevel=8"));
    out.expect_status(EXIT_PASS);
    let messages: Vec<&str> = out.log.messages().collect();
    let buddy = messages.iter().position(|m| *m == "/proc/buddyinfo:").expect("buddyinfo heading");
    // Two zones (DMA, DMA32), 11 orders each, counts of free blocks.
    for (line, zone) in messages[buddy + 1..buddy + 3].iter().zip(["DMA", "DMA32"]) {
        assert!(line.starts_with(&format!("Node 0, zone {zone:>8} ")), "{line}");
        assert_eq!(line.split_whitespace().count(), 4 + 11, "{line}");
    }
    assert!(out.log.has("Page block order: 9"));
    assert!(out.log.has("Number of blocks type     Unmovable      Movable  Reclaimable   HighAtomic "));
    let kb = |label: &str| out.log.meminfo_kb(label).unwrap_or_else(|| panic!("meminfo {label}"));
    let (total, free, available) = (kb("MemTotal:"), kb("MemFree:"), kb("MemAvailable:"));
    assert!(free <= total && available < free, "{total} / {free} / {available}");
    // MemTotal is the managed memory, i.e. what the Memory: line calls available at boot.
    let summary = out.log.memory_summary().unwrap();
    assert_eq!(total, summary.available);
    assert!(out.log.has("nr_free_pages "));
    assert!(out.log.has("pgfree 0"));
}
