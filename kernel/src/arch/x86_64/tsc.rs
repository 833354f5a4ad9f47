//! Time since boot from the TSC, calibrated against the 8254 PIT.
//!
//! Calibration counts TSC ticks while PIT channel 2 times 10 ms (`pit.rs`), as Linux's
//! `pit_calibrate_tsc`. Until calibration the uptime reads 0, which is what the first log lines show, as
//! on Linux.

use core::sync::atomic::{AtomicU64, Ordering};

use super::cpu::rdtsc;
use super::pit;

static TSC_AT_BOOT: AtomicU64 = AtomicU64::new(0);
static TSC_KHZ: AtomicU64 = AtomicU64::new(0);

const CALIBRATE_MS: u64 = 10;

/// Remembers the TSC value that counts as time 0. Called first thing in `kernel_main`.
pub fn mark_boot() {
    TSC_AT_BOOT.store(rdtsc(), Ordering::Relaxed);
}

/// Measures the TSC frequency; returns it in kHz, or `None` when the PIT did not answer (the uptime then
/// stays 0).
pub fn calibrate() -> Option<u64> {
    let khz = pit::measure_hz(CALIBRATE_MS, rdtsc)? / 1000;
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
