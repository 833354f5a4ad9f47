//! `make bench` (boot part): how long the ISO takes to reach the kernel and to finish memblock setup.
//!
//! Each scenario boots `test=boot` several times under TCG; the table gives medians of the host wall
//! time from spawning QEMU to the kernel's first serial line and to the `Memory:` line (the page
//! allocator is up), the kernel's own timestamp of that line (time since its first instruction), and the
//! part of it spent in `mm_init` (NUMA, zones, page descriptors, releasing memory to the buddy
//! allocator). The ratio column compares each firmware with SeaBIOS measured in the same run.

use std::time::{Duration, Instant};

use qemu_tests::{Scenario, iso_for, kernel_elf, run};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 }
}

struct Row {
    name: &'static str,
    runs: usize,
    first_line: f64,
    memory_up: f64,
    kernel_memory_up: f64,
    mm_init: f64,
}

fn measure(name: &'static str, scenario: &Scenario, runs: usize) -> Row {
    let (mut first, mut done, mut kernel, mut mm) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..runs {
        let out = run(scenario);
        assert!(out.passed(), "{name}: boot failed\n{}", out.log.text());
        first.push(out.log.first_kernel_line().expect("kernel line").as_secs_f64());
        done.push(out.log.arrival("Memory: ").expect("Memory: line").as_secs_f64());
        let up = out.log.kernel_time("Memory: ").expect("timestamp");
        kernel.push(up);
        mm.push(up - out.log.kernel_time("random: boot entropy").expect("mm_init start"));
    }
    Row {
        name,
        runs,
        first_line: median(first),
        memory_up: median(done),
        kernel_memory_up: median(kernel),
        mm_init: median(mm),
    }
}

fn main() {
    kernel_elf();
    let start = Instant::now();
    iso_for("test=boot loglevel=7");
    let iso_time = start.elapsed();

    let bios = Scenario::test("boot", "512M", "loglevel=7");
    let uefi = Scenario::test("boot", "512M", "loglevel=7").uefi();
    // Warm-up boot so that the first measured run does not pay for cold caches.
    let _ = run(&bios);
    let rows = [measure("SeaBIOS (pc)", &bios, 7), measure("OVMF (q35)", &uefi, 3)];

    println!();
    println!("Boot time under QEMU TCG, -m 512M, medians (wall clock from QEMU start)");
    println!(
        "{:<14} {:>5} {:>15} {:>14} {:>18} {:>13} {:>11}",
        "firmware",
        "runs",
        "first line (s)",
        "memory up (s)",
        "kernel clock (ms)",
        "mm_init (ms)",
        "vs SeaBIOS"
    );
    for r in &rows {
        println!(
            "{:<14} {:>5} {:>15.3} {:>14.3} {:>18.3} {:>13.3} {:>10.2}x",
            r.name,
            r.runs,
            r.first_line,
            r.memory_up,
            r.kernel_memory_up * 1000.0,
            r.mm_init * 1000.0,
            r.memory_up / rows[0].memory_up
        );
    }
    println!("ISO build (grub-mkrescue, one command line): {:.3} s", Duration::as_secs_f64(&iso_time));
}
