//! `cgroup_limit` (seed 000 §56–§59): a memory group with `memory.max` = 16 MiB. A hog started in it
//! allocates until the group's limit stops it: the group OOM killer (the kernel's, with Linux's
//! `oom_badness` and report) kills the hog, while this task, outside the group, keeps allocating. Then
//! `memory.events` shows the `max` and `oom_kill` events and `memory.current` is back to 0.
#![no_std]
#![no_main]

use abi::mman::{MAP_ANONYMOUS, MAP_PRIVATE};
use abi::{group_op, prot, signal, wait};
use userland::sys::{self, WaitStatus};
use userland::{Args, fail, println};

userland::entry!(main);

const GROUP: &str = "/demo";
const HOG_BYTES: u64 = 64 << 20;

/// The text of the group's `file`, read into `buf`.
fn read<'a>(file: &str, buf: &'a mut [u8; 1024]) -> &'a str {
    let n = sys::group_ctl(group_op::READ, GROUP, 0, file, "", buf, 0).unwrap_or(0) as usize;
    core::str::from_utf8(&buf[..n]).unwrap_or("")
}

/// Touches every page of a fresh anonymous mapping of `bytes`.
fn touch(bytes: u64) -> u64 {
    let addr = sys::mmap(0, bytes, prot::READ | prot::WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        .unwrap_or_else(|e| fail!("cgroup_limit: mmap: {e}"));
    for page in (0..bytes).step_by(4096) {
        // SAFETY: inside the mapping just made.
        unsafe { ((addr + page) as *mut u8).write_volatile(1) };
    }
    addr
}

fn main(args: &Args) -> i32 {
    if args.get(1) == Some("hog") {
        println!("cgroup_limit hog: allocating {} MiB in {GROUP}", HOG_BYTES >> 20);
        touch(HOG_BYTES);
        println!("cgroup_limit hog: FAIL: allocated everything past the limit");
        return 1;
    }
    let mut none = [0u8; 0];
    if let Err(e) = sys::group_ctl(group_op::CREATE, GROUP, 0, "", "", &mut none, 0) {
        fail!("cgroup_limit: mkdir {GROUP}: {e}");
    }
    if let Err(e) = sys::group_ctl(group_op::WRITE, GROUP, 0, "memory.max", "16M", &mut none, 0) {
        fail!("cgroup_limit: memory.max: {e}");
    }
    println!("cgroup_limit: {GROUP}/memory.max = {}", read("memory.max", &mut [0; 1024]).trim());
    let hog =
        sys::spawn("cgroup_limit", &["hog"], None).unwrap_or_else(|e| fail!("cgroup_limit: spawn: {e}"));
    if let Err(e) = sys::group_ctl(group_op::ATTACH, GROUP, hog, "", "", &mut none, 0) {
        fail!("cgroup_limit: attach: {e}");
    }
    let (_, status) = sys::wait4(hog as i64, 0).unwrap_or_else(|e| fail!("cgroup_limit: wait4: {e}"));
    println!("cgroup_limit: the hog {}", WaitStatus(status));
    // Outside the group, this task still gets memory.
    touch(32 << 20);
    println!("cgroup_limit: this task, outside the group, touched 32 MiB and runs on");
    let mut events_buf = [0u8; 1024];
    let events = read("memory.events", &mut events_buf);
    println!("cgroup_limit: {GROUP}/memory.events:");
    for line in events.lines() {
        println!("  {line}");
    }
    let mut current_buf = [0u8; 1024];
    let current = read("memory.current", &mut current_buf).trim();
    println!("cgroup_limit: {GROUP}/memory.current after the hog = {current}");
    let count = |name: &str| {
        events.lines().find_map(|l| l.strip_prefix(name)?.trim().parse::<u64>().ok()).unwrap_or(0)
    };
    let killed = !wait::if_exited(status) && wait::term_sig(status) == signal::SIGKILL as u8;
    let _ = sys::group_ctl(group_op::REMOVE, GROUP, 0, "", "", &mut none, 0);
    if !killed || count("max ") == 0 || count("oom_kill ") != 1 || current != "0" {
        fail!("cgroup_limit: expected the hog killed, max and oom_kill events, and no charge left");
    }
    println!("cgroup_limit: ok");
    0
}
