//! `sysfuzz [CALLS] [SEED]` (default 100000 calls, seed 1): throws random syscalls with hostile arguments
//! at the kernel from unprivileged children and checks that the kernel survives and gives back every page.
//!
//! The parent spawns `sysfuzz child SEED_i COUNT_i` (caps 0, no handles) one after another, each making at
//! most `CALLS_PER_CHILD` calls, until the calls of children that finished add up to CALLS. A child may be
//! killed by what it did to itself (say `munmap` of its own stack): that is allowed and counted, and the
//! parent moves on; the kernel must not panic. The free page count after all children are reaped must
//! equal the one after the first (warm-up) child, which may grow kernel caches for good.
//!
//! A child draws syscall numbers from Linux's range 0..400, the native range 0x1000..0x1030 and all of
//! u64, and arguments from the classes in `random_argument`. It skips or defuses the calls that would end
//! it on purpose or block for long (see `defuse`), because those test nothing but the fuzzer's patience.
//! To reproduce a child: `init=sysfuzz child SEED COUNT`.
#![no_std]
#![no_main]

use abi::{nr, wait};
use userland::sys::{self, Timespec, WaitStatus};
use userland::syscall::syscall6;
use userland::{Args, Decimal, Errno, fail, println};

userland::entry!(main);

const DEFAULT_CALLS: u64 = 100_000;
const CALLS_PER_CHILD: u64 = 10_000;
const SETTLE_TRIES: u32 = 10;

/// The child's scratch buffer on its stack, which pointer arguments point into.
const SCRATCH_BYTES: usize = 8192;
/// Pointers stay this far from the scratch buffer's end, so that the fixed-size structures the kernel
/// writes (timespec, wait status, TaskInfo, MemInfo, a Linux rusage…) land inside it.
const SCRATCH_SLACK: u64 = 1024;

/// A handle number no task holds (replaces the handle of calls that could block).
const NO_HANDLE: u64 = u64::MAX;
/// What `nanosleep` gets instead of a scratch pointer (whose contents could mean hours): 100 µs.
static SHORT_SLEEP: Timespec = Timespec { tv_sec: 0, tv_nsec: 100_000 };

/// Linux calls that can block indefinitely: read, poll, pread64, readv, select, pause, accept, recvfrom,
/// recvmsg, semop, msgsnd, msgrcv, rt_sigtimedwait, rt_sigsuspend, futex, semtimedop, clock_nanosleep,
/// epoll_wait, mq_timedsend, mq_timedreceive, waitid, pselect6, ppoll, epoll_pwait, accept4, preadv,
/// recvmmsg, preadv2.
const LINUX_BLOCKING: [u64; 28] = [
    0, 7, 17, 19, 23, 34, 43, 45, 47, 65, 69, 70, 128, 130, 202, 220, 230, 232, 240, 241, 247, 270, 271, 281,
    288, 295, 299, 327,
];
/// Linux calls that end, replace or multiply the task, or signal it now or later: rt_sigreturn, alarm,
/// setitimer, clone, fork, vfork, execve, exit, ptrace, rt_sigqueueinfo, reboot, tkill, timer_create,
/// timer_settime, exit_group, tgkill, rt_tgsigqueueinfo, execveat, clone3. (kill is filtered by pid.)
const LINUX_ENDING: [u64; 19] =
    [15, 37, 38, 56, 57, 58, 59, 60, 101, 129, 169, 200, 222, 223, 231, 234, 297, 322, 435];
/// Native calls that multiply the task: a thread started at a random address faults, and a fatal signal
/// ends the whole process (as on Linux), so the child would die before making its calls.
const NATIVE_ENDING: [u64; 1] = [nr::THREAD_CREATE];
/// Native calls that block until another task acts.
const NATIVE_BLOCKING: [u64; 5] =
    [nr::IPC_SEND, nr::IPC_RECV, nr::IPC_CALL, nr::IPC_REPLY_RECV, nr::NOTIFY_WAIT];

fn main(args: &Args) -> i32 {
    match args.get(1) {
        Some("child") => child(args),
        _ => parent(args),
    }
}

/// How one child ended.
enum Outcome {
    /// Exited 0 after making its calls.
    Completed,
    /// Killed, or ended with a non-zero code (it may have wrecked its own memory).
    Died(i32),
}

fn parent(args: &Args) -> i32 {
    let calls = args.get_u64(1).unwrap_or(DEFAULT_CALLS);
    let seed = args.get_u64(2).unwrap_or(1);
    // Children that die count no calls; allow as many again plus a few before giving up.
    let max_children = calls.div_ceil(CALLS_PER_CHILD) * 2 + 8;
    let (mut children, mut killed, mut confirmed) = (0u64, 0u64, 0u64);
    let mut before = 0;
    while confirmed < calls || children == 0 {
        if children == max_children {
            fail!(
                "sysfuzz: {children} children but only {confirmed} of {calls} calls confirmed ({killed} died)"
            );
        }
        let count = CALLS_PER_CHILD.min(calls.saturating_sub(confirmed)).max(1);
        let child_seed = splitmix64(seed ^ children.wrapping_mul(0x9e37_79b9));
        match run_child(child_seed, count) {
            Outcome::Completed => confirmed += count,
            Outcome::Died(status) => {
                killed += 1;
                println!("sysfuzz: child with seed {child_seed} {} (allowed)", WaitStatus(status));
            }
        }
        if children == 0 {
            // Baseline after the warm-up child (see the module comment).
            before = free_pages();
        }
        children += 1;
    }
    let after = sys::settled_free_pages(before, SETTLE_TRIES)
        .unwrap_or_else(|e| fail!("sysfuzz: kernel_info(MEMINFO): {e}"));
    println!(
        "sysfuzz: {confirmed} calls in {children} children ({killed} killed), free pages before {before} \
         after {after}"
    );
    if after != before {
        fail!("sysfuzz: {} pages lost", before as i64 - after as i64);
    }
    0
}

/// Spawns one child without capabilities or handles and waits for it.
fn run_child(seed: u64, count: u64) -> Outcome {
    let attr = sys::spawn_attr(0, 0, &[]);
    let (seed_text, count_text) = (Decimal::new(seed), Decimal::new(count));
    let pid = sys::spawn("sysfuzz", &["child", seed_text.as_str(), count_text.as_str()], Some(&attr))
        .unwrap_or_else(|e| fail!("sysfuzz: spawn: {e}"));
    match sys::wait4(pid as i64, 0) {
        Ok((_, status)) if wait::if_exited(status) && wait::exit_status(status) == 0 => Outcome::Completed,
        Ok((_, status)) => Outcome::Died(status),
        Err(e) => fail!("sysfuzz: wait4({pid}): {e}"),
    }
}

fn free_pages() -> u64 {
    sys::meminfo().unwrap_or_else(|e| fail!("sysfuzz: kernel_info(MEMINFO): {e}")).free_pages
}

/// `sysfuzz child SEED COUNT`. The scratch buffer lives in this frame, above `fuzz`'s: should the kernel
/// write past its end, it hits only frames we never return through (we leave with `exit`).
fn child(args: &Args) -> i32 {
    let seed = args.get_u64(2).unwrap_or(1);
    let count = args.get_u64(3).unwrap_or(CALLS_PER_CHILD);
    let mut scratch = [0u8; SCRATCH_BYTES];
    let (made, errors) = fuzz(&mut scratch, seed, count);
    println!("sysfuzz child: {made} calls, {errors} errors (seed {seed})");
    sys::exit(0)
}

/// Makes `count` random calls; returns (calls made, calls that returned an error).
#[inline(never)]
fn fuzz(scratch: &mut [u8; SCRATCH_BYTES], seed: u64, count: u64) -> (u64, u64) {
    let own_pid = sys::getpid().unwrap_or(0);
    let mut random = XorShift(splitmix64(seed) | 1);
    for byte in scratch.iter_mut() {
        *byte = random.next() as u8;
    }
    let scratch_range = (scratch.as_mut_ptr() as u64, SCRATCH_BYTES as u64);
    let (mut made, mut errors) = (0, 0);
    while made < count {
        let number = random_number(&mut random);
        let mut arguments = [0u64; 6];
        for argument in &mut arguments {
            *argument = random_argument(&mut random, scratch_range);
        }
        if !defuse(number, &mut arguments, own_pid, scratch_range) {
            continue;
        }
        let [a0, a1, a2, a3, a4, a5] = arguments;
        // SAFETY: pointer arguments point into `scratch` (which we own exclusively and only ever read as
        // bytes), at most `SCRATCH_SLACK` before its end, or at memory no Rust object occupies (null trap,
        // unmapped, kernel, non-canonical). Calls that could change our own mappings may kill us, which is
        // allowed: a killed child is counted by the parent.
        let result = unsafe { syscall6(number, a0, a1, a2, a3, a4, a5) };
        made += 1;
        if Errno::result(result).is_err() {
            errors += 1;
        }
    }
    (made, errors)
}

/// A syscall number: mostly Linux's range, often the native range, sometimes anything.
fn random_number(random: &mut XorShift) -> u64 {
    match random.next() % 8 {
        0..=3 => random.next() % 400,
        4..=6 => nr::NATIVE_BASE + random.next() % 0x30,
        _ => random.next(),
    }
}

/// An argument from one of the hostile classes.
fn random_argument(random: &mut XorShift, (scratch, scratch_bytes): (u64, u64)) -> u64 {
    let valid_bytes = scratch_bytes - SCRATCH_SLACK;
    match random.next() % 14 {
        // Zero, small numbers (fds, handles, pids, signals, flags), counts, -1, anything.
        0 => 0,
        1 => random.next() % 16,
        2 => random.next() % 4096,
        3 => u64::MAX,
        4 => random.next(),
        // Our own stack, aligned anyhow and surely misaligned.
        5 => scratch + random.next() % valid_bytes,
        6 => scratch + ((random.next() % valid_bytes) | 1),
        // Unmapped user memory and the null trap.
        7 => 0x7000_0000_0000 + ((random.next() % (1 << 32)) & !0xfff),
        8 => 0x10,
        // The kernel half: direct map and image.
        9 => 0xffff_8000_0000_0000 + random.next() % (1 << 40),
        10 => 0xffff_ffff_8000_0000 + random.next() % (1 << 30),
        // Non-canonical: between the two halves.
        11 => 0x0000_8000_0000_0000 + random.next() % 0xffff_0000_0000_0000,
        // Huge lengths.
        12 => [1 << 40, u64::MAX, u64::MAX - 4095, 1 << 63][(random.next() % 4) as usize],
        // Page multiples: lengths, and page-aligned addresses in the null trap.
        _ => (random.next() % 64) * 4096,
    }
}

/// Skips (returns false) or rewrites the calls that would end the child on purpose or block it for long.
/// Numbers are classified by their low 32 bits too, in case the kernel ignores the upper half (Linux does).
fn defuse(number: u64, arguments: &mut [u64; 6], own_pid: u64, (scratch, scratch_bytes): (u64, u64)) -> bool {
    let in_scratch = |pointer: u64| pointer.wrapping_sub(scratch) < scratch_bytes;
    let number = number & 0xffff_ffff;
    if LINUX_BLOCKING.contains(&number) || LINUX_ENDING.contains(&number) || NATIVE_ENDING.contains(&number) {
        return false;
    }
    match number {
        // kill: pid 0, -1 and negative pids (groups) may include us; so may our own pid.
        nr::KILL => {
            let pid = arguments[0] as i32;
            pid > 0 && pid as u64 != own_pid
        }
        nr::WAIT4 => {
            arguments[2] |= wait::WNOHANG;
            true
        }
        nr::NANOSLEEP => {
            if in_scratch(arguments[0]) {
                arguments[0] = &SHORT_SLEEP as *const Timespec as u64;
            }
            true
        }
        // Priority 0 is the idle task's; keep the fuzzer schedulable.
        nr::SET_PRIORITY => {
            if arguments[1] as u32 == 0 {
                arguments[1] = 1;
            }
            true
        }
        // write, pwrite64 with our scratch bytes to the console would print garbage: aim them elsewhere.
        nr::WRITE | 18 if arguments[0] as u32 <= 2 && in_scratch(arguments[1]) => {
            arguments[0] = 1000;
            true
        }
        // writev, sendfile, pwritev, pwritev2 to the console: the same.
        20 | 40 | 296 | 328 if arguments[0] as u32 <= 2 => {
            arguments[0] = 1000;
            true
        }
        n if NATIVE_BLOCKING.contains(&n) => {
            arguments[0] = NO_HANDLE;
            true
        }
        _ => true,
    }
}

/// xorshift64* (Vigna 2014): small, fast, good enough to pick test inputs.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

/// splitmix64: spreads nearby seeds (1, 2, 3…) over the whole state space.
fn splitmix64(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}
