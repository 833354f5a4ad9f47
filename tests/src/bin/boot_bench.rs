//! `make bench` (boot part): how long the ISO takes to reach the kernel and to finish memblock setup.
//!
//! Each scenario boots `test=boot` several times under TCG; the table gives medians of the host wall
//! time from spawning QEMU to the kernel's first serial line and to the `Memory:` line (the page
//! allocator is up), the kernel's own timestamp of that line (time since its first instruction), and the
//! part of it spent in `mm_init` (NUMA, zones, page descriptors, releasing memory to the buddy
//! allocator). The ratio column compares each firmware with SeaBIOS measured in the same run.
//!
//! A second table gives the cost of building the direct map for 1, 8 and 64 GiB of guest RAM, with 2 MiB
//! pages only (QEMU's default CPU) and with 1 GiB pages (`-cpu max`).

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
    direct_map_table();
}

/// One boot of `test=boot` with `mem` of RAM on CPU model `cpu` under `-icount shift=0` (one instruction
/// per nanosecond of the guest's clock, so the kernel's TSC deltas are the same on every host). Guest RAM
/// is a sparse file in /dev/shm: a 64 GiB anonymous mapping would exceed the host's overcommit limit,
/// and only the pages the kernel touches (mostly page descriptors) take host memory.
fn direct_map_boot(mem: &str, cpu: &str) -> Result<qemu_tests::Outcome, String> {
    let path = format!("/dev/shm/pagoda-bench-{}-{mem}-{cpu}", std::process::id());
    let backend = format!("memory-backend-file,id=ram,size={mem},mem-path={path},share=on");
    let scenario = Scenario::test("boot", mem, "").qemu(&[
        "-cpu",
        cpu,
        "-icount",
        "shift=0",
        "-object",
        &backend,
        "-machine",
        "memory-backend=ram",
    ]);
    let mut scenario = scenario;
    scenario.timeout = Duration::from_secs(300);
    let out = run(&scenario);
    let _ = std::fs::remove_file(&path);
    if out.passed() { Ok(out) } else { Err(out.log.text().lines().last().unwrap_or("no output").to_string()) }
}

/// Cost of building the direct map, from the kernel's own `direct map: ...` line.
fn direct_map_table() {
    println!();
    println!("Direct map build (init_mem_mapping), -icount shift=0: guest clock, deterministic");
    println!(
        "{:>6} {:<8} {:>8} {:>8} {:>8} {:>13} {:>11} {:>18}",
        "RAM", "cpu", "1G", "2M", "4K", "table pages", "build (us)", "Memory: line (ms)"
    );
    for mem in ["1G", "8G", "64G"] {
        for cpu in ["qemu64", "max"] {
            match direct_map_boot(mem, cpu) {
                Ok(out) => {
                    let line = out.log.find("direct map: ").expect("direct map line");
                    let words: Vec<&str> = line.split_whitespace().collect();
                    // direct map: N MiB of RAM in a x 1G + b x 2M + c x 4K pages, t kernel page-table pages, built in u us
                    let (g, m, k, tables, us) = (words[7], words[11], words[15], words[19], words[25]);
                    let up = out.log.kernel_time("Memory: ").unwrap_or(f64::NAN) * 1000.0;
                    println!("{mem:>6} {cpu:<8} {g:>8} {m:>8} {k:>8} {tables:>13} {us:>11} {up:>18.1}");
                }
                Err(why) => println!("{mem:>6} {cpu:<8} boot failed: {why}"),
            }
        }
    }
}
