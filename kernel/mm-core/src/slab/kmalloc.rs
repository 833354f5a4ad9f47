//! kmalloc size classes (seed 000 §38): requests up to 8 KiB come from one of thirteen caches, larger ones
//! straight from the buddy allocator.

/// Object sizes of the kmalloc caches, as Linux's `kmalloc_info` (8 … 8192, with 96 and 192).
pub const KMALLOC_SIZES: [usize; 13] = [8, 16, 32, 64, 96, 128, 192, 256, 512, 1024, 2048, 4096, 8192];
/// Their names in `/proc/slabinfo`.
pub const KMALLOC_NAMES: [&str; 13] = [
    "kmalloc-8",
    "kmalloc-16",
    "kmalloc-32",
    "kmalloc-64",
    "kmalloc-96",
    "kmalloc-128",
    "kmalloc-192",
    "kmalloc-256",
    "kmalloc-512",
    "kmalloc-1k",
    "kmalloc-2k",
    "kmalloc-4k",
    "kmalloc-8k",
];
/// Largest size served by a cache (Linux's `KMALLOC_MAX_CACHE_SIZE`).
pub const KMALLOC_MAX_CACHE_SIZE: usize = 8192;

/// Cache index for sizes 1…192 by `(size - 1) / 8` (Linux's `size_index` table).
const SMALL_INDEX: [u8; 24] = [0, 1, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 6];

/// The cache for `size` bytes (Linux's `kmalloc_index`); `None` above 8 KiB or for 0 bytes.
#[inline]
pub fn kmalloc_index(size: usize) -> Option<usize> {
    match size {
        0 => None,
        1..=192 => Some(usize::from(SMALL_INDEX[(size - 1) / 8])),
        193..=KMALLOC_MAX_CACHE_SIZE => {
            // 256 → 7, 512 → 8, … 8192 → 12: the power of two at or above `size`.
            Some(size.next_power_of_two().trailing_zeros() as usize - 1)
        }
        _ => None,
    }
}

/// The alignment a class guarantees: its size when that is a power of two (up to a page), else the
/// largest power of two dividing it (32 for 96, 64 for 192).
pub fn kmalloc_align(index: usize) -> usize {
    let size = KMALLOC_SIZES[index];
    (1 << size.trailing_zeros()).min(4096)
}

/// The cache for a request of `size` bytes aligned to `align`, if one can serve it.
#[inline]
pub fn kmalloc_index_aligned(size: usize, align: usize) -> Option<usize> {
    if align <= 8 {
        // Every class is at least word aligned: the size alone decides.
        return kmalloc_index(size);
    }
    let first = kmalloc_index(size.max(align))?;
    (first..KMALLOC_SIZES.len()).find(|&i| kmalloc_align(i) >= align)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_classes_match_linux() {
        assert_eq!(kmalloc_index(1), Some(0));
        assert_eq!(kmalloc_index(8), Some(0));
        assert_eq!(kmalloc_index(9), Some(1));
        assert_eq!(kmalloc_index(65), Some(4), "96");
        assert_eq!(kmalloc_index(97), Some(5), "128");
        assert_eq!(kmalloc_index(129), Some(6), "192");
        assert_eq!(kmalloc_index(193), Some(7), "256");
        assert_eq!(kmalloc_index(8192), Some(12));
        assert_eq!(kmalloc_index(8193), None);
        assert_eq!(kmalloc_index(0), None);
        assert_eq!((kmalloc_align(4), kmalloc_align(6), kmalloc_align(12)), (32, 64, 4096));
        assert_eq!(kmalloc_index_aligned(40, 64), Some(3), "kmalloc-64 is 64-aligned");
        assert_eq!(kmalloc_index_aligned(70, 64), Some(5), "kmalloc-96 is only 32-aligned: use 128");
        assert_eq!(kmalloc_index_aligned(8, 8192), None);
        // The fast table agrees with a plain search for every size.
        for size in 1..=KMALLOC_MAX_CACHE_SIZE {
            assert_eq!(kmalloc_index(size), KMALLOC_SIZES.iter().position(|&c| size <= c), "{size}");
        }
    }
}
