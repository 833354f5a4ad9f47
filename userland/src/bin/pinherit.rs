//! `pinherit`: priority inheritance across an IPC call. A low-priority server (5) must not be starved by
//! a medium-priority busy task (15) while it works for a high-priority client (20, this task).
//!
//! Setup: the server blocks in `ipc_recv`; the hog spins for `HOG_MS` on its own CPU time. The client then
//! calls the server. With inheritance the server runs at the client's priority as soon as it holds the
//! request, replies at once (reporting the priority it ran at, from `task_info`), and the hog is still
//! running when the reply arrives. Without inheritance the hog (15) would run first to completion,
//! and the server (5) would answer only after it ended.
#![no_std]
#![no_main]
#![deny(unsafe_code)]

use userland::sys::{self, ipc};
use userland::{Args, fail, println};

userland::entry!(main);

const HOG_MS: u64 = 300;

fn main(args: &Args) -> i32 {
    match args.get(1) {
        Some("server") => server(),
        Some("hog") => hog(),
        _ => client(),
    }
}

/// Answers one request with the priority it runs at, then exits.
fn server() -> i32 {
    let endpoint = 1;
    if let Err(e) = ipc::ipc_recv(endpoint, None) {
        fail!("pinherit server: recv: {e}");
    }
    let running_at = sys::task_info(0).map_or(0, |info| info.priority);
    if let Err(e) = ipc::ipc_reply(0, [running_at, 0, 0, 0], None) {
        fail!("pinherit server: reply: {e}");
    }
    0
}

/// Burns `HOG_MS` of time without blocking.
fn hog() -> i32 {
    let khz = sys::tsc_khz().unwrap_or(1_000_000).max(1);
    let end = sys::rdtsc() + HOG_MS * khz;
    while sys::rdtsc() < end {
        core::hint::spin_loop();
    }
    0
}

fn client() -> i32 {
    if let Err(e) = sys::set_priority(0, 20) {
        fail!("pinherit: set_priority(20): {e}");
    }
    let endpoint = ipc::endpoint_create().unwrap_or_else(|e| fail!("pinherit: endpoint_create: {e}"));
    let server_attr = sys::spawn_attr(5, 0, &[endpoint]);
    let server = sys::spawn("pinherit", &["server"], Some(&server_attr))
        .unwrap_or_else(|e| fail!("pinherit: spawn server: {e}"));
    // Let the low-priority server reach its ipc_recv (this task sleeps; nothing else is ready).
    let _ = sys::sleep_ms(20);
    let hog = sys::spawn("pinherit", &["hog"], Some(&sys::spawn_attr(15, 0, &[])))
        .unwrap_or_else(|e| fail!("pinherit: spawn hog: {e}"));
    let reply = ipc::ipc_call(endpoint, [1, 0, 0, 0], None).unwrap_or_else(|e| fail!("pinherit: call: {e}"));
    let hog_done = matches!(sys::wait4(hog as i64, abi::wait::WNOHANG), Ok((pid, _)) if pid == hog);
    println!(
        "pinherit: server (base priority 5) ran at priority {} for a priority-20 client",
        reply.words[0]
    );
    println!("pinherit: medium-priority hog still running when the reply came: {}", !hog_done);
    let _ = sys::wait4(server as i64, 0);
    let _ = sys::wait4(hog as i64, 0);
    if reply.words[0] != 20 || hog_done {
        fail!(
            "pinherit: no priority inheritance (server priority {}, hog finished first: {hog_done})",
            reply.words[0]
        );
    }
    println!("pinherit: ok");
    0
}
