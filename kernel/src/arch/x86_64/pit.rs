//! The 8254 programmable interval timer, channel 2 only: a stopwatch for calibrating the other clocks.
//!
//! Channel 2 is the one wired to the PC speaker: its gate is bit 0 of system control port B (0x61) and its
//! output reads back as bit 5 of the same port, so the kernel can time an interval without taking a PIT
//! interrupt. [`measure_hz`] programs mode 0 (interrupt on terminal count: the output goes low when the mode
//! is written and high when the count runs out) with `ms` worth of the 1 193 182 Hz input clock and polls
//! the output, as Linux's `pit_calibrate_tsc` does. The TSC (`tsc.rs`) and the local APIC timer
//! (`apic.rs`) both calibrate against it. The speaker itself (port B bit 1) stays off.
//!
//! Any PIT access can stall: an SMI on hardware, the emulator's I/O thread under QEMU (a poll there takes
//! 0.15 µs, but within every 10 ms some wait 30–90 µs; a plain poll loop saw the end about 70 µs late and
//! calibrated both the TSC and the APIC timer 0.7% fast). So the clock being calibrated is read around
//! every PIT access, which brackets both ends of the interval, and a measurement counts only when the
//! brackets are narrow (Linux's `quick_pit_calibrate` works the same way); TCG then calibrates QEMU's
//! 1 GHz APIC bus to within 0.01%.

use x86::io::{inb, outb};

/// The PIT's input clock in Hz (8254 data sheet; the PC's 14.31818 MHz crystal divided by 12).
pub const PIT_HZ: u64 = 1_193_182;
/// Longest interval mode 0 can time: the 16-bit count 65 535 is 54.9 ms.
pub const MAX_INTERVAL_MS: u64 = 54;

const CHANNEL2_DATA: u16 = 0x42;
const MODE_COMMAND: u16 = 0x43;
const SYSTEM_CONTROL_PORT_B: u16 = 0x61;
/// Port B bit 0: channel 2's gate.
const PORT_B_GATE2: u8 = 1 << 0;
/// Port B bit 1: speaker data enable (kept off).
const PORT_B_SPEAKER: u8 = 1 << 1;
/// Port B bit 5: channel 2's output, as read back.
const PORT_B_OUT2: u8 = 1 << 5;
/// Mode command: channel 2 (bits 7–6 = 10), low byte then high byte (5–4 = 11), mode 0 (3–1 = 000),
/// binary counting (0 = 0).
const CHANNEL2_MODE0_LOHI: u8 = 0xb0;
/// How many times the output is polled before the PIT counts as absent (several seconds under TCG).
const MAX_POLLS: u64 = 50_000_000;
/// Measurements made at most, looking for one whose ends are pinned down well enough.
const TRIES: u32 = 5;
/// A measurement is good when the uncertainty of its two ends adds up to at most 1/2000 (500 ppm).
const GOOD_ENOUGH: u64 = 2000;

/// The frequency in Hz of `clock`, a counter that only counts up, measured over about `ms` milliseconds
/// (clamped to 1..=[`MAX_INTERVAL_MS`]) of PIT channel 2; `None` if the PIT never answered. Busy-waits,
/// with whatever interrupt state the caller has (it should have them off).
pub fn measure_hz(ms: u64, mut clock: impl FnMut() -> u64) -> Option<u64> {
    let count = PIT_HZ * ms.clamp(1, MAX_INTERVAL_MS) / 1000;
    let mut best: Option<(u64, u64)> = None;
    for _ in 0..TRIES {
        let (ticks, uncertainty) = measure_once(count, &mut clock)?;
        if best.is_none_or(|(_, least)| uncertainty < least) {
            best = Some((ticks, uncertainty));
        }
        if uncertainty * GOOD_ENOUGH <= ticks {
            break;
        }
    }
    // `count` PIT cycles last count / PIT_HZ seconds.
    best.map(|(ticks, _)| (u128::from(ticks) * u128::from(PIT_HZ) / u128::from(count)) as u64)
}

/// One interval of `count` PIT cycles: its length in ticks of `clock` and how far off that may be.
fn measure_once(count: u64, clock: &mut impl FnMut() -> u64) -> Option<(u64, u64)> {
    // SAFETY: ports 0x61 (system control port B), 0x42 (PIT channel 2) and 0x43 (PIT mode) belong to the
    // PIT/speaker logic; only channel 2 and its gate change, and the speaker output bit stays off.
    let (before_start, after_start) = unsafe {
        outb(SYSTEM_CONTROL_PORT_B, (inb(SYSTEM_CONTROL_PORT_B) & !PORT_B_SPEAKER) | PORT_B_GATE2);
        outb(MODE_COMMAND, CHANNEL2_MODE0_LOHI);
        outb(CHANNEL2_DATA, (count & 0xff) as u8);
        let before = clock();
        // Counting starts with the high byte, the gate being already up.
        outb(CHANNEL2_DATA, (count >> 8) as u8);
        (before, clock())
    };
    // Clock readings between polls: the output went high after the poll before `previous` (which read
    // low) and before the poll before `now` (which read high), so `previous` is the end's estimate and
    // `[earlier, now]` brackets it.
    let (mut earlier, mut previous) = (before_start, after_start);
    for _ in 0..MAX_POLLS {
        // SAFETY: reading port B has no side effects.
        let out = unsafe { inb(SYSTEM_CONTROL_PORT_B) } & PORT_B_OUT2 != 0;
        let now = clock();
        if out {
            let start = before_start + (after_start - before_start) / 2;
            let ticks = previous.checked_sub(start)?;
            let uncertainty = (after_start - before_start) / 2 + (now - earlier) / 2;
            return Some((ticks, uncertainty));
        }
        (earlier, previous) = (previous, now);
    }
    None
}
