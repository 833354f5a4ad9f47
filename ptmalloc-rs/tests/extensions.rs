//! ptmalloc-rs's additions on real Linux (LD_PRELOAD): the arena limit that follows the CPUs the process
//! may use (`PTMALLOC_RS_CPU_QUOTA=1`), time-decay purging (`PTMALLOC_RS_DECAY_MS`) and `malloc_stats64`.

mod common;
use common::native::{compile_c, run};
use std::process::Command;

/// Arenas reported by `malloc_stats` when `threads` threads allocate at once, pinned to CPU 0.
fn arenas(threads: usize, env: &[(&str, &str)]) -> usize {
    let program = compile_c("extensions");
    let mut command = Command::new("taskset");
    command.args(["-c", "0"]).arg(&program).args(["arenas", &threads.to_string()]);
    command.env("LD_PRELOAD", common::native::preload_so()).envs(env.iter().copied());
    let output = command.output().expect("run taskset");
    assert!(output.status.success(), "{output:?}");
    String::from_utf8_lossy(&output.stderr).lines().filter(|line| line.starts_with("Arena ")).count()
}

fn online_cpus() -> usize {
    let text = std::fs::read("/sys/devices/system/cpu/online").expect("online CPUs");
    ptmalloc_rs::linux::parse_cpu_list(&text).expect("CPU list")
}

#[test]
fn arena_limit_follows_the_usable_cpus_when_asked() {
    let threads = 24;
    // glibc's rule: 8 arenas per online CPU, computed once more than 8 (M_ARENA_TEST) arenas exist.
    let glibc_rule = (8 * online_cpus()).clamp(9, threads + 1);
    assert_eq!(arenas(threads, &[]), glibc_rule, "default: the host's CPUs, as glibc");
    // Pinned to one CPU, the limit is 8: no arena past the 9 that exist when the limit is first computed.
    assert_eq!(arenas(threads, &[("PTMALLOC_RS_CPU_QUOTA", "1")]), 9, "quota: the affinity mask");
}

#[test]
fn decay_returns_free_pages_and_stats64_reports_them() {
    let program = compile_c("extensions");
    let off = run(&program, &["decay"], true, &[]);
    assert!(off.status.success(), "{off:?}");
    assert!(String::from_utf8_lossy(&off.stdout).contains("middle page present: 1"), "purged while off");
    assert!(String::from_utf8_lossy(&off.stderr).contains("purged bytes     =          0\n"));

    let on = run(&program, &["decay"], true, &[("PTMALLOC_RS_DECAY_MS", "50")]);
    assert!(on.status.success(), "{on:?}");
    assert!(String::from_utf8_lossy(&on.stdout).contains("middle page present: 0"), "not purged");
    let stats = String::from_utf8_lossy(&on.stderr);
    let purged: usize = stats
        .lines()
        .find_map(|line| line.strip_prefix("purged bytes     ="))
        .and_then(|value| value.trim().parse().ok())
        .expect("malloc_stats64 output");
    assert!(purged >= 28 * 1024, "only {purged} bytes purged:\n{stats}");
}
