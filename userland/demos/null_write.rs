//! `null_write` (seed 004 §4.2): writes to address 0. Nothing is mapped in the first 64 KiB of any
//! address space, so the write faults and the kernel kills the process with a segfault report; the
//! line after the write is never printed.
#![no_std]
#![no_main]

use userland::{Args, println};

userland::entry!(main);

fn main(_args: &Args) -> i32 {
    println!("before invalid access");
    let null = core::ptr::null_mut::<i32>();
    // SAFETY: deliberately invalid — the point of the demo: the kernel must stop the process here.
    unsafe { core::ptr::write_volatile(null, 0) };
    println!("after invalid access");
    0
}
