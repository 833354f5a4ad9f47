//! `spawnloop [N]` (default 1000): spawns `hello --quiet` and reaps it N times, and checks that the
//! kernel's free page count is the same before and after: creating and destroying a task (address space,
//! page tables, kernel stack, handles, task object) must give back every page it took.
#![no_std]
#![no_main]
#![deny(unsafe_code)]

use abi::wait;
use userland::sys::{self, WaitStatus};
use userland::{Args, fail, println};

userland::entry!(main);

const DEFAULT_CYCLES: u64 = 1000;
/// How often, 10 ms apart, to look again when the counts differ (see `sys::settled_free_pages`).
const SETTLE_TRIES: u32 = 10;

fn main(args: &Args) -> i32 {
    let cycles = args.get_u64(1).unwrap_or(DEFAULT_CYCLES);

    // Warm-up: the first task of its kind may grow kernel caches for good (a new slab page for task
    // objects, a page-table page of the kernel's own mappings, …). That is not a leak, so the baseline is
    // taken after one full cycle.
    spawn_and_reap(0);
    let before = free_pages();

    for cycle in 1..=cycles {
        spawn_and_reap(cycle);
    }
    let after = sys::settled_free_pages(before, SETTLE_TRIES)
        .unwrap_or_else(|e| fail!("spawnloop: kernel_info(MEMINFO): {e}"));
    println!("spawnloop: {cycles} cycles, free pages before {before} after {after}");
    if after != before {
        fail!("spawnloop: {} pages lost", before as i64 - after as i64);
    }
    0
}

/// One cycle: spawn `hello --quiet`, wait for it, expect exit code 0.
fn spawn_and_reap(cycle: u64) {
    let pid = sys::spawn("hello", &["--quiet"], None)
        .unwrap_or_else(|e| fail!("spawnloop: cycle {cycle}: spawn: {e}"));
    match sys::wait4(pid as i64, 0) {
        Ok((reaped, status))
            if reaped == pid && wait::if_exited(status) && wait::exit_status(status) == 0 => {}
        Ok((reaped, status)) => fail!("spawnloop: cycle {cycle}: pid {reaped} {}", WaitStatus(status)),
        Err(e) => fail!("spawnloop: cycle {cycle}: wait4: {e}"),
    }
}

fn free_pages() -> u64 {
    sys::meminfo().unwrap_or_else(|e| fail!("spawnloop: kernel_info(MEMINFO): {e}")).free_pages
}
