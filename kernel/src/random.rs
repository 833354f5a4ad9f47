//! Boot-time randomness for memory-layout hardening (free-list shuffling now; KASLR and slab freelist
//! randomization later).
//!
//! The generator (`mm_core::rng`, xoshiro256**) is seeded from the best source the CPU offers: RDSEED,
//! else RDRAND, else the jitter of TSC readings around serializing instructions, which differs from boot
//! to boot even on a virtual machine. The source is named at boot.

use core::fmt;

use mm_core::rng::Rng;

use crate::arch::x86_64::cpu::{self, CpuFeatures};
use crate::sync::SpinLock;

/// Where the seed came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntropySource {
    Rdseed,
    Rdrand,
    TscJitter,
}

impl fmt::Display for EntropySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            EntropySource::Rdseed => "RDSEED",
            EntropySource::Rdrand => "RDRAND",
            EntropySource::TscJitter => "TSC jitter",
        })
    }
}

static RNG: SpinLock<Option<Rng>> = SpinLock::new(None);

/// 64 bits of TSC jitter: the low bits of many short, serialized TSC deltas, folded together.
fn tsc_jitter() -> u64 {
    let mut acc = 0u64;
    for i in 0..256 {
        let t0 = cpu::rdtsc();
        let _ = cpu::cpuid(0, 0);
        let delta = cpu::rdtsc().wrapping_sub(t0);
        acc = acc.rotate_left(7) ^ delta ^ (t0 << (i % 13));
    }
    acc
}

/// Seeds the generator; returns the source used.
pub fn init(features: &CpuFeatures) -> EntropySource {
    let (source, seed) = if let Some(seed) = features.rdseed.then(cpu::rdseed).flatten() {
        (EntropySource::Rdseed, seed)
    } else if let Some(seed) = features.rdrand.then(cpu::rdrand).flatten() {
        (EntropySource::Rdrand, seed)
    } else {
        (EntropySource::TscJitter, tsc_jitter())
    };
    let mut rng = Rng::from_seed(seed);
    rng.mix(cpu::rdtsc());
    *RNG.lock() = Some(rng);
    source
}

/// 64 random bits.
pub fn next_u64() -> u64 {
    let mut rng = RNG.lock();
    rng.get_or_insert_with(|| Rng::from_seed(tsc_jitter())).next_u64()
}

/// A uniform number in `[0, n)`. Before `init` the generator is seeded from TSC jitter on first use.
pub fn below(n: u64) -> u64 {
    let mut rng = RNG.lock();
    rng.get_or_insert_with(|| Rng::from_seed(tsc_jitter())).below(n)
}
