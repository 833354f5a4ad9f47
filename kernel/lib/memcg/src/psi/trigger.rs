//! PSI triggers (`Documentation/accounting/psi.rst`, "Monitoring for pressure thresholds"): the text
//! a monitor writes (`some 150000 1000000` = 150 ms of stall within any 1 s window) and the growth
//! window of psi.c (`window_reset`, `window_update`, `update_triggers`).
//!
//! The window approximates a sliding one: within a window the growth since its start is topped up by
//! the previous window's growth scaled to the part not yet elapsed, assuming it was linear. An event
//! fires when the growth reaches the threshold, at most once per window; a breach inside the
//! rate-limit interval stays pending and fires when the interval ends. The window only moves when
//! the stall total does, so after a quiet gap longer than the window the growth since its start
//! counts whole (as in Linux).
//!
//! Deviation: Linux computes the remaining window time in a `u32` (wrong for windows over 4.29 s);
//! here it is 64-bit.

use super::Stall;
use crate::Error;

/// Shortest trigger window (`WINDOW_MIN_US`, 500 ms).
pub const WINDOW_MIN_US: u32 = 500_000;
/// Longest trigger window (`WINDOW_MAX_US`, 10 s).
pub const WINDOW_MAX_US: u32 = 10_000_000;
/// Trigger checks per window (`UPDATES_PER_WINDOW`): poll every `window / 10`.
pub const UPDATES_PER_WINDOW: u64 = 10;

const NSEC_PER_USEC: u64 = 1000;

/// A trigger as written to a pressure file: `<some|full> <threshold_us> <window_us>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Trigger {
    /// Which stall time to watch.
    pub stall: Stall,
    /// Stall time within the window that fires the trigger, µs (1 ≤ threshold ≤ window).
    pub threshold_us: u32,
    /// Window length, µs ([`WINDOW_MIN_US`] ..= [`WINDOW_MAX_US`]).
    pub window_us: u32,
}

impl Trigger {
    /// Parses trigger text as Linux's `psi_trigger_create` does with
    /// `sscanf(buf, "some %u %u", …)`: the keyword must open the text, blanks before each number are
    /// optional, anything after the second number is ignored. Then the window must be 500 ms – 10 s
    /// and the threshold 1 µs – window.
    pub fn parse(text: &str) -> Result<Trigger, Error> {
        let (stall, rest) = if let Some(rest) = text.strip_prefix("some") {
            (Stall::Some, rest)
        } else if let Some(rest) = text.strip_prefix("full") {
            (Stall::Full, rest)
        } else {
            return Err(Error::Invalid);
        };
        let (threshold_us, rest) = scan_u32(rest)?;
        let (window_us, _ignored) = scan_u32(rest)?;
        let trigger = Trigger { stall, threshold_us, window_us };
        trigger.validate()?;
        Ok(trigger)
    }

    /// The range checks of `psi_trigger_create`.
    pub fn validate(&self) -> Result<(), Error> {
        if !(WINDOW_MIN_US..=WINDOW_MAX_US).contains(&self.window_us)
            || self.threshold_us == 0
            || self.threshold_us > self.window_us
        {
            return Err(Error::Invalid);
        }
        Ok(())
    }

    /// Window length, ns.
    pub fn window_ns(&self) -> u64 {
        u64::from(self.window_us) * NSEC_PER_USEC
    }

    /// Threshold, ns.
    pub fn threshold_ns(&self) -> u64 {
        u64::from(self.threshold_us) * NSEC_PER_USEC
    }
}

/// `%u` in the kernel's `vsscanf`: skip blanks, then at least one decimal digit.
fn scan_u32(text: &str) -> Result<(u32, &str), Error> {
    let text = text.trim_start_matches(crate::C_SPACE);
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return Err(Error::Invalid);
    }
    let value = text[..digits].parse::<u32>().map_err(|_| Error::OutOfRange)?;
    Ok((value, &text[digits..]))
}

/// A trigger installed in a [`PsiGroup`](super::PsiGroup) with its window state.
#[derive(Clone, Debug)]
pub(super) struct TriggerState {
    pub(super) trigger: Trigger,
    start_time: u64,
    start_value: u64,
    prev_growth: u64,
    last_event_time: u64,
    pending_event: bool,
    /// Set when an event fires, cleared when the monitor takes it (`t->event`).
    pub(super) event: bool,
}

impl TriggerState {
    pub(super) fn new(trigger: Trigger, now: u64, total: u64) -> TriggerState {
        let mut state = TriggerState {
            trigger,
            start_time: 0,
            start_value: 0,
            prev_growth: 0,
            last_event_time: 0,
            pending_event: false,
            event: false,
        };
        state.window_reset(now, total, 0);
        state
    }

    pub(super) fn window_reset(&mut self, now: u64, value: u64, prev_growth: u64) {
        self.start_time = now;
        self.start_value = value;
        self.prev_growth = prev_growth;
    }

    /// `window_update`: growth of `value` over the current (approximately sliding) window.
    fn window_update(&mut self, now: u64, value: u64) -> u64 {
        let size = self.trigger.window_ns();
        let elapsed = now.saturating_sub(self.start_time);
        let mut growth = value.saturating_sub(self.start_value);
        if elapsed > size {
            self.window_reset(now, value, growth);
        } else {
            let remaining = size - elapsed;
            growth += (u128::from(self.prev_growth) * u128::from(remaining) / u128::from(size)) as u64;
        }
        growth
    }

    /// One trigger's part of `update_triggers`. `new_stall` says the watched total moved since the
    /// last check. Returns whether an event fires now.
    pub(super) fn update(&mut self, now: u64, total: u64, new_stall: bool) -> bool {
        if !new_stall && !self.pending_event {
            return false;
        }
        if new_stall {
            let growth = self.window_update(now, total);
            if !self.pending_event {
                if growth < self.trigger.threshold_ns() {
                    return false;
                }
                self.pending_event = true;
            }
        }
        // At most one event per window.
        if now < self.last_event_time.saturating_add(self.trigger.window_ns()) {
            return false;
        }
        self.event = true;
        self.last_event_time = now;
        self.pending_event = false;
        true
    }
}
