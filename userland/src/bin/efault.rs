//! `efault`: hands the kernel bad user pointers and checks it answers `-EFAULT` instead of faulting or
//! panicking (user memory is an allegation the kernel checks before use). It must survive all of them:
//! the last line is `efault: task still alive`. Exit 0 when every call gave the expected answer.
//!
//! Linux answers EFAULT for a buffer it cannot access, including a buffer that starts valid and runs off
//! into unmapped memory; we expect the same (no partial write of the valid prefix).
#![no_std]
#![no_main]

use abi::nr;
use core::fmt;
use userland::sys::{self, WaitStatus};
use userland::syscall::{syscall2, syscall3, syscall4};
use userland::{Args, Errno, println};

userland::entry!(main);

/// Start of the kernel half.
const KERNEL_HALF: u64 = 0xffff_8000_0000_0000;
/// The first non-canonical address above the user half.
const NON_CANONICAL: u64 = 0x0000_8000_0000_0000;
/// A user address nothing maps (far from the program at 0x200000 and from the stack below 0x7fff_ffff_e000).
const UNMAPPED_USER: u64 = 0x7000_0000_0000;
/// A small address inside the null trap (below `abi::layout::USER_MIN`).
const LOW: u64 = 0x1000;

/// Counts the checks that did not give the expected answer.
struct Checker {
    failures: u32,
}

impl Checker {
    /// Prints `what` with its result and counts it as failed unless it is `Err(expected)`.
    fn expect(&mut self, what: fmt::Arguments<'_>, result: Result<u64, Errno>, expected: Errno) {
        match result {
            Err(errno) if errno == expected => println!("efault: {what} -> -{errno} (ok)"),
            Err(errno) => self.fail(what, format_args!("-{errno}, expected -{expected}")),
            Ok(value) => self.fail(what, format_args!("{value}, expected -{expected}")),
        }
    }

    fn fail(&mut self, what: impl fmt::Display, detail: fmt::Arguments<'_>) {
        println!("FAIL: efault: {what} -> {detail}");
        self.failures += 1;
    }
}

/// `write(1, pointer, len)` with a pointer the kernel only reads.
fn write_raw(pointer: u64, len: u64) -> Result<u64, Errno> {
    // SAFETY: write only reads user memory, so no Rust object can change.
    Errno::result(unsafe { syscall3(nr::WRITE, 1, pointer, len) })
}

fn main(_args: &Args) -> i32 {
    let mut check = Checker { failures: 0 };

    // Control: valid buffers work, also at an odd (misaligned) address, so the EFAULTs below mean
    // something.
    let message = b"xefault: misaligned valid buffer written (ok)\n";
    match write_raw(message[1..].as_ptr() as u64, message.len() as u64 - 1) {
        Ok(written) if written == message.len() as u64 - 1 => {}
        other => check.fail("write(misaligned valid buffer)", format_args!("{other:?}")),
    }

    // write(2) with bad buffers.
    let stack_buffer = [b'#'; 64];
    let cases: [(&str, u64, u64); 9] = [
        ("write(NULL, 16)", 0, 16),
        ("write(0x1000, 16)", LOW, 16),
        ("write(kernel 0xffff800000000000, 16)", KERNEL_HALF, 16),
        ("write(kernel image 0xffffffff80000000, 16)", 0xffff_ffff_8000_0000, 16),
        ("write(non-canonical 0x800000000000, 16)", NON_CANONICAL, 16),
        ("write(unmapped 0x700000000000, 16)", UNMAPPED_USER, 16),
        ("write(stack buffer, 1<<40)", stack_buffer.as_ptr() as u64, 1 << 40),
        ("write(misaligned kernel 0xffff800000000003, 5)", KERNEL_HALF + 3, 5),
        ("write(0x7ffffffffffd, 8: crosses into non-canonical)", NON_CANONICAL - 3, 8),
    ];
    for (what, pointer, len) in cases {
        check.expect(format_args!("{what}"), write_raw(pointer, len), Errno::EFAULT);
    }

    // wait4 with a bad status pointer on a real child. Linux reaps the child and then fails to store
    // the status (the child is gone afterwards); a kernel that decodes arguments before acting keeps
    // it. Either is accepted: the next wait4 either collects it or says ECHILD.
    match sys::spawn("hello", &["--quiet"], None) {
        Ok(pid) => {
            // SAFETY: the status pointer is in the null trap, where no Rust object lives.
            let result = Errno::result(unsafe { syscall4(nr::WAIT4, pid, LOW, 0, 0) });
            check.expect(format_args!("wait4(child, status 0x1000)"), result, Errno::EFAULT);
            match sys::wait4(pid as i64, 0) {
                Ok((_, status)) => println!("efault: child still waitable after it: {}", WaitStatus(status)),
                Err(Errno::ECHILD) => println!("efault: child was reaped by the faulting wait4 (as Linux)"),
                Err(errno) => check.fail("wait4(child) afterwards", format_args!("-{errno}")),
            }
        }
        Err(errno) => check.fail("spawn(hello --quiet)", format_args!("-{errno}")),
    }

    // clock_gettime, nanosleep and kernel_info with bad buffers.
    for (what, pointer) in [("0x1000", LOW), ("kernel", KERNEL_HALF), ("non-canonical", NON_CANONICAL)] {
        // SAFETY: none of these addresses holds a Rust object, so whatever the kernel writes harms none.
        let result = Errno::result(unsafe { syscall2(nr::CLOCK_GETTIME, sys::CLOCK_MONOTONIC, pointer) });
        check.expect(format_args!("clock_gettime(MONOTONIC, {what})"), result, Errno::EFAULT);
        // SAFETY: as above; nanosleep only reads the request.
        let result = Errno::result(unsafe { syscall2(nr::NANOSLEEP, pointer, 0) });
        check.expect(format_args!("nanosleep({what})"), result, Errno::EFAULT);
        // SAFETY: as above.
        let result = Errno::result(unsafe {
            syscall3(nr::KERNEL_INFO, abi::kinfo::MEMINFO, pointer, size_of::<abi::MemInfo>() as u64)
        });
        check.expect(format_args!("kernel_info(MEMINFO, {what})"), result, Errno::EFAULT);
    }

    println!("efault: task still alive");
    if check.failures == 0 {
        println!("efault: all bad pointers refused with EFAULT");
        0
    } else {
        println!("FAIL: efault: {} checks failed", check.failures);
        1
    }
}
