//! The record of TLB entries a page-table change made stale (the module's TLB contract, SDM vol. 3A §5.10).
//!
//! It holds up to [`TLB_FLUSH_CEILING`] 4 KiB page addresses to `invlpg`; past that it says "full" and the
//! kernel flushes everything. A change to a 2 MiB or 1 GiB page counts as 512 or 262144 pages, so it is
//! always full: the processor may have cached such a page as fractured 4 KiB translations.

use super::PageSize;

/// Most single-page invalidations before a full flush is cheaper (Linux's `tlb_single_page_flush_ceiling`).
pub const TLB_FLUSH_CEILING: usize = 33;

/// What the kernel must invalidate after a page-table change; see the module's TLB contract.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlbFlush {
    /// Canonical addresses of the 4 KiB pages to invalidate, without duplicates.
    pages: heapless::Vec<u64, TLB_FLUSH_CEILING>,
    full: bool,
    global: bool,
}

impl TlbFlush {
    pub const fn new() -> Self {
        Self { pages: heapless::Vec::new(), full: false, global: false }
    }

    /// Nothing needs invalidating.
    pub fn is_empty(&self) -> bool {
        self.pages.is_empty() && !self.full
    }

    /// Too much changed for single-page invalidation: reload CR3 (toggle CR4.PGE if [`Self::global`]).
    pub fn is_full(&self) -> bool {
        self.full
    }

    /// A changed translation was global, so a CR3 reload alone would not drop it.
    pub fn global(&self) -> bool {
        self.global
    }

    /// The pages to `invlpg` when not full (any one of them also empties the paging-structure caches).
    pub fn pages(&self) -> &[u64] {
        &self.pages
    }

    /// Adds everything `other` asks for, to flush once after several operations.
    pub fn merge(&mut self, other: &TlbFlush) {
        self.global |= other.global;
        if other.full {
            self.full = true;
        }
        for &page in &other.pages {
            self.add_page(page);
        }
    }

    /// A present leaf of `size` at canonical `virt` changed or went away.
    pub(crate) fn add_leaf(&mut self, virt: u64, size: PageSize, global: bool) {
        self.global |= global;
        if size == PageSize::Size4K {
            self.add_page(virt);
        } else {
            self.full = true;
        }
    }

    /// A table entry above `virt` changed or a table was freed: only the paging-structure caches are
    /// stale, and any `invlpg` empties them.
    pub(crate) fn add_structure(&mut self, virt: u64) {
        if self.pages.is_empty() {
            self.add_page(virt);
        }
    }

    fn add_page(&mut self, page: u64) {
        if self.full || self.pages.contains(&page) {
            return;
        }
        if self.pages.push(page).is_err() {
            self.full = true;
        }
    }
}
