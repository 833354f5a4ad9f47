//! `make bench`'s kernel-path table: null syscall, demand-zero fault, IPC round trip and context switch on
//! Pagoda against Debian's Linux 6.1 on the same emulator, CPU model and RAM, measured in the same run.
//!
//! Both sides print `BENCH <name> <ticks>` lines from a user program (`userland/src/bin/bench.rs` as init
//! here, `bench/linux-peer/bench.c` as /init there) that times batches with the TSC under QEMU's
//! `-icount shift=0`, where the TSC advances with instructions: the figures are deterministic
//! instruction-accurate counts (DESIGN §3, §12), not wall time. Set `CPU=max` to compare on another model.

use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;

use qemu_tests::{Firmware, Scenario, kernel_elf, repo_root, run};

/// Rows: our benchmark name, its label, the Linux benchmark it is compared with, the goal.
const ROWS: [(&str, &str, &str, &str); 9] = [
    ("null_syscall", "null syscall (getpid / getppid)", "null_syscall", "<= 1.0x"),
    ("demand_zero_fault", "demand-zero page fault (per 4 KiB)", "demand_zero_fault", "<= 1.0x"),
    ("ipc_roundtrip", "IPC call+reply / pipe round trip", "ipc_pipe_roundtrip", "<= 1.0x"),
    ("context_switch", "context switch (sched_yield pair)", "context_switch", "-"),
    ("brk_grow_shrink", "brk +64K and back (memd / in-kernel)", "brk_grow_shrink", "<= 2.0x"),
    ("mmap_munmap_64k", "mmap+munmap 64 KiB (memd / in-kernel)", "mmap_munmap_64k", "<= 2.0x"),
    ("mmap_munmap_100m", "mmap+munmap 100 MiB untouched", "mmap_munmap_100m", "<= 2.0x"),
    ("mprotect_pair", "mprotect split+merge pair", "mprotect_pair", "<= 2.0x"),
    ("malloc_heavy", "malloc-heavy C program, per step (musl)", "malloc_heavy", "<= 1.0x"),
];

fn parse(text: &str, prefix: &str) -> BTreeMap<String, u64> {
    text.lines()
        .filter_map(|line| {
            let line = line.trim_end_matches('\r');
            let rest = line[line.find(prefix)?..].strip_prefix(prefix)?;
            let mut words = rest.split_whitespace();
            let name = words.next()?.to_string();
            let value = words.next()?.parse().ok()?;
            Some((name, value))
        })
        .collect()
}

fn main() {
    let cpu = std::env::var("CPU").unwrap_or_else(|_| "qemu64".to_string());
    kernel_elf();
    let scenario = Scenario {
        name: "bench".to_string(),
        args: "init=bench".to_string(),
        mem: "512M".to_string(),
        firmware: Firmware::Bios,
        timeout: Duration::from_secs(300),
        qemu_args: vec!["-icount".into(), "shift=0".into(), "-cpu".into(), cpu.clone()],
    };
    let out = run(&scenario);
    let ours = parse(&out.log.text(), "BENCH ");
    if ours.is_empty() || !out.log.text().contains("BENCH_DONE") {
        eprintln!("task-bench: the bench program did not finish; serial log:\n{}", out.log.text());
        std::process::exit(1);
    }

    eprintln!("task-bench: running the Linux peer (bench/linux-peer/run.sh, ~20 s)…");
    let peer = Command::new(repo_root().join("bench/linux-peer/run.sh")).env("CPU", &cpu).output();
    let (linux_off, linux_default, peer_note) = match peer {
        Ok(o) if o.status.success() => {
            let text = String::from_utf8_lossy(&o.stdout).into_owned();
            (parse(&text, "LINUX mitigations=off "), parse(&text, "LINUX default "), None)
        }
        Ok(o) => (BTreeMap::new(), BTreeMap::new(), Some(String::from_utf8_lossy(&o.stderr).into_owned())),
        Err(e) => (BTreeMap::new(), BTreeMap::new(), Some(e.to_string())),
    };

    println!();
    println!(
        "Kernel paths in TSC ticks under QEMU TCG -icount shift=0 -cpu {cpu}, 512M (instruction counts;"
    );
    println!("medians of 31 batches; lower is better; ratio = Pagoda / Linux)");
    println!(
        "{:<38} {:>8} {:>18} {:>7} {:>14} {:>7} {:>8}",
        "path", "Pagoda", "Linux mitig.=off", "ratio", "Linux default", "ratio", "goal"
    );
    for (ours_name, label, linux_name, goal) in ROWS {
        let ours_value = ours.get(ours_name).copied();
        let fmt_value = |v: Option<u64>| v.map_or("-".to_string(), |v| v.to_string());
        let ratio = |linux: Option<u64>| match (ours_value, linux) {
            (Some(a), Some(b)) if b > 0 => format!("{:.2}x", a as f64 / b as f64),
            _ => "-".to_string(),
        };
        let off = linux_off.get(linux_name).copied();
        let default = linux_default.get(linux_name).copied();
        println!(
            "{:<38} {:>8} {:>18} {:>7} {:>14} {:>7} {:>8}",
            label,
            fmt_value(ours_value),
            fmt_value(off),
            ratio(off),
            fmt_value(default),
            ratio(default),
            goal
        );
    }
    if let Some(futex) = linux_off.get("ipc_futex_roundtrip") {
        println!(
            "(Linux futex ping-pong between two processes, mitigations=off: {futex} ticks per round trip)"
        );
    }
    if let Some(note) = peer_note {
        println!("Linux peer not measured: {}", note.lines().last().unwrap_or("unknown error"));
    }
}
