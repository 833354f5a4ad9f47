//! The running averages behind `avg10`/`avg60`/`avg300`: Linux's load-average fixed point
//! (`kernel/sched/loadavg.c` `calc_load`, `fixed_power_int`, `calc_load_n`) fed as in psi.c
//! `calc_avgs`.
//!
//! An average is a percentage in 11-bit fixed point (`FIXED_1` = 2048 is 1 %). Every 2 s period the
//! stalled share of the period, as a whole percentage (truncated, as Linux does), is folded in with
//! the weight `1 - e^(-2 s / window)`; periods without a sample decay the average by `e^(-2 s / window)`
//! each.

/// Fractional bits (`FSHIFT`).
pub const FSHIFT: u32 = 11;
/// 1.0 in fixed point (`FIXED_1`).
pub const FIXED_1: u64 = 1 << FSHIFT;
/// `e^(-2/10)`, `e^(-2/60)`, `e^(-2/300)` in fixed point (`EXP_10s`, `EXP_60s`, `EXP_300s`).
pub const EXP: [u64; 3] = [1677, 1981, 2034];

/// `calc_load`: one EWMA step of `load` towards `active` with decay `exp` (all fixed point). Rounds
/// up while rising so that a constant input is eventually reached.
pub fn calc_load(load: u64, exp: u64, active: u64) -> u64 {
    let mut new_load = load * exp + active * (FIXED_1 - exp);
    if active >= load {
        new_load += FIXED_1 - 1;
    }
    new_load / FIXED_1
}

/// `fixed_power_int`: `x^n` in fixed point with `frac_bits` fractional bits, rounding each step.
pub fn fixed_power_int(mut x: u64, frac_bits: u32, mut n: u64) -> u64 {
    let half = 1 << (frac_bits - 1);
    let mut result = 1 << frac_bits;
    while n != 0 {
        if n & 1 != 0 {
            result = (result * x + half) >> frac_bits;
        }
        n >>= 1;
        if n == 0 {
            break;
        }
        x = (x * x + half) >> frac_bits;
    }
    result
}

/// `calc_load_n`: `n` steps of [`calc_load`] towards the same `active`, in one.
pub fn calc_load_n(load: u64, exp: u64, active: u64, n: u64) -> u64 {
    calc_load(load, fixed_power_int(exp, FSHIFT, n), active)
}

/// psi.c `calc_avgs`: decay the three averages over `missed_periods` empty periods, then fold in a
/// period of length `period` ns that was stalled for `time` ns.
pub fn calc_avgs(avg: &mut [u64; 3], missed_periods: u64, time: u64, period: u64) {
    if missed_periods != 0 {
        for (average, exp) in avg.iter_mut().zip(EXP) {
            *average = calc_load_n(*average, exp, 0, missed_periods);
        }
    }
    let percent = (u128::from(time) * 100 / u128::from(period.max(1))) as u64;
    let active = percent * FIXED_1;
    for (average, exp) in avg.iter_mut().zip(EXP) {
        *average = calc_load(*average, exp, active);
    }
}

/// `LOAD_INT`/`LOAD_FRAC`: the integer and hundredths of a fixed-point percentage.
pub fn split_percent(average: u64) -> (u64, u64) {
    (average >> FSHIFT, ((average & (FIXED_1 - 1)) * 100) >> FSHIFT)
}
