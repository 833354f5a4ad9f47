//! Userland memory: memd serving brk/mmap for every task, libc-rs (C and Rust) with ptmalloc-rs, init, and
//! the seed-004 demos. Each scenario runs a demo under init (which starts memd first) and checks both the
//! demo's own output and init's free-page report: the count after the demo equals the one before it.

use std::time::Duration;

use qemu_tests::{EXIT_FAIL, EXIT_PASS, Firmware, Outcome, Scenario, run};

fn demo(cmdline: &str) -> Scenario {
    Scenario {
        name: cmdline.to_string(),
        args: cmdline.to_string(),
        mem: "256M".to_string(),
        firmware: Firmware::Bios,
        timeout: Duration::from_secs(120),
        qemu_args: Vec::new(),
    }
}

/// init's `free pages before PROGRAM X, after Y` line: both numbers, which must be equal.
fn assert_no_leak(out: &Outcome, program: &str) {
    let line = out
        .log
        .find_output(&format!("init: free pages before {program} "))
        .unwrap_or_else(|| panic!("no free-page report for {program}:\n{}", out.log.text()));
    let numbers: Vec<u64> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .filter_map(|s| s.parse().ok())
        .collect();
    assert!(numbers.len() >= 2 && numbers[numbers.len() - 2] == numbers[numbers.len() - 1], "{line}");
}

/// As [`assert_no_leak`], except that pages the slab caches grew by (init's `slab pages before X, after
/// Y` line) count as accounted for.
fn assert_no_leak_but_slab(out: &Outcome, program: &str) {
    let numbers = |prefix: &str| -> Vec<u64> {
        let line = out
            .log
            .find_output(&format!("init: {prefix} pages before {program} "))
            .unwrap_or_else(|| panic!("no {prefix}-page report for {program}:\n{}", out.log.text()));
        line.split(|c: char| !c.is_ascii_digit()).filter_map(|s| s.parse().ok()).collect()
    };
    let free = numbers("free");
    let slab = numbers("slab");
    let (free_before, free_after) = (free[free.len() - 2], free[free.len() - 1]);
    let (slab_before, slab_after) = (slab[slab.len() - 2], slab[slab.len() - 1]);
    assert!(slab_after >= slab_before, "slab shrank: {slab:?}");
    assert_eq!(free_before, free_after + (slab_after - slab_before), "free {free:?}, slab {slab:?}");
}

#[test]
fn memd_serves_mmap_and_proc_maps_shows_the_100_mib_region() {
    let out = run(&demo("init=mmap_maps"));
    out.expect_status(EXIT_PASS);
    assert!(out.log.has("memd: memory server registered (pid 2)"));
    assert!(out.log.has_output("init: memd (pid 2) is serving memory requests"));
    assert!(out.log.has_output("a region of 0x6400000 bytes"));
    assert!(out.log.has_output("[stack]"));
    assert!(out.log.has_output("mmap_maps: after munmap the region is gone from the map"));
    assert_no_leak(&out, "mmap_maps");
}

#[test]
fn null_write_is_killed_and_never_prints_after() {
    let out = run(&demo("init=null_write"));
    out.expect_status(EXIT_FAIL);
    assert!(out.log.has_output("before invalid access"));
    assert!(!out.log.has_output("after invalid access"));
    assert!(
        out.log
            .find("null_write[5]: segfault at 0 ip ")
            .is_some_and(|l| l.contains(" error 6 in null_write["))
    );
    assert!(out.log.has_output("init: null_write (pid 5) killed by signal 11"));
    assert_no_leak(&out, "null_write");
}

#[test]
fn malloc_grows_the_heap_with_brk_and_maps_big_blocks() {
    let out = run(&demo("init=malloc_brk_mmap"));
    out.expect_status(EXIT_PASS);
    assert!(out.log.has_output("(+135168 bytes, heap grown with brk)"), "128 KiB top pad + the request");
    assert!(out.log.has_output("outside the heap (above M_MMAP_THRESHOLD: own mapping)"));
    assert!(out.log.has_output("[heap]"));
    assert!(out.log.has_output("after free(big) its mapping is gone (munmap)"));
    assert_no_leak(&out, "malloc_brk_mmap");
}

#[test]
fn demand_paging_rss_grows_only_when_touched() {
    let out = run(&demo("init=demand_paging"));
    out.expect_status(EXIT_PASS);
    assert!(out.log.has_output("after touching every page (+65536 kB)"));
    assert_no_leak(&out, "demand_paging");
}

#[test]
fn aslr_follows_randomize_va_space() {
    for (level, moved) in [
        ("2", "moved stack true, heap true, mmap true"),
        ("1", "moved stack true, heap false, mmap true"),
        ("0", "moved stack false, heap false, mmap false"),
    ] {
        let out = run(&demo(&format!("randomize_va_space={level} init=aslr")));
        out.expect_status(EXIT_PASS);
        assert!(out.log.has_output(&format!("aslr: randomize_va_space={level}: {moved}")), "level {level}");
        assert_no_leak(&out, "aslr");
    }
}

#[test]
fn c_program_on_libc_rs_and_ptmalloc_rs() {
    let out = run(&demo("init=malloc_c"));
    out.expect_status(EXIT_PASS);
    assert!(out.log.has_output("malloc(200000): usable 200688, glibc 200688 same"));
    assert!(out.log.has_output("malloc_c: PASS"));
    assert_no_leak(&out, "malloc_c");
    // Four threads with their own arenas (THREAD_CREATE, futex locks, TLS through FS).
    let out = run(&demo("init=malloc_c -- --threads"));
    out.expect_status(EXIT_PASS);
    assert!(out.log.has_output("threads: 4 threads allocated in parallel and were joined"));
    assert!(out.log.has_output("Arena 2:"));
    assert_no_leak(&out, "malloc_c");
}

#[test]
fn proc_paths_resolve_to_the_kernel_and_to_memd() {
    let out = run(&demo("init=proc_cat -- /proc/self/status /proc/self/smaps /proc/meminfo /proc/2/maps"));
    out.expect_status(EXIT_PASS);
    // memd's texts for the reader itself, in Linux's formats.
    assert!(out.log.has_output("Name:\tproc_cat"));
    assert!(out.log.has_output("VmRSS:\t"));
    assert!(out.log.has_output("VmStk:\t     128 kB"));
    assert!(out.log.has_output("KernelPageSize:        4 kB"));
    assert!(out.log.has_output("[stack]"));
    // The kernel's meminfo, and another process's maps (memd's own: its pre-faulted 8 MiB arena).
    assert!(out.log.has_output("MemTotal:"));
    assert!(out.log.has_output("memd"));
    assert_no_leak(&out, "proc_cat");
}

#[test]
fn without_memd_memory_calls_fail_instead_of_hanging() {
    let out = run(&demo("init=memdkill"));
    out.expect_status(EXIT_PASS);
    assert!(out.log.has("memd: the memory server (pid 2) ended; brk/mmap fail with ENOMEM from now on"));
    assert!(out.log.has_output("memdkill: after killing memd: mmap Err(ENOMEM), brk Err(ENOMEM)"));
}

#[test]
fn the_shell_runs_commands_typed_on_the_serial_line() {
    let commands = [
        "help",
        "ps",
        "free -h",
        "cat /proc/self/status",
        "cat /proc/meminfo",
        "cat /nonexistent",
        "hello a b",
        "no-such-program",
        "kill 99999",
        "mkdir /sys/fs/cgroup/small",
        "echo 8M > /sys/fs/cgroup/small/memory.max",
        "cat /sys/fs/cgroup/small/memory.max",
        "ls /sys/fs/cgroup",
        "ls /sys/fs/cgroup/small",
        "echo lots > /sys/fs/cgroup/small/memory.high",
        "mkdir /sys/fs/cgroup/memory.bad",
        "cat /sys/fs/cgroup/memory.max",
        "cat /proc/pressure/memory",
        "cgexec small cgroup_limit hog",
        "cat /sys/fs/cgroup/small/memory.events",
        "echo 1 > /proc/meminfo",
        "echo -1000 > /proc/self/oom_score_adj",
        "cat /proc/self/oom_score_adj /proc/self/oom_score",
        "memmap",
        "e820",
        "uptime",
        "dmesg",
        "poweroff",
    ];
    let out = qemu_tests::run_with_input(&demo("loglevel=6"), "Pagoda shell.", &commands);
    // poweroff switches QEMU off through ACPI (exit status 0 is a clean power-off here, not a triple fault:
    // the shell's lines prove the kernel ran to the end).
    assert!(out.log.has_output("  PID  PPID S PRI   RSS(kB) PT(kB) GROUP OOM_ADJ COMMAND"));
    assert!(out.log.has_output(" memd"));
    assert!(out.log.has_output("Mem:"), "free -h prints its table");
    assert!(out.log.has_output("Name:\tsh"));
    assert!(out.log.has_output("MemTotal:"));
    assert!(out.log.has_output("cat: /nonexistent: no such file"));
    assert!(out.log.has_output("Hello from userland: pid "));
    assert!(out.log.has_output("no-such-program: ENOENT"));
    assert!(out.log.has_output("kill: 99999: ESRCH"));
    // Memory groups: made, limited, a hog run in it and killed at 8 MiB, its events read back.
    assert!(out.log.has_output("8388608"), "memory.max reads back in bytes");
    // limitd lists the groups and their files and checks names and values.
    assert!(out.log.has_output("small/"));
    assert!(out.log.has_output("memory.oom.group"));
    assert!(out.log.has_output("echo: /sys/fs/cgroup/small/memory.high: EINVAL"));
    assert!(out.log.has_output("mkdir: /sys/fs/cgroup/memory.bad: EINVAL"));
    assert!(
        out.log.has_output("cat: /sys/fs/cgroup/memory.max: ENOENT"),
        "the root has no limits, as on Linux"
    );
    assert!(out.log.has_output("some avg10="), "/proc/pressure/memory");
    assert!(out.log.has_output("cgroup_limit: killed by signal 9"));
    assert!(out.log.has_output("oom_kill 1"));
    assert!(out.log.has_output("echo: /proc/meminfo: not writable"));
    assert!(out.log.has_output("-1000"), "oom_score_adj reads back");
    assert!(out.log.has_output("Physical memory, one character per"));
    assert!(out.log.has_output("  U  user memory"));
    assert!(out.log.has_output("BIOS-e820: [mem 0x0000000000000000-0x000000000009fbff] usable"));
    assert!(out.log.has_output("up 0:00:"));
    assert!(out.log.has_output("Pagoda version"), "dmesg replays the boot log");
    assert!(out.log.has_output("reboot: Power down"));
    assert!(out.status.is_some(), "QEMU powered off instead of timing out");
}

#[test]
fn a_hog_in_a_16_mib_group_is_killed_at_the_limit() {
    let out = run(&demo("init=cgroup_limit"));
    out.expect_status(EXIT_PASS);
    assert!(out.log.has("memcg: created /demo (group 1)"));
    // oomd handles the group OOM: Linux's task table, a score per candidate, Linux's kill line.
    assert!(out.log.has_output(
        "oomd: [  pid  ]   uid  tgid total_vm      rss pgtables_bytes swapents oom_score_adj name"
    ));
    let scored =
        out.log.find_output("oomd:   pid 6 (cgroup_limit) group /demo rss ").expect("the hog scored");
    assert!(scored.contains(" badness ") && scored.contains(" oom_score "), "{scored}");
    let kill =
        out.log.find_output("oomd: Memory cgroup out of memory: Killed process ").expect("oomd's kill line");
    assert!(kill.contains("(cgroup_limit)") && kill.contains("anon-rss:"), "{kill}");
    assert!(!out.log.has("Killed process"), "the kernel's fallback killer did not have to act");
    assert!(out.log.has_output("cgroup_limit: the hog killed by signal 9"));
    assert!(out.log.has_output("cgroup_limit: this task, outside the group, touched 32 MiB and runs on"));
    assert!(out.log.has_output("  oom_kill 1"));
    assert!(out.log.has_output("cgroup_limit: /demo/memory.current after the hog = 0"));
    assert_no_leak(&out, "cgroup_limit");
}

#[test]
fn the_oom_killer_ends_the_hog_and_everything_else_lives() {
    let out = run(&demo("init=oom_hog"));
    // The hog is the program init runs, so init reports it killed and exits with 128 + 9.
    out.expect_status(EXIT_FAIL);
    assert!(out.log.has("oom_hog: page allocation failure: order:0"), "the report names the task");
    let kill = out.log.find_output("oomd: Out of memory: Killed process ").expect("oomd's OOM report");
    assert!(kill.contains("(oom_hog)"), "{kill}");
    assert!(out.log.has_output("oomd:   pid 3 (oomd) exempt"));
    assert!(out.log.has_output("init: oom_hog (pid 5) killed by signal 9"));
    assert!(!out.log.has("memd: the memory server"), "memd survived");
    assert!(out.log.has_output("init: init (pid 1) exited with code 137"), "init survived to report");
    assert_no_leak(&out, "oom_hog");
}

#[test]
fn an_oom_storm_kills_only_the_hogs() {
    let out = run(&demo("init=oom_storm"));
    out.expect_status(EXIT_PASS);
    // Four hogs, two of them in a 24 MiB group: two group OOM kills there, two system ones outside.
    let count = |needle: &str| out.log.outputs().filter(|l| l.contains(needle)).count();
    assert_eq!(count("oomd: Memory cgroup out of memory: Killed process "), 2, "{}", out.log.text());
    assert_eq!(count("oomd: Out of memory: Killed process "), 2, "{}", out.log.text());
    assert!(out.log.has_output(
        "oom_storm: 4 of 4 hogs killed, bystander alive: true, memd and oomd alive: true, /storm oom_kill 2 \
         oom_group_kill 1"
    ));
    assert!(out.log.has_output("oomd: Tasks in /storm are going to be killed due to memory.oom.group set"));
    assert!(!out.log.has("memd: the memory server"), "memd survived");
    assert!(!out.log.has("oom: oomd (pid 3) ended"), "oomd survived");
    assert_no_leak(&out, "oom_storm");
}

#[test]
fn without_oomd_or_with_a_silent_one_the_kernel_kills() {
    let out = run(&demo("init=oomd_fallback"));
    out.expect_status(EXIT_PASS);
    assert!(out.log.has("oom: oomd (pid 3) ended; the kernel's OOM killer takes over"));
    assert!(out.log.has_output("oomd_fallback: without oomd: the hog killed by signal 9"));
    assert!(out.log.has("oom: oomd did not answer in time; the kernel's OOM killer acts"));
    assert!(out.log.has_output("oomd_fallback: with a silent oomd: the hog killed by signal 9"));
    assert!(out.log.find_output("oomd: dry run: would kill pid ").is_some_and(|l| l.ends_with("(oom_hog)")));
    assert!(out.log.has("oom: oomd killed nothing; the kernel's OOM killer acts"));
    assert!(out.log.has_output("oomd_fallback: with oomd --dry-run: the hog killed by signal 9"));
    assert!(out.log.has_output("oomd_fallback: with oomd --grace-ms=50: the hog killed by signal 15"));
    // The first three kills are the kernel's own (its report), the fourth oomd's.
    let kernel_kills = out.log.messages().filter(|m| m.starts_with("Out of memory: Killed process ")).count();
    assert_eq!(kernel_kills, 3, "{}", out.log.text());
    assert_eq!(out.log.outputs().filter(|l| l.contains("oomd: Out of memory: Killed process ")).count(), 1);
    assert!(out.log.has_output("oomd_fallback: oomd restarted"));
    // Every page is back but the few the kernel's slab caches kept (more task structures were made).
    assert_no_leak_but_slab(&out, "oomd_fallback");
}

#[test]
fn memory_high_throttles_and_shows_in_the_pressure_files() {
    let out = run(&demo("init=pressure"));
    out.expect_status(EXIT_PASS);
    assert!(out.log.has_output("pressure: the child exited with code 0"), "throttled, never killed");
    assert!(out.log.has_output("pressure: trigger fired: true"));
    let stat =
        out.log.find_output("pressure: /pressure memory.stat while the child runs: ").expect("memory.stat");
    assert!(stat.contains("(\"slab_unreclaimable\", ") && !stat.contains(", 0)"), "{stat}");
    // The stall (µs) the group's file reports is at least 100 ms and the system's is no smaller.
    let totals: Vec<u64> = out
        .log
        .outputs()
        .filter(|l| l.trim_start().starts_with("some avg10="))
        .filter_map(|l| l.split("total=").nth(1)?.trim().parse().ok())
        .collect();
    assert_eq!(totals.len(), 2, "{}", out.log.text());
    assert!(totals[0] >= 100_000 && totals[1] >= totals[0], "{totals:?}");
    let high = out.log.find_output("pressure: /pressure memory.events high ").expect("the high count");
    assert!(high.rsplit(' ').next().and_then(|n| n.parse::<u64>().ok()).is_some_and(|n| n > 0), "{high}");
    assert!(!out.log.has("Killed process"));
    // The group's and its pressure state's objects may leave a new slab page behind.
    assert_no_leak_but_slab(&out, "pressure");
}

#[test]
fn freeing_every_other_page_fragments_the_buddy_lists() {
    let out = run(&demo("init=fragmentation"));
    out.expect_status(EXIT_PASS);
    assert!(out.log.has_output("fragmentation: /proc/buddyinfo after freeing every other page of 32 MiB:"));
    assert!(out.log.has_output("Node 0, zone    DMA32"));
    assert_no_leak(&out, "fragmentation");
}
