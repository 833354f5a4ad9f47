//! Kernel virtual memory scenarios: the slab allocator and kmalloc, its hardening and `slub_debug`; W^X,
//! SMEP/SMAP/UMIP and the direct map; vmalloc, kernel stacks and their guard pages; KASLR; meminfo.

use qemu_tests::{EXIT_FAIL, EXIT_PASS, Scenario, run};

#[test]
fn slab_stress_gives_every_page_back() {
    for extra in ["", "slub_debug"] {
        let out = run(&Scenario::test("slab", "256M", extra));
        out.expect_status(EXIT_PASS);
        assert!(out.log.has("SLUB: HWalign=64, Order=0-3, MinObjects=0, CPUs=1, Nodes=1"));
        let line = out.log.find("test=slab: free pages before").expect("free page figures");
        let numbers: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(numbers[4].trim_end_matches(','), numbers[6].trim_end_matches(','), "{line}");
        assert!(!out.log.has("BUG kmalloc"), "no slab reports in a clean stress ({extra})");
    }
}

#[test]
fn slab_corruption_is_detected_not_followed() {
    let out = run(&Scenario::test("slab_corruption", "128M", ""));
    out.expect_status(EXIT_PASS);
    assert!(out.log.has("BUG kmalloc-64: Freepointer corrupt: object"));
    assert!(out.log.has("list abandoned"));
    assert!(out.log.has("BUG kmalloc-64: Object already free:"));

    let out = run(&Scenario::test("slab_corruption", "128M", "slub_debug"));
    out.expect_status(EXIT_PASS);
    assert!(out.log.has("SLUB: slub_debug on: consistency checks red zones poisoning for all caches"));
    assert!(
        out.log.has("BUG kmalloc-64: Redzone overwritten:")
            && out.log.has("offset 0x40 found 0x41 expected 0xcc")
    );
    assert!(
        out.log.has("BUG kmalloc-64: Poison overwritten:") && out.log.has("expected 0x6b (use after free)")
    );
}

#[test]
fn slabinfo_and_meminfo_slab_lines() {
    let out = run(&Scenario::test("boot", "128M", "loglevel=8"));
    out.expect_status(EXIT_PASS);
    assert!(out.log.has("slabinfo - version: 2.1"));
    let row = out.log.messages().find(|m| m.starts_with("kmalloc-64 ")).expect("kmalloc-64 row");
    let fields: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(
        (fields[3], fields[4], fields[5]),
        ("64", "64", "1"),
        "objsize, objperslab, pagesperslab: {row}"
    );
    assert!(out.log.has("Slab:") && out.log.has("SUnreclaim:"));
}

#[test]
fn strict_kernel_rwx_and_init_memory_freed() {
    let out = run(&Scenario::test("wx", "256M", ""));
    out.expect_status(EXIT_PASS);
    assert!(out.log.has("x86/mm: Checked W+X mappings: passed, no W+X pages found."));
    assert!(
        out.log.has("test=wx: writing to .rodata at")
            && out.log.has("#PF error_code(0x0003) - permissions violation")
    );
    assert!(out.log.has("test=wx: writing to .text at"));
    assert!(out.log.has("test=wx: reading NULL at 0x0: #PF error_code(0x0000) - not-present page"));
    assert!(out.log.has("Freeing unused kernel image (initmem) memory: 32K"));
    assert!(
        out.log.has("x86/cpu: SMEP not available, SMAP not available, UMIP not available"),
        "qemu64 has none"
    );
}

#[test]
fn smep_smap_umip_and_1g_direct_map_on_a_cpu_that_has_them() {
    let out = run(&Scenario::test("wx", "6G", "").qemu(&["-cpu", "max"]));
    out.expect_status(EXIT_PASS);
    assert!(out.log.has("x86/cpu: SMEP enabled, SMAP enabled, UMIP enabled"));
    let line = out.log.find("direct map: 6143 MiB of RAM in").expect("direct map line");
    assert!(line.contains(" 4 x 1G "), "RAM above 4G in 1G pages: {line}");
}

#[test]
fn vmalloc_maps_scattered_pages_behind_guard_pages_and_gives_them_back() {
    let out = run(&Scenario::test("vmalloc", "256M", ""));
    out.expect_status(EXIT_PASS);
    assert!(out.log.has("vmalloc: 32 TB area, guard page after every area, 16 KiB kernel stacks"));
    let line = out.log.find("test=vmalloc: vmalloc(1048581) at").expect("vmalloc line");
    assert!(line.contains(": 257 pages (") && line.ends_with(" faults"), "{line}");
    assert!(out.log.has("local APIC version 0x14"), "QEMU's local APIC read through ioremap");
    assert!(out.log.has("ran an 8 KiB frame; guard page below it faults"));
    assert!(out.log.has("failed cleanly"));
    assert!(
        out.log.has("vfree: ") && out.log.has("is not the start of a vmalloc area"),
        "a bad vfree is reported"
    );
    assert!(out.log.has("vunmap: ") && out.log.has("is not the start of a vmap area"));
    // /proc/vmallocinfo in Linux's format: range with guard, size, caller, pages and node counts.
    let row = out.log.messages().find(|m| m.contains(" pages=257 vmalloc")).expect("vmallocinfo row");
    let fields: Vec<&str> = row.split_whitespace().collect();
    let (start, end) = fields[0].split_once('-').expect("range");
    let span = u64::from_str_radix(&end[2..], 16).unwrap() - u64::from_str_radix(&start[2..], 16).unwrap();
    assert_eq!(span, 258 * 4096, "257 pages and the guard page: {row}");
    assert_eq!(fields[1], (258 * 4096).to_string());
    assert!(fields[2].starts_with("kernel::ktest::vmalloc::vmalloc+0x"), "caller: {row}");
    assert_eq!(fields[5], "N0=257");
    assert!(out.log.has(" phys=0x00000000fee00000 ioremap"));
    assert!(out.log.has("ioremap on RAM at 0x"), "ioremap of a RAM page is refused");
    let freed = out.log.find("test=vmalloc: all freed:").expect("final line");
    assert!(freed.ends_with(", 0 bytes of vmalloc area used"), "{freed}");
}

#[test]
fn kernel_stack_overflow_hits_the_guard_page() {
    let out = run(&Scenario::test("stack_overflow", "128M", ""));
    out.expect_status(EXIT_FAIL);
    let intro = out.log.find("test=stack_overflow: recursing without end").expect("intro");
    let guard = intro.rsplit(' ').next().expect("guard address");
    let guard = u64::from_str_radix(guard.trim_start_matches("0x"), 16).expect("hex");
    let bug = out.log.find("BUG: TASK stack guard page was hit at ").expect("stack overflow report");
    let hit = bug.split_whitespace().nth(8).expect("address");
    let hit = u64::from_str_radix(hit.trim_start_matches("0x"), 16).expect("hex");
    assert!((guard..guard + 4096).contains(&hit), "{bug} (guard page {guard:#x})");
    assert!(bug.ends_with(", task ktest-overflow)"), "{bug}");
    assert!(out.log.has("Oops: kernel stack overflow (double-fault): 0000 [#1]"));
    assert!(out.log.has("RIP: 0008:kernel::ktest::vmalloc::recurse+"));
    let frames = out.log.messages().filter(|m| m.starts_with(" kernel::ktest::vmalloc::recurse+")).count();
    assert!(frames > 10, "the call trace walks the vmalloc'd stack ({frames} frames)");
    assert!(out.log.has("TEST stack_overflow: FAIL fatal exception"));
}

/// The bases of the direct map, vmalloc and vmemmap from the layout printed at `loglevel=8`.
fn region_bases(out: &qemu_tests::Outcome) -> [String; 3] {
    ["directmap", "vmalloc", "vmemmap"].map(|name| {
        let row = out
            .log
            .messages()
            .find(|m| m.trim_start().starts_with(name) && m.contains(" : 0x"))
            .unwrap_or_else(|| panic!("layout row {name}"));
        row.split_whitespace().nth(2).expect("base").to_string()
    })
}

#[test]
fn kaslr_moves_the_regions_every_boot_and_nokaslr_pins_them() {
    let first = run(&Scenario::test("boot", "128M", "loglevel=8"));
    let second = run(&Scenario::test("boot", "128M", "loglevel=8"));
    first.expect_status(EXIT_PASS);
    second.expect_status(EXIT_PASS);
    assert!(first.log.has("Virtual kernel memory layout (KASLR):"));
    let (a, b) = (region_bases(&first), region_bases(&second));
    assert_ne!(a, b, "two boots chose the same bases");
    for base in a.iter().chain(&b) {
        let value = u64::from_str_radix(base.trim_start_matches("0x"), 16).unwrap();
        assert!(
            value >= 0xffff_8000_0000_0000 && value % (1 << 30) == 0,
            "{base} is a 1G-aligned kernel address"
        );
    }
    let pinned = run(&Scenario::test("boot", "128M", "nokaslr"));
    pinned.expect_status(EXIT_PASS);
    assert!(pinned.log.has("direct map at its fixed base (nokaslr)"));
    assert!(
        pinned.log.has("Virtual kernel memory layout:"),
        "without KASLR the layout is printed at info level"
    );
    assert_eq!(region_bases(&pinned), ["0xffff800000000000", "0xffffc90000000000", "0xffffea0000000000"]);
}

#[test]
fn meminfo_reports_vmalloc_page_tables_and_direct_map() {
    let out = run(&Scenario::test("boot", "256M", "loglevel=8"));
    out.expect_status(EXIT_PASS);
    let kb = |label: &str| out.log.meminfo_kb(label).unwrap_or_else(|| panic!("{label}"));
    assert_eq!(kb("VmallocTotal:"), 32 << 30, "32 TiB in kB");
    assert_eq!(kb("VmallocUsed:"), 0);
    let direct = out.log.find("direct map: ").expect("direct map line");
    let mib: u64 = direct.split_whitespace().nth(2).unwrap().parse().unwrap();
    let mapped = kb("DirectMap4k:") + kb("DirectMap2M:") + kb("DirectMap1G:");
    assert_eq!(mapped / 1024, mib, "DirectMap lines add up to the RAM the direct map covers");
    assert!(kb("PageTables:") >= 4 * 4, "at least the kernel's four levels");
    assert!(kb("KernelStack:") >= 16, "the boot stack at least");
    assert!(!out.log.has("HighTotal:"), "no high memory without highmem=");
}

#[test]
fn highmem_lives_outside_the_direct_map_and_is_reached_through_kmap() {
    let out = run(&Scenario::test("highmem", "1G", "highmem=512M loglevel=8"));
    out.expect_status(EXIT_PASS);
    assert!(out.log.has("highmem: frames from 0x1fe00000 (510 MiB) are high memory, outside the direct map"));
    let direct = out.log.find("direct map: ").expect("direct map line");
    assert!(direct.starts_with("direct map: 509 MiB of RAM"), "RAM below high memory only: {direct}");
    assert!(out.log.has("  DMA32   [mem 0x0000000001000000-0x000000001fdfffff]"));
    assert!(out.log.has("  Normal  empty"));
    assert!(out.log.has("  HighMem [mem 0x000000001fe00000-0x000000003ffdffff]"));
    assert!(out.log.has("Policy zone: HighMem"));
    let kb = |label: &str| out.log.meminfo_kb(label).unwrap_or_else(|| panic!("{label}"));
    assert_eq!(kb("HighTotal:"), (0x3ffe0000 - 0x1fe00000) / 1024, "every high frame is managed");
    assert_eq!(kb("HighTotal:") + kb("LowTotal:"), kb("MemTotal:"));
    assert!(out.log.has("test=highmem: direct map ends at") && out.log.has("the next byte faults"));
    assert!(
        out.log.has("(fixmap)") && out.log.has("at 0xffffffffff1fe000, nested pfn"),
        "first kmap_atomic slot"
    );
    let line = out.log.find("test=highmem: copy_highpage").expect("kmap line");
    assert!(line.contains(" at 0xfffffffffe"), "kmap uses the pkmap window: {line}");
    assert!(out.log.has("kmap: all 1024 pkmap slots are in use, cannot map pfn"));
    assert!(out.log.has("1024 awaiting the lazy flush"));
    assert!(out.log.has("kunmap: pfn ") && out.log.has(" is not kmapped"));
    assert!(out.log.has("test=highmem: vmalloc(64K) got 16 of its 16 pages from high memory"));
    assert!(out.log.has(", 0 pages unaccounted for"));

    // A split that would leave too little low memory is refused, and the boot goes on without it.
    let out = run(&Scenario::test("boot", "128M", "highmem=100M"));
    out.expect_status(EXIT_PASS);
    assert!(out.log.has("highmem=100M ignored: RAM ends at 127M and at least 64M must stay low memory"));
    assert!(out.log.has("fixmap: 512 slots below 0xffffffffff1ff000, 16 kmap_atomic slots per CPU"));
}
