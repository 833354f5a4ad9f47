//! Boot scenarios: the real ISO under QEMU (SeaBIOS and OVMF), checked against what QEMU provides.
//!
//! The E820 checks use QEMU's documented RAM layout for the `pc` machine: with less than 3.5 GiB all RAM
//! sits below 4 GiB; with more, 3 GiB stay below the PCI hole and the rest starts at 4 GiB. The firmware
//! keeps a few hundred KiB (EBDA, ROM, its own tables) for itself, never more than 1 MiB.

use qemu_tests::{E820Line, EXIT_FAIL, EXIT_PASS, Outcome, Scenario, kernel_image_sizes, run};

const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;
const FOUR_GIB: u64 = 4 * GIB;

fn usable(e820: &[E820Line]) -> impl Iterator<Item = &E820Line> {
    e820.iter().filter(|e| e.typ == "usable")
}

/// Whole 4 KiB pages inside the usable ranges, in KiB: what memblock counts as RAM.
fn usable_pages_kib(e820: &[E820Line]) -> u64 {
    usable(e820)
        .map(|e| {
            let start = e.start.next_multiple_of(4096);
            let end = (e.end_inclusive + 1) & !4095;
            end.saturating_sub(start)
        })
        .sum::<u64>()
        / 1024
}

fn assert_canonical(e820: &[E820Line]) {
    assert!(!e820.is_empty(), "no E820 table printed");
    for w in e820.windows(2) {
        assert!(w[0].end_inclusive < w[1].start, "E820 not sorted/disjoint: {w:?}");
        assert!(
            !(w[0].end_inclusive + 1 == w[1].start && w[0].typ == w[1].typ),
            "adjacent E820 entries of one type not merged: {w:?}"
        );
    }
}

/// The `Memory:` line agrees with the E820 table and with the kernel ELF's own section sizes.
fn assert_memory_summary(out: &Outcome, e820: &[E820Line]) {
    let s = out.log.memory_summary().unwrap_or_else(|| panic!("no Memory: line\n{}", out.log.text()));
    assert_eq!(s.total, usable_pages_kib(e820), "total must be the usable E820 RAM in whole pages");
    assert_eq!(s.reserved, s.total - s.available);
    let image = kernel_image_sizes();
    assert_eq!(
        (s.code, s.rodata, s.rwdata, s.bss, s.init),
        (image.text / 1024, image.rodata / 1024, image.data / 1024, image.bss / 1024, image.boot / 1024),
        "kernel section sizes differ from the ELF's"
    );
    // At least the RAM below 1 MiB, the whole kernel image, the page descriptors and the boot modules
    // (the programs) are reserved; little else (page tables, boot information).
    let low_ram_kib: u64 = usable(e820)
        .filter(|e| e.start < MIB)
        .map(|e| (e.end_inclusive.min(MIB - 1) + 1 - e.start) / 1024)
        .sum();
    let image_kib = (image.boot + image.text + image.rodata + image.data + image.bss) / 1024;
    let memmap_kib = out.log.memmap_kib().expect("Memory model line");
    let sections = usable(e820).map(|e| e.start >> 27).chain(usable(e820).map(|e| e.end_inclusive >> 27));
    let expected_sections: std::collections::BTreeSet<u64> =
        usable(e820).flat_map(|e| (e.start >> 27)..=(e.end_inclusive >> 27)).collect();
    assert!(sections.count() > 0);
    assert_eq!(
        memmap_kib,
        expected_sections.len() as u64 * 1024,
        "1 MiB of descriptors per present 128 MiB section"
    );
    let modules = out.log.modules();
    assert!(!modules.is_empty(), "the ISO's programs are boot modules");
    // Modules GRUB placed in usable RAM above 1 MiB add to the floor (under UEFI many land below 1 MiB,
    // which is reserved anyway).
    let modules_kib: u64 = modules
        .iter()
        .filter(|&&(start, end)| {
            start >= MIB && usable(e820).any(|e| e.start <= start && end <= e.end_inclusive)
        })
        .map(|&(start, end)| (end + 1 - start).div_ceil(4096) * 4)
        .sum();
    let floor = low_ram_kib - 4 + image_kib + memmap_kib + modules_kib;
    assert!(s.reserved >= floor, "reserved {}K is below {floor}K", s.reserved);
    assert!(s.reserved < floor + 1024, "reserved {}K is implausibly large (floor {floor}K)", s.reserved);
}

/// A SeaBIOS boot of `mem` bytes on `pc`: pass, canonical E820 matching QEMU's layout, consistent summary.
fn check_bios_boot(mem: &str, mem_bytes: u64) {
    let out = run(&Scenario::test("boot", mem, ""));
    out.expect_status(EXIT_PASS);
    assert!(out.log.has("TEST boot: PASS"));
    let e820 = out.log.e820("BIOS-e820: ");
    assert_canonical(&e820);
    let below_4g = if mem_bytes >= 0xe000_0000 { 3 * GIB } else { mem_bytes };
    let above_4g = mem_bytes - below_4g;
    for e in usable(&e820) {
        let in_low = e.end_inclusive < below_4g;
        let in_high = e.start >= FOUR_GIB && e.end_inclusive < FOUR_GIB + above_4g;
        assert!(in_low || in_high, "usable range outside QEMU's RAM: {e:?}");
    }
    let total: u64 = usable(&e820).map(E820Line::size).sum();
    assert!(total <= mem_bytes && total >= mem_bytes - MIB, "usable {total:#x} vs RAM {mem_bytes:#x}");
    if above_4g > 0 {
        assert!(
            usable(&e820).any(|e| e.start == FOUR_GIB && e.size() == above_4g),
            "RAM above the PCI hole missing: {e820:?}"
        );
        assert!(
            e820.iter().any(|e| e.typ == "reserved" && e.start < FOUR_GIB && e.end_inclusive == FOUR_GIB - 1)
        );
    }
    assert_memory_summary(&out, &e820);
    assert!(!out.log.has("Kernel command line"), "no warnings expected for test=boot");
}

#[test]
fn boot_64m() {
    check_bios_boot("64M", 64 * MIB);
}

#[test]
fn boot_1g() {
    check_bios_boot("1G", GIB);
}

#[test]
fn boot_6g_above_the_pci_hole() {
    check_bios_boot("6G", 6 * GIB);
}

#[test]
fn boot_uefi() {
    let out = run(&Scenario::test("boot", "256M", "").uefi());
    out.expect_status(EXIT_PASS);
    let e820 = out.log.e820("BIOS-e820: ");
    assert_canonical(&e820);
    let total: u64 = usable(&e820).map(E820Line::size).sum();
    assert!(total > 200 * MIB && total <= 256 * MIB, "usable {total:#x} of 256 MiB under OVMF");
    assert!(usable(&e820).all(|e| e.end_inclusive < 256 * MIB), "usable RAM beyond 256 MiB: {e820:?}");
    // OVMF reports ACPI tables and runtime areas, which must survive sanitizing with their types.
    assert!(e820.iter().any(|e| e.typ == "ACPI data"), "{e820:?}");
    assert!(e820.iter().any(|e| e.typ == "ACPI NVS"), "{e820:?}");
    assert!(out.log.has("ACPI: RSDP (copy in boot info) v02"));
    assert!(out.log.has("efi: EFI v2 64-bit, system table at"));
    assert!(out.log.has("framebuffer: RGB"));
    assert_memory_summary(&out, &e820);
}

#[test]
fn mem_option_caps_usable_ram() {
    let out = run(&Scenario::test("boot", "256M", "mem=96M"));
    out.expect_status(EXIT_PASS);
    let firmware = out.log.e820("BIOS-e820: ");
    let user = out.log.e820("user: ");
    assert!(out.log.has("e820: remove [mem 0x0000000006000000-0xfffffffffffffffe] usable"));
    assert_eq!(usable(&user).map(|e| e.end_inclusive).max(), Some(96 * MIB - 1));
    // Reserved ranges above the cap stay.
    let reserved = |t: &[E820Line]| t.iter().filter(|e| e.typ != "usable").cloned().collect::<Vec<_>>();
    assert_eq!(reserved(&firmware), reserved(&user));
    assert_memory_summary(&out, &user);
}

#[test]
fn panic_is_reported_and_fails_the_test() {
    let out = run(&Scenario::test("panic", "64M", ""));
    out.expect_status(EXIT_FAIL);
    assert!(out.log.has("Kernel panic - not syncing: test=panic: a deliberate panic"));
    assert!(out.log.has("panic at kernel/src/ktest/mod.rs:"));
    assert!(out.log.has("Call Trace:"));
    // The backtrace names the function that panicked (symbolized through the ksyms module).
    assert!(out.log.messages().any(|m| m.starts_with(" kernel::ktest::run+0x")), "{}", out.log.text());
    assert!(out.log.messages().any(|m| m.starts_with(" kernel_main+0x")));
    assert!(out.log.has("TEST panic: FAIL kernel panic"));
}

#[test]
fn kernel_page_fault_prints_cr2_and_fails() {
    let out = run(&Scenario::test("pagefault", "64M", ""));
    out.expect_status(EXIT_FAIL);
    for needle in [
        "BUG: unable to handle page fault for address: 0000010000000000",
        "#PF: supervisor read access in kernel mode",
        "#PF: error_code(0x0000) - not-present page",
        "Oops: page fault: 0000 [#1]",
        "RIP: 0008:kernel::ktest::",
        "CR2: 0000010000000000",
        "Kernel panic - not syncing: Fatal exception (page fault)",
        "TEST pagefault: FAIL fatal exception",
    ] {
        assert!(out.log.has(needle), "missing {needle:?} in\n{}", out.log.text());
    }
}

#[test]
fn memblock_allocates_top_down_and_traces_under_debug() {
    let out = run(&Scenario::test("memblock", "128M", "memblock=debug"));
    out.expect_status(EXIT_PASS);
    assert!(
        out.log.has("memblock_reserve: [0x0000000000000000-0x00000000000fffff]"),
        "low 1 MiB reservation"
    );
    assert!(out.log.has("MEMBLOCK configuration:"));
    assert!(out.log.has("memblock_phys_alloc: ["));
    assert!(out.log.has("TEST memblock: PASS"));
}

#[test]
fn bad_command_line_options_are_warned_about() {
    let out = run(&Scenario::test("boot", "64M", "bogus=1 loglevel=99 mem=lots"));
    out.expect_status(EXIT_PASS);
    assert!(out.log.has("Kernel command line: unknown parameter \"bogus=1\""));
    assert!(out.log.has("Kernel command line: bad parameter \"loglevel=99\": expected 0..15, ignored"));
    assert!(out.log.has("Kernel command line: bad parameter \"mem=lots\""));
}

#[test]
fn loglevel_hides_lower_priority_messages() {
    let out = run(&Scenario::test("boot", "64M", "loglevel=1"));
    out.expect_status(EXIT_PASS);
    assert!(!out.log.has("BIOS-e820:"), "info messages must be hidden at loglevel=1");
    assert!(out.log.has("TEST boot: PASS"), "the verdict is printed whatever the level");
}

#[test]
fn unknown_test_fails() {
    let out = run(&Scenario::test("nosuch", "64M", ""));
    out.expect_status(EXIT_FAIL);
    assert!(out.log.has("TEST nosuch: FAIL no such test"));
}

#[test]
fn triple_fault_exit_zero_is_a_failure() {
    let out = run(&Scenario::test("triplefault", "64M", ""));
    assert_eq!(out.status, Some(0), "a triple fault with -no-reboot exits 0\n{}", out.log.text());
    assert!(!out.passed());
    assert!(out.log.has("test=triplefault: loading an empty IDT"));
}

#[test]
fn double_fault_runs_on_its_ist_stack_and_fails() {
    let out = run(&Scenario::test("doublefault", "64M", ""));
    out.expect_status(EXIT_FAIL);
    assert!(out.log.has("test=doublefault: switching to an unmapped stack"));
    // The report could only be printed from the IST stack: the interrupted stack was unusable.
    assert!(out.log.has("Oops: double fault: 0000 [#1]"), "{}", out.log.text());
    assert!(out.log.has("RSP: 0010:0000010000000000"), "the faulting RSP is the unmapped stack");
    assert!(out.log.has("TEST doublefault: FAIL fatal exception"));
}
