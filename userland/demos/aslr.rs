//! `aslr`: where the stack, the heap (brk) and mmap land, in two runs of the same program. With
//! `randomize_va_space=2` (the default) all three move between runs; with 1 the heap stays and the
//! stack and mmap base move; with 0 nothing moves (seed 000 §4, Linux's randomize_va_space).
#![no_std]
#![no_main]

use abi::mman::{MAP_ANONYMOUS, MAP_PRIVATE};
use abi::{kinfo, prot};
use userland::sys::{self, ipc};
use userland::{Args, fail, println};

userland::entry!(main);

fn main(args: &Args) -> i32 {
    if args.get(1) == Some("child") {
        return child();
    }
    let mut level = [0u8; 8];
    let _ = sys::kernel_info(kinfo::RANDOMIZE_VA_SPACE, &mut level);
    let level = u64::from_le_bytes(level);
    let endpoint = ipc::endpoint_create().unwrap_or_else(|e| fail!("aslr: endpoint_create: {e}"));
    let mut runs = [[0u64; 3]; 2];
    for run in &mut runs {
        let attr = sys::spawn_attr(0, 0, &[endpoint]);
        let pid = sys::spawn("aslr", &["child"], Some(&attr)).unwrap_or_else(|e| fail!("aslr: spawn: {e}"));
        let message = ipc::ipc_recv(endpoint, None).unwrap_or_else(|e| fail!("aslr: recv: {e}"));
        run.copy_from_slice(&message.words[..3]);
        let _ = sys::wait4(pid as i64, 0);
    }
    for (name, i) in [("stack", 0), ("heap ", 1), ("mmap ", 2)] {
        println!("aslr: {name} {:#014x} then {:#014x}", runs[0][i], runs[1][i]);
    }
    let moved = |i: usize| runs[0][i] != runs[1][i];
    let expected = match level {
        0 => [false, false, false],
        1 => [true, false, true],
        _ => [true, true, true],
    };
    let observed = [moved(0), moved(1), moved(2)];
    println!(
        "aslr: randomize_va_space={level}: moved stack {}, heap {}, mmap {}",
        observed[0], observed[1], observed[2]
    );
    if observed != expected {
        fail!("aslr: expected moved = {expected:?}");
    }
    0
}

/// Reports a stack address, the start of the heap and a fresh mapping's address to the parent.
fn child() -> i32 {
    let local = 0u64;
    let stack = core::hint::black_box(&local) as *const u64 as u64;
    let heap = sys::brk(0).unwrap_or(0);
    let mapping =
        sys::mmap(0, 4096, prot::READ | prot::WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0).unwrap_or(0);
    let _ = ipc::ipc_send(1, [stack & !0xfff, heap, mapping, 0], None);
    0
}
