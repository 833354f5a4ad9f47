//! `eperm`: privileged calls are refused to a task without capabilities (DESIGN §7), and allowed to one
//! with them.
//!
//! The parent (run as init: all capabilities) spawns `eperm child` with caps 0 and no handles. The child
//! tries, and expects:
//! - `vm_map` in its own space → EPERM (needs `cap::VM`);
//! - `vm_map` in the parent's space → EPERM (needs `cap::VM` + `cap::VM_OTHER`);
//! - `kill(parent, SIGKILL)` → EPERM (needs `cap::KILL`: the parent is not a descendant);
//! - `set_priority(0, PRIORITY_MAX)` → EPERM (above its own priority needs `cap::SCHED`);
//! - `set_priority(parent, 1)` → EPERM (neither itself nor its child);
//! - `ipc_call(1)` → EBADF (it was given no handles);
//! - `spawn` asking caps ALL → EPERM (a child gets at most its parent's capabilities).
//!
//! It exits 0 when all were refused. The parent checks that exit status, then that it can do the same
//! things: map, touch and unmap memory, and kill its own child (`eperm sleeper`, asleep for 10 s) with
//! SIGKILL, which `wait4` reports as killed by signal 9.
#![no_std]
#![no_main]

use abi::signal::SIGKILL;
use abi::{PRIORITY_MAX, cap, prot, wait};
use userland::sys::{self, WaitStatus};
use userland::{Args, Errno, fail, println};

userland::entry!(main);

const PAGE_BYTES: u64 = 4096;
const MAP_BYTES: u64 = 16 * PAGE_BYTES;

fn main(args: &Args) -> i32 {
    match args.get(1) {
        Some("child") => child(),
        Some("sleeper") => {
            let _ = sys::sleep_ms(10_000);
            fail!("eperm sleeper: woke up after 10 s: the kill did not arrive")
        }
        _ => parent(),
    }
}

fn parent() -> i32 {
    // 1. The unprivileged child.
    let attr = sys::spawn_attr(0, 0, &[]);
    let pid =
        sys::spawn("eperm", &["child"], Some(&attr)).unwrap_or_else(|e| fail!("eperm: spawn(child): {e}"));
    match sys::wait4(pid as i64, 0) {
        Ok((_, status)) if wait::if_exited(status) && wait::exit_status(status) == 0 => {
            println!("eperm: unprivileged child was refused everything (ok)");
        }
        Ok((_, status)) => fail!("eperm: child {}", WaitStatus(status)),
        Err(e) => fail!("eperm: wait4(child): {e}"),
    }

    // 2. With cap::VM the same vm_map works.
    let address = sys::vm_map(0, 0, MAP_BYTES, prot::READ | prot::WRITE, 0)
        .unwrap_or_else(|e| fail!("eperm: vm_map with cap VM: {e}"));
    for offset in (0..MAP_BYTES).step_by(PAGE_BYTES as usize) {
        let byte = (address + offset) as *mut u8;
        // SAFETY: the range [address, address + MAP_BYTES) was just mapped read-write for us and no Rust
        // object lives there.
        let value = unsafe {
            byte.write_volatile(0xa5);
            byte.read_volatile()
        };
        if value != 0xa5 {
            fail!("eperm: mapped page at {:#x} did not keep a byte", address + offset);
        }
    }
    // SAFETY: nothing refers to the range any more (the pointers above are dead).
    unsafe { sys::vm_unmap(0, address, MAP_BYTES) }.unwrap_or_else(|e| fail!("eperm: vm_unmap: {e}"));
    println!("eperm: vm_map/touch/vm_unmap of {MAP_BYTES} bytes at {address:#x} with cap VM (ok)");

    // 3. Killing one's own child: let it fall asleep first, so a blocked task is what gets killed.
    let sleeper =
        sys::spawn("eperm", &["sleeper"], None).unwrap_or_else(|e| fail!("eperm: spawn(sleeper): {e}"));
    let _ = sys::sleep_ms(20);
    sys::kill(sleeper as i64, SIGKILL).unwrap_or_else(|e| fail!("eperm: kill(sleeper, SIGKILL): {e}"));
    match sys::wait4(sleeper as i64, 0) {
        Ok((_, status)) if !wait::if_exited(status) && u64::from(wait::term_sig(status)) == SIGKILL => {
            println!("eperm: sleeper killed by signal {SIGKILL} (ok)");
        }
        Ok((_, status)) => {
            fail!("eperm: sleeper {}, expected killed by signal {SIGKILL}", WaitStatus(status))
        }
        Err(e) => fail!("eperm: wait4(sleeper): {e}"),
    }
    println!("eperm: ok");
    0
}

/// Tries every privileged call; exits 0 when each was refused with the expected error.
fn child() -> i32 {
    let parent = sys::getppid().unwrap_or_else(|e| fail!("eperm child: getppid: {e}"));
    let read_write = prot::READ | prot::WRITE;
    let attr_all = sys::spawn_attr(0, cap::ALL, &[]);
    let checks: [(&str, Result<u64, Errno>, Errno); 9] = [
        ("vm_map(self)", sys::vm_map(0, 0, PAGE_BYTES, read_write, 0), Errno::EPERM),
        ("vm_map(parent)", sys::vm_map(parent, 0, PAGE_BYTES, read_write, 0), Errno::EPERM),
        ("kill(parent, SIGKILL)", sys::kill(parent as i64, SIGKILL), Errno::EPERM),
        ("set_priority(self, PRIORITY_MAX)", sys::set_priority(0, PRIORITY_MAX), Errno::EPERM),
        ("set_priority(parent, 1)", sys::set_priority(parent, 1), Errno::EPERM),
        ("ipc_call(handle 1)", sys::ipc_call(1, [0; 4], None).map(|reply| reply.value), Errno::EBADF),
        ("spawn(hello, caps ALL)", sys::spawn("hello", &["--quiet"], Some(&attr_all)), Errno::EPERM),
        (
            "group_ctl(create /eperm)",
            sys::group_ctl(abi::group_op::CREATE, "/eperm", 0, "", "", &mut [], 0),
            Errno::EPERM,
        ),
        (
            "group_ctl(memory.max of the root)",
            sys::group_ctl(abi::group_op::WRITE, "/", 0, "memory.max", "1M", &mut [], 0),
            Errno::EPERM,
        ),
    ];
    let mut failures = 0;
    for (what, result, expected) in checks {
        match result {
            Err(errno) if errno == expected => println!("eperm child: {what} -> -{errno} (ok)"),
            other => {
                println!("FAIL: eperm child: {what} -> {other:?}, expected -{expected}");
                failures += 1;
            }
        }
    }
    i32::from(failures != 0)
}
