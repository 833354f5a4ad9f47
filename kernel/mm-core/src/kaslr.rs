//! Kernel address-space layout randomization of the memory regions (seed 000 §21, Linux's
//! `arch/x86/mm/kaslr.c`): the direct map, the vmalloc area and the vmemmap are placed in this order inside
//! a window of the kernel half, each shifted by a random multiple of 1 GiB.
//!
//! The unused part of the window is the entropy: the first region may use up to a third of it, the next
//! half of what is left, the last all of the rest, so every region gets a fair share and none can run
//! past the window. Bases are 1 GiB aligned (a PUD, so the direct map can use 1 GiB pages) and regions
//! never overlap, with at least one GiB between them.

/// Alignment and minimum gap of the regions.
pub const PUD_SIZE: u64 = 1 << 30;

/// The randomizable window of the kernel half: [start, end).
pub const KASLR_START: u64 = 0xffff_8000_0000_0000;
pub const KASLR_END: u64 = 0xffff_fc00_0000_0000;

/// Region bases without randomization (`nokaslr`): Linux's defaults for 4-level paging.
pub const NOKASLR_BASES: [u64; 3] = [0xffff_8000_0000_0000, 0xffff_c900_0000_0000, 0xffff_ea00_0000_0000];

/// Why the regions cannot be placed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DoesNotFit;

/// Places regions of `sizes` (in order) in `[start, end)`; `random()` supplies 64-bit random numbers.
/// Returns their bases.
pub fn place<const N: usize>(
    start: u64,
    end: u64,
    sizes: [u64; N],
    mut random: impl FnMut() -> u64,
) -> Result<[u64; N], DoesNotFit> {
    let padded: u64 = sizes.iter().map(|s| s.next_multiple_of(PUD_SIZE) + PUD_SIZE).sum();
    let window = end.checked_sub(start).ok_or(DoesNotFit)?;
    let mut remaining = window.checked_sub(padded).ok_or(DoesNotFit)?;
    let mut bases = [0; N];
    let mut cursor = start;
    for (i, &size) in sizes.iter().enumerate() {
        let share = remaining / (N - i) as u64;
        let shift = (random() % (share + 1)) & !(PUD_SIZE - 1);
        cursor += shift;
        bases[i] = cursor;
        cursor = (cursor + size).next_multiple_of(PUD_SIZE) + PUD_SIZE;
        remaining -= shift;
    }
    Ok(bases)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const TIB: u64 = 1 << 40;

    #[test]
    fn nokaslr_bases_do_not_overlap_linux_sizes() {
        let [direct, vmalloc, vmemmap] = NOKASLR_BASES;
        assert!(direct + 64 * TIB <= vmalloc && vmalloc + 32 * TIB <= vmemmap && vmemmap + TIB <= KASLR_END);
    }

    #[test]
    fn too_large_regions_are_refused() {
        assert_eq!(place(KASLR_START, KASLR_END, [100 * TIB, 30 * TIB], || 0), Err(DoesNotFit));
        assert_eq!(place(KASLR_END, KASLR_START, [TIB], || 0), Err(DoesNotFit));
    }

    #[test]
    fn random_placements_spread_out() {
        let mut rng = crate::rng::Rng::from_seed(99);
        let mut firsts = std::collections::BTreeSet::new();
        let mut lasts = std::collections::BTreeSet::new();
        for _ in 0..64 {
            let bases = place(KASLR_START, KASLR_END, [TIB, 32 * TIB, TIB], || rng.next_u64()).unwrap();
            firsts.insert(bases[0]);
            lasts.insert(bases[2]);
        }
        assert!(firsts.len() >= 60 && lasts.len() >= 60, "{} / {} distinct bases", firsts.len(), lasts.len());
    }

    #[test]
    fn zero_randomness_packs_the_regions_from_the_start() {
        let bases = place(KASLR_START, KASLR_END, [TIB, 32 * TIB, TIB], || 0).unwrap();
        assert_eq!(bases, [KASLR_START, KASLR_START + TIB + PUD_SIZE, KASLR_START + 33 * TIB + 2 * PUD_SIZE]);
    }

    proptest! {
        #[test]
        fn bases_are_aligned_ordered_disjoint_and_inside(seed in any::<u64>(), direct_bits in 36u32..47) {
            let sizes = [1u64 << direct_bits, 32 * TIB, ((1u64 << direct_bits) >> 7).next_multiple_of(TIB)];
            let mut state = seed;
            let bases = place(KASLR_START, KASLR_END, sizes, || {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                state
            }).unwrap();
            for i in 0..3 {
                prop_assert_eq!(bases[i] % PUD_SIZE, 0);
                prop_assert!(bases[i] >= KASLR_START && bases[i] + sizes[i] <= KASLR_END);
                if i > 0 {
                    prop_assert!(bases[i - 1] + sizes[i - 1] + PUD_SIZE <= bases[i], "regions touch or overlap");
                }
            }
        }

    }
}
