//! `pressure` (seed 000 §56–§59): `memory.high` throttles, it does not kill. A task in a group with
//! `memory.high` = 8 MiB touches 9 MiB; past the limit the kernel makes it sleep on its way back from each
//! batch of page faults (Linux's penalty, growing with the square of the overage), and that sleep is a
//! memory stall: the group's `memory.pressure` and `/proc/pressure/memory` show it, a pressure trigger
//! on the group fires, and `memory.events` counts `high`. The task finishes normally.
#![no_std]
#![no_main]

use abi::mman::{MAP_ANONYMOUS, MAP_PRIVATE};
use abi::{group_op, proc_text, prot, wait};
use userland::sys::{self, WaitStatus, ipc};
use userland::{Args, fail, println};

userland::entry!(main);

const GROUP: &str = "/pressure";
const PRESSURE_FILE: &str = "/sys/fs/cgroup/pressure/memory.pressure";
const TOUCH_BYTES: u64 = 9 << 20;
/// The trigger: 100 ms of "some" stall within a 1 s window.
const TRIGGER: &str = "some 100000 1000000";

fn group_file<'a>(file: &str, buf: &'a mut [u8; 512]) -> &'a str {
    let n = sys::group_ctl(group_op::READ, GROUP, 0, file, "", buf, 0).unwrap_or(0) as usize;
    core::str::from_utf8(&buf[..n]).unwrap_or("")
}

/// `total=N` of the `some` line.
fn some_total(text: &str) -> u64 {
    text.lines()
        .find(|l| l.starts_with("some "))
        .and_then(|l| l.split_whitespace().find_map(|f| f.strip_prefix("total=")))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

fn show(title: &str, text: &str) {
    println!("pressure: {title}:");
    for line in text.lines() {
        println!("  {line}");
    }
}

fn main(args: &Args) -> i32 {
    if args.get(1) == Some("child") {
        let start = sys::clock_gettime(sys::CLOCK_MONOTONIC).map_or(0, |t| t.as_nanos());
        let addr = sys::mmap(0, TOUCH_BYTES, prot::READ | prot::WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
            .unwrap_or_else(|e| fail!("pressure: mmap: {e}"));
        for page in (0..TOUCH_BYTES).step_by(4096) {
            // SAFETY: inside the mapping just made.
            unsafe { ((addr + page) as *mut u8).write_volatile(1) };
        }
        let end = sys::clock_gettime(sys::CLOCK_MONOTONIC).map_or(0, |t| t.as_nanos());
        println!("pressure child: touched {} MiB in {} ms", TOUCH_BYTES >> 20, (end - start) / 1_000_000);
        return 0;
    }
    let mut none = [0u8; 0];
    let ctl = |op, pid, file: &str, value: &str, buf: &mut [u8]| {
        sys::group_ctl(op, GROUP, pid, file, value, buf, 0)
    };
    if let Err(e) = ctl(group_op::CREATE, 0, "", "", &mut none) {
        fail!("pressure: mkdir {GROUP}: {e}");
    }
    if let Err(e) = ctl(group_op::WRITE, 0, "memory.high", "8M", &mut none) {
        fail!("pressure: memory.high: {e}");
    }
    let notify = ipc::notify_create().unwrap_or_else(|e| fail!("pressure: notify_create: {e}"));
    if let Err(e) = sys::psi_trigger(PRESSURE_FILE, TRIGGER, notify, 1) {
        fail!("pressure: trigger {TRIGGER:?} on {PRESSURE_FILE}: {e}");
    }
    println!("pressure: {GROUP}: memory.high = 8M; trigger {TRIGGER:?} on {PRESSURE_FILE}");
    let child = sys::spawn("pressure", &["child"], None).unwrap_or_else(|e| fail!("pressure: spawn: {e}"));
    if let Err(e) = ctl(group_op::ATTACH, child, "", "", &mut none) {
        fail!("pressure: attach: {e}");
    }
    // While it runs, what the child's process costs is charged to the group: its pages, page tables and
    // the kernel objects made for it (its kernel stack stays with the root, where it was made).
    let _ = sys::sleep_ms(200);
    let mut stat_buf = [0u8; 512];
    let stat = group_file("memory.stat", &mut stat_buf);
    let stat_of = |key: &str| {
        stat.lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix(' ')?.trim().parse::<u64>().ok())
            .unwrap_or(0)
    };
    let kinds = ["anon", "pagetables", "slab_unreclaimable"].map(|k| (k, stat_of(k)));
    println!("pressure: {GROUP} memory.stat while the child runs: {kinds:?}");
    let all_charged = kinds.iter().all(|&(_, bytes)| bytes > 0);
    let (_, status) = sys::wait4(child as i64, 0).unwrap_or_else(|e| fail!("pressure: wait4: {e}"));
    println!("pressure: the child {}", WaitStatus(status));
    let fired = ipc::notify_poll(notify).unwrap_or(0) & 1 != 0;
    println!("pressure: trigger fired: {fired}");
    // The averages move every 2 s: wait for one period so avg10 shows the stall.
    let _ = sys::sleep_ms(2100);
    let mut buf = [0u8; 512];
    let group_pressure = group_file("memory.pressure", &mut buf);
    show(PRESSURE_FILE, group_pressure);
    let group_total = some_total(group_pressure);
    let mut sys_buf = [0u8; 512];
    let n = sys::proc_text(proc_text::PRESSURE_MEMORY, &mut sys_buf, 0).unwrap_or(0) as usize;
    let system = core::str::from_utf8(&sys_buf[..n]).unwrap_or("");
    show("/proc/pressure/memory", system);
    let mut events_buf = [0u8; 512];
    let events = group_file("memory.events", &mut events_buf);
    let high = events.lines().find_map(|l| l.strip_prefix("high ")?.trim().parse::<u64>().ok()).unwrap_or(0);
    println!("pressure: {GROUP} memory.events high {high}");
    let _ = ctl(group_op::REMOVE, 0, "", "", &mut none);
    let exited = wait::if_exited(status) && wait::exit_status(status) == 0;
    if !exited
        || high == 0
        || group_total < 100_000
        || some_total(system) < group_total
        || !fired
        || !all_charged
    {
        fail!(
            "pressure: expected the child throttled (not killed), high events, a stall of 100 ms or more, and the trigger"
        );
    }
    println!("pressure: ok");
    0
}
