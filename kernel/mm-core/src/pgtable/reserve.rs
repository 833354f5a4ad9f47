//! Table pages taken before an operation writes anything, so that running out of memory changes nothing.
//!
//! The reserved pages form a list threaded through their own entry 0 (`next | RESERVED`, with a
//! not-present marker bit), so no heap is needed. [`Reserve::take`] clears that entry again: a page comes
//! out zeroed, as [`PhysMemory::alloc_table`] promised.

use super::{PgtableError, PhysMemory};

/// Marks entry 0 of a reserved page; bit 9 is software-available and the entry is not present.
const RESERVED: u64 = 1 << 9;

/// A list of zeroed table pages.
pub(crate) struct Reserve {
    head: Option<u64>,
    len: u64,
}

impl Reserve {
    pub const fn empty() -> Self {
        Self { head: None, len: 0 }
    }

    /// Takes `count` pages from `mem`, or none at all.
    pub fn fill(mem: &mut impl PhysMemory, count: u64) -> Result<Self, PgtableError> {
        let mut reserve = Self::empty();
        while reserve.len < count {
            let Some(page) = mem.alloc_table() else {
                reserve.release(mem);
                return Err(PgtableError::OutOfMemory);
            };
            mem.write_entry(page, 0, reserve.head.map_or(0, |next| next | RESERVED));
            reserve.head = Some(page);
            reserve.len += 1;
        }
        Ok(reserve)
    }

    /// A zeroed page. Operations reserve exactly what they use; should one ever need more, it asks `mem`.
    pub fn take(&mut self, mem: &mut impl PhysMemory) -> Result<u64, PgtableError> {
        let Some(page) = self.head else {
            debug_assert!(false, "page-table operation used more tables than it reserved");
            return mem.alloc_table().ok_or(PgtableError::OutOfMemory);
        };
        let link = mem.read_entry(page, 0);
        self.head = (link & RESERVED != 0).then_some(link & !RESERVED);
        self.len -= 1;
        mem.write_entry(page, 0, 0);
        Ok(page)
    }

    /// Gives back every page still held.
    pub fn release(mut self, mem: &mut impl PhysMemory) {
        debug_assert!(self.len == 0 || self.head.is_some());
        while let Some(page) = self.head {
            let link = mem.read_entry(page, 0);
            self.head = (link & RESERVED != 0).then_some(link & !RESERVED);
            mem.write_entry(page, 0, 0);
            mem.free_table(page);
        }
    }

    /// Releases the pages left after an operation; there should be none.
    pub fn finish(self, mem: &mut impl PhysMemory) {
        debug_assert!(self.len == 0, "page-table operation reserved {} tables too many", self.len);
        self.release(mem);
    }
}
