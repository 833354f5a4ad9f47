//! Tasks, syscalls, faults, scheduling and IPC, from user programs started as init (`init=NAME`). Each
//! program checks what it can see and exits 0 only when everything held; the kernel turns init's exit
//! status into the QEMU verdict. The assertions below check the kernel's own lines as well.

use std::time::Duration;

use qemu_tests::{EXIT_PASS, Firmware, Scenario, run};

fn user(program: &str, args: &str) -> Scenario {
    let cmdline =
        if args.is_empty() { format!("init={program}") } else { format!("init={program} -- {args}") };
    Scenario {
        name: program.to_string(),
        args: cmdline,
        mem: "256M".to_string(),
        firmware: Firmware::Bios,
        timeout: Duration::from_secs(120),
        qemu_args: Vec::new(),
    }
}

#[test]
fn hello_runs_as_init_with_its_arguments_and_exit_status() {
    let out = run(&user("hello", "one two"));
    out.expect_status(EXIT_PASS);
    // The kernel starts the `init` program as pid 1; init runs the requested program as its child.
    assert!(out.log.has_output("Run init as init process (pid 1)"));
    let hello = out.log.find_output("Hello from userland: pid ").expect("hello's greeting");
    assert!(hello.ends_with(", argc 3"), "{hello}");
    assert!(out.log.has_output("argv[2] = two"));
    let line = out.log.find_output("init: hello (pid ").expect("init's report on hello");
    assert!(line.ends_with("exited with code 0"), "{line}");
    assert!(out.log.has_output("init: init (pid 1) exited with code 0"));

    let out = run(&user("hello", "--exit 3"));
    assert_eq!(out.status, Some(qemu_tests::EXIT_FAIL), "a non-zero exit of the program fails the run");
    assert!(out.log.find_output("init: hello (pid ").is_some_and(|l| l.ends_with("exited with code 3")));
    assert!(out.log.has_output("init: init (pid 1) exited with code 3"));
}

#[test]
fn user_faults_kill_only_the_task_with_a_segfault_line() {
    let out = run(&user("faults", ""));
    out.expect_status(EXIT_PASS);
    // NULL write: "before" printed, "after" never, and Linux's report (error 6 = user write, not present).
    assert!(out.log.has_output("fault null: before invalid access"));
    assert!(!out.log.has_output("after invalid access"));
    let null = out.log.find_output("]: segfault at 0 ip ").expect("segfault line for the NULL write");
    assert!(null.contains("error 6 in fault["), "{null}");
    // Write to its own text (error 7: present, write, user), jump to the stack and into data (NX: error
    // 0x15 = present, user, instruction fetch), read of kernel space (error 4 at the address).
    assert!(out.log.has_output("error 7 in fault["));
    assert!(
        out.log.messages().filter(|m| m.contains("segfault at") && m.contains(" error 15 ")).count() >= 2
    );
    assert!(out.log.has_output("segfault at ffffffff80000000"));
    for kind in ["null", "text", "stack", "kernel", "exec_data"] {
        assert!(out.log.has_output(&format!("fault {kind}: killed by signal 11 (ok)")), "{kind}");
    }
    assert!(out.log.has_output("exec: ksyms: not an ELF file (bad magic): refused"));
    assert!(out.log.has_output("faults: 0 of 8 checks failed"));
}

#[test]
fn bad_user_pointers_get_efault_and_the_task_lives() {
    let out = run(&user("efault", ""));
    out.expect_status(EXIT_PASS);
    assert!(out.log.has_output("efault: task still alive"));
    assert!(!out.log.has("Oops"), "no kernel fault on any bad pointer");
}

#[test]
fn ipc_ping_pong_bulk_and_notifications() {
    let out = run(&user("ipc", ""));
    out.expect_status(EXIT_PASS);
    assert!(out.log.has_output("ipc: 1000 round trips ok, bulk ok"));
    assert!(out.log.has_output("bulk of 4097 bytes refused with EMSGSIZE (ok)"));
}

#[test]
fn priorities_preempt_round_robin_and_inheritance() {
    let out = run(&user("prio", ""));
    out.expect_status(EXIT_PASS);
    assert!(out.log.has_output("prio: completion order 30 25 10 (expected 30 25 10)"));
    assert!(out.log.has_output("prio: round robin: both children made progress before either finished (ok)"));
    let out = run(&user("pinherit", ""));
    out.expect_status(EXIT_PASS);
    assert!(
        out.log.has_output("pinherit: server (base priority 5) ran at priority 20 for a priority-20 client")
    );
}

#[test]
fn privileged_operations_need_capabilities() {
    let out = run(&user("eperm", ""));
    out.expect_status(EXIT_PASS);
    assert!(out.log.has_output("eperm: unprivileged child was refused everything (ok)"));
    assert!(out.log.has_output("eperm child: group_ctl(create /eperm) -> -EPERM (ok)"));
    assert!(out.log.has_output("eperm: sleeper killed by signal 9 (ok)"));
}

/// The counts come from the program's own line: it compares the free-page count of the kernel before the
/// cycles and after them, and the test re-checks the two numbers it printed.
fn free_pages_before_after(line: &str) -> (u64, u64) {
    let numbers: Vec<u64> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .filter_map(|s| s.parse().ok())
        .collect();
    let n = numbers.len();
    assert!(n >= 2, "{line}");
    (numbers[n - 2], numbers[n - 1])
}

#[test]
fn a_thousand_spawn_exit_cycles_leak_nothing() {
    let out = run(&user("spawnloop", "1000"));
    out.expect_status(EXIT_PASS);
    let line = out.log.find_output("spawnloop: 1000 cycles, free pages before").expect("spawnloop summary");
    let (before, after) = free_pages_before_after(line);
    assert_eq!(before, after, "{line}");
}

#[test]
fn syscall_fuzzer_cannot_take_the_kernel_down() {
    let out = run(&user("sysfuzz", "100000"));
    out.expect_status(EXIT_PASS);
    assert!(!out.log.has("Kernel panic") && !out.log.has("Oops"));
    let line = out.log.find_output("sysfuzz: 100000 calls in").expect("fuzzer summary");
    let (before, after) = free_pages_before_after(line);
    assert_eq!(before, after, "{line}");
}

#[test]
fn hardened_usercopy_and_stray_user_accesses() {
    let out = run(&Scenario::test("usercopy", "128M", ""));
    out.expect_status(EXIT_PASS);
    assert!(out.log.has("test=usercopy: 65 bytes at object+0: overruns its SLUB object"));
    assert!(
        out.log.has("test=usercopy: 16 bytes on another task's stack: lies on another task's kernel stack")
    );

    let out = run(&Scenario::test("uaccess_bug", "128M", ""));
    out.expect_status(qemu_tests::EXIT_FAIL);
    assert!(out.log.has("BUG: kernel access to user address 0x10000 outside the user-copy routines"));
    assert!(!out.log.has("read 0x"), "the stray read must not complete");
}

#[test]
fn program_data_is_copied_on_first_write() {
    let out = run(&user("cow", ""));
    out.expect_status(EXIT_PASS);
    assert!(
        out.log.has_output("cow: wrote 3 pages of initialized data: reads back true, 3 copy-on-write faults")
    );
    assert!(out.log.has_output("cow child: DATA still holds the original pattern: true"));
}
