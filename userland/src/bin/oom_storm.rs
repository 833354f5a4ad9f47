//! `oom_storm`: an OOM storm (issue 8's test). Two hogs in a memory group capped at 24 MiB with
//! `memory.oom.group` set and two hogs outside it allocate at once, beside a small task that keeps
//! running. oomd must kill exactly the four hogs — the two in the group together, as one group kill —
//! while the bystander, memd and oomd live on; the group's `memory.events` counts two `oom_kill`s and
//! one `oom_group_kill`, and init then checks that every page came back.
#![no_std]
#![no_main]

use abi::mman::{MAP_ANONYMOUS, MAP_PRIVATE};
use abi::{group_op, prot, signal, wait};
use userland::sys::{self, WaitStatus};
use userland::{Args, fail, println};

userland::entry!(main);

const GROUP: &str = "/storm";
const CHUNK: u64 = 1 << 20;

fn touch(bytes: u64) -> Option<u64> {
    let addr = sys::mmap(0, bytes, prot::READ | prot::WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0).ok()?;
    for page in (0..bytes).step_by(4096) {
        // SAFETY: inside the mapping just made.
        unsafe { ((addr + page) as *mut u8).write_volatile(1) };
    }
    Some(addr)
}

/// Allocates 1 MiB after 1 MiB until killed.
fn hog() -> i32 {
    loop {
        if touch(CHUNK).is_none() {
            // mmap refused (memd could not get memory): try again; only the OOM killer ends a hog.
            let _ = sys::sleep_ms(1);
        }
    }
}

/// A small task that keeps working: it reads and writes its 256 KiB every few milliseconds.
fn steady() -> i32 {
    let Some(addr) = touch(256 << 10) else { return 1 };
    let mut round = 0u64;
    loop {
        for page in (0..(256u64 << 10)).step_by(4096) {
            // SAFETY: inside the mapping made above.
            unsafe { ((addr + page) as *mut u64).write_volatile(round) };
        }
        round += 1;
        let _ = sys::sleep_ms(5);
    }
}

fn main(args: &Args) -> i32 {
    match args.get(1) {
        Some("hog") => return hog(),
        Some("steady") => return steady(),
        _ => {}
    }
    let mut none = [0u8; 0];
    let ctl = |op, pid, file: &str, value: &str, buf: &mut [u8]| {
        sys::group_ctl(op, GROUP, pid, file, value, buf, 0)
    };
    if let Err(e) = ctl(group_op::CREATE, 0, "", "", &mut none) {
        fail!("oom_storm: mkdir {GROUP}: {e}");
    }
    if let Err(e) = ctl(group_op::WRITE, 0, "memory.max", "24M", &mut none) {
        fail!("oom_storm: memory.max: {e}");
    }
    if let Err(e) = ctl(group_op::WRITE, 0, "memory.oom.group", "1", &mut none) {
        fail!("oom_storm: memory.oom.group: {e}");
    }
    let bystander =
        sys::spawn("oom_storm", &["steady"], None).unwrap_or_else(|e| fail!("oom_storm: spawn: {e}"));
    let mut hogs = [0u64; 4];
    for (i, hog) in hogs.iter_mut().enumerate() {
        *hog = sys::spawn("oom_storm", &["hog"], None).unwrap_or_else(|e| fail!("oom_storm: spawn: {e}"));
        if i < 2
            && let Err(e) = ctl(group_op::ATTACH, *hog, "", "", &mut none)
        {
            fail!("oom_storm: attach: {e}");
        }
    }
    println!("oom_storm: hogs {hogs:?} ({GROUP}: the first two), bystander {bystander}");
    let mut killed = 0;
    for _ in 0..hogs.len() {
        let (pid, status) = sys::wait4(-1, 0).unwrap_or_else(|e| fail!("oom_storm: wait4: {e}"));
        println!("oom_storm: task {pid} {}", WaitStatus(status));
        if !hogs.contains(&pid) {
            fail!("oom_storm: task {pid}, not a hog, ended");
        }
        if !wait::if_exited(status) && wait::term_sig(status) == signal::SIGKILL as u8 {
            killed += 1;
        }
    }
    let bystander_alive = sys::kill(bystander as i64, 0).is_ok();
    let services = sys::find_process("memd").is_some() && sys::find_process("oomd").is_some();
    let _ = sys::kill(bystander as i64, signal::SIGTERM);
    let _ = sys::wait4(bystander as i64, 0);
    let mut events_buf = [0u8; 512];
    let n = ctl(group_op::READ, 0, "memory.events", "", &mut events_buf).unwrap_or(0) as usize;
    let events = core::str::from_utf8(&events_buf[..n]).unwrap_or("");
    let count = |name: &str| {
        events.lines().find_map(|l| l.strip_prefix(name)?.trim().parse::<u64>().ok()).unwrap_or(0)
    };
    let (oom_kills, group_kills) = (count("oom_kill "), count("oom_group_kill "));
    let _ = ctl(group_op::REMOVE, 0, "", "", &mut none);
    println!(
        "oom_storm: {killed} of 4 hogs killed, bystander alive: {bystander_alive}, memd and oomd alive: \
         {services}, {GROUP} oom_kill {oom_kills} oom_group_kill {group_kills}"
    );
    if killed != 4 || !bystander_alive || !services || oom_kills != 2 || group_kills != 1 {
        fail!("oom_storm: expected exactly the four hogs killed, two of them in {GROUP}");
    }
    println!("oom_storm: ok");
    0
}
