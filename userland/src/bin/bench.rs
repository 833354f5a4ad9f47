//! `bench`: kernel-path costs in TSC ticks, printed as `BENCH <name> <ticks>` lines and `BENCH_DONE`,
//! the format of the Linux peer (`bench/linux-peer/bench.c`), so both can be compared on the same QEMU
//! `-cpu` model under `-icount shift=0` (DESIGN §12).
//!
//! Every figure is the median of `SAMPLES` samples; a sample times a batch of operations and divides by
//! the batch size. The two-task benchmarks run untimed warm-up batches first, as the peer does.
//! - `null_syscall`: getpid, the least work behind a kernel entry and exit.
//! - `demand_zero_fault`: first write to each 4 KiB page of a fresh 4 MiB `vm_map` range (mapping and
//!   unmapping happen outside the timed part): #PF, a zeroed frame, a PTE.
//! - `ipc_roundtrip`: `ipc_call` with four register words to `bench server` (same priority), which
//!   answers with `ipc_reply_recv`: two IPC syscalls and two switches per round trip.
//! - `context_switch`: this task and `bench yielder` (same priority) both call `sched_yield` in a loop;
//!   with two runnable tasks each yield is a switch, so ticks per switch = elapsed / (2 × our yields).
//!   The yielder reports its own count at the end (`INFO context_switch child/parent yields`, ≈ 1).
#![no_std]
#![no_main]

use abi::{prot, wait};
use userland::sys::{self, Handle, WaitStatus};
use userland::{Args, Errno, fail, println};

userland::entry!(main);

/// Odd, so the median is one sample.
const SAMPLES: usize = 31;
const SYSCALL_BATCH: u64 = 256;
const PAGE_BYTES: u64 = 4096;
const FAULT_BYTES: u64 = 4 << 20;
const IPC_BATCH: u64 = 64;
const YIELD_BATCH: u64 = 128;
/// Untimed batches before the samples of the two-task benchmarks.
const WARMUP_BATCHES: usize = 64;
/// The yielder looks for the stop bit every this many yields (its cost is spread thin).
const YIELDER_POLL_EVERY: u64 = 64;
/// `ipc_roundtrip`'s request that ends the server.
const OP_EXIT: u64 = u64::MAX;

fn main(args: &Args) -> i32 {
    match args.get(1) {
        Some("server") => server(),
        Some("yielder") => yielder(),
        _ => {
            match sys::tsc_khz() {
                Ok(khz) => println!("INFO tsc_khz {khz}"),
                Err(e) => println!("INFO tsc_khz unknown ({e})"),
            }
            report("null_syscall", null_syscall());
            report("demand_zero_fault", demand_zero_fault());
            report("ipc_roundtrip", ipc_roundtrip());
            report("context_switch", context_switch());
            // The memory calls go through memd (IPC on the caller's behalf); without it they are not
            // measured.
            if sys::brk(0).is_ok() {
                report("brk_grow_shrink", brk_grow_shrink());
                report("mmap_munmap_64k", mmap_munmap(64 << 10));
                report("mmap_munmap_100m", mmap_munmap(100 << 20));
                report("mprotect_pair", mprotect_pair());
                // The malloc-heavy C program (libc-rs + ptmalloc-rs) prints its own BENCH line.
                match sys::spawn("malloc_bench", &[], None).and_then(|pid| sys::wait4(pid as i64, 0)) {
                    Ok((_, status)) if wait::if_exited(status) && wait::exit_status(status) == 0 => {}
                    Ok((_, status)) => println!("BENCH_ERROR malloc_bench: {}", WaitStatus(status)),
                    Err(e) => println!("BENCH_ERROR malloc_bench: {e}"),
                }
            }
            println!("BENCH_DONE");
            0
        }
    }
}

/// Pairs per sample of the memory-call benchmarks (as the peer's MEM_BATCH).
const MEM_BATCH: u64 = 64;

/// Times `MEM_BATCH` runs of `pair` per sample (one warm-up sample dropped).
fn per_pair(mut pair: impl FnMut()) -> [u64; SAMPLES] {
    let mut samples = [0; SAMPLES];
    for sample in (0..=SAMPLES).rev() {
        let start = sys::rdtsc();
        for _ in 0..MEM_BATCH {
            pair();
        }
        let end = sys::rdtsc();
        if let Some(slot) = samples.get_mut(sample) {
            *slot = (end - start) / MEM_BATCH;
        }
    }
    samples
}

/// brk up by 64 KiB and back: two forwarded calls, memd's VMA update and a range map/unmap in the kernel.
fn brk_grow_shrink() -> [u64; SAMPLES] {
    let base = sys::brk(0).unwrap_or_else(|e| die("brk(0)", e));
    per_pair(|| {
        if sys::brk(base + 65536) != Ok(base + 65536) {
            die("brk grow", Errno::ENOMEM);
        }
        let _ = sys::brk(base);
    })
}

/// An anonymous private mapping of `len` bytes made and removed, untouched.
fn mmap_munmap(len: u64) -> [u64; SAMPLES] {
    use abi::mman::{MAP_ANONYMOUS, MAP_PRIVATE};
    per_pair(|| {
        let addr = sys::mmap(0, len, prot::READ | prot::WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
            .unwrap_or_else(|e| die("mmap", e));
        // SAFETY: the mapping was just made here and nothing uses it.
        if let Err(e) = unsafe { sys::munmap(addr, len) } {
            die("munmap", e);
        }
    })
}

/// 16 KiB in the middle of a 64 KiB mapping to read-only and back (a split in three, then a merge).
fn mprotect_pair() -> [u64; SAMPLES] {
    use abi::mman::{MAP_ANONYMOUS, MAP_PRIVATE};
    let addr = sys::mmap(0, 65536, prot::READ | prot::WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        .unwrap_or_else(|e| die("mmap", e));
    let samples = per_pair(|| {
        // SAFETY: the mapping is this benchmark's and holds no Rust object.
        unsafe {
            if let Err(e) = sys::mprotect(addr + 16384, 16384, prot::READ) {
                die("mprotect", e);
            }
            let _ = sys::mprotect(addr + 16384, 16384, prot::READ | prot::WRITE);
        }
    });
    // SAFETY: as above.
    let _ = unsafe { sys::munmap(addr, 65536) };
    samples
}

/// Prints the median of the samples.
fn report(name: &str, mut samples: [u64; SAMPLES]) {
    samples.sort_unstable();
    println!("BENCH {name} {}", samples[SAMPLES / 2]);
}

/// Reports a failed call as the peer does (`BENCH_ERROR`), then fails.
fn die(what: &str, error: Errno) -> ! {
    println!("BENCH_ERROR {what}: {error}");
    fail!("bench: {what}: {error}")
}

fn null_syscall() -> [u64; SAMPLES] {
    let mut samples = [0; SAMPLES];
    for sample in (0..=SAMPLES).rev() {
        // The last round (sample == SAMPLES) is the warm-up and is dropped.
        let start = sys::rdtsc();
        for _ in 0..SYSCALL_BATCH {
            let _ = sys::getpid();
        }
        let end = sys::rdtsc();
        if let Some(slot) = samples.get_mut(sample) {
            *slot = (end - start) / SYSCALL_BATCH;
        }
    }
    samples
}

fn demand_zero_fault() -> [u64; SAMPLES] {
    let pages = FAULT_BYTES / PAGE_BYTES;
    let mut samples = [0; SAMPLES];
    for sample in (0..=SAMPLES).rev() {
        let address =
            sys::vm_map(0, 0, FAULT_BYTES, prot::READ | prot::WRITE, 0).unwrap_or_else(|e| die("vm_map", e));
        let start = sys::rdtsc();
        for page in 0..pages {
            let byte = (address + page * PAGE_BYTES) as *mut u8;
            // SAFETY: the range was just mapped read-write for us and holds no Rust object. A write (not
            // a read) so the fault has to provide a private zeroed frame.
            unsafe { byte.write_volatile(1) };
        }
        let end = sys::rdtsc();
        // SAFETY: nothing refers to the range any more.
        unsafe { sys::vm_unmap(0, address, FAULT_BYTES) }.unwrap_or_else(|e| die("vm_unmap", e));
        if let Some(slot) = samples.get_mut(sample) {
            *slot = (end - start) / pages;
        }
    }
    samples
}

fn ipc_roundtrip() -> [u64; SAMPLES] {
    let endpoint = sys::endpoint_create().unwrap_or_else(|e| die("endpoint_create", e));
    let attr = sys::spawn_attr(0, 0, &[endpoint]);
    let server = sys::spawn("bench", &["server"], Some(&attr)).unwrap_or_else(|e| die("spawn server", e));
    let mut samples = [0; SAMPLES];
    for round in 0..WARMUP_BATCHES + SAMPLES {
        let start = sys::rdtsc();
        for i in 0..IPC_BATCH {
            let reply = sys::ipc_call(endpoint, [i, 1, 2, 3], None).unwrap_or_else(|e| die("ipc_call", e));
            if reply.words[0] != i + 1 {
                fail!("bench: ipc_roundtrip: reply {:?} to request {i}", reply.words);
            }
        }
        let end = sys::rdtsc();
        if let Some(slot) = round.checked_sub(WARMUP_BATCHES).and_then(|sample| samples.get_mut(sample)) {
            *slot = (end - start) / IPC_BATCH;
        }
    }
    sys::ipc_call(endpoint, [OP_EXIT, 0, 0, 0], None).unwrap_or_else(|e| die("ipc_call exit", e));
    reap(server, "server");
    let _ = sys::handle_close(endpoint);
    samples
}

fn context_switch() -> [u64; SAMPLES] {
    let stop = sys::notify_create().unwrap_or_else(|e| die("notify_create", e));
    let report = sys::endpoint_create().unwrap_or_else(|e| die("endpoint_create", e));
    let attr = sys::spawn_attr(0, 0, &[stop, report]);
    let yielder = sys::spawn("bench", &["yielder"], Some(&attr)).unwrap_or_else(|e| die("spawn yielder", e));
    let mut samples = [0; SAMPLES];
    for round in 0..WARMUP_BATCHES + SAMPLES {
        let start = sys::rdtsc();
        for _ in 0..YIELD_BATCH {
            let _ = sys::sched_yield();
        }
        let end = sys::rdtsc();
        if let Some(slot) = round.checked_sub(WARMUP_BATCHES).and_then(|sample| samples.get_mut(sample)) {
            *slot = (end - start) / (2 * YIELD_BATCH);
        }
    }
    sys::notify_signal(stop, 1).unwrap_or_else(|e| die("notify_signal", e));
    let message = sys::ipc_recv(report, None).unwrap_or_else(|e| die("ipc_recv", e));
    // The child's count includes up to YIELDER_POLL_EVERY yields after we stopped timing.
    let ours = (WARMUP_BATCHES + SAMPLES) as u64 * YIELD_BATCH;
    println!("INFO context_switch child/parent yields = {}/{ours}", message.words[0]);
    reap(yielder, "yielder");
    let _ = sys::handle_close(stop);
    let _ = sys::handle_close(report);
    samples
}

/// Waits for a helper and expects exit code 0.
fn reap(pid: u64, name: &str) {
    match sys::wait4(pid as i64, 0) {
        Ok((_, status)) if wait::if_exited(status) && wait::exit_status(status) == 0 => {}
        Ok((_, status)) => fail!("bench: {name} {}", WaitStatus(status)),
        Err(e) => die("wait4", e),
    }
}

/// `bench server`: answers every call on handle 1 with w0 + 1 until `OP_EXIT`.
fn server() -> i32 {
    const ENDPOINT: Handle = 1;
    let mut request = sys::ipc_recv(ENDPOINT, None);
    loop {
        let words = request.unwrap_or_else(|e| die("server ipc_recv", e)).words;
        if words[0] == OP_EXIT {
            let _ = sys::ipc_reply(0, [0; 4], None);
            return 0;
        }
        request = sys::ipc_reply_recv(ENDPOINT, [words[0] + 1, words[1], words[2], words[3]], None);
    }
}

/// `bench yielder`: yields until the notification (handle 1) is signalled, then sends its yield count
/// on the endpoint (handle 2).
fn yielder() -> i32 {
    const STOP: Handle = 1;
    const REPORT: Handle = 2;
    let mut yields: u64 = 0;
    loop {
        let _ = sys::sched_yield();
        yields += 1;
        if yields.is_multiple_of(YIELDER_POLL_EVERY) && sys::notify_poll(STOP).unwrap_or(1) != 0 {
            break;
        }
    }
    sys::ipc_send(REPORT, [yields, 0, 0, 0], None).unwrap_or_else(|e| die("yielder ipc_send", e));
    0
}
