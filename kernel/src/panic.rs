//! The panic handler and the common end of every fatal error (panic, fatal exception).
//!
//! It prints Linux's `Kernel panic - not syncing: …` line with the source location and a frame-pointer
//! call trace. Under `test=NAME` it then reports the test as failed and exits QEMU with the failure code
//! (DESIGN §9); otherwise the CPU halts.

use core::panic::PanicInfo;
use core::sync::atomic::{AtomicBool, Ordering};

use crate::arch::x86_64::{cpu, qemu, traps};
use crate::{ktest, pr_emerg, printk};

static PANICKING: AtomicBool = AtomicBool::new(false);

#[panic_handler]
fn panic(info: &PanicInfo<'_>) -> ! {
    printk::emergency_unlock();
    if PANICKING.swap(true, Ordering::SeqCst) {
        // A panic while reporting a panic: say the least possible and stop.
        pr_emerg!("Kernel panic while panicking: {}", info.message());
        stop("kernel panic while panicking");
    }
    pr_emerg!("Kernel panic - not syncing: {}", info.message());
    if let Some(location) = info.location() {
        pr_emerg!("panic at {}:{}:{}", location.file(), location.line(), location.column());
    }
    traps::dump_stack();
    pr_emerg!("---[ end Kernel panic - not syncing: {} ]---", info.message());
    stop("kernel panic");
}

/// Ends the kernel after a fatal exception whose report has been printed.
pub fn die(what: &str) -> ! {
    PANICKING.store(true, Ordering::SeqCst);
    pr_emerg!("Kernel panic - not syncing: Fatal exception ({what})");
    pr_emerg!("---[ end Kernel panic - not syncing: Fatal exception ]---");
    stop("fatal exception");
}

fn stop(reason: &str) -> ! {
    crate::drivers::fbcon::flush_now();
    if let Some(name) = ktest::active() {
        ktest::report(name, Err(reason));
        qemu::exit(qemu::ExitCode::Fail);
    }
    cpu::halt_forever()
}
