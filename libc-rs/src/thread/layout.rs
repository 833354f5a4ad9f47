//! Where a new thread's pieces go in its one anonymous mapping: a guard page at the bottom (PROT_NONE, so a
//! stack overflow faults instead of running into other memory), the stack above it, and the thread's TLS
//! block ([`crate::tls::ThreadBlock`]) at the top, just above the initial stack pointer.
//!
//! ```text
//! start                  start+guard                         stack_top = block        start+total
//!   | guard (1 page, ---) | stack (grows down)   ←  RSP        | ThreadBlock (pages, rw-) |
//! ```
//! All offsets are page multiples, so `stack_top` is 16-byte aligned as the psABI wants at a thread's entry.

/// Offsets of a thread mapping's parts, in bytes from its start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ThreadLayout {
    /// The whole mapping.
    pub total_bytes: usize,
    /// The guard `[0, guard_bytes)`.
    pub guard_bytes: usize,
    /// The initial stack pointer, and where the TLS block starts.
    pub stack_top: usize,
}

impl ThreadLayout {
    /// The layout for a stack of at least `stack_bytes` and a TLS block of `block_bytes`, on pages of
    /// `page_size` (a power of two); `None` if the sizes overflow or the stack is empty.
    pub const fn new(stack_bytes: usize, block_bytes: usize, page_size: usize) -> Option<ThreadLayout> {
        let (Some(stack), Some(block)) = (round_up(stack_bytes, page_size), round_up(block_bytes, page_size))
        else {
            return None;
        };
        if stack == 0 {
            return None;
        }
        let Some(stack_top) = page_size.checked_add(stack) else { return None };
        let Some(total_bytes) = stack_top.checked_add(block) else { return None };
        Some(ThreadLayout { total_bytes, guard_bytes: page_size, stack_top })
    }
}

/// `value` rounded up to a multiple of `align` (a power of two); `None` on overflow.
pub const fn round_up(value: usize, align: usize) -> Option<usize> {
    match value.checked_add(align - 1) {
        Some(sum) => Some(sum & !(align - 1)),
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_layout() {
        let layout = ThreadLayout::new(256 * 1024, 0x300, 4096).unwrap();
        assert_eq!(layout.guard_bytes, 4096);
        assert_eq!(layout.stack_top, 4096 + 256 * 1024);
        assert_eq!(layout.total_bytes, 4096 + 256 * 1024 + 4096);
        assert_eq!(layout.stack_top % 16, 0);
    }

    #[test]
    fn sizes_round_up_to_pages() {
        let layout = ThreadLayout::new(5000, 4097, 4096).unwrap();
        assert_eq!(layout.stack_top, 4096 + 8192);
        assert_eq!(layout.total_bytes, 4096 + 8192 + 8192);
    }

    #[test]
    fn refuses_overflow_and_empty_stacks() {
        assert_eq!(ThreadLayout::new(0, 64, 4096), None);
        assert_eq!(ThreadLayout::new(usize::MAX - 100, 64, 4096), None);
        assert_eq!(ThreadLayout::new(usize::MAX - 3 * 4096, 8192, 4096), None);
        assert_eq!(round_up(4096, 4096), Some(4096));
        assert_eq!(round_up(1, 4096), Some(4096));
        assert_eq!(round_up(usize::MAX, 4096), None);
    }
}
