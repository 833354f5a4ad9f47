//! `prio [RR_MS]`: checks that the scheduler runs the most urgent task first and time-slices equals.
//! Assumes one CPU (QEMU's default): with two, a low-priority child could run beside the parent.
//!
//! Part 1, preemption order. The parent raises itself to priority 20 (it needs `cap::SCHED` for that: as
//! init it holds every capability) and spawns `prio child P` for P = 30, 25, 10, in that order. A child
//! signals bit `1 << P` on the notification it gets as handle 1 and exits. Expected, step by step:
//! - spawn(30): the new child is more urgent than the parent, so it preempts the parent at once and runs to
//!   its exit before `spawn` returns: afterwards the notification holds exactly bit 30 and the child is
//!   already reapable (`wait4(WNOHANG)` returns its pid);
//! - spawn(25): the same, bit 25;
//! - spawn(10): less urgent than the parent, which stays runnable: the child has not run when `spawn`
//!   returns (no bit, `wait4(WNOHANG)` returns 0). Only when the parent blocks in `wait4` does it run.
//!
//! So the completion order is 30, 25, 10. (Spawning a child above oneself needs `cap::SCHED` of the
//! *spawner*; the children themselves need no capability and get none.)
//!
//! Part 2, round robin. Two children `prio rr A|B MS` at priority 10 (below the parent, so neither starts
//! before the parent blocks in `wait4`) each burn MS milliseconds (default 50) of their own CPU time on
//! rdtsc, i.e. several time slices. Every millisecond of progress a child signals the *peer's*
//! notification and polls its own. Without time slicing the first child would run to its end before the
//! second ever ran and would never see the peer's progress; so each child requires that it saw the
//! peer's progress before finishing (exit 0) and the parent requires both to exit 0.
#![no_std]
#![no_main]
#![deny(unsafe_code)]

use abi::wait::{self, WNOHANG};
use userland::sys::{self, Handle, WaitStatus};
use userland::{Args, Decimal, fail, println};

userland::entry!(main);

const PARENT_PRIORITY: u32 = 20;
/// Part 1's children, in spawn order.
const CHILD_PRIORITIES: [u32; 3] = [30, 25, 10];
/// Part 2's children's priority (below the parent's).
const ROUND_ROBIN_PRIORITY: u32 = 10;
const DEFAULT_ROUND_ROBIN_MS: u64 = 50;

fn main(args: &Args) -> i32 {
    match args.get(1) {
        Some("child") => preemption_child(args),
        Some("rr") => round_robin_child(args),
        _ => parent(args),
    }
}

fn parent(args: &Args) -> i32 {
    let work_ms = args.get_u64(1).unwrap_or(DEFAULT_ROUND_ROBIN_MS);
    sys::set_priority(0, PARENT_PRIORITY).unwrap_or_else(|e| fail!("prio: set_priority(0, 20): {e}"));
    let report = sys::notify_create().unwrap_or_else(|e| fail!("prio: notify_create: {e}"));

    // Part 1: the children's priorities in the order we saw them complete.
    let mut order = [0u32; 3];
    let mut completed = 0;
    for priority in CHILD_PRIORITIES {
        let attr = sys::spawn_attr(priority, 0, &[report]);
        let pid = sys::spawn("prio", &["child", Decimal::new(u64::from(priority)).as_str()], Some(&attr))
            .unwrap_or_else(|e| fail!("prio: spawn(priority {priority}): {e}"));
        let bits = sys::notify_poll(report).unwrap_or_else(|e| fail!("prio: notify_poll: {e}"));
        let (reaped, status) = sys::wait4(pid as i64, WNOHANG).unwrap_or_else(|e| fail!("prio: wait4: {e}"));
        println!(
            "prio: spawn(priority {priority}) returned: report bits {bits:#x}, child ended: {}",
            reaped == pid
        );
        if priority > PARENT_PRIORITY {
            if bits != 1 << priority || reaped != pid {
                fail!("prio: priority {priority} child did not run to its end before spawn returned");
            }
            if !wait::if_exited(status) || wait::exit_status(status) != 0 {
                fail!("prio: priority {priority} child {}", WaitStatus(status));
            }
            order[completed] = priority;
            completed += 1;
        } else if bits != 0 || reaped != 0 {
            fail!(
                "prio: priority {priority} child ran while the priority {PARENT_PRIORITY} parent was runnable"
            );
        } else {
            let (_, status) = sys::wait4(pid as i64, 0).unwrap_or_else(|e| fail!("prio: wait4: {e}"));
            let bits = sys::notify_poll(report).unwrap_or_else(|e| fail!("prio: notify_poll: {e}"));
            if !wait::if_exited(status) || wait::exit_status(status) != 0 || bits != 1 << priority {
                fail!("prio: priority {priority} child: {}, report bits {bits:#x}", WaitStatus(status));
            }
            order[completed] = priority;
            completed += 1;
        }
    }
    println!("prio: completion order {} {} {} (expected 30 25 10)", order[0], order[1], order[2]);
    if order != [30, 25, 10] {
        fail!("prio: wrong completion order");
    }

    // Part 2: round robin between two equals.
    let first = sys::notify_create().unwrap_or_else(|e| fail!("prio: notify_create: {e}"));
    let second = sys::notify_create().unwrap_or_else(|e| fail!("prio: notify_create: {e}"));
    let ms = Decimal::new(work_ms);
    let mut pids = [0; 2];
    for (slot, (name, own, peer)) in pids.iter_mut().zip([("A", first, second), ("B", second, first)]) {
        let attr = sys::spawn_attr(ROUND_ROBIN_PRIORITY, 0, &[own, peer]);
        *slot = sys::spawn("prio", &["rr", name, ms.as_str()], Some(&attr))
            .unwrap_or_else(|e| fail!("prio: spawn(rr {name}): {e}"));
    }
    for pid in pids {
        match sys::wait4(pid as i64, 0) {
            Ok((_, status)) if wait::if_exited(status) && wait::exit_status(status) == 0 => {}
            Ok((_, status)) => {
                fail!("prio: round-robin child {pid}: {} (no interleaving seen)", WaitStatus(status))
            }
            Err(e) => fail!("prio: wait4: {e}"),
        }
    }
    println!("prio: round robin: both children made progress before either finished (ok)");
    println!("prio: ok");
    0
}

/// `prio child PRIORITY`: reports on handle 1 and exits.
fn preemption_child(args: &Args) -> i32 {
    const REPORT: Handle = 1;
    let priority = args.get_u64(2).unwrap_or_else(|| fail!("prio child: missing priority"));
    let actual =
        sys::task_info(0).map(|info| info.priority).unwrap_or_else(|e| fail!("prio child: task_info: {e}"));
    println!("prio child: running at priority {actual}");
    if actual != priority {
        fail!("prio child: priority {actual}, expected {priority}");
    }
    sys::notify_signal(REPORT, 1 << priority).unwrap_or_else(|e| fail!("prio child: notify_signal: {e}"));
    0
}

/// `prio rr NAME MS`: burns MS ms of CPU time, signalling the peer (handle 2) every ms and polling its
/// own notification (handle 1) for the peer's progress.
fn round_robin_child(args: &Args) -> i32 {
    const OWN: Handle = 1;
    const PEER: Handle = 2;
    let name = args.get(2).unwrap_or("?");
    let work_ms = args.get_u64(3).unwrap_or(DEFAULT_ROUND_ROBIN_MS);
    let khz = sys::tsc_khz().unwrap_or_else(|e| fail!("prio rr {name}: kernel_info(TSC_KHZ): {e}"));
    // A jump of the TSC larger than half a millisecond between two reads means we were not running.
    let gap_ticks = khz / 2;
    let (mut worked, mut next_step, mut last) = (0, khz, sys::rdtsc());
    let (mut steps, mut peer_seen, mut gaps) = (0u64, 0u64, 0u64);
    while worked < work_ms * khz {
        let now = sys::rdtsc();
        let delta = now.wrapping_sub(last);
        last = now;
        if delta > gap_ticks {
            gaps += 1;
        } else {
            worked += delta;
        }
        if worked >= next_step {
            next_step += khz;
            steps += 1;
            sys::notify_signal(PEER, 1).unwrap_or_else(|e| fail!("prio rr {name}: notify_signal: {e}"));
            if sys::notify_poll(OWN).unwrap_or_else(|e| fail!("prio rr {name}: notify_poll: {e}")) != 0 {
                peer_seen += 1;
            }
        }
    }
    println!(
        "prio rr {name}: {steps} ms of work, saw the peer's progress in {peer_seen} of them, {gaps} gaps"
    );
    if peer_seen == 0 {
        fail!("prio rr {name}: finished without seeing the peer run: no time slicing");
    }
    0
}
