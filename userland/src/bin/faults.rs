//! `faults`: runs each `fault KIND` as a child and checks that the kernel killed it with SIGSEGV
//! (`abi::wait::term_sig(status) == 11`), then that a normal exit code comes through (`hello --exit 7`).
//! Exit 0 when every check held.
#![no_std]
#![no_main]
#![deny(unsafe_code)]

use abi::signal::SIGSEGV;
use abi::wait;
use userland::sys::{self, WaitStatus};
use userland::{Args, Errno, println};

userland::entry!(main);

const KINDS: [&str; 5] = ["null", "text", "stack", "kernel", "exec_data"];

/// Spawns `name args` with default attributes and waits for it; returns its wait status.
fn run(name: &str, args: &[&str]) -> Result<i32, userland::Errno> {
    let pid = sys::spawn(name, args, None)?;
    let (reaped, status) = sys::wait4(pid as i64, 0)?;
    if reaped != pid {
        println!("faults: wait4({pid}) returned pid {reaped}");
        return Err(userland::Errno::ECHILD);
    }
    Ok(status)
}

fn main(_args: &Args) -> i32 {
    let mut failures = 0;
    for kind in KINDS {
        match run("fault", &[kind]) {
            Ok(status) if !wait::if_exited(status) && u64::from(wait::term_sig(status)) == SIGSEGV => {
                println!("fault {kind}: killed by signal {SIGSEGV} (ok)");
            }
            Ok(status) => {
                println!("FAIL: fault {kind}: {} (expected killed by signal {SIGSEGV})", WaitStatus(status));
                failures += 1;
            }
            Err(error) => {
                println!("FAIL: fault {kind}: spawn/wait4 failed: {error}");
                failures += 1;
            }
        }
    }
    match run("hello", &["--exit", "7"]) {
        Ok(status) if wait::if_exited(status) && wait::exit_status(status) == 7 => {
            println!("hello --exit 7: exited with code 7 (ok)");
        }
        Ok(status) => {
            println!("FAIL: hello --exit 7: {} (expected exited with code 7)", WaitStatus(status));
            failures += 1;
        }
        Err(error) => {
            println!("FAIL: hello --exit 7: spawn/wait4 failed: {error}");
            failures += 1;
        }
    }
    // A module that is not an ELF executable (the kernel's symbol table) and one that does not exist: the
    // loader refuses them with ENOEXEC / ENOENT and the caller lives on.
    for (name, expected) in [("ksyms", Errno::ENOEXEC), ("no-such-program", Errno::ENOENT)] {
        match sys::spawn(name, &[], None) {
            Err(error) if error == expected => println!("spawn {name}: refused with {error} (ok)"),
            other => {
                println!("FAIL: spawn {name}: {other:?} (expected {expected})");
                failures += 1;
            }
        }
    }
    println!("faults: {} of {} checks failed", failures, KINDS.len() + 3);
    i32::from(failures != 0)
}
