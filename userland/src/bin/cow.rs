//! `cow`: copy-on-write of program pages. A program's initialized data lives in its module's frames,
//! which the loader maps read-only into every task running it; the first write to such a page faults
//! and gives the writer its own copy (seed 000 §16–§17: demand paging, COW).
//!
//! The parent writes a new pattern over three pages of initialized data (`DATA`, file-backed because it
//! is not zero) and checks it reads back and that the writes faulted (task_info's minor faults rose by
//! at least three, and anonymous pages replaced image pages). Then a child running the same program
//! reads `DATA` and must still see the original pattern: the module's frames were never written.
#![no_std]
#![no_main]

use core::ptr::{addr_of, addr_of_mut};

use userland::sys;
use userland::{Args, fail, println};

userland::entry!(main);

const PAGES: usize = 3;
const ORIGINAL: u8 = 0x5a;
const WRITTEN: u8 = 0xa5;

/// Page-aligned, non-zero initialized data: it lands in the file (`.data`), whole pages of it.
#[repr(C, align(4096))]
struct Pages([u8; PAGES * 4096]);

static mut DATA: Pages = Pages([ORIGINAL; PAGES * 4096]);

fn read(index: usize) -> u8 {
    // SAFETY: single-threaded program; a volatile read of an in-bounds byte of `DATA`.
    unsafe { addr_of!(DATA.0[index]).read_volatile() }
}

fn write(index: usize, value: u8) {
    // SAFETY: as `read`; the static is writable (.data).
    unsafe { addr_of_mut!(DATA.0[index]).write_volatile(value) }
}

fn main(args: &Args) -> i32 {
    if args.get(1) == Some("check") {
        let untouched = (0..PAGES * 4096).all(|i| read(i) == ORIGINAL);
        println!("cow child: DATA still holds the original pattern: {untouched}");
        return if untouched { 0 } else { 1 };
    }
    let before = sys::task_info(0).unwrap_or_else(|e| fail!("cow: task_info: {e}"));
    if (0..PAGES * 4096).any(|i| read(i) != ORIGINAL) {
        fail!("cow: DATA does not hold its initial pattern");
    }
    for page in 0..PAGES {
        for i in 0..4096 {
            write(page * 4096 + i, WRITTEN);
        }
    }
    let after = sys::task_info(0).unwrap_or_else(|e| fail!("cow: task_info: {e}"));
    let copied = (0..PAGES * 4096).all(|i| read(i) == WRITTEN);
    let faults = after.minor_faults - before.minor_faults;
    println!(
        "cow: wrote {PAGES} pages of initialized data: reads back {copied}, {faults} copy-on-write faults"
    );
    if !copied || faults < PAGES as u64 {
        fail!("cow: the writes did not go through private copies");
    }
    let child = sys::spawn("cow", &["check"], None).unwrap_or_else(|e| fail!("cow: spawn: {e}"));
    match sys::wait4(child as i64, 0) {
        Ok((_, status)) if abi::wait::if_exited(status) && abi::wait::exit_status(status) == 0 => {}
        other => fail!("cow: the child saw modified data or failed: {other:?}"),
    }
    println!("cow: ok");
    0
}
