//! Sizes, limits and size-class arithmetic of glibc 2.36's malloc on x86-64 (pure functions).
//!
//! Every value here is the one glibc 2.36 uses on x86-64 (`SIZE_SZ` = 8, `MALLOC_ALIGNMENT` = 16); the names
//! follow malloc.c so readers of the C source find their way. Nothing in this file touches memory.

/// Size of one header word (`SIZE_SZ`).
pub const SIZE_SZ: usize = 8;
/// Alignment of every pointer malloc returns (`MALLOC_ALIGNMENT`).
pub const MALLOC_ALIGNMENT: usize = 16;
/// `MALLOC_ALIGNMENT - 1`.
pub const MALLOC_ALIGN_MASK: usize = MALLOC_ALIGNMENT - 1;
/// The two header words in front of user memory (`prev_size`, `size`).
pub const CHUNK_HDR_SZ: usize = 2 * SIZE_SZ;
/// Smallest chunk: header plus `fd`/`bk` (`offsetof(struct malloc_chunk, fd_nextsize)`).
pub const MIN_CHUNK_SIZE: usize = 4 * SIZE_SZ;
/// Smallest chunk rounded to the alignment (`MINSIZE`).
pub const MINSIZE: usize = (MIN_CHUNK_SIZE + MALLOC_ALIGN_MASK) & !MALLOC_ALIGN_MASK;
/// Largest request glibc accepts (`PTRDIFF_MAX`).
pub const PTRDIFF_MAX: usize = isize::MAX as usize;

/// Low bits of the size field.
pub const PREV_INUSE: usize = 0x1;
/// The chunk was obtained with mmap.
pub const IS_MMAPPED: usize = 0x2;
/// The chunk belongs to an arena other than the main arena.
pub const NON_MAIN_ARENA: usize = 0x4;
/// All flag bits of the size field.
pub const SIZE_BITS: usize = PREV_INUSE | IS_MMAPPED | NON_MAIN_ARENA;

/// Number of regular bins (bin 0 unused, bin 1 unsorted, 2..63 small, 64..126 large).
pub const NBINS: usize = 128;
/// Number of small bins (including the unused 0 and the unsorted 1).
pub const NSMALLBINS: usize = 64;
/// Width of a small bin.
pub const SMALLBIN_WIDTH: usize = MALLOC_ALIGNMENT;
/// First chunk size served by the large bins.
pub const MIN_LARGE_SIZE: usize = NSMALLBINS * SMALLBIN_WIDTH;
/// Bits of `binmap` per word and the number of words.
pub const BINMAPSHIFT: usize = 5;
/// Number of `u32` words in the binmap.
pub const BINMAPSIZE: usize = NBINS >> BINMAPSHIFT;

/// Largest value `M_MXFAST` accepts (`MAX_FAST_SIZE`).
pub const MAX_FAST_SIZE: usize = 80 * SIZE_SZ / 4;
/// Default `M_MXFAST` (`DEFAULT_MXFAST`).
pub const DEFAULT_MXFAST: usize = 64 * SIZE_SZ / 4;
/// Number of fastbins.
pub const NFASTBINS: usize = fastbin_index(request2size(MAX_FAST_SIZE)) + 1;
/// Freeing a chunk at least this big consolidates the fastbins first.
pub const FASTBIN_CONSOLIDATION_THRESHOLD: usize = 65536;

/// Number of tcache bins and entries per bin.
pub const TCACHE_MAX_BINS: usize = 64;
/// Default number of chunks a tcache bin holds.
pub const TCACHE_FILL_COUNT: usize = 7;
/// Largest user size the tcache serves (1032 bytes).
pub const MAX_TCACHE_SIZE: usize = tidx2usize(TCACHE_MAX_BINS - 1);

/// Default `M_TRIM_THRESHOLD`.
pub const DEFAULT_TRIM_THRESHOLD: usize = 128 * 1024;
/// Default `M_TOP_PAD` (glibc's `malloc-machine.h` sets 128 KiB).
pub const DEFAULT_TOP_PAD: usize = 128 * 1024;
/// Default and minimum dynamic `M_MMAP_THRESHOLD`.
pub const DEFAULT_MMAP_THRESHOLD_MIN: usize = 128 * 1024;
/// Ceiling of the dynamic mmap threshold (32 MiB on 64-bit).
pub const DEFAULT_MMAP_THRESHOLD_MAX: usize = 4 * 1024 * 1024 * core::mem::size_of::<usize>();
/// Default `M_MMAP_MAX`.
pub const DEFAULT_MMAP_MAX: usize = 65536;
/// mmap used as a MORECORE substitute is at least this big.
pub const MMAP_AS_MORECORE_SIZE: usize = 1024 * 1024;
/// Smallest heap of a non-main arena.
pub const HEAP_MIN_SIZE: usize = 32 * 1024;
/// Size and alignment of a non-main arena's heap (64 MiB).
pub const HEAP_MAX_SIZE: usize = 2 * DEFAULT_MMAP_THRESHOLD_MAX;
/// Arenas per core (`NARENAS_FROM_NCORES`).
pub const ARENAS_PER_CORE: usize = 8;
/// Most unsorted chunks one `_int_malloc` pass sorts into bins.
pub const MAX_ITERS: usize = 10000;

/// Pads a request to a chunk size (`request2size`).
pub const fn request2size(req: usize) -> usize {
    if req.wrapping_add(SIZE_SZ + MALLOC_ALIGN_MASK) < MINSIZE {
        MINSIZE
    } else {
        req.wrapping_add(SIZE_SZ + MALLOC_ALIGN_MASK) & !MALLOC_ALIGN_MASK
    }
}

/// `request2size` with glibc's overflow rule: `None` above `PTRDIFF_MAX` (glibc returns 0).
pub const fn checked_request2size(req: usize) -> Option<usize> {
    if req > PTRDIFF_MAX { None } else { Some(request2size(req)) }
}

/// Whether a chunk size is served by the small bins.
pub const fn in_smallbin_range(size: usize) -> bool {
    size < MIN_LARGE_SIZE
}

/// Small bin of a chunk size.
pub const fn smallbin_index(size: usize) -> usize {
    (size as u32 >> 4) as usize
}

/// Large bin of a chunk size (`largebin_index_64`).
pub const fn largebin_index(size: usize) -> usize {
    if (size >> 6) <= 48 {
        48 + (size >> 6)
    } else if (size >> 9) <= 20 {
        91 + (size >> 9)
    } else if (size >> 12) <= 10 {
        110 + (size >> 12)
    } else if (size >> 15) <= 4 {
        119 + (size >> 15)
    } else if (size >> 18) <= 2 {
        124 + (size >> 18)
    } else {
        126
    }
}

/// Regular bin of a chunk size.
pub const fn bin_index(size: usize) -> usize {
    if in_smallbin_range(size) { smallbin_index(size) } else { largebin_index(size) }
}

/// Fastbin of a chunk size.
pub const fn fastbin_index(size: usize) -> usize {
    ((size as u32 >> 4) as usize).wrapping_sub(2)
}

/// The `global_max_fast` value for an `M_MXFAST` setting (`set_max_fast`).
pub const fn max_fast_for(value: usize) -> usize {
    if value <= MALLOC_ALIGN_MASK - SIZE_SZ {
        MIN_CHUNK_SIZE / 2
    } else {
        (value + SIZE_SZ) & !MALLOC_ALIGN_MASK
    }
}

/// Largest user size of tcache bin `index`.
pub const fn tidx2usize(index: usize) -> usize {
    index * MALLOC_ALIGNMENT + MINSIZE - SIZE_SZ
}

/// tcache bin of a chunk size.
pub const fn csize2tidx(size: usize) -> usize {
    (size - MINSIZE).div_ceil(MALLOC_ALIGNMENT)
}

/// Binmap word of a bin.
pub const fn idx2block(index: usize) -> usize {
    index >> BINMAPSHIFT
}

/// Binmap bit of a bin within its word.
pub const fn idx2bit(index: usize) -> u32 {
    1u32 << (index & ((1 << BINMAPSHIFT) - 1))
}

/// Rounds `value` up to a multiple of the power of two `align` (wrapping like C).
pub const fn align_up(value: usize, align: usize) -> usize {
    value.wrapping_add(align - 1) & !(align - 1)
}

/// Rounds `value` down to a multiple of the power of two `align`.
pub const fn align_down(value: usize, align: usize) -> usize {
    value & !(align - 1)
}

const _: () = assert!(MINSIZE == 32);
const _: () = assert!(NFASTBINS == 10);
const _: () = assert!(MAX_TCACHE_SIZE == 1032);
const _: () = assert!(MIN_LARGE_SIZE == 1024);
const _: () = assert!(HEAP_MAX_SIZE == 64 * 1024 * 1024);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_sizes_follow_glibc() {
        for req in 0..=24 {
            assert_eq!(request2size(req), 32, "request {req}");
        }
        assert_eq!(request2size(25), 48);
        assert_eq!(request2size(1032), 1040);
        assert_eq!(request2size(1033), 1056);
        assert_eq!(checked_request2size(usize::MAX), None);
        assert_eq!(checked_request2size(PTRDIFF_MAX), Some(request2size(PTRDIFF_MAX)));
    }

    #[test]
    fn bins_partition_sizes_monotonically() {
        let mut previous = 0;
        let mut size = MINSIZE;
        while size < 1 << 24 {
            let index = bin_index(size);
            assert!(index >= previous, "bin index fell at size {size}");
            assert!((2..NBINS).contains(&index), "size {size} in bin {index}");
            previous = index;
            size += MALLOC_ALIGNMENT;
        }
        assert_eq!(bin_index(1008), 63);
        assert_eq!(bin_index(1024), 64);
        assert_eq!(largebin_index(usize::MAX / 2), 126);
    }

    #[test]
    fn fastbin_and_tcache_indexes() {
        assert_eq!(fastbin_index(32), 0);
        assert_eq!(fastbin_index(176), 9);
        assert_eq!(max_fast_for(DEFAULT_MXFAST), 128);
        assert_eq!(max_fast_for(0), 16);
        assert_eq!(max_fast_for(MAX_FAST_SIZE), 160);
        assert_eq!(csize2tidx(32), 0);
        assert_eq!(csize2tidx(request2size(MAX_TCACHE_SIZE)), TCACHE_MAX_BINS - 1);
        assert_eq!(csize2tidx(request2size(MAX_TCACHE_SIZE + 1)), TCACHE_MAX_BINS);
    }
}
