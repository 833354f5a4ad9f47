//! `make bench` (boot part): how long the ISO takes to reach the kernel and to finish memblock setup.
//!
//! Each scenario boots `test=boot` several times under TCG; the table gives medians of the host wall
//! time from spawning QEMU to the kernel's first serial line and to the `Memory:` line (end of memblock
//! init), and the kernel's own timestamp of that line (time since its first instruction). The ratio
//! column compares each firmware with SeaBIOS measured in the same run.

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
    memblock_done: f64,
    kernel_memblock: f64,
}

fn measure(name: &'static str, scenario: &Scenario, runs: usize) -> Row {
    let (mut first, mut done, mut kernel) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..runs {
        let out = run(scenario);
        assert!(out.passed(), "{name}: boot failed\n{}", out.log.text());
        first.push(out.log.first_kernel_line().expect("kernel line").as_secs_f64());
        done.push(out.log.arrival("Memory: ").expect("Memory: line").as_secs_f64());
        kernel.push(out.log.kernel_time("Memory: ").expect("timestamp"));
    }
    Row {
        name,
        runs,
        first_line: median(first),
        memblock_done: median(done),
        kernel_memblock: median(kernel),
    }
}

fn main() {
    kernel_elf();
    let start = Instant::now();
    iso_for("test=boot bench");
    let iso_time = start.elapsed();

    let bios = Scenario::test("boot", "512M", "bench");
    let uefi = Scenario::test("boot", "512M", "bench").uefi();
    // Warm-up boot so that the first measured run does not pay for cold caches.
    let _ = run(&bios);
    let rows = [measure("SeaBIOS (pc)", &bios, 7), measure("OVMF (q35)", &uefi, 3)];

    println!();
    println!("Boot time under QEMU TCG, -m 512M, medians (wall clock from QEMU start)");
    println!(
        "{:<14} {:>5} {:>16} {:>18} {:>20} {:>12}",
        "firmware", "runs", "first line (s)", "memblock done (s)", "kernel clock (ms)", "vs SeaBIOS"
    );
    for r in &rows {
        println!(
            "{:<14} {:>5} {:>16.3} {:>18.3} {:>20.3} {:>11.2}x",
            r.name,
            r.runs,
            r.first_line,
            r.memblock_done,
            r.kernel_memblock * 1000.0,
            r.memblock_done / rows[0].memblock_done
        );
    }
    println!("ISO build (grub-mkrescue, one command line): {:.3} s", Duration::as_secs_f64(&iso_time));
}
