//! Kernel virtual memory scenarios: the slab allocator and kmalloc, its hardening and `slub_debug`.

use qemu_tests::{EXIT_PASS, Scenario, run};

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
