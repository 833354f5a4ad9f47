//! `fragmentation` (seed 000 §22–§24): what freeing every other page does to the buddy allocator.
//! Prints /proc/buddyinfo, touches 32 MiB, frees every second page of it (munmap of single pages), prints
//! buddyinfo again — the free memory now sits in order-0 blocks that cannot merge — then frees the rest
//! and shows the blocks merged back.
#![no_std]
#![no_main]

use abi::mman::{MAP_ANONYMOUS, MAP_PRIVATE};
use abi::{proc_text, prot};
use userland::sys;
use userland::{Args, fail, println};

userland::entry!(main);

const SIZE: u64 = 32 << 20;

/// Prints buddyinfo and returns the free order-0 blocks of the last zone line.
fn buddyinfo(when: &str) -> u64 {
    let mut page = [0u8; 4096];
    let n = sys::proc_text(proc_text::BUDDYINFO, &mut page, 0).unwrap_or_else(|e| fail!("buddyinfo: {e}"));
    let text = core::str::from_utf8(&page[..n as usize]).unwrap_or("");
    println!("fragmentation: /proc/buddyinfo {when}:");
    let mut order0 = 0;
    for line in text.lines() {
        println!("  {line}");
        if let Some(counts) = line.split("zone").nth(1) {
            order0 += counts.split_whitespace().nth(1).and_then(|c| c.parse::<u64>().ok()).unwrap_or(0);
        }
    }
    order0
}

fn main(_args: &Args) -> i32 {
    let before = buddyinfo("before");
    let addr = sys::mmap(0, SIZE, prot::READ | prot::WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        .unwrap_or_else(|e| fail!("fragmentation: mmap: {e}"));
    for page in (0..SIZE).step_by(4096) {
        // SAFETY: inside the mapping just made.
        unsafe { ((addr + page) as *mut u8).write_volatile(1) };
    }
    for page in (0..SIZE).step_by(8192) {
        // SAFETY: the page holds nothing Rust uses.
        let _ = unsafe { sys::munmap(addr + page, 4096) };
    }
    let holes = buddyinfo("after freeing every other page of 32 MiB");
    for page in (4096..SIZE).step_by(8192) {
        // SAFETY: as above.
        let _ = unsafe { sys::munmap(addr + page, 4096) };
    }
    let after = buddyinfo("after freeing the rest");
    println!("fragmentation: free order-0 blocks {before} before, {holes} with the holes, {after} after");
    if holes < before + 2048 {
        fail!("fragmentation: the holes did not show up as order-0 blocks");
    }
    0
}
