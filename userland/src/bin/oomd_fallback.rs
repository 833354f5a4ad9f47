//! `oomd_fallback`: the kernel's OOM killer acts when oomd cannot (issue 8's test). First oomd is killed
//! on purpose and a hog runs: the kernel notices oomd ended and kills the hog itself. Then a child
//! registers as the OOM service and never answers: the next hog waits `oomd_timeout_ms`, and the kernel
//! kills it. An oomd in a dry run declines, so the kernel kills the third hog; an oomd with a grace
//! period ends the fourth with SIGTERM. At the end a plain oomd is started again, and init checks that
//! every page came back.
#![no_std]
#![no_main]

use abi::{PRIORITY_DEFAULT, cap, signal, wait};
use userland::sys::{self, WaitStatus, ipc};
use userland::{Args, fail, println};

userland::entry!(main);

/// As init starts it.
const OOMD_PRIORITY: u32 = 39;

/// Runs `oom_hog` and says whether it was killed by `signal`.
fn run_hog(step: &str, signal: u64) -> bool {
    let hog = sys::spawn("oom_hog", &[], None).unwrap_or_else(|e| fail!("oomd_fallback: spawn: {e}"));
    let (_, status) = sys::wait4(hog as i64, 0).unwrap_or_else(|e| fail!("oomd_fallback: wait4: {e}"));
    println!("oomd_fallback: {step}: the hog {}", WaitStatus(status));
    !wait::if_exited(status) && u64::from(wait::term_sig(status)) == signal
}

/// Ends OOM service `pid` and waits for it.
fn stop(pid: u64) {
    let _ = sys::kill(pid as i64, signal::SIGKILL);
    let _ = sys::wait4(pid as i64, 0);
}

/// Spawns `name args` with `caps` and a "ready" notification as its handle 1; waits for bit 0.
fn spawn_ready(name: &str, args: &[&str], priority: u32, caps: u32) -> u64 {
    let ready = ipc::notify_create().unwrap_or_else(|e| fail!("oomd_fallback: notify_create: {e}"));
    let attr = sys::spawn_attr(priority, caps, &[ready]);
    let pid =
        sys::spawn(name, args, Some(&attr)).unwrap_or_else(|e| fail!("oomd_fallback: spawn {name}: {e}"));
    match ipc::notify_wait(ready) {
        Ok(bits) if bits & 1 != 0 => {}
        other => fail!("oomd_fallback: {name} did not come up: {other:?}"),
    }
    let _ = ipc::handle_close(ready);
    pid
}

/// The silent OOM service: registers, says it is ready, and never reads an event.
fn silent() -> i32 {
    let notify = ipc::notify_create().unwrap_or_else(|e| fail!("oomd_fallback: notify_create: {e}"));
    if let Err(e) = sys::oom_register(notify) {
        fail!("oomd_fallback: oom_register: {e}");
    }
    let _ = ipc::notify_signal(1, 1);
    loop {
        let _ = sys::sleep_ms(1000);
    }
}

fn main(args: &Args) -> i32 {
    if args.get(1) == Some("silent") {
        return silent();
    }
    let Some(oomd) = sys::find_process("oomd") else { fail!("oomd_fallback: oomd is not running") };
    if let Err(e) = sys::kill(oomd as i64, signal::SIGKILL) {
        fail!("oomd_fallback: kill oomd: {e}");
    }
    println!("oomd_fallback: killed oomd (pid {oomd})");
    let first = run_hog("without oomd", signal::SIGKILL);
    let quiet = spawn_ready("oomd_fallback", &["silent"], PRIORITY_DEFAULT, cap::KILL);
    println!("oomd_fallback: pid {quiet} registered as a silent OOM service");
    let second = run_hog("with a silent oomd", signal::SIGKILL);
    stop(quiet);
    // oomd in a dry run: it reports what it would kill and declines; the kernel acts.
    let dry = spawn_ready("oomd", &["--dry-run"], OOMD_PRIORITY, cap::KILL);
    let third = run_hog("with oomd --dry-run", signal::SIGKILL);
    stop(dry);
    // oomd with a grace period ends the hog with SIGTERM (no handler here, so it ends at once).
    let graceful = spawn_ready("oomd", &["--grace-ms=50"], OOMD_PRIORITY, cap::KILL);
    let fourth = run_hog("with oomd --grace-ms=50", signal::SIGTERM);
    stop(graceful);
    // A plain oomd again, so the system ends as it began (init compares the free pages).
    let oomd = spawn_ready("oomd", &[], OOMD_PRIORITY, cap::KILL);
    println!("oomd_fallback: oomd restarted (pid {oomd})");
    if !(first && second && third && fourth) {
        fail!(
            "oomd_fallback: expected the kernel to kill the first three hogs and oomd the fourth (SIGTERM)"
        );
    }
    println!("oomd_fallback: ok");
    0
}
