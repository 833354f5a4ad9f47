//! `oom_hog [MS]` (seed 004 §2): allocates and touches memory 1 MiB at a time until the OOM killer (oomd,
//! or the kernel's) ends it. Everything else — init, the services, the shell — lives on, and the hog's
//! memory comes back. With MS it pauses MS milliseconds after each MiB, so memory fills slowly enough
//! to watch (`oom_hog 10 &` then `memmap --watch`).
#![no_std]
#![no_main]

use abi::mman::{MAP_ANONYMOUS, MAP_PRIVATE};
use abi::prot;
use userland::sys;
use userland::{Args, println};

userland::entry!(main);

const CHUNK: u64 = 1 << 20;

fn main(args: &Args) -> i32 {
    let pause_ms = match args.get(1).map(str::parse::<u64>) {
        None => 0,
        Some(Ok(ms)) => ms,
        Some(Err(_)) => {
            println!("oom_hog: usage: oom_hog [MILLISECONDS TO PAUSE AFTER EACH MiB]");
            return 2;
        }
    };
    let mut total = 0u64;
    loop {
        let Ok(addr) = sys::mmap(0, CHUNK, prot::READ | prot::WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        else {
            println!("oom_hog: mmap refused after {} MiB", total >> 20);
            return 1;
        };
        for page in (0..CHUNK).step_by(4096) {
            // SAFETY: inside the mapping just made.
            unsafe { ((addr + page) as *mut u8).write_volatile(1) };
        }
        total += CHUNK;
        if pause_ms > 0 {
            let _ = sys::sleep_ms(pause_ms);
        }
        if total.is_multiple_of(32 << 20) {
            println!("oom_hog: {} MiB touched", total >> 20);
        }
    }
}
