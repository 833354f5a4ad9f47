//! The local APIC timer: enabled in xAPIC mode, calibrated against the PIT, periodic at 1000 Hz, its ticks
//! timed against the TSC and all of them passed to the tick handler.

use qemu_tests::{EXIT_PASS, Scenario, run};

#[test]
fn apic_timer_ticks_at_1000_hz() {
    let out = run(&Scenario::test("apic_timer", "256M", ""));
    out.expect_status(EXIT_PASS);
    assert!(out.log.has("APIC: local APIC id 0 at 0xfee00000 (xAPIC), version 0x14"), "QEMU's local APIC");
    let line = out.log.find("APIC: timer calibrated against the PIT: ").expect("calibration line");
    let (_, tail) =
        line.split_once(" MHz bus clock / 16, periodic at 1000 Hz (").expect("calibration format");
    let counts: u64 = tail.trim_end_matches(" counts)").parse().expect("initial count");
    // QEMU's APIC bus clock is 1 GHz: 62 500 counts per millisecond after the divide by 16.
    assert!((61_875..=63_125).contains(&counts), "within 1% of 62500: {line}");
    let timed = out.log.find("test=apic_timer: round 1: ").expect("timing line");
    assert!(timed.contains(" 100 ticks at 1000 Hz took ") && timed.contains(", longest gap between ticks "));
    let after_stop = out.log.find(" ticks in the 20 ms after stop()").expect("after-stop line");
    let late: u64 = after_stop.split_whitespace().nth(1).expect("count").parse().expect("count");
    assert!(late <= 1, "at most the tick already pending when the timer stopped: {after_stop}");
    assert!(out.log.has("TEST apic_timer: PASS"));
}
