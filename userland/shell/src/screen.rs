//! `memmap` on the screen: the text picture (serial and screen), and when the kernel has a framebuffer,
//! its coloured picture of every page frame at the top of the screen (`console_ctl`); `--watch` redraws
//! it twice a second until a key is pressed (or for N seconds), so a demo running in the background
//! (`oom_hog &`, `fragmentation &`) can be watched; `memmap off` gives the screen back to the text.

use abi::console_op::{MEMMAP_HIDE, MEMMAP_SHOW};
use abi::proc_text;
use libc_rs::println;
use libc_rs::procfs::Source;
use libc_rs::sys;
use libc_rs::time::Timespec;

/// Redraw period of `--watch`.
const WATCH_PERIOD_MS: i64 = 500;

fn console_ctl(op: u64) -> i64 {
    // SAFETY: console_ctl takes one number and touches no memory of ours.
    unsafe { libc_rs::syscall::syscall1(abi::nr::CONSOLE_CTL, op) as i64 }
}

pub fn memmap(args: &[&str]) {
    match args {
        [] => {
            crate::commands::print_source(Source::Kernel(proc_text::MEMMAP), "memmap");
            // The picture too when there is a screen; without one the text is all there is.
            let _ = console_ctl(MEMMAP_SHOW);
        }
        ["off"] => {
            let _ = console_ctl(MEMMAP_HIDE);
        }
        ["--watch"] | ["--watch", _] => {
            let seconds = args.get(1).and_then(|s| s.parse::<i64>().ok());
            if seconds.is_none() && args.len() == 2 {
                println!("memmap: --watch takes a number of seconds");
                return;
            }
            watch(seconds);
        }
        _ => println!("memmap: usage: memmap [--watch [SECONDS] | off]"),
    }
}

fn watch(seconds: Option<i64>) {
    let rounds = seconds.map(|s| (s.max(0) * 1000 / WATCH_PERIOD_MS).max(1));
    if console_ctl(MEMMAP_SHOW) < 0 {
        println!("memmap: no graphical screen; the text picture instead");
        crate::commands::print_source(Source::Kernel(proc_text::MEMMAP), "memmap");
        return;
    }
    match seconds {
        Some(s) => println!("memmap: redrawing every {WATCH_PERIOD_MS} ms for {s} s (a key stops it)"),
        None => println!("memmap: redrawing every {WATCH_PERIOD_MS} ms; press a key to stop"),
    }
    libc_rs::stdio::flush_all();
    let mut round = 0;
    loop {
        let pause = Timespec { tv_sec: 0, tv_nsec: WATCH_PERIOD_MS * 1_000_000 };
        let _ = sys::nanosleep(&pause);
        let waiting = console_ctl(MEMMAP_SHOW);
        round += 1;
        if waiting != 0 || rounds.is_some_and(|r| round >= r) {
            break;
        }
    }
    crate::commands::print_source(Source::Kernel(proc_text::MEMMAP), "memmap");
}
