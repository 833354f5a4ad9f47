//! `memdkill`: what happens to memory calls when the memory server is gone. Kills memd (pid 2, started
//! by init; this program runs with init's capabilities), then checks that mmap and brk fail with ENOMEM
//! at once instead of waiting forever for an answer, and that the kernel said why.
#![no_std]
#![no_main]
#![deny(unsafe_code)]

use abi::mman::{MAP_ANONYMOUS, MAP_PRIVATE};
use abi::{prot, signal};
use userland::sys;
use userland::{Args, Errno, fail, println};

userland::entry!(main);

const MEMD_PID: i64 = 2;

fn main(_args: &Args) -> i32 {
    let before = sys::mmap(0, 4096, prot::READ | prot::WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    println!("memdkill: mmap with memd alive: {before:?}");
    if before.is_err() {
        fail!("memdkill: memd does not serve mmap");
    }
    if let Err(e) = sys::kill(MEMD_PID, signal::SIGKILL) {
        fail!("memdkill: kill(memd): {e}");
    }
    let after = sys::mmap(0, 4096, prot::READ | prot::WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    let brk = sys::brk(0);
    println!("memdkill: after killing memd: mmap {after:?}, brk {brk:?}");
    if after != Err(Errno::ENOMEM) || brk != Err(Errno::ENOMEM) {
        fail!("memdkill: expected ENOMEM without memd");
    }
    println!("memdkill: ok");
    0
}
