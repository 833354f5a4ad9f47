//! `init [PROGRAM ARGS…]`: the first task (pid 1). Starts the memory server memd, the OOM service oomd
//! and the memory-group service limitd, waiting until each has registered, then runs PROGRAM (the kernel's `init=PROGRAM`) with its arguments, reaps every child that
//! ends meanwhile (orphans are adopted by pid 1), reports how PROGRAM ended as
//! `init: PROGRAM (pid N) exited with code C` / `… killed by signal S` and the kernel's free-page count
//! before and after it (`init: free pages before PROGRAM X, after Y`: equal when nothing leaked), and
//! exits with PROGRAM's code — which the kernel turns into the run's verdict when init ends.
//!
//! Without a PROGRAM, init runs the shell (`sh`) on the console and starts a new one whenever it exits.
#![no_std]
#![no_main]
#![deny(unsafe_code)]

use abi::{cap, wait};
use userland::sys::{self, WaitStatus, ipc};
use userland::{Args, println};

userland::entry!(main);

/// memd runs above every ordinary task: a page-fault-free server that answers brk/mmap quickly.
const MEMD_PRIORITY: u32 = 40;
/// oomd runs just below memd: when memory runs out it must get the processor before any hog.
const OOMD_PRIORITY: u32 = 39;
/// limitd answers the shell's and programs' group files; above ordinary tasks, below the memory servers.
const LIMITD_PRIORITY: u32 = 38;
/// Bit a server signals on the notification once it is registered.
const READY: u64 = 1;

fn main(args: &Args) -> i32 {
    start_server("memd", "serving memory requests", MEMD_PRIORITY, cap::VM | cap::VM_OTHER);
    start_server("oomd", "handling out-of-memory events", OOMD_PRIORITY, cap::KILL);
    start_server("limitd", "serving the memory groups in /sys/fs/cgroup", LIMITD_PRIORITY, cap::GROUP);
    let Some(program) = args.get(1) else {
        run_shell();
    };
    let rest: heapless_args::List = heapless_args::collect(args);
    // The free-page count before and after the program: everything it used must come back.
    let (before, slab_before) = sys::meminfo().map(|m| (m.free_pages, m.slab_pages)).unwrap_or((0, 0));
    let attr = sys::spawn_attr(0, cap::ALL, &[]);
    let pid = match sys::spawn(program, rest.as_slice(), Some(&attr)) {
        Ok(pid) => pid,
        Err(e) => {
            println!("init: cannot run {program}: {e}");
            return 127;
        }
    };
    loop {
        match sys::wait4(-1, 0) {
            Ok((child, status)) if child == pid => {
                println!("init: {program} (pid {pid}) {}", WaitStatus(status));
                let (after, slab_after) =
                    sys::meminfo().map(|m| (m.free_pages, m.slab_pages)).unwrap_or((0, 0));
                println!("init: free pages before {program} {before}, after {after}");
                println!("init: slab pages before {program} {slab_before}, after {slab_after}");
                return if wait::if_exited(status) {
                    i32::from(wait::exit_status(status))
                } else {
                    128 + i32::from(wait::term_sig(status))
                };
            }
            Ok(_) => {}
            Err(e) => {
                println!("init: wait4: {e}");
                return 1;
            }
        }
    }
}

/// Without a program: the shell on the console, started again whenever it exits; other children are
/// reaped as they end.
fn run_shell() -> ! {
    loop {
        let attr = sys::spawn_attr(0, cap::ALL, &[]);
        let shell = match sys::spawn("sh", &[], Some(&attr)) {
            Ok(pid) => pid,
            Err(e) => {
                println!("init: cannot start the shell: {e}; idling");
                loop {
                    if sys::wait4(-1, 0).is_err() {
                        let _ = sys::sleep_ms(1000);
                    }
                }
            }
        };
        loop {
            match sys::wait4(-1, 0) {
                Ok((child, status)) if child == shell => {
                    println!("init: shell (pid {shell}) {}; starting a new one", WaitStatus(status));
                    break;
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
    }
}

/// Starts a server with the capabilities it needs and waits for its "registered" signal.
fn start_server(name: &str, what: &str, priority: u32, caps: u32) {
    let ready = match ipc::notify_create() {
        Ok(handle) => handle,
        Err(e) => {
            println!("init: notify_create: {e}; {name} not started");
            return;
        }
    };
    let attr = sys::spawn_attr(priority, caps, &[ready]);
    match sys::spawn(name, &[], Some(&attr)) {
        Ok(pid) => match ipc::notify_wait(ready) {
            Ok(bits) if bits & READY != 0 => println!("init: {name} (pid {pid}) is {what}"),
            other => println!("init: {name} did not come up: {other:?}"),
        },
        Err(e) => println!("init: cannot start {name}: {e}"),
    }
    let _ = ipc::handle_close(ready);
}

/// The program's arguments (argv[2..]) as a fixed-size list of string slices (no allocator here).
mod heapless_args {
    use userland::Args;

    const MAX: usize = 32;

    pub struct List {
        items: [&'static str; MAX],
        len: usize,
    }

    impl List {
        pub fn as_slice(&self) -> &[&'static str] {
            &self.items[..self.len]
        }
    }

    pub fn collect(args: &Args) -> List {
        let mut list = List { items: [""; MAX], len: 0 };
        for arg in args.iter().skip(2).take(MAX) {
            list.items[list.len] = arg;
            list.len += 1;
        }
        list
    }
}
