//! Time since boot from the TSC, calibrated against the 8254 PIT.
//!
//! Calibration gates PIT channel 2 in mode 0 for 10 ms (1 193 182 Hz input clock) and counts TSC ticks
//! until its output goes high (port 0x61 bit 5), as Linux's `pit_calibrate_tsc`. Until calibration the
//! uptime reads 0, which is what the first log lines show, as on Linux.

use core::sync::atomic::{AtomicU64, Ordering};
use x86::io::{inb, outb};

use super::cpu::rdtsc;

static TSC_AT_BOOT: AtomicU64 = AtomicU64::new(0);
static TSC_KHZ: AtomicU64 = AtomicU64::new(0);

const PIT_HZ: u64 = 1_193_182;
const CALIBRATE_MS: u64 = 10;

/// Remembers the TSC value that counts as time 0. Called first thing in `kernel_main`.
pub fn mark_boot() {
    TSC_AT_BOOT.store(rdtsc(), Ordering::Relaxed);
}

/// Measures the TSC frequency; returns it in kHz, or `None` when the PIT did not answer (the uptime then
/// stays 0).
pub fn calibrate() -> Option<u64> {
    let latch = PIT_HZ * CALIBRATE_MS / 1000;
    // SAFETY: ports 0x61 (system control port B), 0x42 (PIT channel 2) and 0x43 (PIT mode) belong to
    // the PIT/speaker logic; the speaker output bit (1) is kept off, so nothing but channel 2 changes.
    let start = unsafe {
        outb(0x61, (inb(0x61) & !0x02) | 0x01);
        outb(0x43, 0xb0); // channel 2, lobyte/hibyte, mode 0, binary
        outb(0x42, (latch & 0xff) as u8);
        outb(0x42, (latch >> 8) as u8);
        rdtsc()
    };
    let mut spins = 0u64;
    // SAFETY: reading port B has no side effects.
    while unsafe { inb(0x61) } & 0x20 == 0 {
        spins += 1;
        if spins > 50_000_000 {
            return None;
        }
    }
    let khz = (rdtsc() - start) / CALIBRATE_MS;
    (khz > 0).then(|| {
        TSC_KHZ.store(khz, Ordering::Relaxed);
        khz
    })
}

/// TSC frequency in kHz once calibrated.
pub fn tsc_khz() -> Option<u64> {
    match TSC_KHZ.load(Ordering::Relaxed) {
        0 => None,
        khz => Some(khz),
    }
}

/// Nanoseconds since `mark_boot`, or 0 before calibration.
pub fn uptime_ns() -> u64 {
    let Some(khz) = tsc_khz() else { return 0 };
    let ticks = rdtsc().wrapping_sub(TSC_AT_BOOT.load(Ordering::Relaxed));
    (u128::from(ticks) * 1_000_000 / u128::from(khz)) as u64
}
